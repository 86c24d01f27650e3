"""Windows and the short-time Fourier transform (chapter 6)."""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention

from xmr_lite._checks import (
    ArrayLike,
    as_float,
    as_tensor,
    check_choice,
    check_finite,
    check_int,
    check_number,
    to_output,
)
from xmr_lite.audio.common import PAD_MODES, WINDOWS, _as_wave


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


__all__ = ["get_window", "stft"]
