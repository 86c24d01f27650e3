"""The pretrained EfficientNet-Lite0 wrapper: offline, and right about a bundled photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xmr_lite.data as xd
from xmr_lite import image as xi


@pytest.fixture(scope="module")
def photos() -> xd.CaptionedPhotos:
    return xd.load_captioned_photos()


def pick(photos: xd.CaptionedPhotos, *names: str) -> list[np.ndarray]:
    return [photos.images[photos.names.index(n)] for n in names]


def test_encoder_loads_offline_and_sees_the_espresso(no_network, photos, device):
    encoder = xi.PretrainedImageEncoder(device=device)
    coffee, camera = pick(photos, "coffee", "camera")
    top = encoder.predict([coffee, camera], k=5)
    assert len(top) == 2 and all(len(t) == 5 for t in top)
    # The label documented in chapter 5: the coffee photo's top-1 ImageNet class.
    name, probability = top[0][0]
    assert name == "espresso" and probability > 0.5
    assert top[1][0][0] == "tripod"
    probabilities = [p for _, p in top[0]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-6


def test_features_are_the_pooled_feature_map(photos, device):
    encoder = xi.PretrainedImageEncoder(device=device, batch_size=2)
    images = pick(photos, "coffee", "chelsea", "rocket")
    features, logits = encoder.features_and_logits(images)
    assert features.shape == (3, encoder.dimension) == (3, 1280) and logits.shape == (3, 1000)
    assert features.device.type == torch.device(device).type
    x = encoder.preprocess(images)
    assert x.shape == (3, 3, 224, 224)
    # The same memory layout as the encoder uses, so CUDA picks the same algorithms.
    x_same_layout = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        feature_map = encoder.model.extract_features(x_same_layout)  # (3, 1280, 7, 7), the package's API
        manual_logits = encoder.model(x_same_layout)
    tol = {"rtol": 1e-4, "atol": 1e-4} if torch.device(device).type == "cpu" else {"rtol": 1e-2, "atol": 1e-2}
    torch.testing.assert_close(features, feature_map.mean(dim=(2, 3)), **tol)
    torch.testing.assert_close(logits, manual_logits, **tol)
    torch.testing.assert_close(encoder.encode(x), features, **tol)  # an already preprocessed input


def test_preprocessing_uses_efficientnet_lite_normalisation():
    encoder_transform = xi.imagenet_transform(xd.EFFICIENTNET_LITE0_MEAN, xd.EFFICIENTNET_LITE0_STD)
    white = np.full((256, 256, 3), 255, dtype=np.uint8)
    black = np.zeros((256, 256), dtype=np.uint8)  # greyscale is repeated into three channels
    torch.testing.assert_close(encoder_transform(white).unique(), torch.tensor([(255 - 127) / 128]))
    torch.testing.assert_close(encoder_transform(xi.to_rgb_uint8(black)).unique(), torch.tensor([-127 / 128]))


def test_encoder_rejects_bad_input():
    encoder = xi.PretrainedImageEncoder(device="cpu")
    with pytest.raises(ValueError, match="non-empty sequence of photos"):
        encoder.encode([])
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3, 224, 224\)"):
        encoder.encode(torch.zeros(1, 3, 100, 100))
    with pytest.raises(ValueError, match="image must be uint8"):
        encoder.encode([np.zeros((50, 50, 3))])
    with pytest.raises(ValueError, match=r"logits must have shape \(N, 1000\)"):
        encoder.top_labels(torch.zeros(2, 10))
    with pytest.raises(ValueError, match="k must satisfy"):
        encoder.top_labels(torch.zeros(2, 1000), k=0)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        xi.PretrainedImageEncoder(device="cpu", batch_size=0)
