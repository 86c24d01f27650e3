"""Word vectors as gensim ``KeyedVectors``, their evaluation, and sentence vectors (chapter 4).

Every word-vector model of the book (the from-scratch Word2Vec and GloVe, gensim's Word2Vec,
pretrained GloVe) hands back a :class:`gensim.models.KeyedVectors`, so they are all looked up
(``vectors["cat"]``), compared (``vectors.most_similar("cat")``) and evaluated the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch
from gensim.models import KeyedVectors
from scipy.stats import spearmanr

from xmr_lite._checks import check_choice, check_int
from xmr_lite.text.tokens import Corpus, Tfidf, Vocabulary, check_corpus

WordVectors = Union[KeyedVectors, Mapping[str, np.ndarray]]

SENTENCE_METHODS = ("mean", "tfidf", "sif")
"""The pooling methods accepted by :func:`sentence_embedding`."""


def keyed_vectors(words: Sequence[str], matrix: np.ndarray | torch.Tensor) -> KeyedVectors:
    """Wrap a word list and its matrix of vectors as gensim ``KeyedVectors``.

    Parameters
    ----------
    words : sequence of V distinct str
        ``words[i]`` is the word of row ``i``.
    matrix : (V, D) float array or tensor (any device; copied to the CPU as float32)

    Returns
    -------
    KeyedVectors with ``vectors[word]`` of shape (D,).

    Raises
    ------
    ValueError
        If the number of words and of rows differ, a word repeats, or the matrix is not a
        finite, non-empty 2-D array.

    Notes
    -----
    Taught in chapter 4.
    """
    words = list(words)
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().numpy()
    if not isinstance(matrix, np.ndarray):
        raise ValueError(f"matrix must be a numpy array or torch tensor, got {type(matrix).__name__}")
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"matrix must be a non-empty 2-D array of shape (V, D), got shape {matrix.shape}")
    if len(words) != matrix.shape[0]:
        raise ValueError(
            f"words has {len(words)} entries but matrix has {matrix.shape[0]} rows; "
            "the vocabulary and the vectors must match"
        )
    if any(not isinstance(w, str) for w in words):
        raise ValueError("words must all be str")
    if len(set(words)) != len(words):
        raise ValueError("words must be distinct")
    if not np.isfinite(matrix).all():
        raise ValueError("matrix contains NaN or infinite values")
    kv = KeyedVectors(vector_size=matrix.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(words, matrix.astype(np.float32))
    return kv


@dataclass(frozen=True)
class WordSimilarityResult:
    """Spearman's rank correlation between model and human similarity scores.

    Attributes
    ----------
    spearman : float
        rho over the covered pairs (NaN when fewer than 3 pairs are covered).
    covered : int
        Pairs whose two words both have a vector; only these are scored.
    total : int
        Pairs given.
    """

    spearman: float
    covered: int
    total: int


def word_similarity(
    vectors: KeyedVectors, pairs: Sequence[tuple[str, str, float]] | object, lowercase: bool = True
) -> WordSimilarityResult:
    """Score word vectors on a word-similarity benchmark such as WordSim353.

    The model's similarity of a pair is the cosine of the two word vectors. Pairs with a word
    that has no vector are skipped (and counted), as gensim's ``evaluate_word_pairs`` does, so
    always report ``covered`` next to rho: a model that knows only easy words looks better.

    Parameters
    ----------
    vectors : KeyedVectors
    pairs : sequence of (word1, word2, human_score)
        Or an object with ``word1``, ``word2`` and ``scores`` sequences, such as
        :func:`xmr_lite.data.load_wordsim353`'s result.
    lowercase : bool
        Lower-case the benchmark's words first (the book's vectors are lower-case).

    Returns
    -------
    WordSimilarityResult

    Notes
    -----
    Taught in chapter 4.
    """
    if not isinstance(vectors, KeyedVectors):
        raise ValueError(f"vectors must be gensim KeyedVectors, got {type(vectors).__name__}")
    if all(hasattr(pairs, name) for name in ("word1", "word2", "scores")):
        pairs = list(zip(pairs.word1, pairs.word2, pairs.scores, strict=True))
    if isinstance(pairs, (str, bytes)):
        raise ValueError("pairs must be a sequence of (word1, word2, score) triples, got a str")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty")
    model, human = [], []
    for i, pair in enumerate(pairs):
        if len(pair) != 3:
            raise ValueError(f"pairs[{i}] must be (word1, word2, score), got {pair!r}")
        a, b, score = pair
        if lowercase:
            a, b = a.lower(), b.lower()
        if a in vectors and b in vectors:
            model.append(float(vectors.similarity(a, b)))
            human.append(float(score))
    rho = float(spearmanr(model, human).statistic) if len(model) >= 3 else float("nan")
    return WordSimilarityResult(spearman=rho, covered=len(model), total=len(pairs))


@dataclass(frozen=True)
class AnalogyResult:
    """Accuracy on analogy questions "a is to b as c is to d".

    Attributes
    ----------
    accuracy : float
        Fraction of the covered questions answered with exactly ``d`` (NaN if none covered).
    covered : int
        Questions whose four words are all among the searched words; only these are asked.
    total : int
        Questions given.
    """

    accuracy: float
    covered: int
    total: int


def analogy_accuracy(
    vectors: KeyedVectors,
    questions: Sequence[tuple[str, str, str, str]],
    restrict_vocab: int | None = 30000,
    lowercase: bool = True,
) -> AnalogyResult:
    """Answer analogy questions with vector arithmetic (3CosAdd) and count the right answers.

    For "a is to b as c is to ?" (``man : king :: woman : ?``) the answer is the word whose
    unit vector has the largest cosine with ``b^ - a^ + c^`` (``^`` = scaled to unit length),
    leaving out a, b and c themselves. This is what gensim's ``most_similar(positive=[b, c],
    negative=[a])`` and ``evaluate_word_analogies`` do.

    Parameters
    ----------
    vectors : KeyedVectors
    questions : sequence of (a, b, c, d)
    restrict_vocab : int, optional
        Search only the first ``restrict_vocab`` words (the most frequent, for vectors sorted
        by frequency), and skip questions with a word outside them; 30,000 as in gensim.
        ``None`` searches all.
    lowercase : bool
        Lower-case the questions first.

    Returns
    -------
    AnalogyResult

    Notes
    -----
    Taught in chapter 4.
    """
    if not isinstance(vectors, KeyedVectors):
        raise ValueError(f"vectors must be gensim KeyedVectors, got {type(vectors).__name__}")
    questions = list(questions)
    if not questions:
        raise ValueError("questions is empty")
    if restrict_vocab is not None:
        restrict_vocab = check_int(restrict_vocab, "restrict_vocab")
    n_words = len(vectors) if restrict_vocab is None else min(restrict_vocab, len(vectors))
    index = {w: i for i, w in enumerate(vectors.index_to_key[:n_words])}
    asked = []
    for k, question in enumerate(questions):
        if len(question) != 4:
            raise ValueError(f"questions[{k}] must be (a, b, c, d), got {question!r}")
        words = [w.lower() for w in question] if lowercase else list(question)
        if all(w in index for w in words):
            asked.append([index[w] for w in words])
    if not asked:
        return AnalogyResult(accuracy=float("nan"), covered=0, total=len(questions))
    unit = torch.as_tensor(vectors.get_normed_vectors()[:n_words])  # (V, D)
    ids = torch.as_tensor(asked)  # (Q, 4)
    correct = 0
    for chunk in ids.split(256):  # (q, 4) at a time, so the score matrix stays small
        target = unit[chunk[:, 1]] - unit[chunk[:, 0]] + unit[chunk[:, 2]]  # (q, D); its scale does not matter
        scores = target @ unit.T  # (q, V)
        scores.scatter_(1, chunk[:, :3], float("-inf"))  # never answer with a question word
        correct += int((scores.argmax(1) == chunk[:, 3]).sum())
    return AnalogyResult(accuracy=correct / len(asked), covered=len(asked), total=len(questions))


def _as_lookup(vectors: WordVectors) -> tuple[Mapping[str, np.ndarray] | KeyedVectors, int]:
    """Check ``vectors`` and return it with its dimension."""
    if isinstance(vectors, KeyedVectors):
        if len(vectors) == 0:
            raise ValueError("vectors is empty")
        return vectors, int(vectors.vector_size)
    if isinstance(vectors, Mapping):
        if not vectors:
            raise ValueError("vectors is empty")
        dims = {np.shape(v) for v in vectors.values()}
        if len(dims) != 1 or len(next(iter(dims))) != 1:
            raise ValueError(f"vectors must map every word to a 1-D vector of one size, got shapes {sorted(dims)}")
        return vectors, next(iter(dims))[0]
    raise ValueError(f"vectors must be KeyedVectors or a dict of word -> vector, got {type(vectors).__name__}")


def oov_tokens(tokens: Corpus, vectors: WordVectors) -> list[list[str]]:
    """The tokens of each sentence that have no vector (out of vocabulary), in order."""
    corpus = check_corpus(tokens, "tokens")
    lookup, _ = _as_lookup(vectors)
    return [[t for t in sentence if t not in lookup] for sentence in corpus]


def sentence_embedding(
    tokens: Corpus,
    vectors: WordVectors,
    method: str = "mean",
    *,
    corpus: Corpus | None = None,
    a: float = 1e-3,
    remove_pc: bool = True,
) -> np.ndarray:
    """Pool word vectors into one vector per sentence.

    With ``K`` the in-vocabulary tokens of a sentence (repeats included) and ``v_w`` the word
    vectors:

    * ``"mean"``: ``(1/|K|) sum_{w in K} v_w``.
    * ``"tfidf"``: ``sum_{w in K} idf(w) v_w / sum_{w in K} idf(w)``. A word repeated in a
      sentence counts each time, so this is the TF-IDF-weighted mean. The idf comes from
      :class:`~xmr_lite.text.Tfidf` fitted on ``corpus``.
    * ``"sif"`` (smooth inverse frequency, Arora et al. 2017): ``(1/|K|) sum_{w in K}
      a / (a + p(w)) v_w`` with ``p(w)`` the word's relative frequency in ``corpus``; then,
      when ``remove_pc``, the projection of every sentence vector on the first principal
      component ``u`` of the (N, D) matrix (its first right singular vector, no centring, as
      in the paper's code) is removed: ``x <- x - (x . u) u``.

    Out-of-vocabulary tokens are skipped. A sentence with *no* in-vocabulary token gets the
    zero vector, and a ``UserWarning`` lists such sentences: it is never silently dropped,
    and its cosine with anything is undefined, so filter or handle it before ranking.

    Parameters
    ----------
    tokens : list of N lists of str
        The tokenised sentences to embed.
    vectors : KeyedVectors or dict of word -> (D,) array
    method : {"mean", "tfidf", "sif"}
    corpus : list of lists of str, optional
        The corpus whose statistics give idf (``"tfidf"``) and p(w) (``"sif"``). Default:
        ``tokens`` itself. A word that ``corpus`` never saw gets the largest idf, or p(w) = 0
        (weight 1) in SIF.
    a : float > 0
        SIF's smoothing constant; 1e-3 is the paper's usual value.
    remove_pc : bool
        Remove the first principal component in ``"sif"`` (needs N >= 2).

    Returns
    -------
    (N, D) float32 array.

    Notes
    -----
    Taught in chapter 4.
    """
    sentences = check_corpus(tokens, "tokens")
    check_choice(method, "method", SENTENCE_METHODS)
    lookup, dim = _as_lookup(vectors)
    stats = sentences if corpus is None else check_corpus(corpus, "corpus")
    if method == "sif":
        if not (isinstance(a, (int, float)) and a > 0):
            raise ValueError(f"a must be a positive number, got {a!r}")
        if remove_pc and len(sentences) < 2:
            raise ValueError("tokens needs at least 2 sentences to remove a principal component (remove_pc=True)")
        vocabulary = Vocabulary.from_corpus(stats)
        frequency = dict(zip(vocabulary.words, vocabulary.frequencies(), strict=True))
    elif method == "tfidf":
        idf_model = Tfidf().fit(stats)

    out = np.zeros((len(sentences), dim), dtype=np.float64)
    empty = []
    for row, sentence in enumerate(sentences):
        known = [t for t in sentence if t in lookup]
        if not known:
            empty.append(row)
            continue
        word_vectors = np.stack([np.asarray(lookup[t], dtype=np.float64) for t in known])  # (|K|, D)
        if method == "mean":
            out[row] = word_vectors.mean(0)
        elif method == "tfidf":
            weights = np.array([idf_model.idf_of(t) for t in known])
            out[row] = weights @ word_vectors / weights.sum()
        else:
            weights = np.array([a / (a + frequency.get(t, 0.0)) for t in known])
            out[row] = weights @ word_vectors / len(known)
    if empty:
        shown = empty[:10]
        warnings.warn(
            f"{len(empty)} of {len(sentences)} sentences have no word with a vector and get a zero vector "
            f"(indices {shown}{' ...' if len(empty) > 10 else ''})",
            UserWarning,
            stacklevel=2,
        )
    if method == "sif" and remove_pc:
        out = remove_first_principal_component(out)
    return out.astype(np.float32)


def remove_first_principal_component(x: np.ndarray) -> np.ndarray:
    """Remove from each row its projection on the first right singular vector of ``x``.

    ``u`` is the first right singular vector of ``x`` itself, not centred (as in the SIF
    paper's code); each row becomes ``x_i - (x_i . u) u``. Zero rows stay zero.

    Parameters
    ----------
    x : (N, D) float array, N >= 2

    Returns
    -------
    (N, D) float64 array whose rows are orthogonal to ``u``.

    Notes
    -----
    Taught in chapter 4 (SIF sentence vectors).
    """
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.size == 0:
        raise ValueError(f"x must be a non-empty 2-D numpy array (N, D), got {getattr(x, 'shape', type(x))}")
    if x.shape[0] < 2:
        raise ValueError(f"x needs at least 2 rows to have a principal component, got {x.shape[0]}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    u = np.linalg.svd(x, full_matrices=False)[2][0]  # (D,)
    return x - np.outer(x @ u, u)


__all__ = [
    "SENTENCE_METHODS",
    "AnalogyResult",
    "WordSimilarityResult",
    "analogy_accuracy",
    "keyed_vectors",
    "oov_tokens",
    "remove_first_principal_component",
    "sentence_embedding",
    "word_similarity",
]
