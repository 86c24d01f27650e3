"""SpokenNameRecognizer: recognition of toy "words", its score layout, XMR-Shop's voices and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import xmr_lite.audio as xa
import xmr_lite.data as xd

RATE = 16_000


def word(pitches: list[float], seconds: float, amplitude: float = 0.5, seed: int = 0) -> np.ndarray:
    """A toy "word": one harmonic tone per syllable, each ``seconds / len(pitches)`` long, plus a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE / len(pitches))
    t = np.arange(n) / RATE
    syllables = [sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3)) for f in pitches]
    x = np.concatenate(syllables)
    return (amplitude * x / np.abs(x).max() + 0.003 * rng.normal(size=len(x))).astype(np.float32)


WORDS = {
    "rise": [200.0, 400.0, 800.0],
    "fall": [800.0, 400.0, 200.0],
    "hill": [200.0, 800.0, 200.0],
    "valley": [800.0, 200.0, 800.0],
    "flat": [400.0, 400.0, 400.0],
}


@pytest.fixture(scope="module")
def toy() -> xa.SpokenNameRecognizer:
    recognizer = xa.SpokenNameRecognizer(shortlist=3, device="cpu")
    references = [recognizer.features(word(p, 0.6)) for p in WORDS.values()]
    return recognizer.fit(references, list(WORDS))


@settings(max_examples=15, deadline=None)
@given(
    name=st.sampled_from(sorted(WORDS)),
    seconds=st.floats(0.35, 1.2),
    amplitude=st.floats(0.05, 0.9),
    seed=st.integers(0, 1000),
)
def test_a_toy_word_is_recognised_at_any_speed_and_loudness(toy, name, seconds, amplitude, seed):
    clip = word(WORDS[name], seconds, amplitude, seed)
    assert toy.transcribe(clip) == [name]


def test_scores_have_one_column_per_label_in_order(toy):
    clips = [word(WORDS["fall"], 0.5), torch.from_numpy(word(WORDS["hill"], 0.9))]
    scores = toy.scores(clips[:1])
    assert isinstance(scores, np.ndarray) and scores.shape == (1, len(WORDS)) and scores.dtype == np.float32
    assert toy.labels_ == tuple(WORDS)
    assert toy.labels_[int(scores.argmax())] == "fall"
    tensor_scores = toy.scores(clips[1:])
    assert isinstance(tensor_scores, torch.Tensor) and tensor_scores.shape == (1, len(WORDS))
    assert toy.transcribe(clips) == ["fall", "hill"]


def test_labels_off_the_shortlist_rank_below_every_matched_label():
    recognizer = xa.SpokenNameRecognizer(shortlist=2, device="cpu")
    references = [recognizer.features(word(p, 0.6)) for p in WORDS.values()]
    recognizer.fit(references, list(WORDS))
    scores = recognizer.scores(word(WORDS["rise"], 0.6))[0]
    matched = np.sort(scores)[-2:]
    assert np.isfinite(scores).all()
    assert (np.sort(scores)[:-2] < matched.min()).all()
    assert recognizer.labels_[int(scores.argmax())] == "rise"


def test_a_label_scores_as_its_best_reference():
    recognizer = xa.SpokenNameRecognizer(shortlist=10, device="cpu")
    rise, fall = (recognizer.features(word(WORDS[n], 0.6)) for n in ("rise", "fall"))
    slow_fall = recognizer.features(word(WORDS["fall"], 1.2))
    recognizer.fit([rise, fall, slow_fall], ["rise", "fall", "fall"])
    assert recognizer.labels_ == ("rise", "fall")
    clip = word(WORDS["fall"], 1.2, seed=5)
    alone = xa.SpokenNameRecognizer(shortlist=10, device="cpu").fit([rise, slow_fall], ["rise", "fall"])
    np.testing.assert_allclose(recognizer.scores(clip), alone.scores(clip), rtol=1e-6)


