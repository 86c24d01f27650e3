"""Building blocks of recommenders over user-item interactions (taught in chapter 13).

* :func:`bpr_loss`: Bayesian personalised ranking, a clicked item above an unclicked one
  (Rendle et al. 2009).
* :func:`normalized_adjacency` and :class:`LightGCNPropagation`: the symmetrically normalised
  user-item graph and LightGCN's parameter-free propagation over it (He et al. 2020).
* :func:`sampling_log_probability` and :func:`logq_corrected_softmax_loss`: an in-batch
  softmax whose logits are corrected by the log of each item's chance of being sampled as a
  negative (Yi et al. 2019), so popular items are not over-punished.
* :func:`exclude_seen` and :func:`catalogue_coverage`: the bookkeeping of evaluating a
  recommender (no re-recommending what a user already has; how much of the catalogue is shown).

Every function takes torch tensors, keeps their device and checks its input.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention

from xmr_lite._checks import check_finite, check_int, check_ndim, check_number, same_shape


def _float_tensor(x: object, name: str, shape_hint: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {shape_hint}, got {type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {x.dtype}")
    check_finite(x, name)
    return x


def _ids(x: object, name: str, n: int, device: torch.device | None = None) -> torch.Tensor:
    """Check a non-empty (M,) integer tensor of ids in [0, n)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (M,), got {type(x).__name__}")
    check_ndim(x, name, 1, "(M,)")
    if x.is_floating_point() or x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"{name} must hold integer ids, got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"{name} is on {x.device} but the other input is on {device}")
    low, high = int(x.min()), int(x.max())
    if low < 0 or high >= n:
        raise ValueError(f"{name} holds unknown ids: they must lie in [0, {n}), got values in [{low}, {high}]")
    return x.long()


