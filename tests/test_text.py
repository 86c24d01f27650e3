"""Tests of xmr_lite.text: tokens, vocabularies, TF-IDF, word vectors and sentence vectors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from xmr_lite.data import load_wordsim353
from xmr_lite.text import (
    Tfidf,
    Vocabulary,
    analogy_accuracy,
    bag_of_words,
    check_corpus,
    keyed_vectors,
    oov_tokens,
    remove_first_principal_component,
    sentence_embedding,
    tfidf,
    tokenize,
    word_similarity,
)

WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
CORPORA = st.lists(st.lists(WORDS, min_size=0, max_size=8), min_size=1, max_size=6).filter(any)

CAPTIONS = [
    tokenize(t)
    for t in [
        "A cat sits on a mat.",
        "The cat sleeps on the sofa; the cat is happy.",
        "A dog runs in the park.",
        "Two dogs play with a ball in the park.",
        "A red car on the road.",
    ]
]


# --- tokens -------------------------------------------------------------------------------------


def test_tokenize_splits_words_and_drops_punctuation():
    assert tokenize("A cat, sitting on the mat. It's 7!") == ["a", "cat", "sitting", "on", "the", "mat", "it's", "7"]
    assert tokenize("Sieben, 七!") == ["sieben", "七"]
    assert tokenize("Hello World", lowercase=False) == ["Hello", "World"]
    assert tokenize("") == []


def test_tokenize_refuses_non_strings():
    with pytest.raises(ValueError, match="text must be a str"):
        tokenize(["a", "list"])


def test_check_corpus_refuses_bad_input():
    with pytest.raises(ValueError, match="sentences is empty"):
        check_corpus([])
    with pytest.raises(ValueError, match="no tokens"):
        check_corpus([[], []])
    with pytest.raises(ValueError, match=r"sentences\[0\] must be a list of tokens"):
        check_corpus(["a cat on a mat"])  # raw strings, not token lists
    with pytest.raises(ValueError, match="list of tokenised sentences"):
        check_corpus("a cat")
    with pytest.raises(ValueError, match="token of type int"):
        check_corpus([["a", 1]])
    assert check_corpus((("a", "b"), ())) == [["a", "b"], []]


def test_vocabulary_orders_by_count_then_alphabet():
    vocab = Vocabulary.from_corpus([["b", "a", "c", "a"], ["c", "d", "a"]])
    assert vocab.words == ["a", "c", "b", "d"]
    np.testing.assert_array_equal(vocab.counts, [3, 2, 1, 1])
    assert vocab.index["c"] == 1 and "d" in vocab and "z" not in vocab and len(vocab) == 4


def test_vocabulary_min_count_max_size_and_oov():
    corpus = [["b", "a", "c", "a"], ["c", "d", "a"]]
    vocab = Vocabulary.from_corpus(corpus, min_count=2)
    assert vocab.words == ["a", "c"]
    np.testing.assert_array_equal(vocab.encode(["a", "zebra", "c", "b"]), [0, 1])
    assert vocab.oov(["a", "zebra", "c", "b"]) == ["zebra", "b"]
    assert Vocabulary.from_corpus(corpus, max_size=1).words == ["a"]
    encoded = vocab.encode_corpus([["c", "b"], ["zebra"]])
    np.testing.assert_array_equal(encoded[0], [1])
    assert encoded[1].shape == (0,) and encoded[1].dtype == np.int64
    np.testing.assert_allclose(vocab.frequencies(), [3 / 5, 2 / 5])


def test_vocabulary_refuses_bad_input():
    with pytest.raises(ValueError, match="min_count=5"):
        Vocabulary.from_corpus([["a", "b"]], min_count=5)
    with pytest.raises(ValueError, match="min_count must be"):
        Vocabulary.from_corpus([["a"]], min_count=0)
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="counts must have shape"):
        Vocabulary(["a", "b"], [1])
    with pytest.raises(ValueError, match="words must not be empty"):
        Vocabulary([])
    with pytest.raises(ValueError, match="not a str"):
        Vocabulary(["a"]).encode("a")


@settings(max_examples=50, deadline=None)
@given(CORPORA)
def test_vocabulary_counts_every_kept_token(corpus):
    assume(_max_count(corpus) >= 2)
    vocab = Vocabulary.from_corpus(corpus, min_count=2)
    kept = sum(len(vocab.encode(s)) for s in corpus)
    assert kept == vocab.counts.sum()
    for sentence in corpus:
        assert len(vocab.encode(sentence)) + len(vocab.oov(sentence)) == len(sentence)


def _max_count(corpus):
    from collections import Counter

    return max(Counter(t for s in corpus for t in s).values())


@settings(max_examples=50, deadline=None)
@given(CORPORA)
def test_bag_of_words_rows_count_the_tokens(corpus):
    vocab = Vocabulary.from_corpus(corpus)
    counts = bag_of_words(corpus, vocab)
    assert counts.shape == (len(corpus), len(vocab))
    np.testing.assert_array_equal(counts.sum(1), [len(s) for s in corpus])
    for row, sentence in enumerate(corpus):
        for word in set(sentence):
            assert counts[row, vocab.index[word]] == sentence.count(word)


@pytest.mark.parametrize("smooth_idf", [True, False])
def test_tfidf_matches_scikit_learn(smooth_idf):
    queries = [["cat", "park"], ["zebra"], ["the", "the", "dog"]]
    ours = Tfidf(smooth_idf=smooth_idf).fit(CAPTIONS)
    reference = TfidfVectorizer(analyzer=lambda tokens: tokens, smooth_idf=smooth_idf).fit(CAPTIONS)
    # scikit-learn orders its columns alphabetically, the Vocabulary by count
    columns = [reference.vocabulary_[w] for w in ours.vocabulary.words]
    np.testing.assert_allclose(ours.idf, reference.idf_[columns], rtol=1e-12)
    for docs in (CAPTIONS, queries):
        np.testing.assert_allclose(
            ours.transform(docs), reference.transform(docs).toarray()[:, columns], rtol=1e-12, atol=1e-15
        )


def test_tfidf_function_and_unknown_words():
    matrix, model = tfidf(CAPTIONS)
    np.testing.assert_allclose(matrix, Tfidf().fit_transform(CAPTIONS))
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0)
    assert np.all(model.transform([["zebra", "unicorn"]]) == 0)  # no known word: a zero row
    n = len(CAPTIONS)
    assert model.idf_of("zebra") == pytest.approx(np.log(1 + n) + 1)
    assert model.idf_of("cat") == pytest.approx(np.log((1 + n) / (1 + 2)) + 1)
    assert Tfidf(smooth_idf=False).fit(CAPTIONS).idf_of("zebra") == pytest.approx(np.log(n) + 1)


def test_tfidf_refuses_bad_input():
    with pytest.raises(ValueError, match="not fitted"):
        Tfidf().transform(CAPTIONS)
    with pytest.raises(ValueError, match="norm must be one of"):
        Tfidf(norm="l1")
    with pytest.raises(ValueError, match="sentences is empty"):
        Tfidf().fit([])


# --- word vectors ------------------------------------------------------------------------------


def test_keyed_vectors_from_tensor(device):
    matrix = torch.arange(6.0, device=device).reshape(3, 2)
    kv = keyed_vectors(["x", "y", "z"], matrix)
    assert isinstance(kv, KeyedVectors) and kv.vector_size == 2
    np.testing.assert_array_equal(kv["y"], [2.0, 3.0])


def test_keyed_vectors_refuses_a_vocabulary_vectors_mismatch():
    with pytest.raises(ValueError, match="words has 2 entries but matrix has 3 rows"):
        keyed_vectors(["a", "b"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="distinct"):
        keyed_vectors(["a", "a"], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        keyed_vectors(["a"], np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        keyed_vectors(["a"], np.zeros(3))


def _random_vectors(words, dim=8, seed=0):
    return keyed_vectors(words, np.random.default_rng(seed).normal(size=(len(words), dim)))


def test_word_similarity_matches_gensim():
    from gensim.test.utils import datapath

    pairs = load_wordsim353()
    words = sorted({w.lower() for w in pairs.word1[:120] + pairs.word2[:120]})
    kv = _random_vectors(words)
    ours = word_similarity(kv, pairs)
    _, spearman, oov_percent = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-12)
    assert ours.total == 353
    assert ours.covered == pytest.approx(353 * (1 - oov_percent / 100))
    as_triples = word_similarity(kv, list(zip(pairs.word1, pairs.word2, pairs.scores, strict=True)))
    assert as_triples == ours


def test_word_similarity_perfect_and_bad_input():
    kv = keyed_vectors(["a", "b", "c", "d"], np.array([[1.0, 0.0], [1.0, 0.1], [1.0, 1.0], [0.0, 1.0]]))
    result = word_similarity(kv, [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zebra", 3.0)])
    assert result.spearman == pytest.approx(1.0) and result.covered == 3 and result.total == 4
    with pytest.raises(ValueError, match="pairs is empty"):
        word_similarity(kv, [])
    with pytest.raises(ValueError, match="KeyedVectors"):
        word_similarity({"a": np.zeros(2)}, [("a", "a", 1.0)])
    with pytest.raises(ValueError, match=r"pairs\[0\] must be"):
        word_similarity(kv, [("a", "b")])


def test_analogy_accuracy_matches_gensim_most_similar():
    rng = np.random.default_rng(100)
    words = [f"w{i}" for i in range(60)]
    kv = _random_vectors(words, dim=5, seed=1)
    questions = [tuple(rng.choice(words, size=4, replace=False)) for _ in range(40)]
    expected = [
        kv.most_similar(positive=[b, c], negative=[a], topn=1, restrict_vocab=50)[0][0] == d for a, b, c, d in questions
    ]
    covered = [all(kv.key_to_index[w] < 50 for w in q) for q in questions]
    # make some answers right, so that the accuracy is not trivially 0
    for k in range(10):
        a, b, c, _ = questions[k]
        questions[k] = (a, b, c, kv.most_similar(positive=[b, c], negative=[a], topn=1, restrict_vocab=50)[0][0])
        expected[k], covered[k] = True, all(kv.key_to_index[w] < 50 for w in questions[k])
    result = analogy_accuracy(kv, questions, restrict_vocab=50)
    assert result.covered == sum(covered) and result.total == 40
    assert result.accuracy == pytest.approx(np.mean([e for e, c in zip(expected, covered, strict=True) if c]))


def test_analogy_accuracy_on_constructed_vectors():
    # king - man + woman lands exactly on queen
    man, woman, royal, fruit = np.eye(4)
    kv = keyed_vectors(
        ["man", "woman", "king", "queen", "apple"], np.stack([man, woman, man + royal, woman + royal, fruit])
    )
    assert analogy_accuracy(kv, [("man", "king", "woman", "queen")]).accuracy == 1.0
    missing = analogy_accuracy(kv, [("man", "king", "woman", "empress")])
    assert missing.covered == 0 and np.isnan(missing.accuracy)
    with pytest.raises(ValueError, match="questions is empty"):
        analogy_accuracy(kv, [])
    with pytest.raises(ValueError, match="restrict_vocab"):
        analogy_accuracy(kv, [("man", "king", "woman", "queen")], restrict_vocab=0)


# --- sentence vectors --------------------------------------------------------------------------

VECTORS = {
    "a": np.array([1.0, 0.0, 0.0]),
    "cat": np.array([0.0, 2.0, 0.0]),
    "dog": np.array([0.0, 0.0, 3.0]),
    "the": np.array([1.0, 1.0, 1.0]),
}


def test_mean_pooling_formula():
    out = sentence_embedding([["a", "cat", "zebra"], ["the", "the", "dog"]], VECTORS, "mean")
    np.testing.assert_allclose(out, [[0.5, 1.0, 0.0], [2 / 3, 2 / 3, 5 / 3]], rtol=1e-6)
    assert out.dtype == np.float32


def test_tfidf_pooling_formula():
    tokens = [["a", "cat"], ["the", "the", "dog"], ["the", "cat"]]
    model = Tfidf().fit(tokens)
    out = sentence_embedding(tokens, VECTORS, "tfidf")
    for row, sentence in enumerate(tokens):
        weights = np.array([model.idf_of(t) for t in sentence])
        expected = weights @ np.stack([VECTORS[t] for t in sentence]) / weights.sum()
        np.testing.assert_allclose(out[row], expected, rtol=1e-6)


def test_sif_matches_its_formula():
    tokens = [["a", "cat"], ["the", "the", "dog"], ["the", "cat", "zebra"], ["dog", "a", "a"]]
    corpus = [*tokens, ["the", "the", "the", "a"]]
    a = 0.01
    counts = {"a": 4, "cat": 2, "the": 6, "dog": 2, "zebra": 1}
    total = sum(counts.values())
    rows = []
    for sentence in tokens:
        known = [t for t in sentence if t in VECTORS]
        rows.append(sum(a / (a + counts[t] / total) * VECTORS[t] for t in known) / len(known))
    x = np.stack(rows)
    _, _, vt = np.linalg.svd(x)
    u = vt[0]
    expected = x - np.outer(x @ u, u)
    out = sentence_embedding(tokens, VECTORS, "sif", corpus=corpus, a=a)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out @ u, 0.0, atol=1e-6)  # nothing left along the first component
    no_pc = sentence_embedding(tokens, VECTORS, "sif", corpus=corpus, a=a, remove_pc=False)
    np.testing.assert_allclose(no_pc, x, rtol=1e-6)


def test_all_oov_sentence_gets_a_zero_vector_and_a_warning():
    tokens = [["a", "cat"], ["zebra", "unicorn"], []]
    for method in ("mean", "tfidf", "sif"):
        with pytest.warns(UserWarning, match=r"2 of 3 sentences have no word with a vector.*\[1, 2\]"):
            out = sentence_embedding(tokens, VECTORS, method)
        assert np.all(out[1:] == 0) and np.any(out[0] != 0)
    assert oov_tokens(tokens, VECTORS) == [[], ["zebra", "unicorn"], []]


def test_sentence_embedding_with_keyed_vectors_has_no_warning_when_covered():
    kv = keyed_vectors(list(VECTORS), np.stack(list(VECTORS.values())))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sentence_embedding([["a", "cat"], ["dog"]], kv, "mean")
    np.testing.assert_allclose(out, [[0.5, 1.0, 0.0], [0.0, 0.0, 3.0]])


def test_sentence_embedding_refuses_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        sentence_embedding([["a"]], VECTORS, "max")
    with pytest.raises(ValueError, match="at least 2 sentences"):
        sentence_embedding([["a"]], VECTORS, "sif")
    with pytest.raises(ValueError, match="tokens is empty"):
        sentence_embedding([], VECTORS)
    with pytest.raises(ValueError, match=r"tokens\[0\] must be a list of tokens"):
        sentence_embedding(["a cat"], VECTORS)
    with pytest.raises(ValueError, match="one size"):
        sentence_embedding([["a"]], {"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="a must be a positive number"):
        sentence_embedding([["a"], ["cat"]], VECTORS, "sif", a=0.0)
    with pytest.raises(ValueError, match="vectors is empty"):
        sentence_embedding([["a"]], {})


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(1, 6), st.integers(0, 10_000))
def test_removing_the_first_component_leaves_rows_orthogonal_to_it(n, d, seed):
    x = np.random.default_rng(seed).normal(size=(n, d))
    x[0] = 0.0
    out = remove_first_principal_component(x)
    u = np.linalg.svd(x)[2][0]
    np.testing.assert_allclose(out @ u, 0.0, atol=1e-9)
    np.testing.assert_array_equal(out[0], 0.0)
    assert np.linalg.norm(out) <= np.linalg.norm(x) + 1e-9
    with pytest.raises(ValueError, match="at least 2 rows"):
        remove_first_principal_component(x[:1])
