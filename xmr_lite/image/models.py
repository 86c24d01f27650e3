"""The book's small CNNs for 28×28 greyscale digits: SmallCNN, SmallVGG, SmallResNet (chapter 5)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock
from torchvision.ops import Conv2dNormActivation

from xmr_lite._checks import check_int, deprecated_alias
from xmr_lite.image.common import _check_widths, _model_device, check_images


class _ImageModel(nn.Module):
    """What the book's small CNNs share: the input check, ``embed``, ``head`` and ``forward``.

    By default a model is ``features`` → ``embedding`` (the penultimate layer) → ``classifier``;
    a model with another layout overrides ``embed`` and ``head``.
    """

    in_channels: int
    image_size: int
    dimension: int
    feature_layer: str
    embed_dim = deprecated_alias("dimension", "embed_dim")

    def _check_sizes(
        self, in_channels: object, image_size: object, n_classes: object, widths: object
    ) -> tuple[int, list[int]]:
        """Check and keep ``in_channels`` and ``image_size``; return the checked ``n_classes`` and ``widths``."""
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.image_size = check_int(image_size, "image_size", 1)
        return check_int(n_classes, "n_classes", 1), _check_widths(widths)

    def _check_halvings(self, halvings: int, what: str) -> None:
        """Raise unless ``image_size`` is at least ``2**halvings``; ``what`` names the halving layers."""
        if self.image_size < 2**halvings:
            raise ValueError(f"image_size={self.image_size} is too small for {halvings} {what}")

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Raise ``ValueError`` unless ``x`` is a float (B, in_channels, image_size, image_size) batch."""
        return check_images(x, self.in_channels, self.image_size, _model_device(self))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features: (B, in_channels, S, S) float → (B, dimension)."""
        return self.embedding(self.features(self.check_input(x)))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) from embeddings (B, dimension)."""
        return self.classifier(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (B, n_classes)."""
        return self.head(self.embed(x))


class SmallCNN(_ImageModel):
    """A LeNet-style CNN: (conv 3×3 → ReLU → max-pool 2×2) per width, then a dense embedding.

    With the defaults (1×28×28 input, widths (16, 32)): 28×28 → 14×14 → 7×7, flattened to
    1,568 numbers, then ``embed_dim`` units and ``n_classes`` logits. Taught in chapter 5.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 for greyscale).
    n_classes : int
        Number of output logits.
    embed_dim : int
        Size of the penultimate layer returned by :meth:`embed`.
    image_size : int
        Height = width of the input; each pooling halves it (rounding down).
    widths : sequence of int
        Output channels of each conv block.

    Attributes
    ----------
    features : nn.Sequential
        Layers ``conv1, relu1, pool1, conv2, ...``.
    embedding : nn.Sequential
        Flatten → Linear → ReLU: the penultimate layer (``feature_layer = "embedding"``).
    classifier : nn.Linear
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        embed_dim: int = 64,
        image_size: int = 28,
        widths: Sequence[int] = (16, 32),
    ) -> None:
        super().__init__()
        n_classes, widths = self._check_sizes(in_channels, image_size, n_classes, widths)
        self.dimension = check_int(embed_dim, "embed_dim", 1)
        self._check_halvings(len(widths), "halving poolings")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, image_size
        for i, width in enumerate(widths, start=1):
            layers[f"conv{i}"] = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"pool{i}"] = nn.MaxPool2d(2)
            channels, size = width, size // 2
        self.features = nn.Sequential(layers)
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, embed_dim), nn.ReLU())
        self.classifier = nn.Linear(embed_dim, n_classes)
        self.feature_layer = "embedding"


