"""Audio features and audio encoders (taught in chapter 6, "Audio features").

The chain from a waveform to the features a network reads::

    wave (T,) or (B, T)
      -> stft            complex (..., n_fft // 2 + 1, frames)
      -> |.| ** power    power spectrogram
      -> @ mel_filterbank                     melspectrogram (..., n_mels, frames)
      -> power_to_db     log-mel in dB        (..., n_mels, frames)
      -> @ dct_matrix    MFCC                 (..., n_mfcc, frames)
      -> deltas          their slope in time  (..., n_mfcc, frames)

Every function takes one clip of shape (T,) or a batch of shape (B, T) (a torch tensor on any
device, or a numpy array), keeps the device of its input, and gives a batch exactly the numbers
it would give each clip on its own. Numpy in, numpy out.

With their default arguments :func:`melspectrogram` and :func:`mfcc` reproduce librosa's
``librosa.feature.melspectrogram`` and ``librosa.feature.mfcc`` (checked against librosa 0.11.0):
centred frames with zero padding, a periodic Hann window, a power spectrogram, Slaney's mel
scale with Slaney's area normalisation, decibels with ``ref=1.0``, ``amin=1e-10`` and
``top_db=80`` taken from the loudest bin of each clip, and the orthonormal DCT-II.

The encoders (:class:`AudioCNN`, :class:`AudioGRU`, :class:`DilatedConvEncoder`) read a log-mel
batch of shape (B, n_mels, frames). ``encoder.embed(x)`` returns (B, dimension) vectors;
``encoder(x)`` returns class logits (B, n_classes) when the encoder was built with
``n_classes``, and the embedding otherwise, so later chapters can use them as audio branches.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention
from torchaudio import functional as taf

from xmr_lite._checks import (
    ArrayLike,
    as_float,
    as_tensor,
    check_choice,
    check_finite,
    check_int,
    check_number,
    deprecated_alias,
    to_output,
)

PathLike = Union[str, Path]

WINDOWS = ("hann", "hamming", "blackman", "rectangular")
"""Window names accepted by :func:`stft` (all periodic, as ``torch.stft`` and librosa use)."""

PAD_MODES = ("constant", "reflect", "replicate")
"""Padding modes accepted by :func:`stft` when ``center=True``."""

MEL_SCALES = ("slaney", "htk")
"""Mel formulas accepted by :func:`hz_to_mel`, :func:`mel_to_hz` and :func:`mel_filterbank`."""


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _check_sample_rate(value: object, name: str = "sample_rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a positive number of samples per second, got {value}")
    return float(value)


def _writable(x: object) -> object:
    """Copy a read-only numpy array (torch cannot share its memory without a warning)."""
    return x.copy() if isinstance(x, np.ndarray) and not x.flags.writeable else x


def _as_wave(wave: object, name: str = "wave") -> tuple[torch.Tensor, bool]:
    """A finite float waveform of shape (T,) or (B, T); integers become float."""
    t, from_numpy = as_tensor(_writable(wave), name)
    if t.ndim not in (1, 2):
        raise ValueError(f"{name} must be one clip (T,) or a batch (B, T), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if t.is_complex():
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    t = as_float(t, from_numpy)
    if not bool(torch.isfinite(t.sum())):  # a NaN or inf makes the sum non-finite: only then look closer
        check_finite(t, name)
    return t, from_numpy


def _as_spectrogram(x: object, name: str) -> tuple[torch.Tensor, bool]:
    """A finite real array of shape (F, frames) or (B, F, frames)."""
    t, from_numpy = as_tensor(_writable(x), name)
    if t.ndim not in (2, 3):
        raise ValueError(f"{name} must be (n_features, frames) or (B, n_features, frames), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if t.is_complex():
        raise ValueError(f"{name} must be real, got dtype {t.dtype}")
    t = as_float(t, from_numpy)
    check_finite(t, name)
    return t, from_numpy


# --------------------------------------------------------------------------------------------
# reading, writing and resampling
# --------------------------------------------------------------------------------------------


def load(path: PathLike, sample_rate: float | None = None) -> tuple[torch.Tensor, int]:
    """Read an audio file (WAV, FLAC, OGG, MP3, ... through soundfile) as mono float32.

    Stereo and multi-channel files are downmixed by averaging the channels, sample by sample
    (the rule librosa's ``to_mono`` uses). Integer PCM is scaled to [-1, 1] by soundfile.

    Parameters
    ----------
    path : str or Path
        The file to read.
    sample_rate : float, optional
        Resample to this rate (with :func:`resample`). ``None`` keeps the file's rate.

    Returns
    -------
    wave : (T,) float32 tensor on the CPU
    sample_rate : int
        The rate of ``wave`` in samples per second.

    Raises
    ------
    ValueError
        If the file does not exist, holds no samples, or ``sample_rate`` is not positive.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    if sample_rate is not None:
        _check_sample_rate(sample_rate)
    data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)  # (T, channels)
    if data.shape[0] == 0:
        raise ValueError(f"path {str(path)!r} holds no audio samples")
    wave = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    if sample_rate is not None and float(sample_rate) != float(file_rate):
        wave = resample(wave, file_rate, sample_rate)
        return wave, round(float(sample_rate))
    return wave, int(file_rate)


