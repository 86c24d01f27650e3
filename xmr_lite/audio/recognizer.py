"""A spoken-name recogniser: template matching with dynamic time warping (chapter 11).

A shop knows the closed list of names a shopper may say: its products'. Recording each name
once (a "reference") and matching a query clip against every reference with :func:`dtw`
recognises the name without training a model, in any language the references cover. Two
tricks make it usable:

- **Cepstral mean normalisation.** Each recording's mean MFCC frame is subtracted, and the
  zeroth coefficient (loudness) dropped, which removes much of what differs between two
  voices and keeps the sequence of sounds.
- **A cheap pre-filter.** DTW costs T * L frame comparisons per reference. Each recording is
  also squeezed to a fixed number of frames by linear interpolation (a uniform, not dynamic,
  time warp); the cosine between these vectors, one matrix product for all references,
  keeps a short list, and only that list is aligned with DTW.

This matches synthetic voices reading a closed list; real shoppers, with accents, noise and
words that are not in the list, need a real speech recogniser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from xmr_lite._checks import ArrayLike, as_tensor, check_choice, check_int, to_output
from xmr_lite._runtime import get_device
from xmr_lite.audio.common import _as_spectrogram, _as_wave, _check_sample_rate
from xmr_lite.audio.dtw import DTW_METRICS, dtw
from xmr_lite.audio.features import mfcc


class SpokenNameRecognizer:
    """Recognise which of a closed list of names a clip says, by DTW against reference recordings.

    Parameters
    ----------
    sample_rate : int
        The sample rate (Hz) of every clip given to :meth:`scores`; others are refused.
    shortlist : int
        How many references the pre-filter passes on to DTW per clip (fewer if there are
        fewer references).
    metric : str
        The frame distance of :func:`dtw`, one of :data:`DTW_METRICS`.
    prefilter_frames : int
        The fixed number of frames each recording is squeezed to for the pre-filter.
    n_mfcc, n_fft, hop_length, n_mels : int
        The MFCC settings of :meth:`features` (those of :func:`xmr_lite.audio.mfcc`); the
        references given to :meth:`fit` must be computed with the same ones.
    device : torch.device or str, optional
        Where the references live and DTW runs; :func:`xmr_lite.get_device` by default.

    Attributes
    ----------
    labels_ : tuple of str
        The distinct labels, in order of first appearance in :meth:`fit`: the columns of
        :meth:`scores`.
    """

    def __init__(
        self,
        sample_rate: int = 16_000,
        shortlist: int = 50,
        metric: str = "cosine",
        prefilter_frames: int = 16,
        n_mfcc: int = 13,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 40,
        device: torch.device | str | None = None,
    ) -> None:
        self.sample_rate = _check_sample_rate(sample_rate)
        self.shortlist = check_int(shortlist, "shortlist")
        self.metric = check_choice(metric, "metric", DTW_METRICS)
        self.prefilter_frames = check_int(prefilter_frames, "prefilter_frames", minimum=2)
        self.n_mfcc = check_int(n_mfcc, "n_mfcc", minimum=2)
        self.n_fft = check_int(n_fft, "n_fft")
        self.hop_length = check_int(hop_length, "hop_length")
        self.n_mels = check_int(n_mels, "n_mels", minimum=self.n_mfcc)
        self.device = torch.device(device) if device is not None else get_device()
        self.labels_: tuple[str, ...] = ()

    # -- features ---------------------------------------------------------------------------

    def features(self, clip: ArrayLike, sample_rate: int | None = None) -> torch.Tensor:
        """The MFCC frames of one clip, the format :meth:`fit` expects for a reference.

        Parameters
        ----------
        clip : (T,) float array
            Mono samples (numpy or torch, any float or integer dtype).
        sample_rate : int, optional
            The clip's sample rate; must equal the recogniser's when given.

        Returns
        -------
        (n_mfcc, frames) float32 tensor on the recogniser's device.
        """
        wave = self._check_clip(clip, sample_rate, "clip")
        return mfcc(
            wave, self.sample_rate, n_mfcc=self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels
        )

    def _check_clip(self, clip: object, sample_rate: int | None, name: str) -> torch.Tensor:
        if sample_rate is not None and _check_sample_rate(sample_rate) != self.sample_rate:
            raise ValueError(
                f"sample_rate must be {self.sample_rate:g} Hz (resample the clip first), got {sample_rate}"
            )
        wave, _ = _as_wave(clip, name)
        if wave.ndim != 1:
            raise ValueError(f"{name} must be one mono clip of shape (T,), got shape {tuple(wave.shape)}")
        return wave.to(device=self.device, dtype=torch.float32)

    def _normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """(n_mfcc, L) -> (n_mfcc - 1, L): without c0 (loudness), minus the recording's mean frame."""
        kept = frames[1:]
        return kept - kept.mean(dim=1, keepdim=True)

    def _summary(self, frames: torch.Tensor) -> torch.Tensor:
        """(n_mfcc - 1, L) normalised frames -> unit vector of the recording squeezed to prefilter_frames."""
        squeezed = functional.interpolate(frames[None], size=self.prefilter_frames, mode="linear", align_corners=True)
        return functional.normalize(squeezed.flatten(), dim=0)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, references: Sequence[ArrayLike], labels: Sequence[str]) -> SpokenNameRecognizer:
        """Store the reference recordings and their labels.

        Parameters
        ----------
        references : sequence of R float arrays of shape (n_mfcc, L_r)
            The MFCC frames of each reference recording (from :meth:`features`, or the same
            settings elsewhere, e.g. XMR-Shop's ``reference_mfcc``).
        labels : sequence of R str
            What each reference says; several references may share a label (the name in
            several voices), and a label scores as its best reference.

        Returns
        -------
        SpokenNameRecognizer
            ``self``, fitted.
        """
        if isinstance(references, (np.ndarray, torch.Tensor)) or not isinstance(references, Sequence):
            raise ValueError("references must be a sequence (list or tuple) of (n_mfcc, frames) arrays")
        if len(references) == 0:
            raise ValueError("references must not be empty")
        if isinstance(labels, str) or len(labels) != len(references):
            n = "a string" if isinstance(labels, str) else len(labels)
            raise ValueError(f"labels must be a sequence of {len(references)} str, one per reference, got {n}")
        if not all(isinstance(label, str) for label in labels):
            raise ValueError("labels must all be str")
        frames = [self._check_reference(r, f"references[{i}]") for i, r in enumerate(references)]
        self.labels_ = tuple(dict.fromkeys(labels))
        column = {label: j for j, label in enumerate(self.labels_)}
        self._reference_label = torch.tensor([column[label] for label in labels], device=self.device)
        self._lengths = torch.tensor([f.shape[1] for f in frames], device=self.device)
        self._padded = torch.zeros(len(frames), self.n_mfcc - 1, int(self._lengths.max()), device=self.device)
        for r, f in enumerate(frames):
            self._padded[r, :, : f.shape[1]] = f
        self._summaries = torch.stack([self._summary(f) for f in frames])
        return self

    def _check_reference(self, reference: object, name: str) -> torch.Tensor:
        t, _ = _as_spectrogram(reference, name)
        if t.ndim != 2 or t.shape[0] != self.n_mfcc:
            raise ValueError(f"{name} must have shape ({self.n_mfcc}, frames), got shape {tuple(t.shape)}")
        return self._normalise(t.to(device=self.device, dtype=torch.float32))

    # -- scoring ----------------------------------------------------------------------------

    def scores(self, clips: ArrayLike | Sequence[ArrayLike], sample_rate: int | None = None) -> ArrayLike:
        """How well each clip matches each label; higher is better.

        A label's score is minus the smallest length-normalised DTW cost (cost / (T + L))
        between the clip and the label's short-listed references. Labels with no reference
        on the short list score below every short-listed label, in the order of the
        pre-filter's cosine.

        Parameters
        ----------
        clips : (T,) float array, or a sequence of n_clips such arrays
            Mono recordings at the recogniser's sample rate.
        sample_rate : int, optional
            The clips' sample rate; must equal the recogniser's when given.

        Returns
        -------
        (n_clips, n_labels) float32 array
            Columns in the order of ``labels_``. Numpy when the clips are numpy, else a
            tensor on the recogniser's device.

        Raises
        ------
        ValueError
            If the recogniser is not fitted, a clip is empty, not 1-D or holds NaN, or the
            sample rate differs.
        """
        if not self.labels_:
            raise ValueError("the recogniser is not fitted: call fit(references, labels) first")
        clip_list = self._as_clip_list(clips)
        rows = [self._score_one(self._check_clip(c, sample_rate, f"clips[{i}]")) for i, c in enumerate(clip_list)]
        from_numpy = isinstance(clip_list[0], np.ndarray)
        return to_output(torch.stack(rows), from_numpy)

    def transcribe(self, clips: ArrayLike | Sequence[ArrayLike], sample_rate: int | None = None) -> list[str]:
        """The best-scoring label of each clip (see :meth:`scores`), as a list of n_clips str."""
        best = torch.as_tensor(self.scores(clips, sample_rate)).argmax(dim=1)
        return [self.labels_[int(j)] for j in best]

    @staticmethod
    def _as_clip_list(clips: object) -> list:
        if isinstance(clips, (np.ndarray, torch.Tensor)):
            t, _ = as_tensor(clips, "clips")
            if t.ndim != 1:
                raise ValueError(f"clips must be one clip (T,) or a sequence of clips, got shape {tuple(t.shape)}")
            return [clips]
        if not isinstance(clips, Sequence) or len(clips) == 0:
            raise ValueError("clips must be one clip (T,) or a non-empty sequence of clips")
        return list(clips)

    def _score_one(self, wave: torch.Tensor) -> torch.Tensor:
        """(T,) wave -> (n_labels,) scores."""
        query = self._normalise(
            mfcc(wave, self.sample_rate, self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels)
        )
        n_labels = len(self.labels_)
        cosine = self._summaries @ self._summary(query)  # (R,)
        label_cosine = torch.full((n_labels,), -2.0, device=self.device).scatter_reduce(
            0, self._reference_label, cosine, reduce="amax"
        )
        short = torch.topk(cosine, min(self.shortlist, len(cosine))).indices
        lengths = self._lengths[short]
        width = int(lengths.max())
        cost = dtw(query, self._padded[short, :, :width], self.metric, y_lengths=lengths)
        matched = -cost / (query.shape[1] + lengths)
        label_score = torch.full((n_labels,), -torch.inf, device=self.device).scatter_reduce(
            0, self._reference_label[short], matched.float(), reduce="amax"
        )
        floor = label_score[torch.isfinite(label_score)].min()
        unmatched = floor - 2.0 + label_cosine  # below every matched label, by the pre-filter's cosine
        return torch.where(torch.isfinite(label_score), label_score, unmatched)
