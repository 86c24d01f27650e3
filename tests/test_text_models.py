"""Tests of the trained text models of xmr_lite.text: Word2Vec, GloVe, pretrained GloVe, MiniLM."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse
import torch
from gensim.models import KeyedVectors
from hypothesis import given, settings
from hypothesis import strategies as st

from xmr_lite.text import (
    GloVeScratch,
    MiniLMEncoder,
    Vocabulary,
    Word2VecScratch,
    cbow_examples,
    cooccurrence_matrix,
    glove_loss,
    glove_weight,
    keep_probabilities,
    load_glove,
    negative_sampling_loss,
    skipgram_pairs,
    train_gensim_word2vec,
)


@pytest.fixture(autouse=True)
def one_thread():
    """The toy models run thousands of tiny operations: on a busy CPU, one thread is ~10x faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_corpus(n_sentences: int = 150, seed: int = 0) -> list[list[str]]:
    """Two topics that never mix: animals and vehicles."""
    rng = np.random.default_rng(seed)
    topics = [["cat", "dog", "cow", "horse", "sheep"], ["car", "bus", "train", "truck", "bike"]]
    return [list(rng.choice(topics[i % 2], size=6)) for i in range(n_sentences)]


# --- pairs and examples ------------------------------------------------------------------------


def test_skipgram_pairs_on_a_hand_made_corpus():
    encoded = [np.array([0, 1, 2]), np.array([3, 4])]
    window1 = {tuple(p) for p in skipgram_pairs(encoded, 1)}
    assert window1 == {(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)}  # never (2, 3): sentences differ
    window2 = skipgram_pairs(encoded, 2)
    assert {tuple(p) for p in window2} == window1 | {(0, 2), (2, 0)}
    assert len(window2) == 8


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=6), st.integers(1, 5), st.integers(0, 1000))
def test_skipgram_pair_count_and_random_windows(lengths, window, seed):
    rng = np.random.default_rng(seed)
    encoded = [rng.integers(0, 20, size=n) for n in lengths]
    full = skipgram_pairs(encoded, window)
    assert len(full) == 2 * sum(max(0, n - d) for n in lengths for d in range(1, window + 1))
    shrunk = skipgram_pairs(encoded, window, np.random.default_rng(seed))
    assert len(shrunk) <= len(full)
    full_set = {tuple(p) for p in full}
    assert all(tuple(p) in full_set for p in shrunk)
    assert len(skipgram_pairs(encoded, 1, np.random.default_rng(seed))) == len(skipgram_pairs(encoded, 1))


def test_cbow_examples_pad_with_minus_one():
    centres, contexts = cbow_examples([np.array([5, 6, 7]), np.array([8])], window=2)
    np.testing.assert_array_equal(centres, [5, 6, 7])  # the lone 8 has no context
    np.testing.assert_array_equal(contexts, [[-1, -1, 6, 7], [-1, 5, 7, -1], [5, 6, -1, -1]])
    centres, contexts = cbow_examples([np.array([], dtype=np.int64)], window=1)
    assert centres.shape == (0,) and contexts.shape == (0, 2)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        cbow_examples([np.array([1, 2])], window=0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 10), min_size=1, max_size=5), st.integers(1, 4), st.integers(0, 1000))
def test_cbow_random_windows_keep_a_subset_of_the_context(lengths, window, seed):
    rng = np.random.default_rng(seed)
    encoded = [rng.integers(0, 20, size=n) for n in lengths]
    full_centres, full_contexts = cbow_examples(encoded, window)
    centres, contexts = cbow_examples(encoded, window, np.random.default_rng(seed))
    assert contexts.shape[1] == 2 * window and len(centres) <= len(full_centres)
    assert (contexts >= 0).any(1).all()  # every example keeps at least its nearest neighbour
    # the nearest neighbours (offsets -1 and +1) are always inside the drawn window
    kept_nearest = {(c, x[window - 1], x[window]) for c, x in zip(centres, contexts, strict=True)}
    full_nearest = {(c, x[window - 1], x[window]) for c, x in zip(full_centres, full_contexts, strict=True)}
    assert kept_nearest == full_nearest


