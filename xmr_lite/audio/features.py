"""Spectrograms, decibels, MFCC and deltas (chapter 6)."""

from __future__ import annotations

import math

import torch

from xmr_lite._checks import ArrayLike, check_int, check_number, to_output
from xmr_lite.audio.common import _as_spectrogram, _as_wave, _check_sample_rate
from xmr_lite.audio.mel import mel_filterbank
from xmr_lite.audio.spectral import _mel_rows, _power_rows


def spectrogram(
    wave: ArrayLike,
    n_fft: int,
    hop_length: int,
    power: float = 2.0,
    win_length: int | None = None,
    window: str | ArrayLike = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> ArrayLike:
    """``|stft(wave)| ** power``: magnitude (power 1) or power (power 2) spectrogram.

    Parameters as in :func:`stft`; ``power`` must be > 0.

    Returns
    -------
    (…, n_fft // 2 + 1, frames) real tensor or array.
    """
    w, from_numpy = _as_wave(wave)
    rows = _power_rows(w, power, n_fft, hop_length, win_length, window, center, pad_mode)
    return to_output(rows.transpose(-1, -2), from_numpy)


def melspectrogram(
    wave: ArrayLike,
    sample_rate: float,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    power: float = 2.0,
    win_length: int | None = None,
    window: str | ArrayLike = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
) -> ArrayLike:
    """Mel spectrogram: the (power) spectrogram passed through :func:`mel_filterbank` (chapter 6).

    With the defaults this equals ``librosa.feature.melspectrogram(y=wave, sr=sample_rate,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)`` (librosa 0.11.0). torchaudio's
    ``MelSpectrogram`` gives the same numbers with ``center=True, pad_mode="constant",
    mel_scale="slaney", norm="slaney"`` (its defaults are ``"reflect"``, ``"htk"`` and no norm).

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
    sample_rate : float, > 0
    n_fft, hop_length, win_length, window, center, pad_mode : see :func:`stft`
    n_mels : int
    power : float, > 0
        2 for power (energy), 1 for magnitude.
    f_min, f_max, mel_scale, norm : see :func:`mel_filterbank`

    Returns
    -------
    (…, n_mels, frames) tensor or array of the same kind and device as ``wave``.
    """
    w, from_numpy = _as_wave(wave)
    fb, n_fft = _filterbank_for(w, sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm)
    rows = _mel_rows(w, power, fb, n_fft, hop_length, win_length, window, center, pad_mode)  # (…, frames, n_mels)
    return to_output(rows.transpose(-1, -2), from_numpy)  # (…, n_mels, frames)


def _filterbank_for(
    w: torch.Tensor,
    sample_rate: float,
    n_fft: int,
    n_mels: int,
    f_min: float,
    f_max: float | None,
    mel_scale: str,
    norm: str | None,
) -> tuple[torch.Tensor, int]:
    """The (n_fft // 2 + 1, n_mels) filterbank for a wave ``w`` (its dtype and device) and the checked ``n_fft``."""
    _check_sample_rate(sample_rate)
    n_fft = check_int(n_fft, "n_fft", minimum=2)
    fb = mel_filterbank(n_fft // 2 + 1, sample_rate, n_mels, f_min, f_max, mel_scale, norm, w.dtype, w.device)
    return fb, n_fft


def power_to_db(power: ArrayLike, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> ArrayLike:
    """Decibels ``10 log10(max(power, amin) / ref)``, floored at ``top_db`` below each clip's peak.

    Taught in chapter 6, which also shows the batch pitfall described below.

    The floor is computed per clip: for a batch (B, F, frames) the peak of clip ``b`` is the
    maximum over its own (F, frames) values, so a batch gives the same numbers as each clip
    alone. (``librosa.power_to_db`` takes the maximum over the whole array it is given, and
    ``torchaudio.transforms.AmplitudeToDB`` over the whole batch of a 3-D input.)

    Parameters
    ----------
    power : (F, frames) or (B, F, frames) float tensor or array, >= 0
    ref : float, > 0
        The power that maps to 0 dB.
    amin : float, > 0
        Smallest power used, so that silence gives ``10 log10(amin)`` instead of -inf.
    top_db : float >= 0, or None
        Dynamic range kept below each clip's loudest value; ``None`` keeps everything.

    Returns
    -------
    Same shape, kind and device as ``power``.
    """
    p, from_numpy = _as_spectrogram(power, "power")
    if bool((p < 0).any()):
        raise ValueError("power must be >= 0 (pass |X| ** 2, not a signed or complex value)")
    return to_output(_to_db(p, ref, amin, top_db), from_numpy)


def _to_db(power: torch.Tensor, ref: float, amin: float, top_db: float | None) -> torch.Tensor:
    """:func:`power_to_db` on a validated (…, F, frames) tensor."""
    ref = check_number(ref, "ref", minimum=0.0, strict=True)
    amin = check_number(amin, "amin", minimum=0.0, strict=True)
    db = 10.0 * torch.log10(power.clamp_min(amin)) - 10.0 * math.log10(max(amin, ref))
    if top_db is not None:
        top_db = check_number(top_db, "top_db", minimum=0.0)
        peak = db.amax(dim=(-2, -1), keepdim=True)  # one peak per clip
        db = torch.maximum(db, peak - top_db)
    return db


def _check_mfcc_sizes(n_mels: object, n_mfcc: object) -> tuple[int, int]:
    """``n_mels`` and ``n_mfcc`` as ints after checking 1 <= n_mfcc <= n_mels."""
    n_mels = check_int(n_mels, "n_mels")
    n_mfcc = check_int(n_mfcc, "n_mfcc")
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc must be <= n_mels={n_mels}, got {n_mfcc}")
    return n_mels, n_mfcc


def dct_matrix(n_mels: int, n_mfcc: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The orthonormal DCT-II, truncated to its first ``n_mfcc`` basis vectors (chapter 6).

    ``D[n, k] = s_k cos(pi k (n + 1/2) / n_mels)``, with ``s_0 = sqrt(1 / n_mels)`` and
    ``s_k = sqrt(2 / n_mels)`` otherwise: the columns are orthonormal, so ``x @ D`` equals
    ``scipy.fft.dct(x, type=2, norm="ortho")[..., :n_mfcc]``.

    Parameters
    ----------
    n_mels : int, >= 1
        Length of the input (the number of mel bands).
    n_mfcc : int, 1 <= n_mfcc <= n_mels
        Number of coefficients kept.
    dtype, device : where to build it.

    Returns
    -------
    (n_mels, n_mfcc) tensor, the layout of ``torchaudio.functional.create_dct``.
    """
    n_mels, n_mfcc = _check_mfcc_sizes(n_mels, n_mfcc)
    n = torch.arange(n_mels, dtype=torch.float64)[:, None]
    k = torch.arange(n_mfcc, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * k * (n + 0.5) / n_mels) * math.sqrt(2.0 / n_mels)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(dtype=dtype, device=device)


def mfcc(
    wave: ArrayLike,
    sample_rate: float,
    n_mfcc: int = 13,
    n_fft: int = 512,
    hop_length: int = 160,
    n_mels: int = 40,
    power: float = 2.0,
    win_length: int | None = None,
    window: str | ArrayLike = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
    ref: float = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
) -> ArrayLike:
    """Mel-frequency cepstral coefficients: the DCT-II (ortho) of the log-mel spectrogram.

    Chapter 6 builds every step from scratch and compares this function, torchaudio's ``MFCC``
    and ``librosa.feature.mfcc``.

    The defaults reproduce ``librosa.feature.mfcc(y=wave, sr=sample_rate, n_mfcc=n_mfcc,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)`` with librosa's defaults for every
    other argument (checked against librosa 0.11.0): centred frames with zero padding, a
    periodic Hann window of ``n_fft`` samples, power 2, Slaney mel scale and norm,
    ``power_to_db(ref=1.0, amin=1e-10, top_db=80.0)`` and ``scipy.fft.dct(type=2,
    norm="ortho")``. The only difference is in batches: librosa floors at 80 dB below the
    peak of everything it is given, here each clip is floored below its own peak, so a batch
    gives exactly the per-clip numbers.

    The defaults n_fft=512 (32 ms) and hop_length=160 (10 ms) suit 16 kHz speech.

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
    sample_rate : float, > 0
    n_mfcc : int, 1 <= n_mfcc <= n_mels
    n_fft, hop_length, win_length, window, center, pad_mode : see :func:`stft`
    n_mels, f_min, f_max, mel_scale, norm : see :func:`mel_filterbank`
    power : see :func:`melspectrogram`
    ref, amin, top_db : see :func:`power_to_db`

    Returns
    -------
    (…, n_mfcc, frames) tensor or array of the same kind and device as ``wave``.
    """
    w, from_numpy = _as_wave(wave)
    n_mels, n_mfcc = _check_mfcc_sizes(n_mels, n_mfcc)
    fb, n_fft = _filterbank_for(w, sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm)
    rows = _mel_rows(w, power, fb, n_fft, hop_length, win_length, window, center, pad_mode)  # (…, frames, n_mels)
    log_mel = _to_db(rows, ref, amin, top_db)  # a clip's peak is the same in either layout
    basis = dct_matrix(n_mels, n_mfcc, dtype=log_mel.dtype, device=log_mel.device)
    coeffs = (log_mel @ basis).transpose(-1, -2)  # (…, n_mfcc, frames)
    return to_output(coeffs, from_numpy)


def deltas(features: ArrayLike, width: int = 9) -> ArrayLike:
    """Local slope of each feature over time (delta features), as ``librosa.feature.delta``.

    Taught in chapter 6.

    Inside, the delta at frame ``t`` is the least-squares slope of a line fitted to the
    ``width`` frames centred on ``t``: ``sum_n n x[t + n] / sum_n n**2`` for
    ``n = -N .. N``, ``N = width // 2`` (the HTK regression formula). In the first and last
    ``N`` frames a line is fitted to the first (last) ``width`` frames instead, whose slope is
    the delta of frame ``N`` (``T - 1 - N``): this is what librosa's default
    ``mode="interp"`` (a Savitzky-Golay derivative of order 1) gives. Apply twice for
    delta-deltas.

    Parameters
    ----------
    features : (F, frames) or (B, F, frames) float tensor or array
        Needs ``frames >= width``.
    width : int
        Odd, >= 3.

    Returns
    -------
    Same shape, kind and device as ``features``.
    """
    x, from_numpy = _as_spectrogram(features, "features")
    width = check_int(width, "width", minimum=3)
    if width % 2 == 0:
        raise ValueError(f"width must be odd, got {width}")
    frames = x.shape[-1]
    if frames < width:
        raise ValueError(f"features has {frames} frames, fewer than width={width}")
    half = width // 2
    n = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    windows = x.unfold(-1, width, 1)  # (…, F, frames - 2 * half, width)
    inner = (windows * n).sum(-1) / (n * n).sum()
    left = inner[..., :1].expand(*inner.shape[:-1], half)
    right = inner[..., -1:].expand(*inner.shape[:-1], half)
    return to_output(torch.cat([left, inner, right], dim=-1), from_numpy)


__all__ = ["dct_matrix", "deltas", "melspectrogram", "mfcc", "power_to_db", "spectrogram"]
