"""A speech encoder pretrained on real voices: SpeechEmbedding (chapters 6 and 9).

Google's speech embedding (Lin et al., ICASSP 2020) was trained on a large corpus of real
speech to serve keyword spotters whose own training data are few or synthesised. It reads a
32-band log-mel spectrogram (a frame of 512 samples every 10 ms, the top band near 3.8 kHz)
in windows of 76 frames (12,512 samples, 0.782 s) and gives one 96-d vector per window.
:class:`SpeechEmbedding` runs its two frozen ONNX files (see
:func:`xmr_lite.data.load_speech_embedding`) with ONNX Runtime on the CPU, and pools each
clip's windows into one vector.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from xmr_lite._checks import ArrayLike, as_tensor, check_choice, check_int, check_number, to_output
from xmr_lite.audio.common import _as_wave, _check_sample_rate, _writable

SPEECH_EMBEDDING_POOLINGS = ("mean", "max")
"""How :meth:`SpeechEmbedding.embed` turns a clip's window vectors into one vector."""


class SpeechEmbedding:
    """Google's speech embedding, frozen: a spoken clip in, one 96-d vector out.

    Each clip gets ``padding`` seconds of silence on both sides (and more at the end if it is
    still shorter than one window), goes through the log-mel front end, and is cut into
    windows of :attr:`window_frames` frames every ``hop`` frames; each window gives a 96-d
    vector, and the clip's vectors are pooled.

    Parameters
    ----------
    hop : int, default 8
        Frames (of 10 ms) between the starts of two windows.
    padding : float, default 0.4
        Seconds of silence added before and after each clip, so that a word near the edge is
        seen whole by some window.
    threads : int, default 1
        Threads ONNX Runtime may use within one operation.

    Attributes
    ----------
    sample_rate : int
        16000: the only rate the model takes.
    dimension : int
        96, the size of each embedding.
    window_frames : int
        76 log-mel frames per window.
    n_mels : int
        32 mel bands.

    Examples
    --------
    >>> import numpy as np
    >>> encoder = SpeechEmbedding()
    >>> encoder.embed(np.zeros((2, 8000), dtype=np.float32)).shape
    (2, 96)
    """

    sample_rate = 16_000
    dimension = 96
    window_frames = 76
    n_mels = 32
    _fft_size = 512  # samples of the front end's first frame
    _frame_hop = 160  # samples between frames (10 ms)
    _int16_scale = 32767.0  # the front end reads samples scaled like 16-bit integers

    def __init__(self, hop: int = 8, padding: float = 0.4, threads: int = 1) -> None:
        from xmr_lite.data import load_speech_embedding

        self.hop = check_int(hop, "hop")
        self.padding = check_number(padding, "padding", minimum=0.0)
        self._mel, self._embedding = load_speech_embedding(threads=threads)

    def __repr__(self) -> str:
        return f"SpeechEmbedding(hop={self.hop}, padding={self.padding})"

    @property
    def min_samples(self) -> int:
        """Samples that make exactly one window: 12,512 (0.782 s)."""
        return self._fft_size + (self.window_frames - 1) * self._frame_hop

    def _padded(self, clip: np.ndarray) -> np.ndarray:
        """(T,) float32 in [-1, 1] -> (T',) float32 scaled like int16, with silence around it."""
        edge = np.zeros(round(self.padding * self.sample_rate), dtype=np.float32)
        padded = np.concatenate([edge, clip.astype(np.float32), edge])
        if len(padded) < self.min_samples:
            padded = np.concatenate([padded, np.zeros(self.min_samples - len(padded), dtype=np.float32)])
        return padded * np.float32(self._int16_scale)

    def _log_mel(self, clip: np.ndarray) -> np.ndarray:
        """(T,) float32 -> (frames, 32) log-mel frames, scaled as the embedding network expects."""
        frames = self._mel.run(None, {"input": self._padded(clip)[None]})[0].reshape(-1, self.n_mels)
        return frames / 10.0 + 2.0  # the scaling of the TensorFlow Hub model's own front end

    def _windows(self, frames: np.ndarray) -> np.ndarray:
        """(frames, 32) -> (W, 76, 32, 1): every window of 76 frames, ``hop`` frames apart."""
        starts = range(0, len(frames) - self.window_frames + 1, self.hop)
        return np.stack([frames[s : s + self.window_frames] for s in starts])[..., None].astype(np.float32)

    def window_vectors(self, wave: ArrayLike, sample_rate: int = 16_000) -> ArrayLike:
        """The 96-d vector of every window of one clip.

        Parameters
        ----------
        wave : (T,) array or tensor
            One clip in [-1, 1].
        sample_rate : int, default 16000
            Must be 16000.

        Returns
        -------
        (W, 96) float32 array (a tensor on the input's device for a tensor input)
            ``W = (frames - 76) // hop + 1`` windows, in time order.

        Raises
        ------
        ValueError
            If ``wave`` is not one finite, non-empty clip, or ``sample_rate`` is not 16000.
        """
        clip, from_numpy, device = self._check(wave, sample_rate, "wave")
        if clip.ndim != 1:
            raise ValueError(f"wave must be one clip (T,), got shape {clip.shape}")
        windows = self._windows(self._log_mel(clip))
        out = self._embedding.run(None, {"input_1": windows})[0].reshape(-1, self.dimension)
        return to_output(torch.from_numpy(out).to(device), from_numpy)

    def embed(
        self,
        waves: ArrayLike,
        lengths: ArrayLike | None = None,
        sample_rate: int = 16_000,
        pooling: str = "mean",
        batch_size: int = 128,
        progress: bool = False,
    ) -> ArrayLike:
        """One vector per clip: the mean (or maximum) of its window vectors.

        Parameters
        ----------
        waves : (T,) or (N, L) array or tensor
            One clip, or ``N`` clips zero-padded to a common length ``L`` (the layout of
            :class:`xmr_lite.data.XMRDigits`), in [-1, 1].
        lengths : (N,) int array or tensor, optional
            Samples of each clip; clip ``i`` is ``waves[i, :lengths[i]]``. All of ``L`` by default.
        sample_rate : int, default 16000
            Must be 16000.
        pooling : {"mean", "max"}
            How the window vectors of a clip become one vector.
        batch_size : int, default 128
            Clips per run of the embedding network (each gives a few windows).
        progress : bool, default False
            Show a progress bar over the clips.

        Returns
        -------
        (96,) or (N, 96) float32 array (a tensor on the input's device for a tensor input)

        Raises
        ------
        ValueError
            If ``waves`` is empty, not 1-D or 2-D, or holds NaN or inf; if ``lengths`` has the
            wrong shape or a length outside ``1 .. L``; if ``sample_rate`` is not 16000; if
            ``pooling`` is unknown or ``batch_size`` is not a positive int.
        """
        check_choice(pooling, "pooling", SPEECH_EMBEDDING_POOLINGS)
        batch_size = check_int(batch_size, "batch_size")
        clips, from_numpy, device = self._check(waves, sample_rate, "waves")
        single = clips.ndim == 1
        clips = clips[None] if single else clips
        lengths = self._check_lengths(lengths, clips)
        vectors = []
        with tqdm(total=len(clips), desc="speech embedding", disable=not progress) as bar:
            for first in range(0, len(clips), batch_size):
                chunk = range(first, min(first + batch_size, len(clips)))
                windows = [self._windows(self._log_mel(clips[i, : lengths[i]])) for i in chunk]
                out = self._embedding.run(None, {"input_1": np.concatenate(windows)})[0].reshape(-1, self.dimension)
                vectors += np.split(out, np.cumsum([len(w) for w in windows])[:-1])
                bar.update(len(chunk))
        pool = np.mean if pooling == "mean" else np.max
        pooled = np.stack([pool(part, axis=0) for part in vectors]).astype(np.float32)
        out = torch.from_numpy(pooled[0] if single else pooled).to(device)
        return to_output(out, from_numpy)

    def _check(self, wave: ArrayLike, sample_rate: int, name: str) -> tuple[np.ndarray, bool, torch.device]:
        if int(_check_sample_rate(sample_rate)) != self.sample_rate or float(sample_rate) != self.sample_rate:
            raise ValueError(
                f"sample_rate must be {self.sample_rate} Hz for the speech embedding, got {sample_rate}; "
                "resample first (xmr_lite.audio.resample)"
            )
        tensor, from_numpy = _as_wave(wave, name)
        return tensor.detach().cpu().numpy().astype(np.float32), from_numpy, tensor.device

    @staticmethod
    def _check_lengths(lengths: ArrayLike | None, clips: np.ndarray) -> np.ndarray:
        n, width = clips.shape
        if lengths is None:
            return np.full(n, width)
        t, _ = as_tensor(_writable(lengths), "lengths")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"lengths must hold integers, got dtype {t.dtype}")
        if tuple(t.shape) != (n,):
            raise ValueError(f"lengths must have shape ({n},), one per clip, got {tuple(t.shape)}")
        values = t.cpu().numpy().astype(np.int64)
        if (values < 1).any() or (values > width).any():
            raise ValueError(
                f"lengths must lie in 1 .. {width} (the clips' padded length), got {values.min()} .. {values.max()}"
            )
        return values
