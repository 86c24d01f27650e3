"""The cached speech embeddings of XMR-Digits (data/xmr_digits_speech_embedding)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte
from xmr_lite.audio import SpeechEmbedding
from xmr_lite.data import _speech_embedding

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cached():
    return xd.load_xmr_digits_speech_embeddings()


@pytest.fixture(scope="module")
def digits():
    return xd.load_xmr_digits(languages="all", more_voices=True)


def test_rows_line_up_with_the_data_set(cached, digits):
    assert cached.speech.shape == (len(digits.speech), 96) == (2500, 96)
    assert cached.real_speech.shape == (len(digits.real_speech), 96) == (81, 96)
    assert cached.speech.dtype == cached.real_speech.dtype == np.float32
    assert np.isfinite(cached.speech).all() and np.isfinite(cached.real_speech).all()
    # the loader checks the rows against labels read from the tables alone: the same as the loaded data set's
    from xmr_lite.data import _datasets

    assert np.array_equal(_datasets._speech_labels(_datasets._speech_stems(more_voices=True)), digits.speech_labels)
    assert np.array_equal(_datasets._speech_labels(_datasets._REAL_SPEECH_STEMS), digits.real_speech_labels)
    with pytest.raises(ValueError):
        cached.speech[0, 0] = 1.0  # read-only


def test_the_settings_are_the_encoders_defaults():
    defaults = {name: p.default for name, p in inspect.signature(SpeechEmbedding).parameters.items()}
    assert {k: defaults[k] for k in xd.SPEECH_EMBEDDING_SETTINGS} == xd.SPEECH_EMBEDDING_SETTINGS


def test_a_sample_of_rows_is_what_the_encoder_computes(cached, digits):
    rng = np.random.default_rng(0)
    synthetic = np.sort(rng.choice(len(digits.speech), 12, replace=False))
    synthetic = np.concatenate([synthetic, [len(digits.speech) - 1]])  # a Festival or Flite clip too
    real = np.array([0, 40, 80])
    encoder = SpeechEmbedding(**xd.SPEECH_EMBEDDING_SETTINGS)
    fresh = encoder.embed(digits.speech[synthetic], digits.speech_lengths[synthetic])
    np.testing.assert_allclose(fresh, cached.speech[synthetic], rtol=1e-4, atol=1e-4)
    fresh_real = encoder.embed(digits.real_speech[real], digits.real_speech_lengths[real])
    np.testing.assert_allclose(fresh_real, cached.real_speech[real], rtol=1e-4, atol=1e-4)


def test_an_altered_file_is_refused(tmp_path, monkeypatch):
    copy = copy_of_data(tmp_path, monkeypatch, "xmr_digits_speech_embedding")
    flip_byte(copy / "xmr_digits_speech_embedding" / "embeddings.npz", 1000)
    with pytest.raises(xd.DataIntegrityError, match=r"embeddings\.npz"):
        xd.load_xmr_digits_speech_embeddings()


def consistent(n: int = 4, m: int = 2) -> list[np.ndarray]:
    labels, real_labels = np.arange(n) % 10, np.arange(m) % 10
    return [np.zeros((n, 96), np.float32), np.zeros((m, 96), np.float32), labels, real_labels, labels, real_labels]


@pytest.mark.parametrize(
    ("position", "value", "match"),
    [
        (0, np.zeros((4, 95), np.float32), "shape"),
        (1, np.zeros((3, 96), np.float32), "shape"),
        (0, np.full((4, 96), np.nan, np.float32), "NaN"),
        (2, np.array([1, 2, 3, 0]), "in order"),
        (3, np.array([5, 5]), "in order"),
    ],
)
def test_inconsistent_contents_raise(position, value, match):
    arrays = consistent()
    arrays[position] = value
    with pytest.raises(xd.DataIntegrityError, match=match):
        _speech_embedding._check_embeddings(*arrays)
    _speech_embedding._check_embeddings(*consistent())  # the unchanged arrays pass