def test_negative_sampling_loss_formula(device):
    g = torch.Generator().manual_seed(0)
    v, u, noise = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), torch.randn(4, 2, 3, generator=g)
    expected = 0.0
    for b in range(4):
        expected -= np.log(1 / (1 + np.exp(-float(v[b] @ u[b]))))
        for k in range(2):
            expected -= np.log(1 / (1 + np.exp(float(v[b] @ noise[b, k]))))
    loss = negative_sampling_loss(v.to(device), u.to(device), noise.to(device))
    assert loss.device.type == device.type
    assert float(loss) == pytest.approx(expected / 4, rel=1e-5)
    with pytest.raises(ValueError, match="noise must have shape"):
        negative_sampling_loss(v, u, noise[:, :, :2])
    with pytest.raises(ValueError, match="targets has shape"):
        negative_sampling_loss(v, u[:2], noise)


def test_keep_probabilities():
    counts = np.array([1000, 10, 1])
    keep = keep_probabilities(counts, 1e-3)
    f = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, (np.sqrt(f / 1e-3) + 1) * 1e-3 / f))
    assert keep[0] < 0.1 and keep[2] == 1.0
    np.testing.assert_array_equal(keep_probabilities(counts, 0.0), 1.0)
    with pytest.raises(ValueError, match="sample must be >= 0"):
        keep_probabilities(counts, -1.0)


# --- Word2Vec ----------------------------------------------------------------------------------


def _topic_gap(kv: KeyedVectors) -> float:
    """Mean similarity within topics minus mean similarity across topics."""
    animals, vehicles = ["cat", "dog", "cow", "horse", "sheep"], ["car", "bus", "train", "truck", "bike"]
    within = np.mean([kv.similarity(a, b) for g in (animals, vehicles) for a in g for b in g if a != b])
    across = np.mean([kv.similarity(a, b) for a in animals for b in vehicles])
    return float(within - across)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_word2vec_scratch_learns_a_toy_corpus(architecture, device):
    model = Word2VecScratch(
        vector_size=10,
        window=2,
        architecture=architecture,
        min_count=1,
        sample=0,
        learning_rate=0.02,
        batch_size=128,
        device=device,
    )
    model.fit(toy_corpus(), epochs=10, progress=False)
    assert len(model.loss_history) == 10
    assert model.loss_history[-1] < 0.8 * model.loss_history[0]
    assert model.input_vectors.device.type == device.type
    kv = model.vectors
    assert isinstance(kv, KeyedVectors) and kv.vector_size == 10 and len(kv) == 10
    assert _topic_gap(kv) > 0.3


@pytest.mark.parametrize(
    ("cls", "settings", "n_sentences"),
    [
        (Word2VecScratch, dict(vector_size=8, window=2, min_count=1, batch_size=64), 40),
        (GloVeScratch, dict(vector_size=6, window=2, min_count=1, batch_size=16), 30),
    ],
)
def test_scratch_models_are_deterministic_for_a_seed(cls, settings, n_sentences, device):
    def fit(seed):
        model = cls(**settings, seed=seed, device=device)
        return model.fit(toy_corpus(n_sentences), epochs=2, progress=False).vectors.vectors

    np.testing.assert_array_equal(fit(3), fit(3))
    assert not np.allclose(fit(3), fit(4))


@pytest.mark.parametrize("cls", [Word2VecScratch, GloVeScratch])
def test_scratch_models_refuse_bad_input(cls):
    with pytest.raises(ValueError, match="sentences is empty"):
        cls(device="cpu").fit([])
    with pytest.raises(ValueError, match="not trained yet"):
        _ = cls(device="cpu").vectors
    with pytest.raises(ValueError, match="epochs must be"):
        cls(device="cpu").fit([["a", "b"]], epochs=0)
    for bad in ({"vector_size": 0}, {"batch_size": 0}, {"learning_rate": 0.0}):
        (name,) = bad
        with pytest.raises(ValueError, match=name):
            cls(**bad)


def test_word2vec_scratch_refuses_bad_input():
    with pytest.raises(ValueError, match="architecture must be one of"):
        Word2VecScratch(architecture="glove")
    with pytest.raises(ValueError, match="no word occurs at least min_count=2"):
        Word2VecScratch(device="cpu").fit([["a", "b"]])


def test_gensim_word2vec_is_deterministic_within_a_process():
    corpus = toy_corpus(60)
    a = train_gensim_word2vec(corpus, vector_size=8, window=2, min_count=1, epochs=3, seed=1)
    b = train_gensim_word2vec(corpus, vector_size=8, window=2, min_count=1, epochs=3, seed=1)
    c = train_gensim_word2vec(corpus, vector_size=8, window=2, min_count=1, epochs=3, seed=2)
    assert a.workers == 1
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    assert not np.allclose(a.wv.vectors, c.wv.vectors)
    with pytest.raises(ValueError, match="architecture must be one of"):
        train_gensim_word2vec(corpus, architecture="sg")


