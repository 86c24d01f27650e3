"""SpeechEmbedding: Google's speech embedding, frozen, run with ONNX Runtime (chapters 6 and 9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xmr_lite.data as xd
from tests._data_helpers import copy_of_data, flip_byte
from xmr_lite.audio import SPEECH_EMBEDDING_POOLINGS, SpeechEmbedding

pytest.importorskip("onnxruntime")  # in the `assets` extra, which the `test` extra installs


@pytest.fixture(scope="module")
def encoder() -> SpeechEmbedding:
    return SpeechEmbedding()


@pytest.fixture(scope="module")
def english():
    return xd.load_xmr_digits()


def tone_bursts(n: int, length: int, seed: int = 0) -> np.ndarray:
    """(n, length) float32: noise bursts of random loudness, a stand-in for speech."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, length)) * rng.uniform(0.01, 0.5, (n, 1))).astype(np.float32)


def expected_windows(encoder: SpeechEmbedding, n_samples: int) -> int:
    """Windows of a clip of ``n_samples`` samples, from the front end's framing (512-sample frames every 160)."""
    padded = max(n_samples + 2 * round(encoder.padding * 16_000), encoder.min_samples)
    frames = (padded - 512) // 160 + 1
    return (frames - encoder.window_frames) // encoder.hop + 1


def test_the_frozen_models_are_registered_with_their_digests():
    asset = xd.get_asset("speech_embedding")
    assert asset.licence == "Apache-2.0" and asset.subdir == "speech_embedding"
    assert {f.path for f in asset.files} == {"melspectrogram.onnx", "embedding_model.onnx"}
    for f in asset.files:
        assert xd.sha256_file(xd.asset_path("speech_embedding", f.path)) == f.sha256


def test_shapes_of_one_clip_and_of_a_batch(encoder):
    clips = tone_bursts(3, 9_000)
    assert encoder.embed(clips).shape == (3, 96)
    assert encoder.embed(clips[0]).shape == (96,)
    for n in (100, 9_000, 20_000, 40_000):
        vectors = encoder.window_vectors(tone_bursts(1, n)[0])
        assert vectors.shape == (expected_windows(encoder, n), 96) and vectors.dtype == np.float32
    assert SpeechEmbedding(hop=4).window_vectors(clips[0]).shape[0] > encoder.window_vectors(clips[0]).shape[0]


def test_pooling_is_the_mean_or_the_max_of_the_window_vectors(encoder):
    clip = tone_bursts(1, 15_000, seed=3)[0]
    windows = encoder.window_vectors(clip)
    np.testing.assert_allclose(encoder.embed(clip), windows.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(encoder.embed(clip, pooling="max"), windows.max(0), rtol=1e-5, atol=1e-5)
    assert set(SPEECH_EMBEDDING_POOLINGS) == {"mean", "max"}


@settings(max_examples=8, deadline=None)
@given(lengths=st.lists(st.integers(200, 12_000), min_size=1, max_size=4), seed=st.integers(0, 1_000))
def test_a_batch_gives_each_clip_what_it_gets_alone_and_ignores_the_padding(encoder, lengths, seed):
    width = max(lengths) + 500
    clips = tone_bursts(len(lengths), width, seed)
    garbage = clips.copy()
    for row, n in enumerate(lengths):
        clips[row, n:] = 0.0  # the padding of the data set's layout...
        garbage[row, n:] = 0.9  # ...or anything else: past its length a clip is not read
    batch = encoder.embed(clips, np.array(lengths))
    assert np.array_equal(batch, encoder.embed(garbage, np.array(lengths)))
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(batch[row], encoder.embed(clips[row, :n]), rtol=1e-5, atol=1e-5)


def test_a_tensor_comes_back_as_a_tensor(encoder):
    clips = tone_bursts(2, 8_000)
    out = encoder.embed(torch.from_numpy(clips), torch.tensor([8_000, 5_000]))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 96)
    np.testing.assert_allclose(out.numpy(), encoder.embed(clips, np.array([8_000, 5_000])), rtol=1e-6)
    assert isinstance(encoder.window_vectors(torch.from_numpy(clips[0])), torch.Tensor)


def test_it_hears_the_words(encoder, english):
    """Voices never heard in training: the nearest training clip says the same digit far above chance."""
    train = english.speech_split == "train"
    test = english.speech_split == "test"
    vectors = encoder.embed(english.speech, english.speech_lengths)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    nearest = (vectors[test] @ vectors[train].T).argmax(1)
    accuracy = (english.speech_labels[train][nearest] == english.speech_labels[test]).mean()
    assert accuracy > 0.6  # chance: 0.1


def test_the_progress_bar_does_not_change_the_result(encoder):
    clips = tone_bursts(2, 6_000)
    assert np.array_equal(encoder.embed(clips, progress=True), encoder.embed(clips))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"hop": 0}, "hop"),
        ({"padding": -0.1}, "padding"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_settings_are_refused(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        SpeechEmbedding(**kwargs)


def test_bad_input_is_refused_with_the_argument_named(encoder):
    clips = tone_bursts(2, 4_000)
    with pytest.raises(ValueError, match="sample_rate"):
        encoder.embed(clips, sample_rate=8_000)
    with pytest.raises(ValueError, match="sample_rate"):
        encoder.window_vectors(clips[0], sample_rate=22_050)
    nan = clips.copy()
    nan[1, 7] = np.nan
    with pytest.raises(ValueError, match="waves"):
        encoder.embed(nan)
    with pytest.raises(ValueError, match="waves"):
        encoder.embed(np.zeros((0, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="waves"):
        encoder.embed(np.zeros((2, 3, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="wave"):
        encoder.window_vectors(clips)
    with pytest.raises(ValueError, match="lengths"):
        encoder.embed(clips, np.array([100]))
    with pytest.raises(ValueError, match="lengths"):
        encoder.embed(clips, np.array([100, 4_001]))
    with pytest.raises(ValueError, match="lengths"):
        encoder.embed(clips, np.array([0, 100]))
    with pytest.raises(ValueError, match="lengths"):
        encoder.embed(clips, np.array([100.0, 200.0]))
    with pytest.raises(ValueError, match="pooling"):
        encoder.embed(clips, pooling="median")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.embed(clips, batch_size=0)


def test_an_altered_model_file_is_refused(tmp_path, monkeypatch):
    copy = copy_of_data(tmp_path, monkeypatch, "speech_embedding")
    flip_byte(copy / "speech_embedding" / "embedding_model.onnx", 1000)
    xd.clear_verification_cache()
    try:
        with pytest.raises(xd.DataIntegrityError, match=r"embedding_model\.onnx"):
            SpeechEmbedding()
    finally:
        monkeypatch.delenv(xd.DATA_DIR_ENV)
        xd.clear_verification_cache()


def test_the_data_layer_gives_two_sessions_with_the_documented_inputs():
    melspectrogram, embedding = xd.load_speech_embedding(threads=1)
    assert [i.name for i in melspectrogram.get_inputs()] == ["input"]
    assert [i.name for i in embedding.get_inputs()] == ["input_1"]
    assert embedding.get_inputs()[0].shape[1:] == [76, 32, 1]
    frames = melspectrogram.run(None, {"input": np.zeros((1, 16_000), dtype=np.float32)})[0]
    assert frames.shape == (1, 1, 97, 32)  # (16000 - 512) // 160 + 1 frames of 32 bands
    with pytest.raises(ValueError, match="threads"):
        xd.load_speech_embedding(threads=0)
