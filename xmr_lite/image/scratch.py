"""Convolution and max pooling from scratch, output sizes and receptive fields (chapter 5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention

from xmr_lite._checks import as_float, as_tensor, check_finite, check_int, to_output
from xmr_lite.image.common import IntPair, _int_pair


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of one output axis of a convolution or pooling layer (taught in chapter 5).

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``, the formula
    in the documentation of ``torch.nn.Conv2d``.

    Parameters
    ----------
    size : int
        Input length along the axis (height or width), >= 1.
    kernel_size, stride, dilation : int
        Each >= 1.
    padding : int
        Zeros added on each side, >= 0.

    Returns
    -------
    int
        The output length, >= 1.

    Raises
    ------
    ValueError
        If an argument is out of range, or if the (dilated) kernel is larger than the padded
        input so that there is no output at all.
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    padding = check_int(padding, "padding", 0)
    dilation = check_int(dilation, "dilation", 1)
    span = dilation * (kernel_size - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(
            f"kernel_size={kernel_size} (spanning {span} pixels with dilation={dilation}) does not fit "
            f"in size={size} with padding={padding}"
        )
    return (size + 2 * padding - span) // stride + 1


def _conv_arguments(
    x: object, weight: object, bias: object, stride: object, padding: object, dilation: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, tuple, tuple, tuple, bool, bool]:
    """Validate the arguments of :func:`conv2d_scratch` the way ``F.conv2d`` reads them."""
    xt, from_numpy = as_tensor(x, "x")
    wt, w_numpy = as_tensor(weight, "weight")
    if from_numpy != w_numpy:
        raise ValueError("x and weight must both be numpy arrays or both be torch tensors")
    unbatched = xt.ndim == 3
    if xt.ndim not in (3, 4) or xt.numel() == 0:
        raise ValueError(f"x must be a non-empty (N, C, H, W) or (C, H, W) array, got shape {tuple(xt.shape)}")
    if unbatched:
        xt = xt.unsqueeze(0)
    channels = xt.shape[1]
    if wt.ndim != 4 or wt.numel() == 0:
        raise ValueError(f"weight must be a non-empty (C_out, {channels}, kH, kW) array, got shape {tuple(wt.shape)}")
    if wt.shape[1] != channels:
        raise ValueError(
            f"weight must have shape (C_out, {channels}, kH, kW) to match the {channels} channels of x, "
            f"got {tuple(wt.shape)}"
        )
    if xt.device != wt.device:
        raise ValueError(f"weight is on {wt.device} but x is on {xt.device}")
    xt, wt = as_float(xt, from_numpy), as_float(wt, from_numpy)
    dtype = torch.promote_types(xt.dtype, wt.dtype)
    xt, wt = xt.to(dtype), wt.to(dtype)
    check_finite(xt, "x")
    check_finite(wt, "weight")
    bt = None
    if bias is not None:
        bt, b_numpy = as_tensor(bias, "bias")
        if b_numpy != from_numpy:
            raise ValueError("bias must be of the same kind (numpy or torch) as x")
        if bt.shape != (wt.shape[0],):
            raise ValueError(
                f"bias must have shape ({wt.shape[0]},), one value per output channel, got {tuple(bt.shape)}"
            )
        if bt.device != xt.device:
            raise ValueError(f"bias is on {bt.device} but x is on {xt.device}")
        bt = as_float(bt, from_numpy).to(dtype)
        check_finite(bt, "bias")
    stride_ = _int_pair(stride, "stride", 1)
    padding_ = _int_pair(padding, "padding", 0)
    dilation_ = _int_pair(dilation, "dilation", 1)
    return xt, wt, bt, stride_, padding_, dilation_, unbatched, from_numpy


def conv2d_scratch(
    x: torch.Tensor | np.ndarray,
    weight: torch.Tensor | np.ndarray,
    bias: torch.Tensor | np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> torch.Tensor | np.ndarray:
    """2-D convolution (cross-correlation, as in deep learning) with ``unfold`` and a matmul.

    Taught in chapter 5, which first writes it with loops.

    Every output pixel is the dot product of the kernel with the input patch under it.
    ``F.unfold`` copies each patch into a column, so the whole convolution becomes one matrix
    product: ``(C_out, C·kH·kW) @ (C·kH·kW, L)`` for the L output positions. The arguments
    follow ``torch.nn.functional.conv2d`` (``groups`` is not supported).

    Parameters
    ----------
    x : (N, C, H, W) or (C, H, W) float tensor or array
    weight : (C_out, C, kH, kW) float tensor or array
    bias : (C_out,) float tensor or array, optional
    stride : int or (int, int)
        Step between neighbouring patches, >= 1.
    padding : int or (int, int)
        Zeros added on each side of the height and width, >= 0.
    dilation : int or (int, int)
        Spacing between kernel taps, >= 1.

    Returns
    -------
    (N, C_out, H_out, W_out) tensor or array
        ((C_out, H_out, W_out) for an unbatched ``x``), with H_out and W_out given by
        :func:`conv_output_size`, on the device of ``x``.

    Raises
    ------
    ValueError
        For a wrong shape (the message gives the expected one), a channel mismatch, NaN, a
        kernel larger than the padded input, or inputs on different devices.
    """
    xt, wt, bt, stride_, padding_, dilation_, unbatched, from_numpy = _conv_arguments(
        x, weight, bias, stride, padding, dilation
    )
    n, _, h, w = xt.shape
    c_out, _, kh, kw = wt.shape
    h_out = conv_output_size(h, kh, stride_[0], padding_[0], dilation_[0])
    w_out = conv_output_size(w, kw, stride_[1], padding_[1], dilation_[1])
    columns = F.unfold(xt, (kh, kw), dilation=dilation_, padding=padding_, stride=stride_)  # (N, C·kH·kW, L)
    out = wt.reshape(c_out, -1) @ columns  # (N, C_out, L)
    if bt is not None:
        out = out + bt.reshape(1, c_out, 1)
    out = out.reshape(n, c_out, h_out, w_out)
    return to_output(out[0] if unbatched else out, from_numpy)


def max_pool2d_scratch(
    x: torch.Tensor | np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> torch.Tensor | np.ndarray:
    """2-D max pooling with ``unfold``: the largest value of each window, per channel.

    Taught in chapter 5.

    Padding adds ``-inf`` (never the maximum), like ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : (N, C, H, W) or (C, H, W) float tensor or array
    kernel_size : int or (int, int)
        Window size, >= 1.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        At most half the kernel size, as in PyTorch.

    Returns
    -------
    (N, C, H_out, W_out) tensor or array ((C, H_out, W_out) for an unbatched ``x``).
    """
    xt, from_numpy = as_tensor(x, "x")
    unbatched = xt.ndim == 3
    if xt.ndim not in (3, 4) or xt.numel() == 0:
        raise ValueError(f"x must be a non-empty (N, C, H, W) or (C, H, W) array, got shape {tuple(xt.shape)}")
    xt = as_float(xt.unsqueeze(0) if unbatched else xt, from_numpy)
    check_finite(xt, "x")
    kh, kw = _int_pair(kernel_size, "kernel_size", 1)
    sh, sw = _int_pair(kernel_size if stride is None else stride, "stride", 1)
    ph, pw = _int_pair(padding, "padding", 0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding must be at most half of kernel_size={(kh, kw)}, got {(ph, pw)}")
    n, c, h, w = xt.shape
    h_out = conv_output_size(h, kh, sh, ph)
    w_out = conv_output_size(w, kw, sw, pw)
    padded = F.pad(xt, (pw, pw, ph, ph), value=float("-inf"))
    windows = F.unfold(padded, (kh, kw), stride=(sh, sw))  # (N, C·kH·kW, L)
    out = windows.reshape(n, c, kh * kw, h_out * w_out).amax(dim=2).reshape(n, c, h_out, w_out)
    return to_output(out[0] if unbatched else out, from_numpy)


_SPATIAL_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def receptive_field(layers: nn.Module | Sequence[Sequence[int]]) -> int:
    """Receptive field, in input pixels along one axis, of a chain of conv and pooling layers.

    Taught in chapter 5.

    With ``r`` the receptive field so far and ``j`` the distance in input pixels between two
    neighbouring positions of the current layer (the product of the strides so far), a layer
    of kernel ``k``, stride ``s`` and dilation ``d`` gives ``r += d * (k - 1) * j`` and
    ``j *= s``. Padding changes where the field sits, not its size.

    Parameters
    ----------
    layers : nn.Module or sequence of (kernel, stride) or (kernel, stride, dilation)
        A module whose ``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.AvgPool2d`` layers, in
        registration order, form one chain (true of ``nn.Sequential`` stacks such as
        ``SmallCNN().features``, not of networks with branches), or the layers' sizes
        directly. Only the first (height) axis is read.

    Returns
    -------
    int
        How many input pixels along one axis influence one output pixel.
    """
    if isinstance(layers, nn.Module):
        sizes = []
        for module in layers.modules():
            if isinstance(module, _SPATIAL_LAYERS):
                kernel = _int_pair(module.kernel_size, "kernel_size", 1)[0]
                step = _int_pair(module.stride, "stride", 1)[0]
                dil = _int_pair(getattr(module, "dilation", 1), "dilation", 1)[0]
                sizes.append((kernel, step, dil))
    elif isinstance(layers, (list, tuple)):
        sizes = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, (list, tuple)) or len(layer) not in (2, 3):
                raise ValueError(f"layers[{i}] must be (kernel, stride) or (kernel, stride, dilation), got {layer!r}")
            kernel = check_int(layer[0], f"layers[{i}] kernel", 1)
            step = check_int(layer[1], f"layers[{i}] stride", 1)
            dil = check_int(layer[2], f"layers[{i}] dilation", 1) if len(layer) == 3 else 1
            sizes.append((kernel, step, dil))
    else:
        raise ValueError(f"layers must be an nn.Module or a sequence of (kernel, stride), got {type(layers).__name__}")
    field, jump = 1, 1
    for kernel, step, dil in sizes:
        field += dil * (kernel - 1) * jump
        jump *= step
    return field


__all__ = ["conv2d_scratch", "conv_output_size", "max_pool2d_scratch", "receptive_field"]
