"""Word2Vec with negative sampling: from scratch in torch, and gensim's (taught in chapter 4).

Skip-gram predicts each context word from the centre word; CBOW predicts the centre word
from the mean of its context. Both replace the softmax over the whole vocabulary with
*negative sampling* (Mikolov et al. 2013): for each true (input, target) pair, push the
score of the target up and the scores of ``K`` random "noise" words down::

    loss = -log sigmoid(u_target . v) - sum_{k=1..K} log sigmoid(-u_k . v)

where ``v`` is the input vector (the centre word's, or the mean of the context words') and
``u`` are output vectors. Noise words are drawn from the unigram distribution raised to the
power 3/4.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
from gensim.models import KeyedVectors, Word2Vec
from torch.nn.functional import logsigmoid

from xmr_lite._checks import check_choice, check_int
from xmr_lite._runtime import deterministic_algorithms
from xmr_lite.text._scratch import _ScratchWordModel, _train_step
from xmr_lite.text.tokens import Corpus, Vocabulary, check_corpus

ARCHITECTURES = ("skipgram", "cbow")


def _check_window(window: object) -> int:
    return check_int(window, "window")


def _flatten(encoded: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All ids in one array, and for each position the index of the sentence it came from."""
    if len(encoded) == 0:
        raise ValueError("encoded must hold at least one sentence")
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in encoded])
    sentence = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])
    return ids, sentence


def _window_sizes(n: int, window: int, rng: np.random.Generator | None) -> np.ndarray:
    """The window of each of ``n`` positions: ``window``, or uniform in 1..window given ``rng``."""
    if rng is None:
        return np.full(n, window)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be None or a numpy Generator, got {type(rng).__name__}")
    return rng.integers(1, window + 1, size=n)


def skipgram_pairs(encoded: Sequence[np.ndarray], window: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Every (centre, context) pair of word ids at distance 1..``window`` inside a sentence.

    Parameters
    ----------
    encoded : list of (L_s,) int arrays
        Sentences as word ids (see :meth:`Vocabulary.encode`). Pairs never cross sentences.
    window : int >= 1
    rng : numpy Generator, optional
        If given, each centre word gets its own window, drawn uniformly from 1..window, as in
        the word2vec tool and gensim. Near words are then used more often than far ones, and
        there are about ``(window + 1) / (2 window)`` as many pairs.

    Returns
    -------
    (P, 2) int64 array: column 0 the centre, column 1 the context. Without ``rng`` both
    directions of each pair are listed, so ``P = 2 sum_s sum_{d=1..window} max(0, L_s - d)``.

    Notes
    -----
    Taught in chapter 4.
    """
    window = _check_window(window)
    ids, sentence = _flatten(encoded)
    reach = _window_sizes(len(ids), window, rng)  # how far each centre word looks
    chunks = [np.zeros((0, 2), dtype=np.int64)]
    for d in range(1, min(window, len(ids) - 1) + 1):
        same = sentence[:-d] == sentence[d:]  # positions i and i + d are in one sentence
        left, right = ids[:-d], ids[d:]
        looks_right = same & (reach[:-d] >= d)  # centre at i, context at i + d
        looks_left = same & (reach[d:] >= d)  # centre at i + d, context at i
        chunks.append(np.stack([left[looks_right], right[looks_right]], 1))
        chunks.append(np.stack([right[looks_left], left[looks_left]], 1))
    return np.concatenate(chunks)


def cbow_examples(
    encoded: Sequence[np.ndarray], window: int, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For every position with at least one context word: its centre id and its context ids.

    Parameters
    ----------
    encoded : list of (L_s,) int arrays
    window : int >= 1
    rng : numpy Generator, optional
        If given, each centre word gets its own window drawn uniformly from 1..window (as in
        :func:`skipgram_pairs`).

    Returns
    -------
    centres : (M,) int64 array
    contexts : (M, 2 * window) int64 array
        The ids at offsets ``-window..-1, 1..window``, with ``-1`` where the offset falls
        outside the sentence or the centre's window.

    Notes
    -----
    Taught in chapter 4.
    """
    window = _check_window(window)
    ids, sentence = _flatten(encoded)
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2 * window), dtype=np.int64)
    reach = _window_sizes(n, window, rng)
    offsets = np.array([o for o in range(-window, window + 1) if o != 0])
    where = np.arange(n)[:, None] + offsets[None, :]  # (n, 2w) positions of the context words
    clipped = np.clip(where, 0, n - 1)
    valid = (
        (where >= 0)
        & (where < n)
        & (sentence[clipped] == sentence[:, None])
        & (np.abs(offsets)[None, :] <= reach[:, None])
    )
    contexts = np.where(valid, ids[clipped], -1)
    has_context = valid.any(1)
    return ids[has_context], contexts[has_context]