def save(path: PathLike, wave: ArrayLike, sample_rate: int) -> None:
    """Write a mono clip (T,) or a multi-channel one (channels, T) with soundfile.

    The format comes from the file's extension (``.wav`` is written as 16-bit PCM, ``.flac`` as
    16-bit FLAC). Samples must lie in [-1, 1]: values outside would be clipped by the
    integer formats, so they are refused instead.

    Parameters
    ----------
    path : str or Path
    wave : (T,) or (channels, T) float tensor or array
    sample_rate : int, > 0

    Raises
    ------
    ValueError
        If ``wave`` is empty, not finite or outside [-1, 1], or ``sample_rate`` is not a
        positive integer.
    """
    w, _ = _as_wave(wave)
    rate = check_int(sample_rate, "sample_rate")
    if bool((w.abs() > 1.0).any()):
        raise ValueError(f"wave must lie in [-1, 1] to be saved, got a peak of {float(w.abs().max()):.3f}")
    data = w.detach().cpu().to(torch.float32).numpy()
    sf.write(str(path), data.T if data.ndim == 2 else data, rate)


def resample(wave: ArrayLike, orig_sr: float, new_sr: float) -> ArrayLike:
    """Change the sampling rate with band-limited (windowed-sinc) interpolation (chapter 6).

    This is ``torchaudio.functional.resample`` with its defaults (a Hann-windowed sinc,
    6 zero crossings, cut-off at 99 % of the lower Nyquist frequency), after validation.
    Both rates may be fractional; they are reduced to a ratio of integers.

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
    orig_sr, new_sr : float, > 0
        The rate of ``wave`` and the rate wanted, in samples per second.

    Returns
    -------
    (…, ceil(T * new_sr / orig_sr)) tensor or array of the same kind and device as ``wave``.
    """
    w, from_numpy = _as_wave(wave)
    orig = _check_sample_rate(orig_sr, "orig_sr")
    new = _check_sample_rate(new_sr, "new_sr")
    if orig == new:
        return to_output(w.clone(), from_numpy)
    # torchaudio wants integer rates: scale both until they are (44.1 kHz and 22.05 kHz are fine).
    scale = 1
    while (orig * scale) % 1 or (new * scale) % 1:
        scale *= 10
        if scale > 10**6:
            raise ValueError(f"orig_sr={orig_sr} and new_sr={new_sr} have no simple integer ratio")
    return to_output(taf.resample(w, int(orig * scale), int(new * scale)), from_numpy)


def fix_length(wave: ArrayLike, length: int) -> ArrayLike:
    """Crop or zero-pad the end of each clip to exactly ``length`` samples.

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
    length : int, >= 1

    Returns
    -------
    (…, length) tensor or array of the same kind and device as ``wave``.
    """
    w, from_numpy = _as_wave(wave)
    n = check_int(length, "length")
    if w.shape[-1] >= n:
        return to_output(w[..., :n].clone(), from_numpy)
    return to_output(F.pad(w, (0, n - w.shape[-1])), from_numpy)


