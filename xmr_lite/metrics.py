"""Ranking metrics for retrieval (taught in chapter 1).

Every metric reads a score matrix ``scores`` of shape (Q, N), where a higher score means a
better match, and a relevance matrix ``relevance`` of the same shape: boolean, or graded
(non-negative numbers, 0 meaning not relevant). Row ``q`` ranks the N gallery items for query
``q``.

Conventions
-----------
* **Ties** in ``scores`` are broken by gallery index: of two items with the same score, the
  one with the smaller column index is ranked first. The ranking is therefore deterministic.
* **Queries with no relevant item** cannot be scored. They are excluded from every mean and a
  ``UserWarning`` says how many were excluded. :func:`average_precision` returns NaN for them.
* **Hit rate and recall differ.** ``hit_rate_at_k`` is the "R@K" of CLIP-style papers: 1 if at
  least one relevant item is in the top K. ``recall_at_k`` is the fraction of *all* relevant
  items found in the top K. With one relevant item per query they coincide; with many
  (class-level relevance) recall is much lower.
* Graded relevance counts as relevant where it is > 0; only :func:`ndcg_at_k` uses the grades.

Torch tensors may live on any device; numpy arrays are accepted too. Means come back as Python
floats, per-query values as the input's array type. Counting is done in float64; on Apple's
MPS, which has no float64, the ranking is computed on the CPU and per-query values go back to
the MPS device as float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch

from xmr_lite import distances
from xmr_lite._checks import ArrayLike, as_matrix, as_tensor, check_finite, check_k, check_ndim, to_output


def relevance_from_labels(query_labels: ArrayLike, gallery_labels: ArrayLike) -> ArrayLike:
    """Class-level relevance: item ``n`` is relevant to query ``q`` when their labels are equal.

    Parameters
    ----------
    query_labels : (Q,) integer tensor or array
    gallery_labels : (N,) integer tensor or array

    Returns
    -------
    (Q, N) boolean tensor (on the labels' device) or array.
    """
    q, q_np = as_tensor(query_labels, "query_labels")
    g, g_np = as_tensor(gallery_labels, "gallery_labels")
    for t, name in ((q, "query_labels"), (g, "gallery_labels")):
        check_ndim(t, name, 1, "(Q,)" if name == "query_labels" else "(N,)")
        check_finite(t, name)
    if q_np != g_np:
        raise ValueError("query_labels and gallery_labels must both be numpy arrays or both be tensors")
    if q.device != g.device:
        raise ValueError(f"gallery_labels is on {g.device} but query_labels is on {q.device}")
    return to_output(q[:, None] == g[None, :], q_np)


def _has_float64(device: torch.device) -> bool:
    """Whether ``device`` computes in float64 (Apple's MPS does not)."""
    return device.type != "mps"


class _Ranked:
    """The relevance of each query's gallery, re-ordered from best to worst score."""

    def __init__(self, scores: ArrayLike, relevance: ArrayLike) -> None:
        s, s_np = as_tensor(scores, "scores")
        r, r_np = as_tensor(relevance, "relevance")
        check_ndim(s, "scores", 2, "(Q, N)")
        check_ndim(r, "relevance", 2, "(Q, N)")
        if s.shape != r.shape:
            raise ValueError(f"relevance has shape {tuple(r.shape)} but scores has shape {tuple(s.shape)}")
        if s_np != r_np:
            raise ValueError("scores and relevance must both be numpy arrays or both be tensors")
        if s.device != r.device:
            raise ValueError(f"relevance is on {r.device} but scores is on {s.device}")
        self.device = s.device
        self.moved_to_cpu = not _has_float64(s.device)
        if self.moved_to_cpu:  # Apple's MPS has no float64: rank and count on the CPU instead
            s, r = s.cpu(), r.cpu()
        if not s.is_floating_point():
            s = s.double()
        check_finite(s, "scores")
        r = r.to(torch.float64) if r.dtype != torch.bool else r
        check_finite(r, "relevance")
        if r.dtype != torch.bool and bool((r < 0).any()):
            raise ValueError("relevance must be boolean or non-negative")
        order = torch.sort(s, dim=1, descending=True, stable=True).indices
        self.from_numpy = s_np
        self.graded = r.gather(1, order).to(torch.float64)  # (Q, N), best first
        self.relevant = self.graded > 0
        self.n_relevant = self.relevant.sum(1)  # (Q,)
        self.valid = self.n_relevant > 0
        self.n = s.shape[1]
        self.warned = False

    def warn_excluded(self) -> None:
        """Warn (once per ranking) about queries without a relevant item."""
        excluded = int((~self.valid).sum())
        if excluded == self.valid.numel():
            raise ValueError("relevance has no relevant item for any query")
        if excluded and not self.warned:
            self.warned = True
            warnings.warn(
                f"{excluded} of {self.valid.numel()} queries have no relevant item and were excluded",
                UserWarning,
                stacklevel=3,
            )

    def mean(self, per_query: torch.Tensor) -> float:
        self.warn_excluded()
        return float(per_query[self.valid].double().mean())


def hit_rate_at_k(scores: ArrayLike, relevance: ArrayLike, k: int) -> float:
    """The CLIP-style "R@K": the fraction of queries with a relevant item in their top ``k``.

    Parameters
    ----------
    scores : (Q, N) float tensor or array, higher is better
    relevance : (Q, N) boolean or graded tensor or array
    k : int, 1 <= k <= N

    Returns
    -------
    float in [0, 1].
    """
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_hits(ranked, check_k(k, ranked.n)))


def _hits(ranked: _Ranked, k: int) -> torch.Tensor:
    return ranked.relevant[:, :k].any(1).double()


def recall_at_k(scores: ArrayLike, relevance: ArrayLike, k: int) -> float:
    """True recall: the fraction of each query's relevant items found in its top ``k``, averaged.

    Not the same number as :func:`hit_rate_at_k` when a query has several relevant items.
    Parameters as in :func:`hit_rate_at_k`.
    """
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_recalls(ranked, check_k(k, ranked.n)))