class SmallVGG(_ImageModel):
    """A VGG-style CNN: stages of 3×3 conv-BN-ReLU blocks, each stage ending in a 2×2 max-pool.

    The blocks are torchvision's ``Conv2dNormActivation``. VGG's idea is depth from many
    small 3×3 kernels: two stacked 3×3 convs see 5×5 pixels with 2·9·C² weights instead of
    25·C². Taught in chapter 5.

    Parameters
    ----------
    in_channels, n_classes, image_size : int
        As in :class:`SmallCNN`.
    widths : sequence of int
        Channels of each stage (default (32, 64): 28×28 → 14×14 → 7×7).
    convs_per_stage : int
        3×3 conv blocks per stage.
    embed_dim : int
        Units of the penultimate dense layer (``feature_layer = "embedding"``).
    dropout : float
        Dropout before the classifier, in [0, 1).
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        widths: Sequence[int] = (32, 64),
        convs_per_stage: int = 2,
        embed_dim: int = 128,
        image_size: int = 28,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        n_classes, widths = self._check_sizes(in_channels, image_size, n_classes, widths)
        self.dimension = check_int(embed_dim, "embed_dim", 1)
        convs_per_stage = check_int(convs_per_stage, "convs_per_stage", 1)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self._check_halvings(len(widths), "halving poolings")
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, image_size
        for i, width in enumerate(widths, start=1):
            blocks = [Conv2dNormActivation(channels if j == 0 else width, width, 3) for j in range(convs_per_stage)]
            stages[f"stage{i}"] = nn.Sequential(*blocks, nn.MaxPool2d(2))
            channels, size = width, size // 2
        self.features = nn.Sequential(stages)
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, embed_dim), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))
        self.feature_layer = "embedding"


class PlainBlock(BasicBlock):
    """torchvision's ``BasicBlock`` with its skip connection removed.

    ``BasicBlock`` computes ``relu(F(x) + x)`` with ``F = bn2∘conv2∘relu∘bn1∘conv1``; this
    block computes ``relu(F(x))`` with the very same layers. Comparing the two isolates what
    the ``+ x`` does (chapter 5).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out)


class SmallResNet(_ImageModel):
    """A ResNet for small greyscale images, from torchvision's ``BasicBlock``.

    torchvision's ImageNet ResNets open with a 7×7 stride-2 convolution and a max-pool, which
    would shrink a 28×28 digit to 7×7 before any block sees it. This one opens with a 3×3
    stride-1 conv-BN-ReLU (the CIFAR ResNets of He et al., 2016, do the same), then one stage
    of ``blocks_per_stage`` blocks per width, halving the resolution at the start of every
    stage after the first, then global average pooling. Taught in chapter 5.

    Parameters
    ----------
    in_channels, n_classes, image_size : int
        As in :class:`SmallCNN`.
    widths : sequence of int
        Channels of each stage (default (16, 32, 64): 28×28 → 14×14 → 7×7).
    blocks_per_stage : int
        Two 3×3 convs per block, so the network has ``2 * blocks_per_stage * len(widths) + 2``
        weight layers.
    residual : bool
        True for ``BasicBlock`` (with skips); False for :class:`PlainBlock`, the same layers
        without them.

    Attributes
    ----------
    stem, layer1, layer2, ... : nn.Module
    avgpool : nn.AdaptiveAvgPool2d
        Its output is the penultimate layer (``feature_layer = "avgpool"``, (B, widths[-1], 1, 1)).
    fc : nn.Linear
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        widths: Sequence[int] = (16, 32, 64),
        blocks_per_stage: int = 2,
        residual: bool = True,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        n_classes, widths = self._check_sizes(in_channels, image_size, n_classes, widths)
        blocks_per_stage = check_int(blocks_per_stage, "blocks_per_stage", 1)
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be a bool, got {residual!r}")
        self._check_halvings(len(widths) - 1, "stride-2 stages")
        self.residual = residual
        self.dimension = widths[-1]
        self.feature_layer = "avgpool"
        self.stem = Conv2dNormActivation(in_channels, widths[0], kernel_size=3)
        block = BasicBlock if residual else PlainBlock
        channels = widths[0]
        for i, width in enumerate(widths, start=1):
            blocks = []
            for j in range(blocks_per_stage):
                stride = 2 if (i > 1 and j == 0) else 1
                downsample = None
                if residual and (stride != 1 or channels != width):
                    # The skip must match the block's output shape: a strided 1×1 conv does it.
                    downsample = nn.Sequential(
                        nn.Conv2d(channels, width, kernel_size=1, stride=stride, bias=False),
                        nn.BatchNorm2d(width),
                    )
                blocks.append(block(channels, width, stride=stride, downsample=downsample))
                channels = width
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
        self.n_stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_classes)
        for module in self.modules():  # torchvision's ResNet initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features: (B, in_channels, S, S) float → (B, widths[-1])."""
        out = self.stem(self.check_input(x))
        for i in range(1, self.n_stages + 1):
            out = getattr(self, f"layer{i}")(out)
        return torch.flatten(self.avgpool(out), 1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) from pooled features (B, widths[-1])."""
        return self.fc(features)


__all__ = ["PlainBlock", "SmallCNN", "SmallResNet", "SmallVGG"]