def add_noise(
    wave: ArrayLike,
    snr_db: float,
    noise: ArrayLike | None = None,
    generator: torch.Generator | None = None,
) -> ArrayLike:
    """Add noise scaled so that each clip has the requested signal-to-noise ratio (chapter 6).

    ``SNR = 10 log10(mean(wave**2) / mean(noise**2))``, measured per clip over all its samples.

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
        Clean clips; each must have some energy.
    snr_db : float
        The wanted ratio in decibels (higher is cleaner).
    noise : tensor or array of the same shape as ``wave``, optional
        The noise to scale. ``None`` draws white Gaussian noise on ``wave``'s device.
    generator : torch.Generator, optional
        Used to draw the white noise, for repeatable results.

    Returns
    -------
    Noisy clips, same shape, kind and device as ``wave``.
    """
    w, from_numpy = _as_wave(wave)
    snr = check_number(snr_db, "snr_db")
    if noise is None:
        if generator is not None and generator.device != w.device:
            raise ValueError(f"generator is on {generator.device} but wave is on {w.device}")
        n = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
    else:
        n, n_np = _as_wave(noise, "noise")
        if n_np != from_numpy or n.shape != w.shape:
            raise ValueError(f"noise must match wave: shape {tuple(w.shape)}, got {tuple(n.shape)}")
        if n.device != w.device:
            raise ValueError(f"noise is on {n.device} but wave is on {w.device}")
        n = n.to(w.dtype)
    signal_power = w.pow(2).mean(-1, keepdim=True)
    noise_power = n.pow(2).mean(-1, keepdim=True)
    if bool((signal_power == 0).any()):
        raise ValueError("wave has a silent clip; its SNR is undefined")
    if bool((noise_power == 0).any()):
        raise ValueError("noise has a silent clip; it cannot be scaled to an SNR")
    gain = torch.sqrt(signal_power / (noise_power * 10.0 ** (snr / 10.0)))
    return to_output(w + gain * n, from_numpy)


# --------------------------------------------------------------------------------------------
# the short-time Fourier transform
# --------------------------------------------------------------------------------------------


def get_window(window: str, length: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """A periodic analysis window of ``length`` samples (the DFT-even form used for spectra).

    Parameters
    ----------
    window : {"hann", "hamming", "blackman", "rectangular"}
    length : int, >= 1
    dtype, device : where to build it.

    Returns
    -------
    (length,) tensor, equal to ``torch.hann_window(length)`` (and friends) and to
    ``scipy.signal.get_window(window, length, fftbins=True)``.
    """
    check_choice(window, "window", WINDOWS)
    n = check_int(length, "length")
    if window == "rectangular":
        return torch.ones(n, dtype=dtype, device=device)
    make = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}
    return make[window](n, periodic=True, dtype=dtype, device=device)


