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
  ImageNet labels; :func:`small_picture_features` gives the same network's features of small
  pictures at a lower resolution (chapter 12).
* **Standard transforms** (``torchvision.transforms.v2``): :func:`digits_transform`,
  :func:`digits_augmentation`, :func:`apply_per_sample` and :func:`imagenet_transform`.

Everything runs on the device of its input (CUDA when the model and tensors are there).

The package's modules: ``common`` (constants and input checks), ``scratch``, ``models``,
``features`` (hooks), ``transforms`` and ``pretrained``; every public name is importable from
``xmr_lite.image`` itself.
"""

from xmr_lite.image.common import IMAGENET_MEAN, IMAGENET_STD, MNIST_MEAN, MNIST_STD, check_images
from xmr_lite.image.features import FeatureExtractor, extract_features
from xmr_lite.image.models import PlainBlock, SmallCNN, SmallResNet, SmallVGG
from xmr_lite.image.pretrained import (
    PICTURE_POOLINGS,
    SMALL_PICTURE_SIZE,
    PretrainedImageEncoder,
    small_picture_features,
)
from xmr_lite.image.scratch import conv2d_scratch, conv_output_size, max_pool2d_scratch, receptive_field
from xmr_lite.image.transforms import (
    apply_per_sample,
    digits_augmentation,
    digits_transform,
    imagenet_transform,
    to_rgb_uint8,
)
from xmr_lite.train import count_parameters

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "PICTURE_POOLINGS",
    "SMALL_PICTURE_SIZE",
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
    "small_picture_features",
    "to_rgb_uint8",
]
