"""Chapter 12's picture features: small_picture_features and the cached XMR-Shop features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xmr_lite.data as xd
from xmr_lite.image import PICTURE_POOLINGS, small_picture_features


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return xd.load_efficientnet_lite0(device="cpu")


@pytest.fixture(scope="module")
def shop() -> xd.XMRShop:
    return xd.load_xmr_shop()


@pytest.fixture(scope="module")
def cached() -> xd.ShopPictureFeatures:
    return xd.load_xmr_shop_features()


def test_cache_has_every_picture_of_the_shop(shop, cached):
    assert cached.catalogue.shape == (len(shop.titles), xd.PICTURE_FEATURE_DIM)
    assert np.array_equal(cached.query_ids, np.flatnonzero(shop.query_modality == "image"))
    assert np.isfinite(cached.queries).all() and not cached.catalogue.flags.writeable


def test_live_features_match_the_cache(model, shop, cached):
    """The service encodes an upload as the cache was built (same size, same pooling): the same numbers."""
    from apps.product_search import engine

    rng = np.random.default_rng(12)
    items = rng.choice(len(shop.titles), size=4, replace=False)
    queries = rng.choice(cached.query_ids, size=4, replace=False)
    live_items = engine.picture_features(shop.catalogue[items], model)
    live_queries = engine.picture_features(np.stack([shop.query_image(int(q)) for q in queries]), model)
    np.testing.assert_allclose(live_items, cached.catalogue[items], rtol=1e-2, atol=2e-3)
    np.testing.assert_allclose(live_queries, cached.of_queries(queries), rtol=1e-2, atol=2e-3)


def test_of_queries_refuses_a_query_without_a_picture(shop, cached):
    text_query = int(np.flatnonzero(shop.query_modality == "text")[0])
    with pytest.raises(ValueError, match="query_ids"):
        cached.of_queries(np.array([int(cached.query_ids[0]), text_query]))


def test_any_numeric_dtype_gives_the_same_features(model, shop):
    pictures = shop.catalogue[:2]
    as_uint8 = small_picture_features(pictures, model)
    as_float64 = small_picture_features(pictures.astype(np.float64), model)
    assert as_uint8.shape == (2, 1280) and as_uint8.dtype == torch.float32
    torch.testing.assert_close(as_uint8, as_float64)


@settings(max_examples=4, deadline=None)
@given(batch_size=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_batching_does_not_change_the_features(model, batch_size, seed):
    rng = np.random.default_rng(seed)
    pictures = rng.integers(0, 256, size=(5, 40, 40, 3), dtype=np.uint8)
    whole = small_picture_features(pictures, model, size=32, batch_size=5)
    batched = small_picture_features(pictures, model, size=32, batch_size=batch_size)
    torch.testing.assert_close(whole, batched, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("pictures", "kwargs", "name"),
    [
        (np.zeros((2, 64, 64), np.uint8), {}, "pictures"),
        (np.zeros((0, 64, 64, 3), np.uint8), {}, "pictures"),
        (np.full((1, 64, 64, 3), np.nan), {}, "pictures"),
        (np.zeros((1, 64, 64, 3), np.uint8), {"size": 8}, "size"),
        (np.zeros((1, 64, 64, 3), np.uint8), {"batch_size": 0}, "batch_size"),
        (np.zeros((1, 64, 64, 3), np.uint8), {"pooling": "median"}, "pooling"),
    ],
)
def test_bad_input_names_the_argument(model, pictures, kwargs, name):
    with pytest.raises(ValueError, match=name):
        small_picture_features(pictures, model, **kwargs)


def test_the_cache_was_built_with_the_shared_size_and_pooling():
    import json
    from pathlib import Path

    info = json.loads((Path(xd.data_dir()) / "xmr_shop_features" / "build_info.json").read_text(encoding="utf-8"))
    assert info["params"]["size"] == xd.SHOP_PICTURE_SIZE
    assert info["params"]["pooling"] == xd.SHOP_PICTURE_POOLING


@pytest.mark.parametrize("pooling", PICTURE_POOLINGS)
def test_each_pooling_gives_one_row_of_1280_per_picture(model, pooling):
    pictures = np.random.default_rng(3).integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    features = small_picture_features(pictures, model, size=32, pooling=pooling)
    assert features.shape == (3, 1280) and features.dtype == torch.float32


def test_max_pooling_is_the_spatial_maximum_of_the_last_feature_map(model):
    """Checked against the network's own extract_features on the same preprocessed batch."""
    pictures = np.random.default_rng(4).integers(0, 256, size=(2, 48, 48, 3), dtype=np.uint8)
    x = torch.from_numpy(pictures).float().permute(0, 3, 1, 2)
    x = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", antialias=True)
    with torch.no_grad():
        feature_map = model.extract_features((x - 127.0) / 128.0)
    assert feature_map.shape[2:] == (2, 2)  # four positions: max and mean differ
    maximum = small_picture_features(pictures, model, size=64, pooling="max")
    mean = small_picture_features(pictures, model, size=64, pooling="mean")
    torch.testing.assert_close(maximum, feature_map.amax(dim=(2, 3)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(mean, feature_map.mean(dim=(2, 3)), rtol=1e-4, atol=1e-4)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), side=st.integers(8, 64))
def test_max_pooling_is_at_least_the_mean_and_both_lie_in_relu6_range(model, seed, side):
    """The last map comes out of a ReLU6, so every pooled value lies in [0, 6]; a maximum is at least the mean."""
    rng = np.random.default_rng(seed)
    pictures = rng.integers(0, 256, size=(2, side, side, 3), dtype=np.uint8)
    maximum = small_picture_features(pictures, model, size=64, pooling="max")
    mean = small_picture_features(pictures, model, size=64, pooling="mean")
    assert bool((maximum >= mean - 1e-6).all())
    assert float(mean.min()) >= 0.0 and float(maximum.max()) <= 6.0
    assert bool((maximum > mean + 1e-6).any())  # four positions per channel: not all equal


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_picture_block_mixes_the_two_cosines_by_the_colour_weight(seed):
    from apps.product_search import engine

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, xd.PICTURE_FEATURE_DIM)).astype(np.float32)
    pictures = rng.integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    block = engine.picture_block(features, pictures)
    assert block.shape == (2, engine.IMAGE_DIM)
    np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0, rtol=1e-5)
    colour = engine.image_features(pictures)

    def cos(x):
        return float(x[0] @ x[1] / np.linalg.norm(x[0]) / np.linalg.norm(x[1]))

    w = engine.COLOUR_WEIGHT
    expected = (cos(features) + w * cos(colour)) / (1 + w)
    assert float(block[0] @ block[1]) == pytest.approx(expected, abs=1e-5)
