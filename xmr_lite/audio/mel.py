"""The mel scale (Slaney and HTK) and the mel filterbank (chapter 6)."""

from __future__ import annotations

import math

import numpy as np
import torch

from xmr_lite._checks import ArrayLike, as_float, as_tensor, check_choice, check_finite, check_int, check_number
from xmr_lite.audio.common import MEL_SCALES, _check_sample_rate

_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15 mel
_SLANEY_LOGSTEP = math.log(6.4) / 27.0  # log(Hz) per mel above 1 kHz


def _as_frequencies(x: object, name: str) -> tuple[torch.Tensor, str, tuple[int, ...]]:
    """A finite, non-negative float tensor, and how to give the result back ("number", ...)."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        t, kind = torch.tensor(float(x), dtype=torch.float64), "number"
    else:
        t, from_numpy = as_tensor(x, name)
        t, kind = as_float(t, from_numpy), "numpy" if from_numpy else "tensor"
    check_finite(t, name)
    if bool((t < 0).any()):
        raise ValueError(f"{name} must be >= 0")
    shape = tuple(np.shape(x)) if kind != "tensor" else tuple(t.shape)
    return t, kind, shape


def _give_back(t: torch.Tensor, kind: str, shape: tuple[int, ...]) -> ArrayLike | float:
    if kind == "number":
        return float(t)
    return t.detach().cpu().numpy().reshape(shape) if kind == "numpy" else t


def hz_to_mel(freqs: ArrayLike | float, mel_scale: str = "slaney") -> ArrayLike | float:
    """Convert frequencies in Hz to mels (both formulas are derived in chapter 6).

    ``"htk"``: ``m = 2595 log10(1 + f / 700)``. ``"slaney"`` (Auditory Toolbox): linear below
    1 kHz, ``m = 3 f / 200``, and logarithmic above, ``m = 15 + 27 ln(f / 1000) / ln(6.4)``.

    Parameters
    ----------
    freqs : float, or float tensor or array of any shape, >= 0
    mel_scale : {"slaney", "htk"}

    Returns
    -------
    Mels, same shape and kind as ``freqs`` (a float for a number).
    """
    check_choice(mel_scale, "mel_scale", MEL_SCALES)
    f, kind, shape = _as_frequencies(freqs, "freqs")
    if mel_scale == "htk":
        return _give_back(2595.0 * torch.log10(1.0 + f / 700.0), kind, shape)
    linear = f / _SLANEY_F_SP
    log = _SLANEY_MIN_LOG_MEL + torch.log(f.clamp_min(_SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return _give_back(torch.where(f >= _SLANEY_MIN_LOG_HZ, log, linear), kind, shape)


def mel_to_hz(mels: ArrayLike | float, mel_scale: str = "slaney") -> ArrayLike | float:
    """Convert mels back to Hz; the inverse of :func:`hz_to_mel` (same arguments)."""
    check_choice(mel_scale, "mel_scale", MEL_SCALES)
    m, kind, shape = _as_frequencies(mels, "mels")
    if mel_scale == "htk":
        return _give_back(700.0 * (10.0 ** (m / 2595.0) - 1.0), kind, shape)
    linear = m * _SLANEY_F_SP
    log = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return _give_back(torch.where(m >= _SLANEY_MIN_LOG_MEL, log, linear), kind, shape)


def mel_filterbank(
    n_freqs: int,
    sample_rate: float,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "slaney",
    norm: str | None = "slaney",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Triangular mel filters, one per column, to map a spectrum onto mel bands (chapter 6).

    ``n_mels + 2`` edge frequencies are spaced evenly in mels between ``f_min`` and ``f_max``;
    filter ``m`` rises linearly from edge ``m`` to 1 at edge ``m + 1`` and falls back to 0 at
    edge ``m + 2``. With ``norm="slaney"`` each filter is divided by half its width in Hz,
    ``2 / (f[m + 2] - f[m])``, so that every filter has (about) the same area and a wide
    high-frequency band does not collect more energy than a narrow low one.

    The FFT bins sit at ``k * sample_rate / (2 * (n_freqs - 1))`` Hz, as in librosa.
    Computed in float64, then cast to ``dtype``.

    Parameters
    ----------
    n_freqs : int, >= 2
        Number of FFT bins, ``n_fft // 2 + 1``.
    sample_rate : float, > 0
    n_mels : int, >= 1
    f_min, f_max : float
        Lowest and highest edge in Hz, ``0 <= f_min < f_max <= sample_rate / 2``;
        ``f_max=None`` means ``sample_rate / 2``.
    mel_scale : {"slaney", "htk"}
    norm : {"slaney", None}
    dtype, device : where to build it.

    Returns
    -------
    (n_freqs, n_mels) tensor: ``power_spectrum.T @ fb`` maps (frames, n_freqs) to mels.
    ``torchaudio.functional.melscale_fbanks`` has this layout; ``librosa.filters.mel``
    returns its transpose.

    Raises
    ------
    ValueError
        If ``n_mels`` is so high (or ``n_freqs`` so low) that some filter holds no FFT bin.
    """
    n_freqs = check_int(n_freqs, "n_freqs", minimum=2)
    sr = _check_sample_rate(sample_rate)
    n_mels = check_int(n_mels, "n_mels")
    check_choice(mel_scale, "mel_scale", MEL_SCALES)
    if norm is not None:
        check_choice(norm, "norm", ["slaney"])
    f_min = check_number(f_min, "f_min", minimum=0.0)
    f_max = sr / 2.0 if f_max is None else check_number(f_max, "f_max")
    if not f_min < f_max <= sr / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate / 2 = {sr / 2}, got f_min={f_min}, f_max={f_max}")

    fft_freqs = torch.linspace(0.0, sr / 2.0, n_freqs, dtype=torch.float64)
    m_lo, m_hi = hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale)
    edges = mel_to_hz(torch.linspace(m_lo, m_hi, n_mels + 2, dtype=torch.float64), mel_scale)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # each (n_mels,)
    rising = (fft_freqs[:, None] - lower) / (centre - lower)  # (n_freqs, n_mels)
    falling = (upper - fft_freqs[:, None]) / (upper - centre)
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (upper - lower))
    empty = (fb.max(dim=0).values == 0).nonzero().flatten()
    if empty.numel():
        raise ValueError(
            f"n_mels={n_mels} is too high for n_freqs={n_freqs} at sample_rate={sr:g} between "
            f"{f_min:g} and {f_max:g} Hz: mel filter {int(empty[0])} covers no FFT bin "
            f"({empty.numel()} empty in all); lower n_mels or raise n_fft"
        )
    return fb.to(dtype=dtype, device=device)


__all__ = ["hz_to_mel", "mel_filterbank", "mel_to_hz"]
