"""Tokens, vocabularies, bags of words and TF-IDF (taught in chapter 4).

A *corpus* here is a list of tokenised sentences: ``[["a", "cat"], ["two", "dogs"]]``. Raw
strings go through :func:`tokenize` first. Passing a list of strings where a list of token
lists is expected is a common slip (each string would be read as a list of characters), so
every function refuses it with a ``ValueError``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from xmr_lite._checks import check_choice, check_int

Corpus = Sequence[Sequence[str]]

_TOKEN = re.compile(r"\w+(?:['’]\w+)*")


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split a string into word tokens.

    A token is a run of letters, digits or underscores in any script (``\\w`` in Unicode
    mode), optionally joined by apostrophes, so ``"don't"`` stays one token, ``"七"`` and
    ``"sieben"`` are tokens, and punctuation is dropped. A run of Chinese characters without
    spaces stays one token: this tokenizer does not segment Chinese.

    Parameters
    ----------
    text : str
    lowercase : bool
        Lower-case the text first (the default), so "Cat" and "cat" are one word.

    Returns
    -------
    list of str

    Examples
    --------
    >>> tokenize("A cat, sitting on the mat. It's 7!")
    ['a', 'cat', 'sitting', 'on', 'the', 'mat', "it's", '7']
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if lowercase:
        text = text.lower()
    return _TOKEN.findall(text)


def check_corpus(sentences: object, name: str = "sentences") -> list[list[str]]:
    """Validate a list of tokenised sentences and return it as a list of lists.

    Single sentences may be empty (a caption with no word left after tokenising); the corpus
    as a whole must have at least one token.

    Parameters
    ----------
    sentences : sequence of sequences of str
    name : str
        The argument's name, used in error messages.

    Raises
    ------
    ValueError
        If ``sentences`` is a string, is empty, holds a string instead of a token list, holds a
        token that is not a string, or has no token at all.

    Notes
    -----
    Used by every function of :mod:`xmr_lite.text` that takes a corpus (chapter 4).
    """
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise ValueError(f"{name} must be a list of tokenised sentences, got {type(sentences).__name__}")
    result = []
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, (str, bytes)) or not isinstance(sentence, Iterable):
            raise ValueError(
                f"{name}[{i}] must be a list of tokens, got {type(sentence).__name__} "
                "(tokenize the text first, e.g. with xmr_lite.text.tokenize)"
            )
        tokens = list(sentence)
        for token in tokens:
            if not isinstance(token, str):
                raise ValueError(f"{name}[{i}] holds a token of type {type(token).__name__}; tokens are str")
        result.append(tokens)
    if not result:
        raise ValueError(f"{name} is empty: it needs at least one sentence")
    if not any(result):
        raise ValueError(f"{name} has no tokens: every sentence is empty")
    return result


class Vocabulary:
    """A fixed list of words, each with an integer id and a corpus count.

    Ids follow decreasing count, ties broken alphabetically, so id 0 is the most frequent
    word and the order never depends on the order of a hash table. Words that are not in
    the vocabulary (out-of-vocabulary, OOV) are *dropped* by :meth:`encode` and listed by
    :meth:`oov`; there is no ``<unk>`` id.

    Parameters
    ----------
    words : sequence of str
        Distinct words, in id order.
    counts : sequence of int, optional
        The corpus count of each word (default: all 1).

    Attributes
    ----------
    words : list of str
        ``words[i]`` is the word with id ``i``.
    counts : (V,) int64 array
    index : dict
        Word to id.

    Notes
    -----
    Taught in chapter 4.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int] | np.ndarray | None = None) -> None:
        words = list(words)
        if not words:
            raise ValueError("words must not be empty")
        if any(not isinstance(w, str) for w in words):
            raise ValueError("words must all be str")
        if len(set(words)) != len(words):
            duplicated = sorted(w for w, c in Counter(words).items() if c > 1)[:5]
            raise ValueError(f"words must be distinct; duplicated: {duplicated}")
        counts_array = np.ones(len(words), dtype=np.int64) if counts is None else np.asarray(counts)
        if counts_array.shape != (len(words),):
            raise ValueError(f"counts must have shape ({len(words)},) like words, got {counts_array.shape}")
        if counts_array.dtype.kind not in "iu" or (counts_array < 0).any():
            raise ValueError("counts must be non-negative integers")
        self.words = words
        self.counts = counts_array.astype(np.int64)
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_corpus(cls, sentences: Corpus, min_count: int = 1, max_size: int | None = None) -> Vocabulary:
        """Count the words of a corpus and keep those seen at least ``min_count`` times.

        Parameters
        ----------
        sentences : list of list of str
        min_count : int >= 1
        max_size : int, optional
            Keep only the ``max_size`` most frequent words.

        Raises
        ------
        ValueError
            If the corpus is empty, or no word reaches ``min_count``.
        """
        corpus = check_corpus(sentences)
        min_count = check_int(min_count, "min_count")
        if max_size is not None:
            max_size = check_int(max_size, "max_size")
        counter = Counter(token for sentence in corpus for token in sentence)
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if max_size is not None:
            kept = kept[:max_size]
        if not kept:
            raise ValueError(f"no word occurs at least min_count={min_count} times in sentences")
        return cls([w for w, _ in kept], [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        head = ", ".join(self.words[:5])
        return f"Vocabulary({len(self)} words: {head}{', ...' if len(self) > 5 else ''})"

    def encode(self, sentence: Sequence[str]) -> np.ndarray:
        """The ids of the in-vocabulary tokens of one sentence, in order; OOV tokens are dropped.

        Returns
        -------
        (L,) int64 array, L <= len(sentence).
        """
        if isinstance(sentence, str):
            raise ValueError("sentence must be a list of tokens, not a str")
        return np.array([self.index[t] for t in sentence if t in self.index], dtype=np.int64)

    def encode_corpus(self, sentences: Corpus) -> list[np.ndarray]:
        """:meth:`encode` applied to every sentence of a corpus."""
        return [self.encode(s) for s in check_corpus(sentences)]

    def oov(self, sentence: Sequence[str]) -> list[str]:
        """The tokens of ``sentence`` that are not in the vocabulary, in order."""
        if isinstance(sentence, str):
            raise ValueError("sentence must be a list of tokens, not a str")
        return [t for t in sentence if t not in self.index]

    def frequencies(self) -> np.ndarray:
        """Relative frequencies ``p(w) = count(w) / total`` of the kept words, shape (V,)."""
        total = self.counts.sum()
        if total == 0:
            raise ValueError("the vocabulary has no counts, so no frequencies")
        return self.counts / total


def bag_of_words(sentences: Corpus, vocabulary: Vocabulary) -> np.ndarray:
    """Count how often each vocabulary word occurs in each sentence.

    Parameters
    ----------
    sentences : list of N lists of str
    vocabulary : Vocabulary with V words

    Returns
    -------
    (N, V) float64 array of counts (dense: fine for the small corpora of the book).
    Out-of-vocabulary tokens are not counted.

    Notes
    -----
    Taught in chapter 4.
    """
    corpus = check_corpus(sentences)
    if not isinstance(vocabulary, Vocabulary):
        raise ValueError(f"vocabulary must be a Vocabulary, got {type(vocabulary).__name__}")
    counts = np.zeros((len(corpus), len(vocabulary)), dtype=np.float64)
    for row, sentence in enumerate(corpus):
        ids = vocabulary.encode(sentence)
        np.add.at(counts[row], ids, 1.0)
    return counts


class Tfidf:
    """TF-IDF weighting, with the conventions of scikit-learn's ``TfidfVectorizer``.

    For a document ``d`` and word ``w``: ``tfidf(d, w) = count(d, w) * idf(w)``, with the
    smoothed inverse document frequency ``idf(w) = ln((1 + n) / (1 + df(w))) + 1`` (``n``
    documents, ``df(w)`` of them contain ``w``), or ``ln(n / df(w)) + 1`` when
    ``smooth_idf=False``. Each row is then divided by its Euclidean norm (``norm="l2"``); a
    row with no known word stays zero.

    Parameters
    ----------
    min_count : int
        Keep words that occur at least this many times in the fitted corpus.
    smooth_idf : bool
    norm : "l2" or None

    Attributes
    ----------
    vocabulary : Vocabulary
        Set by :meth:`fit`.
    idf : (V,) float64 array
        Set by :meth:`fit`; ``idf[i]`` belongs to ``vocabulary.words[i]``.
    n_documents : int
        The number of documents seen by :meth:`fit`.

    Notes
    -----
    Taught in chapter 4.
    """

    def __init__(self, min_count: int = 1, smooth_idf: bool = True, norm: str | None = "l2") -> None:
        if norm is not None:
            check_choice(norm, "norm", ["l2"])
        self.min_count = min_count
        self.smooth_idf = smooth_idf
        self.norm = norm
        self.vocabulary: Vocabulary | None = None
        self.idf: np.ndarray | None = None
        self.n_documents = 0

    def fit(self, sentences: Corpus) -> Tfidf:
        """Learn the vocabulary and the idf of each word from a corpus of N documents."""
        corpus = check_corpus(sentences)
        self.vocabulary = Vocabulary.from_corpus(corpus, min_count=self.min_count)
        df = (bag_of_words(corpus, self.vocabulary) > 0).sum(0)
        n = self.n_documents = len(corpus)
        if self.smooth_idf:
            self.idf = np.log((1 + n) / (1 + df)) + 1.0
        else:
            self.idf = np.log(n / df) + 1.0
        return self

    def transform(self, sentences: Corpus) -> np.ndarray:
        """The TF-IDF matrix of N documents, shape (N, V), over the fitted vocabulary."""
        if self.vocabulary is None or self.idf is None:
            raise ValueError("this Tfidf is not fitted yet: call fit(sentences) first")
        weighted = bag_of_words(sentences, self.vocabulary) * self.idf
        if self.norm == "l2":
            norms = np.linalg.norm(weighted, axis=1, keepdims=True)
            weighted = np.divide(weighted, norms, out=np.zeros_like(weighted), where=norms > 0)
        return weighted

    def fit_transform(self, sentences: Corpus) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same corpus."""
        return self.fit(sentences).transform(sentences)

    def idf_of(self, word: str) -> float:
        """The idf of one word.

        A word the fitted corpus never saw (or dropped by ``min_count``) gets the idf of a word
        with ``df = 0`` when ``smooth_idf`` (``ln(1 + n) + 1``), else that of ``df = 1``
        (``ln(n) + 1``): the rarest possible word.
        """
        if self.vocabulary is None or self.idf is None:
            raise ValueError("this Tfidf is not fitted yet: call fit(sentences) first")
        if word in self.vocabulary:
            return float(self.idf[self.vocabulary.index[word]])
        n = self.n_documents
        return math.log(1 + n) + 1.0 if self.smooth_idf else math.log(n) + 1.0


def tfidf(sentences: Corpus, min_count: int = 1, smooth_idf: bool = True) -> tuple[np.ndarray, Tfidf]:
    """TF-IDF matrix of a corpus, and the fitted :class:`Tfidf` that made it.

    Parameters
    ----------
    sentences : list of N lists of str
    min_count : int
    smooth_idf : bool

    Returns
    -------
    matrix : (N, V) float64 array, L2-normalised rows
    model : Tfidf
        Use ``model.transform(queries)`` to put queries in the same space.

    Notes
    -----
    Taught in chapter 4.
    """
    model = Tfidf(min_count=min_count, smooth_idf=smooth_idf)
    return model.fit_transform(sentences), model


__all__ = ["Corpus", "Tfidf", "Vocabulary", "bag_of_words", "check_corpus", "tfidf", "tokenize"]