def negative_sampling_loss(inputs: torch.Tensor, targets: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean negative-sampling loss of a batch.

    ``-log sigmoid(u_t . v) - sum_k log sigmoid(-u_k . v)``, averaged over the batch.

    Parameters
    ----------
    inputs : (B, D) float tensor
        ``v``: input vectors (centre words for skip-gram, mean context for CBOW).
    targets : (B, D) float tensor
        ``u_t``: output vectors of the words to predict.
    noise : (B, K, D) float tensor
        ``u_k``: output vectors of the K noise words of each example.

    Returns
    -------
    Scalar tensor on the inputs' device.

    Notes
    -----
    Taught in chapter 4.
    """
    for t, name, ndim in ((inputs, "inputs", 2), (targets, "targets", 2), (noise, "noise", 3)):
        if not isinstance(t, torch.Tensor) or t.ndim != ndim or t.numel() == 0:
            raise ValueError(f"{name} must be a non-empty {ndim}-D tensor, got {getattr(t, 'shape', type(t))}")
    if targets.shape != inputs.shape:
        raise ValueError(f"targets has shape {tuple(targets.shape)} but inputs has {tuple(inputs.shape)}")
    if noise.shape[0] != inputs.shape[0] or noise.shape[2] != inputs.shape[1]:
        raise ValueError(f"noise must have shape (B, K, D) = ({inputs.shape[0]}, K, {inputs.shape[1]})")
    positive = logsigmoid((inputs * targets).sum(-1))  # (B,)
    negative = logsigmoid(-(noise @ inputs.unsqueeze(-1)).squeeze(-1)).sum(-1)  # (B,)
    return -(positive + negative).mean()


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word when sub-sampling frequent words.

    The word2vec formula: with ``f = count / total``, keep with probability
    ``min(1, (sqrt(f / sample) + 1) * sample / f)``. Words rarer than about ``sample`` are
    always kept; "the" loses most of its occurrences. ``sample = 0`` keeps everything.

    Parameters
    ----------
    counts : (V,) array of word counts
    sample : float >= 0

    Returns
    -------
    (V,) float64 array in (0, 1].

    Notes
    -----
    Taught in chapter 4.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any() or counts.sum() == 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts with a positive sum")
    if not sample >= 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    with np.errstate(divide="ignore"):
        keep = (np.sqrt(f / sample) + 1) * sample / f
    return np.minimum(1.0, keep)


class Word2VecScratch(_ScratchWordModel):
    """Word2Vec (skip-gram or CBOW) with negative sampling, written out in torch.

    Parameters
    ----------
    vector_size : int
        D, the dimension of the word vectors.
    window : int
        The largest window: each centre word uses a window drawn uniformly from 1..window
        (as word2vec and gensim do), so near words count more.
    architecture : {"skipgram", "cbow"}
    negative : int
        K, noise words per example.
    min_count : int
        Words rarer than this are dropped from the corpus before training.
    sample : float
        Sub-sampling threshold of frequent words (see :func:`keep_probabilities`); 0 disables.
    learning_rate : float
        For Adam (the word2vec C tool uses plain SGD with a decaying rate; Adam on mini-batches
        is simpler to get right).
    batch_size : int
    seed : int
        Seeds the initial vectors, the sub-sampling, the shuffling and the noise words, so two
        fits with the same seed on the same device give the same vectors. On a GPU that also
        needs deterministic kernels (the backward pass of the embedding lookup otherwise adds
        in a varying order): :meth:`fit` turns them on while it trains and restores the
        previous setting after. Different devices agree only to rounding.
    device : torch.device or str, optional
        Default: :func:`xmr_lite.get_device`.

    Attributes
    ----------
    dimension : int
        The width of the word vectors, ``vector_size`` (gensim's name).
    vocabulary : Vocabulary
        Set by :meth:`fit`.
    input_vectors : (V, D) tensor
        The word vectors ``v`` (what :attr:`vectors` returns).
    output_vectors : (V, D) tensor
        The output ("context") vectors ``u``.
    loss_history : list of float
        The mean loss of each epoch.

    Notes
    -----
    Taught in chapter 4.
    """

    def __init__(
        self,
        vector_size: int = 50,
        window: int = 5,
        architecture: str = "skipgram",
        negative: int = 5,
        min_count: int = 2,
        sample: float = 1e-3,
        learning_rate: float = 0.005,
        batch_size: int = 1024,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        check_choice(architecture, "architecture", ARCHITECTURES)
        self._set_common(vector_size, min_count, learning_rate, batch_size, seed, device)
        self.negative = check_int(negative, "negative")
        self.window = _check_window(window)
        self.architecture = architecture
        self.sample = sample
        self.input_vectors: torch.Tensor | None = None
        self.output_vectors: torch.Tensor | None = None

    def fit(self, sentences: Corpus, epochs: int = 5, progress: bool = True) -> Word2VecScratch:
        """Build the vocabulary and train from new random vectors.

        Parameters
        ----------
        sentences : list of lists of str
        epochs : int >= 1
        progress : bool
            Show a tqdm progress bar with the running loss.

        Returns
        -------
        self
        """
        with deterministic_algorithms():  # the same seed gives the same vectors on a GPU too
            return self._fit(sentences, epochs, progress)

    def _fit(self, sentences: Corpus, epochs: int, progress: bool) -> Word2VecScratch:
        corpus = check_corpus(sentences)
        epochs = check_int(epochs, "epochs")
        self.vocabulary = Vocabulary.from_corpus(corpus, min_count=self.min_count)
        encoded = self.vocabulary.encode_corpus(corpus)
        n_words, dim, device = len(self.vocabulary), self.vector_size, self.device

        rng = np.random.default_rng(self.seed)  # sub-sampling and shuffling
        init = torch.Generator().manual_seed(self.seed)  # initial vectors, the same on every device
        noise_rng = torch.Generator(device=device).manual_seed(self.seed)
        # word2vec's initialisation: small random input vectors, zero output vectors
        v = ((torch.rand(n_words, dim, generator=init) - 0.5) / dim).to(device).requires_grad_()
        u = torch.zeros(n_words, dim, device=device, requires_grad=True)
        noise_distribution = torch.as_tensor(self.vocabulary.counts**0.75, dtype=torch.float32, device=device)
        keep = keep_probabilities(self.vocabulary.counts, self.sample)
        optimizer = torch.optim.Adam([v, u], lr=self.learning_rate)

        def run_epoch() -> float:
            kept = [s[rng.random(len(s)) < keep[s]] for s in encoded]
            if self.architecture == "skipgram":
                pairs = skipgram_pairs(kept, self.window, rng)
                inputs, targets = pairs[:, 0], pairs[:, 1]
            else:
                targets, inputs = cbow_examples(kept, self.window, rng)
            if len(targets) == 0:
                raise ValueError("no training example: the sentences are too short after min_count and sample")
            order = rng.permutation(len(targets))
            inputs_t = torch.as_tensor(inputs[order], device=device)
            targets_t = torch.as_tensor(targets[order], device=device)
            total, batches = 0.0, 0
            for start in range(0, len(targets_t), self.batch_size):
                x, y = inputs_t[start : start + self.batch_size], targets_t[start : start + self.batch_size]
                noise_ids = torch.multinomial(
                    noise_distribution, len(y) * self.negative, replacement=True, generator=noise_rng
                ).view(len(y), self.negative)
                if self.architecture == "skipgram":
                    input_vectors = v[x]  # (B, D)
                else:  # mean of the context vectors, ignoring the -1 padding
                    mask = (x >= 0).unsqueeze(-1).float()  # (B, 2w, 1)
                    input_vectors = (v[x.clamp_min(0)] * mask).sum(1) / mask.sum(1)
                loss = negative_sampling_loss(input_vectors, u[y], u[noise_ids])
                total += _train_step(optimizer, loss)
                batches += 1
            return total / batches

        self._run_epochs(epochs, f"word2vec ({self.architecture})", progress, 3, run_epoch)
        self.input_vectors = v.detach()
        self.output_vectors = u.detach()
        return self

    @property
    def vectors(self) -> KeyedVectors:
        """The trained input vectors as gensim ``KeyedVectors`` (raises before :meth:`fit`)."""
        return self._keyed_vectors(self.input_vectors)


def _stable_hash(text: str) -> int:
    """A string hash that does not change between Python processes (unlike ``hash``)."""
    return zlib.crc32(text.encode("utf-8"))


def train_gensim_word2vec(
    sentences: Corpus,
    *,
    vector_size: int = 50,
    window: int = 5,
    architecture: str = "skipgram",
    negative: int = 5,
    min_count: int = 2,
    sample: float = 1e-3,
    epochs: int = 5,
    seed: int = 0,
) -> Word2Vec:
    """Train gensim's Word2Vec so that the same seed gives the same vectors.

    Determinism needs three things, all set here:

    * ``workers=1``: with several threads the order of updates depends on scheduling, so
      the vectors differ from run to run even with a fixed seed (gensim's FAQ says so).
    * ``seed``: seeds the initial vectors and the random choices during training.
    * A hash that is stable across processes. gensim's documentation asks for the
      ``PYTHONHASHSEED`` environment variable to be fixed *before* Python starts, because old
      versions seeded each word's initial vector with Python's salted ``hash``. gensim 4
      initialises from a seeded numpy generator instead; passing a CRC32 ``hashfxn`` makes
      the result independent of ``PYTHONHASHSEED`` with any gensim version. (Setting
      ``os.environ["PYTHONHASHSEED"]`` inside a running kernel has no effect on that kernel.)

    Parameters
    ----------
    sentences : list of lists of str
    vector_size, window, negative, min_count, sample, epochs : as gensim's ``Word2Vec``
    architecture : {"skipgram", "cbow"}
        gensim's ``sg=1`` or ``sg=0``.
    seed : int

    Returns
    -------
    gensim.models.Word2Vec
        Its vectors are ``model.wv`` (``KeyedVectors``).

    Notes
    -----
    Taught in chapter 4. Single-threaded training is slower; for a big corpus, use more
    workers and accept small run-to-run differences.
    """
    corpus = check_corpus(sentences)
    check_choice(architecture, "architecture", ARCHITECTURES)
    return Word2Vec(
        sentences=corpus,
        vector_size=vector_size,
        window=_check_window(window),
        min_count=min_count,
        sg=1 if architecture == "skipgram" else 0,
        hs=0,
        negative=negative,
        sample=sample,
        epochs=epochs,
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
    )


__all__ = [
    "ARCHITECTURES",
    "Word2VecScratch",
    "cbow_examples",
    "keep_probabilities",
    "negative_sampling_loss",
    "skipgram_pairs",
    "train_gensim_word2vec",
]