def _pair_of_ids(
    users: object, items: object, n_users: int, n_items: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    u = _ids(users, "users", n_users, device)
    i = _ids(items, "items", n_items, u.device)
    if u.shape != i.shape:
        raise ValueError(f"users has shape {tuple(u.shape)} but items has shape {tuple(i.shape)}; they must match")
    return u, i


def bpr_loss(positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: ``mean(-log sigmoid(positive - negative))``.

    For each (user, clicked item, unclicked item) triple the model should score the clicked
    item higher; the loss is the negative log-likelihood of that ordering under a logistic
    model (Rendle et al. 2009), computed as ``softplus(negative - positive)`` so it never
    overflows.

    Parameters
    ----------
    positive_scores : (B,) or (B, K) float tensor
        Scores of the clicked items.
    negative_scores : float tensor of the same shape, on the same device
        Scores of the sampled unclicked items (``K`` negatives per positive, if 2-D).

    Returns
    -------
    0-d tensor on the inputs' device; ``log 2`` when the two scores are equal.

    Notes
    -----
    Taught in chapter 13, where it trains matrix factorisation and LightGCN.
    """
    pos = _float_tensor(positive_scores, "positive_scores", "(B,)")
    neg = _float_tensor(negative_scores, "negative_scores", "(B,)")
    same_shape(pos, neg, "positive_scores", "negative_scores")
    return F.softplus(neg - pos).mean()


def normalized_adjacency(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int) -> torch.Tensor:
    """The user-item graph as a symmetrically normalised sparse matrix ``D^-1/2 A D^-1/2``.

    Nodes ``0 .. n_users - 1`` are the users and ``n_users .. n_users + n_items - 1`` the
    items. ``A`` has a 1 between user ``u`` and item ``i`` if they interacted (repeated pairs
    count once), and ``D`` is the diagonal of node degrees. A node without edges keeps an
    empty row.

    Parameters
    ----------
    users, items : (M,) integer tensors on one device
        The interactions: ``users[m]`` clicked ``items[m]``.
    n_users, n_items : int
        The number of users and of items (ids must be below them).

    Returns
    -------
    (n_users + n_items, n_users + n_items) sparse COO float32 tensor, coalesced, on the
    inputs' device.

    Notes
    -----
    Taught in chapter 13 (LightGCN). Its eigenvalues lie in [-1, 1], so repeated
    propagation neither explodes nor needs a learned weight.
    """
    n_users = check_int(n_users, "n_users")
    n_items = check_int(n_items, "n_items")
    u, i = _pair_of_ids(users, items, n_users, n_items)
    n = n_users + n_items
    pairs = torch.unique(u * n_items + i)
    u, i = pairs // n_items, pairs % n_items + n_users
    rows, cols = torch.cat([u, i]), torch.cat([i, u])
    degree = torch.bincount(rows, minlength=n).to(torch.float32)
    values = degree[rows].rsqrt() * degree[cols].rsqrt()
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n), check_invariants=False).coalesce()


class LightGCNPropagation(nn.Module):
    """LightGCN's propagation: ``mean(E, Â E, Â² E, ..., Â^K E)`` over a normalised graph.

    LightGCN (He et al. 2020) keeps only the neighbourhood aggregation of a graph convolution:
    no weight matrix, no non-linearity. A user's vector becomes an average of its items',
    their users', and so on, and the final embedding is the mean over the ``K + 1`` layers.
    The module has no parameters; the embeddings ``E`` it propagates are the trained ones.

    Parameters
    ----------
    n_layers : int, >= 0
        ``K``, the number of propagation steps (0 returns ``E`` unchanged).

    Notes
    -----
    Taught in chapter 13, where it is compared with matrix factorisation at the same budget.
    """

    def __init__(self, n_layers: int = 2) -> None:
        super().__init__()
        self.n_layers = check_int(n_layers, "n_layers", minimum=0)

    def forward(self, adjacency: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Propagate (N, D) ``embeddings`` over the (N, N) ``adjacency``; return (N, D).

        ``adjacency`` is usually :func:`normalized_adjacency`'s sparse matrix; a dense one works too.
        """
        e = _float_tensor(embeddings, "embeddings", "(N, D)")
        check_ndim(e, "embeddings", 2, "(N, D)")
        if not isinstance(adjacency, torch.Tensor) or adjacency.ndim != 2:
            raise ValueError("adjacency must be a 2-D (N, N) torch.Tensor (sparse or dense)")
        if tuple(adjacency.shape) != (e.shape[0], e.shape[0]):
            raise ValueError(
                f"adjacency has shape {tuple(adjacency.shape)} but embeddings has {e.shape[0]} rows; "
                f"expected ({e.shape[0]}, {e.shape[0]})"
            )
        if adjacency.device != e.device:
            raise ValueError(f"adjacency is on {adjacency.device} but embeddings is on {e.device}")
        adjacency = adjacency.to(e.dtype)
        layer, total = e, e
        for _ in range(self.n_layers):
            layer = torch.sparse.mm(adjacency, layer) if adjacency.is_sparse else adjacency @ layer
            total = total + layer
        return total / (self.n_layers + 1)

    def extra_repr(self) -> str:
        return f"n_layers={self.n_layers}"


def sampling_log_probability(items: torch.Tensor, n_items: int, smoothing: float = 1.0) -> torch.Tensor:
    """Log of each item's chance of being drawn from the interaction stream, ``log q_j``.

    An item's chance of landing in a training batch, and so of serving as another user's
    in-batch negative, is its share of the interactions. With add-``smoothing`` counts::

        q_j = (count_j + smoothing) / (M + smoothing * n_items)

    Parameters
    ----------
    items : (M,) integer tensor
        The item of every training interaction.
    n_items : int
        The catalogue size (ids must be below it).
    smoothing : float, > 0
        Added to every count, so an item never seen has a finite log-probability.

    Returns
    -------
    (n_items,) float32 tensor on the device of ``items``; ``exp`` of it sums to 1.

    Notes
    -----
    Taught in chapter 13, with :func:`logq_corrected_softmax_loss`.
    """
    n_items = check_int(n_items, "n_items")
    i = _ids(items, "items", n_items)
    smoothing = check_number(smoothing, "smoothing", minimum=0, strict=True)
    counts = torch.bincount(i, minlength=n_items).to(torch.float32) + smoothing
    return counts.log() - counts.sum().log()


def logq_corrected_softmax_loss(
    users: torch.Tensor,
    items: torch.Tensor,
    log_q: torch.Tensor | None = None,
    temperature: float = 0.1,
) -> torch.Tensor:
    """In-batch softmax over users and their clicked items, with the logQ correction.

    Row ``b`` of ``users`` clicked row ``b`` of ``items``; every other item in the batch is a
    negative for it. The logits are cosine similarities over ``temperature``, and column
    ``j`` is corrected by ``- log_q[j]`` (Yi et al. 2019)::

        logits[b, j] = cos(users[b], items[j]) / temperature - log_q[j]

    Popular items appear in many batches and so are pushed down as negatives far more often
    than a full softmax would; subtracting the log of their sampling probability undoes that
    bias. With ``log_q=None`` (or any constant ``log_q``) this is the one-directional
    :func:`xmr_lite.losses.info_nce`.

    Parameters
    ----------
    users : (B, D) float tensor
        The user tower's outputs.
    items : (B, D) float tensor on the same device
        The item tower's outputs for the clicked items.
    log_q : (B,) float tensor, optional
        ``log q`` of each row's item (e.g. :func:`sampling_log_probability` indexed by the
        batch's item ids).
    temperature : float, > 0

    Returns
    -------
    0-d tensor on the device of ``users``.

    Notes
    -----
    Taught in chapter 13, which measures the correction's effect on head and tail items.
    """
    u = _float_tensor(users, "users", "(B, D)")
    v = _float_tensor(items, "items", "(B, D)")
    check_ndim(u, "users", 2, "(B, D)")
    if v.shape != u.shape:
        raise ValueError(f"items has shape {tuple(v.shape)} but users has shape {tuple(u.shape)}; they must match")
    if v.device != u.device:
        raise ValueError(f"items is on {v.device} but users is on {u.device}")
    temperature = check_number(temperature, "temperature", minimum=0, strict=True)
    logits = F.normalize(u, dim=1) @ F.normalize(v, dim=1).T / temperature
    if log_q is not None:
        q = _float_tensor(log_q, "log_q", "(B,)")
        if tuple(q.shape) != (u.shape[0],):
            raise ValueError(f"log_q must have shape ({u.shape[0]},), got {tuple(q.shape)}")
        if q.device != u.device:
            raise ValueError(f"log_q is on {q.device} but users is on {u.device}")
        logits = logits - q.to(logits.dtype)[None, :]
    return F.cross_entropy(logits, torch.arange(u.shape[0], device=u.device))


def exclude_seen(scores: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Give every (user, item) pair already interacted with the lowest score, so it ranks last.

    A recommender is judged on what it adds: items a user already has are taken out of the
    ranking before Recall@K is measured.

    Parameters
    ----------
    scores : (U, N) float tensor
        Row ``u`` scores every item for user ``u``.
    users, items : (M,) integer tensors on the device of ``scores``
        The interactions to take out (ids below U and N).

    Returns
    -------
    A new (U, N) tensor: ``scores`` with those entries set to the dtype's lowest finite value
    (finite, so the metrics of :mod:`xmr_lite.metrics` accept it).

    Notes
    -----
    Used in chapter 13.
    """
    s = _float_tensor(scores, "scores", "(U, N)")
    check_ndim(s, "scores", 2, "(U, N)")
    u, i = _pair_of_ids(users, items, s.shape[0], s.shape[1], s.device)
    out = s.clone()
    out[u, i] = torch.finfo(s.dtype).min
    return out


def catalogue_coverage(top_items: torch.Tensor, n_items: int) -> float:
    """The share of the catalogue that appears in at least one user's top-K list.

    Parameters
    ----------
    top_items : (U, K) integer tensor
        Each user's recommended item ids.
    n_items : int
        The catalogue size.

    Returns
    -------
    float in (0, 1]. A popularity recommender shows everyone the same few items and covers
    little; a personal one covers more.

    Notes
    -----
    Used in chapter 13.
    """
    n_items = check_int(n_items, "n_items")
    if not isinstance(top_items, torch.Tensor):
        raise ValueError(f"top_items must be a torch.Tensor of shape (U, K), got {type(top_items).__name__}")
    check_ndim(top_items, "top_items", 2, "(U, K)")
    ids = _ids(top_items.reshape(-1), "top_items", n_items)
    return float(torch.unique(ids).numel() / n_items)


__all__ = [
    "LightGCNPropagation",
    "bpr_loss",
    "catalogue_coverage",
    "exclude_seen",
    "logq_corrected_softmax_loss",
    "normalized_adjacency",
    "sampling_log_probability",
]