def stft(
    wave: ArrayLike,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str | ArrayLike = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> ArrayLike:
    """Short-time Fourier transform: cut into frames, multiply by a window, take the real FFT.

    Chapter 6 builds it from scratch and checks it against ``torch.stft``.

    Frame ``t`` covers samples ``[t * hop_length, t * hop_length + n_fft)`` of the signal, after
    ``n_fft // 2`` samples of padding on both sides when ``center`` is true (so that frame
    ``t`` is centred on sample ``t * hop_length``). A window shorter than ``n_fft`` is
    zero-padded on both sides to ``n_fft``, as ``torch.stft`` and librosa do.

    Parameters
    ----------
    wave : (T,) or (B, T) float tensor or array
    n_fft : int, >= 2
        Frame length and FFT size.
    hop_length : int, >= 1
        Samples between the starts of successive frames.
    win_length : int, optional
        Window length, ``<= n_fft``; defaults to ``n_fft``.
    window : str or (win_length,) tensor/array
        One of :data:`WINDOWS` (periodic), or the window's samples.
    center : bool
        Pad so that frames are centred on their time stamps.
    pad_mode : {"constant", "reflect", "replicate"}
        How to pad when centring: zeros (librosa's default), mirror images (``torch.stft``'s
        and torchaudio's default), or copies of the edge sample.

    Returns
    -------
    (…, n_fft // 2 + 1, frames) complex tensor or array, where
    ``frames = 1 + (T + 2 * (n_fft // 2) * center - n_fft) // hop_length``.

    Raises
    ------
    ValueError
        If the signal is shorter than ``n_fft`` with ``center=False`` (or too short to be
        mirrored with ``pad_mode="reflect"``), or an argument is out of range.
    """
    w, from_numpy = _as_wave(wave)
    spectrum = _stft_rows(w, n_fft, hop_length, win_length, window, center, pad_mode)
    return to_output(spectrum.transpose(-1, -2), from_numpy)


def _stft_rows(
    w: torch.Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None,
    window: str | ArrayLike,
    center: bool,
    pad_mode: str,
) -> torch.Tensor:
    """The STFT of a validated wave, one row per frame: complex (…, frames, n_fft // 2 + 1)."""
    n_fft = check_int(n_fft, "n_fft", minimum=2)
    hop_length = check_int(hop_length, "hop_length")
    win = _window_tensor(window, n_fft, win_length, w)
    check_choice(pad_mode, "pad_mode", PAD_MODES)
    if center:
        pad = n_fft // 2
        if pad_mode == "reflect" and w.shape[-1] <= pad:
            raise ValueError(f"wave has {w.shape[-1]} samples; pad_mode='reflect' needs more than n_fft // 2 = {pad}")
        # F.pad pads the last axis of a (B, 1, T) input in every mode.
        w = F.pad(w.reshape(-1, 1, w.shape[-1]), (pad, pad), mode=pad_mode).reshape(*w.shape[:-1], -1)
    elif w.shape[-1] < n_fft:
        raise ValueError(f"wave has {w.shape[-1]} samples, fewer than n_fft={n_fft}, and center=False")
    frames = w.unfold(-1, n_fft, hop_length)  # (…, frames, n_fft), a view: no copy yet
    return torch.fft.rfft(frames * win, dim=-1)  # (…, frames, n_fft // 2 + 1)


def _mel_rows(w: torch.Tensor, power: float, fb: torch.Tensor, *stft_args) -> torch.Tensor:
    """``|STFT| ** power @ fb`` of a validated wave, one row per frame: (…, frames, n_mels)."""
    p = check_number(power, "power", minimum=0.0, strict=True)
    z = _stft_rows(w, *stft_args)  # (…, frames, n_freqs)
    if p != 2.0:
        return z.abs().pow(p) @ fb
    # |z|^2 @ fb = re^2 @ fb + im^2 @ fb. Squaring the interleaved (re, im) pairs in place and
    # repeating each filterbank row twice gives the same sum without two full-size temporaries.
    parts = torch.view_as_real(z).square_().flatten(-2)  # (…, frames, 2 * n_freqs)
    return parts @ fb.repeat_interleave(2, dim=0)


def _power_rows(w: torch.Tensor, power: float, *stft_args) -> torch.Tensor:
    """``|STFT| ** power`` of a validated wave, one row per frame: (…, frames, n_freqs)."""
    p = check_number(power, "power", minimum=0.0, strict=True)
    z = _stft_rows(w, *stft_args)
    if p == 2.0:  # re^2 + im^2 skips the square root of abs()
        return torch.view_as_real(z).pow(2).sum(-1)
    return z.abs() if p == 1.0 else z.abs().pow(p)


def _window_tensor(window: str | ArrayLike, n_fft: int, win_length: int | None, like: torch.Tensor) -> torch.Tensor:
    """The window, zero-padded on both sides to ``n_fft``, on ``like``'s device and dtype."""
    if isinstance(window, str):
        length = n_fft if win_length is None else check_int(win_length, "win_length")
        if length > n_fft:
            raise ValueError(f"win_length must be <= n_fft={n_fft}, got {length}")
        win = get_window(window, length, dtype=like.dtype, device=like.device)
    else:
        win, _ = as_tensor(window, "window")
        if win.ndim != 1 or win.numel() == 0:
            raise ValueError(f"window must be a 1-D array of samples, got shape {tuple(win.shape)}")
        if win_length is not None and win.numel() != win_length:
            raise ValueError(f"window has {win.numel()} samples but win_length={win_length}")
        if win.numel() > n_fft:
            raise ValueError(f"window must have at most n_fft={n_fft} samples, got {win.numel()}")
        win = as_float(win, False).to(dtype=like.dtype, device=like.device)
        check_finite(win, "window")
    left = (n_fft - win.numel()) // 2
    return F.pad(win, (left, n_fft - win.numel() - left))


# --------------------------------------------------------------------------------------------
# the mel scale and the filterbank
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# spectrograms, decibels, MFCC and deltas
# --------------------------------------------------------------------------------------------


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
    _check_sample_rate(sample_rate)
    n_fft = check_int(n_fft, "n_fft", minimum=2)
    fb = mel_filterbank(n_fft // 2 + 1, sample_rate, n_mels, f_min, f_max, mel_scale, norm, w.dtype, w.device)
    rows = _mel_rows(w, power, fb, n_fft, hop_length, win_length, window, center, pad_mode)  # (…, frames, n_mels)
    return to_output(rows.transpose(-1, -2), from_numpy)  # (…, n_mels, frames)


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
    n_mels = check_int(n_mels, "n_mels")
    n_mfcc = check_int(n_mfcc, "n_mfcc")
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc must be <= n_mels={n_mels}, got {n_mfcc}")
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
    n_mfcc = check_int(n_mfcc, "n_mfcc")
    n_mels = check_int(n_mels, "n_mels")
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc must be <= n_mels={n_mels}, got {n_mfcc}")
    _check_sample_rate(sample_rate)
    n_fft = check_int(n_fft, "n_fft", minimum=2)
    fb = mel_filterbank(n_fft // 2 + 1, sample_rate, n_mels, f_min, f_max, mel_scale, norm, w.dtype, w.device)
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


# --------------------------------------------------------------------------------------------
# encoders on log-mel input
# --------------------------------------------------------------------------------------------


class _AudioEncoder(nn.Module):
    """What the three encoders share: input checks, an optional classifier, ``embed``.

    The embedding width is the attribute ``dimension`` (the constructor's ``embed_dim``);
    the attribute ``embed_dim`` is a deprecated alias.
    """

    embed_dim = deprecated_alias("dimension", "embed_dim")

    def __init__(self, n_mels: int, embed_dim: int, n_classes: int | None) -> None:
        super().__init__()
        self.n_mels = check_int(n_mels, "n_mels")
        self.dimension = check_int(embed_dim, "embed_dim")
        self.n_classes = None if n_classes is None else check_int(n_classes, "n_classes", minimum=2)
        self.head = None if n_classes is None else nn.Linear(self.dimension, self.n_classes)
        # log-mel values are in dB, far from unit scale: every encoder first standardises each band
        self.norm = nn.BatchNorm1d(self.n_mels)

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 3 or x.shape[1] != self.n_mels or x.shape[0] == 0 or x.shape[2] == 0:
            raise ValueError(f"x must be a log-mel batch (B, n_mels={self.n_mels}, frames), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point, got {x.dtype}")
        return x

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a log-mel batch.

        Parameters
        ----------
        x : (B, n_mels, frames) float tensor

        Returns
        -------
        (B, dimension) tensor.
        """
        return self._embed(self._check_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) when built with ``n_classes``, else the embedding (B, dimension)."""
        z = self.embed(x)
        return z if self.head is None else self.head(z)


class AudioCNN(_AudioEncoder):
    """A small 2-D CNN that looks at the log-mel spectrogram as an image (chapter 6).

    Each block is conv 3x3, batch norm, ReLU and 2x2 max pooling, so every block halves the
    frequency and time resolution and sees a wider patch. The feature maps are then averaged
    over time only, which makes the output independent of the clip length, while frequency is
    kept: the (channels x remaining mel bins) values go through a linear layer to the
    embedding, so the network knows *where* in the spectrum a pattern was (averaging over
    frequency too would throw away the formant positions that tell words apart). The input
    is first standardised per mel band by a batch norm layer (log-mel values are in dB, far
    from unit scale).

    Parameters
    ----------
    n_mels : int
        Mel bands of the input.
    embed_dim : int
        Size of the embedding returned by :meth:`embed`.
    n_classes : int, optional
        Add a linear classifier on top of the embedding.
    channels : tuple of int
        Output channels of each block.
    dropout : float
        Dropout before the embedding layer.

    Examples
    --------
    >>> net = AudioCNN(n_mels=40, embed_dim=64, n_classes=10)
    >>> net(torch.randn(8, 40, 101)).shape
    torch.Size([8, 10])
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        channels: tuple[int, ...] = (16, 32, 64),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        if len(channels) == 0:
            raise ValueError("channels must name at least one block")
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            c_out = check_int(c_out, "channels")
            blocks += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        bins = self.n_mels
        for _ in channels:
            bins = -(-bins // 2)  # each pooling halves the mel axis, rounding up
        self.project = nn.Sequential(
            nn.Dropout(check_number(dropout, "dropout", 0.0)), nn.Linear(c_in * bins, embed_dim)
        )

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.norm(x).unsqueeze(1))  # (B, C, n_mels', frames')
        return self.project(h.mean(dim=3).flatten(1))  # average over time, keep frequency


class AudioGRU(_AudioEncoder):
    """A bidirectional GRU that reads the log-mel spectrogram one frame at a time (chapter 6).

    Each frame (a vector of ``n_mels`` values, standardised per band) is one step. The outputs
    of both directions are averaged over time and projected to the embedding.

    Parameters
    ----------
    n_mels, embed_dim, n_classes : see :class:`AudioCNN`
    hidden_size : int
        GRU state size per direction.
    num_layers : int
        Stacked GRU layers.
    dropout : float
        Dropout before the embedding layer.
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        self.gru = nn.GRU(
            self.n_mels,
            check_int(hidden_size, "hidden_size"),
            num_layers=check_int(num_layers, "num_layers"),
            batch_first=True,
            bidirectional=True,
        )
        self.project = nn.Sequential(
            nn.Dropout(check_number(dropout, "dropout", 0.0)), nn.Linear(2 * hidden_size, embed_dim)
        )

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.gru(self.norm(x).transpose(1, 2))  # (B, frames, 2 * hidden)
        return self.project(outputs.mean(dim=1))


class _GatedResidualBlock(nn.Module):
    """WaveNet's unit: a dilated convolution, a tanh-times-sigmoid gate, a 1x1 residual path."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2  # "same" length, not causal
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, padding=padding, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        filt, gate = self.conv(x).chunk(2, dim=1)
        return x + self.mix(torch.tanh(filt) * torch.sigmoid(gate))


class DilatedConvEncoder(_AudioEncoder):
    """A WaveNet-style stack of dilated 1-D convolutions over time (chapter 6).

    The mel bands are the input channels. Block ``i`` uses dilation ``2**i``, so ``n_blocks``
    blocks of kernel size 3 see ``2**(n_blocks + 1) - 1`` frames: the receptive field grows
    exponentially with depth while the parameter count grows linearly. Unlike WaveNet, which
    generates audio and must be causal, an encoder may look ahead, so the convolutions are
    centred. The outputs are averaged over time and projected to the embedding.

    Parameters
    ----------
    n_mels, embed_dim, n_classes : see :class:`AudioCNN`
    channels : int
        Width of the residual stack.
    n_blocks : int
        Number of gated residual blocks (dilations 1, 2, 4, ...).
    kernel_size : int
        Odd, >= 3.
    dropout : float
        Dropout before the embedding layer.
    """

    def __init__(
        self,
        n_mels: int = 40,
        embed_dim: int = 128,
        n_classes: int | None = None,
        channels: int = 64,
        n_blocks: int = 5,
        kernel_size: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(n_mels, embed_dim, n_classes)
        channels = check_int(channels, "channels")
        kernel_size = check_int(kernel_size, "kernel_size", minimum=3)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.n_blocks = check_int(n_blocks, "n_blocks")
        self.receptive_field = 1 + (kernel_size - 1) * (2**self.n_blocks - 1)
        """Frames that one output frame depends on."""
        self.inp = nn.Conv1d(self.n_mels, channels, 1)
        self.blocks = nn.Sequential(*[_GatedResidualBlock(channels, kernel_size, 2**i) for i in range(n_blocks)])
        self.project = nn.Sequential(
            nn.ReLU(), nn.Dropout(check_number(dropout, "dropout", 0.0)), nn.Linear(channels, embed_dim)
        )

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(self.norm(x)))  # (B, channels, frames)
        return self.project(h.mean(dim=2))


__all__ = [
    "MEL_SCALES",
    "PAD_MODES",
    "WINDOWS",
    "AudioCNN",
    "AudioGRU",
    "DilatedConvEncoder",
    "add_noise",
    "dct_matrix",
    "deltas",
    "fix_length",
    "get_window",
    "hz_to_mel",
    "load",
    "mel_filterbank",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "resample",
    "save",
    "spectrogram",
    "stft",
]
