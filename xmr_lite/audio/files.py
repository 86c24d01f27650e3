"""Reading, writing, resampling, trimming and adding noise to waveforms (chapter 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention
from torchaudio import functional as taf

from xmr_lite._checks import ArrayLike, check_int, check_number, to_output
from xmr_lite.audio.common import PathLike, _as_wave, _check_sample_rate


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


__all__ = ["add_noise", "fix_length", "load", "resample", "save"]