def test_features_are_the_library_mfcc():
    recognizer = xa.SpokenNameRecognizer(device="cpu")
    clip = word(WORDS["hill"], 0.5)
    expected = xa.mfcc(clip, RATE, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40)
    np.testing.assert_allclose(recognizer.features(clip).numpy(), expected, rtol=1e-5, atol=1e-4)


def test_runs_on_every_device(device):
    recognizer = xa.SpokenNameRecognizer(shortlist=3, device=device)
    references = [recognizer.features(word(p, 0.6)) for p in WORDS.values()]
    assert references[0].device.type == device.type
    recognizer.fit(references, list(WORDS))
    scores = recognizer.scores(torch.from_numpy(word(WORDS["valley"], 0.8)).to(device))
    assert scores.device.type == device.type
    assert recognizer.labels_[int(scores.argmax())] == "valley"


@pytest.fixture(scope="module")
def shop() -> xd.XMRShop:
    return xd.load_xmr_shop()


def test_xmr_shop_spoken_names_are_found_among_all_items_in_unseen_voices(shop):
    torch.set_num_threads(1)
    recognizer = xa.SpokenNameRecognizer(device="cpu")
    labels = [str(i) for i in shop.reference_item]
    recognizer.fit(list(shop.reference_mfcc), labels)
    assert len(recognizer.labels_) == len(shop.titles)
    rows = shop.select("speech", "val")
    clips = [shop.query_clip(int(q)) for q in rows]
    scores = recognizer.scores(clips, sample_rate=shop.sample_rate)
    item_scores = scores[:, np.argsort([int(label) for label in recognizer.labels_])]  # columns = item ids
    target = shop.query_item[rows]
    rank = (item_scores > item_scores[np.arange(len(rows)), target][:, None]).sum(1)
    assert (rank < 10).mean() >= 0.6  # chance is 10 / 716
    assert (rank < 1).mean() >= 0.4


@pytest.mark.parametrize(
    ("clips", "kwargs", "match"),
    [
        (np.zeros(0, np.float32), {}, "must not be empty"),
        (np.full(800, np.nan, np.float32), {}, "contains NaN"),
        (np.zeros((2, 800), np.float32), {}, "one clip"),
        ([np.zeros((2, 800), np.float32)], {}, r"clips\[0\] must be one mono clip"),
        ([], {}, "non-empty sequence"),
        (np.zeros(800, np.float32), {"sample_rate": 8000}, "sample_rate must be 16000 Hz"),
        (np.zeros(800, np.float32), {"sample_rate": -1}, "positive number"),
    ],
)
def test_bad_clips_raise_value_error(toy, clips, kwargs, match):
    with pytest.raises(ValueError, match=match):
        toy.scores(clips, **kwargs)


def test_bad_fit_and_an_unfitted_recogniser_raise_value_error():
    recognizer = xa.SpokenNameRecognizer(device="cpu")
    good = np.zeros((13, 5), np.float32)
    with pytest.raises(ValueError, match="not fitted"):
        recognizer.transcribe(np.zeros(800, np.float32))
    with pytest.raises(ValueError, match="references must not be empty"):
        recognizer.fit([], [])
    with pytest.raises(ValueError, match="references must be a sequence"):
        recognizer.fit(np.zeros((2, 13, 5)), ["a", "b"])
    with pytest.raises(ValueError, match="one per reference"):
        recognizer.fit([good, good], ["a"])
    with pytest.raises(ValueError, match="labels must all be str"):
        recognizer.fit([good], [3])
    with pytest.raises(ValueError, match=r"references\[1\] must have shape \(13, frames\)"):
        recognizer.fit([good, np.zeros((12, 5))], ["a", "b"])
    with pytest.raises(ValueError, match=r"references\[0\] contains NaN"):
        recognizer.fit([np.full((13, 5), np.nan)], ["a"])
    for bad in ({"shortlist": 0}, {"metric": "manhattan"}, {"prefilter_frames": 1}, {"sample_rate": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            xa.SpokenNameRecognizer(**bad)
