"""Standard image transforms (torchvision.transforms.v2) for digits and photos (chapter 5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torchvision.transforms import v2

from xmr_lite._checks import check_int
from xmr_lite.image.common import IMAGENET_MEAN, IMAGENET_STD, MNIST_MEAN, MNIST_STD


def digits_transform(mean: float = MNIST_MEAN, std: float = MNIST_STD) -> v2.Compose:
    """uint8 digit images → normalised float tensors, ``(p / 255 - mean) / std``.

    The input is a (..., 1, H, W) uint8 tensor (one image or a batch); the output has the
    same shape, float32. Taught in chapter 5.
    """
    if not float(std) > 0:
        raise ValueError(f"std must be positive, got {std}")
    return v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([float(mean)], [float(std)]),
            v2.ToPureTensor(),  # a plain torch.Tensor, not torchvision's Image subclass
        ]
    )


def digits_augmentation(
    degrees: float = 10.0, translate: float = 0.1, scale: tuple[float, float] = (0.9, 1.1)
) -> v2.RandomAffine:
    """A random small rotation, shift and zoom for digit images (apply before normalising).

    Taught in chapter 5.

    Parameters
    ----------
    degrees : float
        Rotation drawn from [-degrees, degrees].
    translate : float
        Largest shift as a fraction of the width and height.
    scale : (float, float)
        Range of the zoom factor.

    Returns
    -------
    v2.RandomAffine
        Works on (..., C, H, W) tensors, but draws **one** set of random parameters per call:
        use :func:`apply_per_sample` to augment every image of a batch differently.
    """
    if not float(degrees) >= 0:
        raise ValueError(f"degrees must be >= 0, got {degrees}")
    if not 0.0 <= float(translate) <= 1.0:
        raise ValueError(f"translate must be in [0, 1], got {translate}")
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
    return v2.RandomAffine(degrees=float(degrees), translate=(float(translate),) * 2, scale=tuple(scale))


def apply_per_sample(transform: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply ``transform`` to each image of a batch on its own, so random draws differ.

    A torchvision v2 transform called on a (B, C, H, W) batch treats it as one image: every
    image gets the same rotation. Looping gives each its own. Taught in chapter 5.

    Parameters
    ----------
    transform : callable
        Maps one (C, H, W) tensor to one tensor.
    x : (B, C, H, W) tensor

    Returns
    -------
    (B, ...) tensor of the stacked results, on the device of ``x``.
    """
    if not callable(transform):
        raise ValueError(f"transform must be callable, got {type(transform).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a non-empty (B, C, H, W) tensor, got {shape}")
    return torch.stack([torch.as_tensor(transform(image)) for image in x])


def imagenet_transform(
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    resize: int = 256,
    crop: int = 224,
) -> v2.Compose:
    """The usual ImageNet evaluation preprocessing: resize, centre-crop, scale, normalise.

    Taught in chapter 5.

    The shorter side is resized to ``resize`` pixels (antialiased), the central
    ``crop``×``crop`` square is kept, pixels are scaled to [0, 1] and each channel is
    normalised with ``mean`` and ``std``. Use :data:`IMAGENET_MEAN`/:data:`IMAGENET_STD` for
    torchvision's weights and ``xmr_lite.data.EFFICIENTNET_LITE0_MEAN``/``..._STD`` (pixel
    ``p`` becomes ``(p - 127) / 128``, the TensorFlow edge models' convention) for
    EfficientNet-Lite.

    Parameters
    ----------
    mean, std : three floats each
    resize, crop : int
        ``crop`` <= ``resize``.

    Returns
    -------
    v2.Compose
        Takes one (3, H, W) uint8 tensor (or H×W×3 array, or PIL image) and returns a
        (3, crop, crop) float32 tensor.
    """
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"mean and std must hold three values each, std > 0; got {mean}, {std}")
    resize = check_int(resize, "resize", 1)
    crop = check_int(crop, "crop", 1)
    if crop > resize:
        raise ValueError(f"crop={crop} must not exceed resize={resize}")
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(resize, antialias=True),
            v2.CenterCrop(crop),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
            v2.ToPureTensor(),
        ]
    )


def to_rgb_uint8(image: object) -> torch.Tensor:
    """One photo as a (3, H, W) uint8 tensor: greyscale is repeated, an alpha channel dropped.

    Used in chapter 5 before :func:`imagenet_transform`.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) uint8 array, or (1|3|4, H, W) uint8 tensor
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"image must be uint8, got {image.dtype}")
        t = torch.from_numpy(np.array(image))  # a copy: the registry's arrays are read-only
        t = t.unsqueeze(0) if t.ndim == 2 else (t.permute(2, 0, 1) if t.ndim == 3 else t)
    elif isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8:
            raise ValueError(f"image must be uint8, got {image.dtype}")
        t = image.unsqueeze(0) if image.ndim == 2 else image
    else:
        raise ValueError(f"image must be a uint8 numpy array or tensor, got {type(image).__name__}")
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4) or t.shape[1] == 0 or t.shape[2] == 0:
        raise ValueError(f"image must be (H, W), (H, W, 3|4) or (1|3|4, H, W), got shape {tuple(image.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t[:3].contiguous()


__all__ = ["apply_per_sample", "digits_augmentation", "digits_transform", "imagenet_transform", "to_rgb_uint8"]
