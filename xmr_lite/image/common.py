"""What the image modules share: the standard normalisation constants and the input checks (chapter 5)."""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

from xmr_lite._checks import is_int

IntPair = Union[int, tuple[int, int]]

MNIST_MEAN = 0.1307
"""Mean pixel value of the 60,000 MNIST training images, scaled to [0, 1]."""
MNIST_STD = 0.3081
"""Standard deviation of the MNIST training pixels, scaled to [0, 1]."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel RGB mean of ImageNet, used by torchvision's pretrained ResNet and VGG weights."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel RGB standard deviation of ImageNet (torchvision's pretrained weights)."""


def _int_pair(value: object, name: str, minimum: int) -> tuple[int, int]:
    """Accept an int or a pair of ints (the ``F.conv2d`` convention) and return a pair."""
    if is_int(value):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {tuple(value)}")
    return int(value[0]), int(value[1])


def _check_widths(widths: object, name: str = "widths") -> tuple[int, ...]:
    if not isinstance(widths, (tuple, list)) or not widths or not all(is_int(w) and w >= 1 for w in widths):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {widths!r}")
    return tuple(int(w) for w in widths)


def _model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (CPU for a model with neither)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def check_images(x: object, channels: int, size: int, device: torch.device | None = None) -> torch.Tensor:
    """Check that ``x`` is a float batch of shape ``(B, channels, size, size)`` (chapter 5).

    The book's CNNs call it first in ``embed``, so a wrong input fails with the shape it
    should have had, not with a matrix-size error deep inside the network.

    Parameters
    ----------
    x : (B, C, H, W) float tensor
    channels, size : int
        The expected number of channels C and the expected height H = width W.
    device : torch.device, optional
        When given, ``x`` must be on this device (the model's), since nothing is moved silently.

    Returns
    -------
    torch.Tensor
        ``x`` itself.

    Raises
    ------
    ValueError
        With the expected shape, if ``x`` is not a tensor, has the wrong number of dimensions,
        channels or pixels, is empty, is not floating point or is on another device.
    """
    expected = f"(B, {channels}, {size}, {size})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of shape {expected}, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"x must have shape {expected}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one image of shape {expected}, got an empty batch")
    if not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (scale uint8 images first, e.g. digits_transform), got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"x is on {x.device} but the model is on {device}; move one of them")
    return x


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MNIST_MEAN", "MNIST_STD", "check_images"]