GENSIM_RUN = """
import numpy as np, sys
sys.path.insert(0, {root!r})
from tests.test_text_models import toy_corpus
from xmr_lite.text import train_gensim_word2vec
m = train_gensim_word2vec(toy_corpus(60), vector_size=8, window=2, min_count=1, epochs=3, seed=1)
print(repr(m.wv.vectors.astype(np.float64).round(7).tolist()))
"""


def test_gensim_word2vec_does_not_depend_on_pythonhashseed():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    here = train_gensim_word2vec(toy_corpus(60), vector_size=8, window=2, min_count=1, epochs=3, seed=1)
    other_seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    run = subprocess.run(
        [sys.executable, "-c", GENSIM_RUN.format(root=root)],
        env={**os.environ, "PYTHONHASHSEED": other_seed},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == repr(here.wv.vectors.astype(np.float64).round(7).tolist())


# --- GloVe -------------------------------------------------------------------------------------


def test_cooccurrence_counts_on_a_hand_made_corpus():
    corpus = [["a", "b", "c"], ["a", "b"], ["c", "zebra", "a"]]
    vocab = Vocabulary(["a", "b", "c"])
    x = cooccurrence_matrix(corpus, vocab, window=2)
    assert isinstance(x, scipy.sparse.csr_matrix)
    expected = np.array(
        [
            [0.0, 2.0, 0.5 + 1.0],  # a-b at distance 1 twice; a-c at 2, and at 1 once zebra is removed
            [2.0, 0.0, 1.0],
            [1.5, 1.0, 0.0],
        ]
    )
    np.testing.assert_allclose(x.toarray(), expected)
    unweighted = cooccurrence_matrix(corpus, vocab, window=1, distance_weighting=False).toarray()
    np.testing.assert_allclose(unweighted, [[0, 2, 1], [2, 0, 1], [1, 1, 0]])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcde"), max_size=7), min_size=1, max_size=5).filter(any), st.integers(1, 4))
def test_cooccurrence_is_symmetric_with_the_right_total(corpus, window):
    vocab = Vocabulary.from_corpus(corpus)
    x = cooccurrence_matrix(corpus, vocab, window, distance_weighting=False).toarray()
    np.testing.assert_array_equal(x, x.T)
    assert x.sum() == 2 * sum(max(0, len(s) - d) for s in corpus for d in range(1, window + 1))


def test_cooccurrence_refuses_bad_input():
    with pytest.raises(ValueError, match="sentences is empty"):
        cooccurrence_matrix([], Vocabulary(["a"]))
    with pytest.raises(ValueError, match="window must be"):
        cooccurrence_matrix([["a"]], Vocabulary(["a"]), window=0)
    with pytest.raises(ValueError, match="vocabulary must be a Vocabulary"):
        cooccurrence_matrix([["a"]], ["a"])


def test_glove_weight_values(device):
    x = torch.tensor([0.0, 1.0, 50.0, 100.0, 250.0], device=device)
    out = glove_weight(x, x_max=100.0, alpha=0.75)
    assert out.device.type == device.type
    np.testing.assert_allclose(out.cpu().numpy(), [0.0, 0.01**0.75, 0.5**0.75, 1.0, 1.0], rtol=1e-6)
    assert isinstance(glove_weight(np.array([3.0])), np.ndarray)
    with pytest.raises(ValueError, match="non-negative"):
        glove_weight(np.array([-1.0]))
    with pytest.raises(ValueError, match="x_max must be > 0"):
        glove_weight(np.array([1.0]), x_max=0.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
    st.floats(0.1, 500),
    st.floats(0.05, 2),
)
def test_glove_weight_is_a_capped_increasing_power(xs, x_max, alpha):
    x = np.sort(np.array(xs))
    f = glove_weight(x, x_max, alpha)
    assert np.all((f >= 0) & (f <= 1))
    assert np.all(np.diff(f) >= -1e-12)
    np.testing.assert_array_equal(f[x >= x_max], 1.0)
    np.testing.assert_allclose(f, np.minimum(1.0, (x / x_max) ** alpha))


def test_glove_loss_formula(device):
    g = torch.Generator().manual_seed(0)
    w, wc = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    b, bc = torch.randn(5, generator=g), torch.randn(5, generator=g)
    x = torch.tensor([0.5, 1.0, 3.0, 120.0, 7.0])
    expected = sum(
        min(1.0, (float(x[n]) / 10) ** 0.5) * (float(w[n] @ wc[n] + b[n] + bc[n]) - np.log(float(x[n]))) ** 2
        for n in range(5)
    )
    args = [t.to(device) for t in (w, wc, b, bc, x)]
    assert float(glove_loss(*args, x_max=10.0, alpha=0.5)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="x must be > 0"):
        glove_loss(w, wc, b, bc, torch.zeros(5))
    with pytest.raises(ValueError, match="shapes must be"):
        glove_loss(w, wc[:4], b, bc, x)


def test_glove_scratch_learns_a_toy_corpus(device):
    model = GloVeScratch(vector_size=10, window=3, min_count=1, x_max=10.0, batch_size=32, device=device)
    model.fit(toy_corpus(), epochs=30, progress=False)
    assert model.loss_history[-1] < 0.5 * model.loss_history[0]
    kv = model.vectors
    np.testing.assert_allclose(kv["cat"], (model.w + model.w_context)[model.vocabulary.index["cat"]].cpu().numpy())
    assert _topic_gap(kv) > 0.3
    assert model.cooccurrence.shape == (10, 10)


def test_glove_scratch_refuses_bad_input():
    with pytest.raises(ValueError, match="no co-occurrence"):
        GloVeScratch(min_count=1, device="cpu").fit([["a"], ["b"]])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        GloVeScratch(alpha=0.0)


# --- pretrained ---------------------------------------------------------------------------------


def test_load_glove_gives_keyed_vectors():
    kv = load_glove(max_words=20_000)
    assert isinstance(kv, KeyedVectors) and len(kv) == 20_000 and kv.vector_size == 50
    assert kv.index_to_key[0] == "the"
    assert kv.similarity("king", "queen") > kv.similarity("king", "water")
    with pytest.raises(ValueError, match="max_words"):
        load_glove(max_words=0)


@pytest.fixture(scope="module")
def minilm_cpu() -> MiniLMEncoder:
    return MiniLMEncoder(device="cpu", batch_size=2)


def test_minilm_encoder_matches_sentence_transformers(minilm_cpu, device):
    sentences = ["A cat sits on a mat.", "Two dogs play in the park with a ball.", "七", "sieben"]
    encoder = minilm_cpu if device.type == "cpu" else MiniLMEncoder(device=device, batch_size=3)
    ours = encoder.encode(sentences)
    assert ours.shape == (4, 384) and ours.device.type == device.type
    reference = encoder.model.encode(sentences, convert_to_tensor=True)
    torch.testing.assert_close(ours, reference.to(ours.device), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(4, device=ours.device))


def test_minilm_encoder_returns_rows_in_the_order_given(minilm_cpu):
    # encode batches by length internally; each row must still belong to its own sentence
    sentences = ["a much longer sentence about a red bicycle in the rain", "dog", "a green apple", "sun"]
    forward = minilm_cpu.encode(sentences)
    backward = minilm_cpu.encode(sentences[::-1])
    torch.testing.assert_close(backward, forward.flip(0), atol=1e-5, rtol=1e-4)
    alone = torch.cat([minilm_cpu.encode([s]) for s in sentences])
    torch.testing.assert_close(forward, alone, atol=1e-5, rtol=1e-4)


def test_minilm_encoder_ranks_paraphrases_first_and_validates(minilm_cpu):
    v = minilm_cpu.encode(["a kitten sleeps", "a small cat is sleeping", "the stock market fell"])
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2
    with pytest.raises(ValueError, match="not a single str"):
        minilm_cpu.encode("a cat")
    with pytest.raises(ValueError, match="sentences is empty"):
        minilm_cpu.encode([])
    with pytest.raises(ValueError, match="batch_size"):
        MiniLMEncoder(device="cpu", batch_size=0)


def test_scratch_models_report_their_width_as_dimension():
    assert Word2VecScratch(vector_size=8).dimension == 8
    assert GloVeScratch(vector_size=6).dimension == 6


def test_word2vec_scratch_restores_the_determinism_setting():
    torch.use_deterministic_algorithms(False)
    seen = []

    class Probe(Word2VecScratch):
        def _fit(self, *args):
            seen.append(torch.are_deterministic_algorithms_enabled())
            return super()._fit(*args)

    Probe(vector_size=4, window=2, min_count=1, device="cpu").fit(toy_corpus(10), epochs=1, progress=False)
    assert seen == [True] and not torch.are_deterministic_algorithms_enabled()