def _recalls(ranked: _Ranked, k: int) -> torch.Tensor:
    return ranked.relevant[:, :k].sum(1).double() / ranked.n_relevant.clamp_min(1)


def precision_at_k(scores: ArrayLike, relevance: ArrayLike, k: int) -> float:
    """The fraction of the top ``k`` items that are relevant, averaged over queries.

    Parameters as in :func:`hit_rate_at_k`.
    """
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_precisions(ranked, check_k(k, ranked.n)))


def _precisions(ranked: _Ranked, k: int) -> torch.Tensor:
    return ranked.relevant[:, :k].sum(1).double() / k


def _average_precision(ranked: _Ranked) -> torch.Tensor:
    rel = ranked.relevant.double()
    positions = torch.arange(1, ranked.n + 1, device=rel.device, dtype=torch.float64)
    precision_at_each = rel.cumsum(1) / positions
    ap = (precision_at_each * rel).sum(1) / ranked.n_relevant.clamp_min(1)
    return torch.where(ranked.valid, ap, torch.full_like(ap, float("nan")))


def average_precision(scores: ArrayLike, relevance: ArrayLike) -> ArrayLike:
    """Average precision of each query: the mean of precision@rank over its relevant items.

    Parameters
    ----------
    scores : (Q, N) float tensor or array, higher is better
    relevance : (Q, N) boolean or graded tensor or array

    Returns
    -------
    (Q,) float64 tensor or array, each in [0, 1]; NaN for a query with no relevant item.
    (float32 on Apple's MPS, which has no float64.)
    """
    ranked = _Ranked(scores, relevance)
    ranked.warn_excluded()
    ap = _average_precision(ranked)
    if ranked.moved_to_cpu:  # back to the input's device, in the widest dtype it has
        ap = ap.to(ranked.device, torch.float32)
    return to_output(ap, ranked.from_numpy)


def mean_average_precision(scores: ArrayLike, relevance: ArrayLike) -> float:
    """mAP: :func:`average_precision` averaged over the queries that have a relevant item."""
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_average_precision(ranked))


def _first_relevant_rank(ranked: _Ranked) -> torch.Tensor:
    """1-based rank of the first relevant item of each query (N + 1 where there is none)."""
    positions = torch.arange(1, ranked.n + 1, device=ranked.relevant.device)
    masked = torch.where(ranked.relevant, positions, torch.full_like(positions, ranked.n + 1))
    return masked.min(1).values


def mrr(scores: ArrayLike, relevance: ArrayLike) -> float:
    """Mean reciprocal rank of the first relevant item."""
    ranked = _Ranked(scores, relevance)
    return ranked.mean(1.0 / _first_relevant_rank(ranked).double())


def median_rank(scores: ArrayLike, relevance: ArrayLike) -> float:
    """Median over queries of the 1-based rank of the first relevant item (lower is better).

    With an even number of queries this is the mean of the two middle ranks.
    """
    ranked = _Ranked(scores, relevance)
    ranked.warn_excluded()
    return _median_rank(ranked)


def _median_rank(ranked: _Ranked) -> float:
    return float(torch.quantile(_first_relevant_rank(ranked)[ranked.valid].double(), 0.5))


def mean_rank(scores: ArrayLike, relevance: ArrayLike) -> float:
    """Mean over queries of the 1-based rank of the first relevant item (lower is better)."""
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_first_relevant_rank(ranked).double())


