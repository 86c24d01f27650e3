"""What the audio modules share: the accepted option names and the input checks (chapter 6)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Union

import numpy as np
import torch

from xmr_lite._checks import as_float, as_tensor, check_finite

PathLike = Union[str, Path]

WINDOWS = ("hann", "hamming", "blackman", "rectangular")
"""Window names accepted by :func:`stft` (all periodic, as ``torch.stft`` and librosa use)."""

PAD_MODES = ("constant", "reflect", "replicate")
"""Padding modes accepted by :func:`stft` when ``center=True``."""

MEL_SCALES = ("slaney", "htk")
"""Mel formulas accepted by :func:`hz_to_mel`, :func:`mel_to_hz` and :func:`mel_filterbank`."""


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


__all__ = ["MEL_SCALES", "PAD_MODES", "WINDOWS"]
