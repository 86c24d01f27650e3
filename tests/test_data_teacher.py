"""The frozen EfficientNet-Lite0 embeddings of XMR-Digits images (xmr_lite.data, chapter 14)."""

from pathlib import Path

import numpy as np
import pytest

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte
from xmr_lite.data import _teacher

DATA = Path(__file__).resolve().parents[1] / "data"


pytestmark = pytest.mark.usefixtures("fresh_data_cache")  # nothing verified, the real data folder


@pytest.fixture(scope="module")
def teacher() -> xd.TeacherEmbeddings:
    return xd.load_xmr_digits_teacher()


def test_rows_labels_and_splits_agree_with_xmr_digits(teacher):
    digits = xd.load_xmr_digits()
    assert teacher.embeddings.shape == (2000, xd.TEACHER_DIMENSION) and teacher.embeddings.dtype == np.float32
    np.testing.assert_array_equal(teacher.labels, digits.image_labels[teacher.rows])
    np.testing.assert_array_equal(teacher.split, digits.image_split[teacher.rows])
    test_rows = teacher.rows[teacher.split == "test"]
    np.testing.assert_array_equal(np.sort(test_rows), np.flatnonzero(digits.image_split == "test"))
    train_labels = teacher.labels[teacher.split == "train"]
    assert np.bincount(train_labels, minlength=10).tolist() == [100] * 10
    assert not teacher.embeddings.flags.writeable


def test_embeddings_are_centred_principal_components_that_separate_digits(teacher):
    train = teacher.embeddings[teacher.split == "train"]
    np.testing.assert_allclose(train.mean(0), 0, atol=0.02 * float(train.std()))
    variance = train.var(0)
    assert variance[0] > variance[-1]  # principal axes come in decreasing variance
    z = teacher.embeddings / np.linalg.norm(teacher.embeddings, axis=1, keepdims=True)
    same = teacher.labels[:, None] == teacher.labels[None, :]
    cosine = z @ z.T
    assert cosine[same].mean() > cosine[~same].mean() + 0.05  # the features carry the digit


def test_an_altered_file_is_refused(tmp_path, monkeypatch):
    flip_byte(copy_of_data(tmp_path, monkeypatch, "xmr_digits_teacher") / "xmr_digits_teacher" / "teacher.npz", 100)
    with pytest.raises(xd.DataIntegrityError, match=r"teacher\.npz"):
        xd.load_xmr_digits_teacher()


def consistent_arrays(n: int = 4) -> dict[str, np.ndarray]:
    return {
        "embeddings": np.zeros((n, xd.TEACHER_DIMENSION), dtype=np.float32),
        "rows": np.arange(n, dtype=np.int64),
        "labels": np.arange(n, dtype=np.int64) % 10,
        "split": np.array(["train", "test"] * (n // 2)),
    }


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"embeddings": np.zeros((4, 3), dtype=np.float32)}, "expected embeddings"),
        ({"rows": np.arange(5, dtype=np.int64)}, "expected embeddings"),
        ({"embeddings": np.full((4, xd.TEACHER_DIMENSION), np.nan, dtype=np.float32)}, "NaN"),
        ({"rows": np.array([0, 1, 1, 2], dtype=np.int64)}, "distinct"),
        ({"rows": np.array([0, 1, 2, 5000], dtype=np.int64)}, "distinct"),
        ({"labels": np.array([0, 1, 2, 10], dtype=np.int64)}, "digits"),
        ({"split": np.array(["train", "val", "test", "test"])}, "digits"),
    ],
)
def test_inconsistent_contents_raise(change, match):
    arrays = {**consistent_arrays(), **change}
    with pytest.raises(xd.DataIntegrityError, match=match):
        _teacher._check_teacher(**arrays)
    _teacher._check_teacher(**consistent_arrays())  # the unchanged arrays pass