def ndcg_at_k(scores: ArrayLike, relevance: ArrayLike, k: int) -> float:
    """Normalised discounted cumulative gain at ``k``, with linear gains (as scikit-learn).

    ``DCG@k = sum_{i<=k} rel_i / log2(i + 1)``, divided by the DCG of the ideal ordering.
    Parameters as in :func:`hit_rate_at_k`; graded relevance is used as the gain.
    """
    ranked = _Ranked(scores, relevance)
    return ranked.mean(_ndcgs(ranked, check_k(k, ranked.n)))


def _ndcgs(ranked: _Ranked, k: int) -> torch.Tensor:
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, device=ranked.graded.device, dtype=torch.float64))
    dcg = (ranked.graded[:, :k] * discount).sum(1)
    ideal = torch.sort(ranked.graded, dim=1, descending=True).values[:, :k]
    idcg = (ideal * discount).sum(1)
    return dcg / idcg.clamp_min(torch.finfo(torch.float64).tiny)


def evaluate(scores: ArrayLike, relevance: ArrayLike, ks: Iterable[int] = (1, 5, 10)) -> dict[str, float]:
    """Every metric at once, as a dict.

    Keys are ``R@k`` (hit rate), ``recall@k``, ``P@k`` and ``nDCG@k`` for each ``k`` in ``ks``,
    then ``mAP``, ``MRR``, ``MedR`` and ``MeanR``. Values of ``k`` larger than N are skipped.

    Parameters
    ----------
    scores : (Q, N) float tensor or array, higher is better
    relevance : (Q, N) boolean or graded tensor or array
    ks : iterable of int
    """
    ranked = _Ranked(scores, relevance)
    ks = [check_k(k, max(ranked.n, k) if isinstance(k, int) else ranked.n, "ks") for k in ks]
    result: dict[str, float] = {}
    for k in ks:
        if k > ranked.n:
            continue
        result[f"R@{k}"] = ranked.mean(_hits(ranked, k))
        result[f"recall@{k}"] = ranked.mean(_recalls(ranked, k))
        result[f"P@{k}"] = ranked.mean(_precisions(ranked, k))
        result[f"nDCG@{k}"] = ranked.mean(_ndcgs(ranked, k))
    first = _first_relevant_rank(ranked).double()
    result["mAP"] = ranked.mean(_average_precision(ranked))
    result["MRR"] = ranked.mean(1.0 / first)
    result["MedR"] = _median_rank(ranked)
    result["MeanR"] = ranked.mean(first)
    return result


def leave_one_out_retrieval(
    embeddings: ArrayLike,
    labels: ArrayLike,
    metric: str = "cosine",
    ks: Iterable[int] = (1, 5, 10),
) -> dict[str, float]:
    """Retrieval within one split: each item queries all the *other* items; same label = relevant.

    The item itself is removed from its own gallery (otherwise every query would find itself
    at rank 1), so R@1 is the leave-one-out accuracy of a nearest-neighbour classifier.
    Used in chapters 5 and 8 to compare feature sets without a separate query split.

    Parameters
    ----------
    embeddings : (N, D) float tensor or array
        One row per item, N >= 2.
    labels : (N,) integer tensor or array
        Class labels; moved to the embeddings' device.
    metric : str
        A name of :data:`xmr_lite.distances.METRICS` that needs no extra argument
        (``"cosine"`` by default); distances are negated so that higher is closer.
    ks : iterable of int
        As in :func:`evaluate`; values of ``k`` larger than N - 1 are skipped.

    Returns
    -------
    dict of str to float
        What :func:`evaluate` returns for the (N, N - 1) scores with the diagonal removed.
    """
    metric = distances.canonical_metric(metric)
    if metric == "mahalanobis":
        raise ValueError('metric "mahalanobis" needs a precision matrix: compute the scores with distances.pairwise')
    x, _ = as_matrix(embeddings, "embeddings", "(N, D)")
    y, _ = as_tensor(labels, "labels")
    check_ndim(y, "labels", 1, "(N,)")
    check_finite(y, "labels")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"labels has {y.shape[0]} entries but embeddings has {n} rows")
    if n < 2:
        raise ValueError(f"embeddings needs at least 2 rows to leave one out, got {n}")
    y = y.to(x.device)
    scores = distances.pairwise(x, x, metric)
    if not distances.is_similarity(metric):
        scores = -scores
    relevance = y[:, None] == y[None, :]
    others = ~torch.eye(n, dtype=torch.bool, device=x.device)
    return evaluate(scores[others].view(n, n - 1), relevance[others].view(n, n - 1), ks)


__all__ = [
    "average_precision",
    "evaluate",
    "hit_rate_at_k",
    "leave_one_out_retrieval",
    "mean_average_precision",
    "mean_rank",
    "median_rank",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "relevance_from_labels",
]
