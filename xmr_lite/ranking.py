"""The second stage of a search engine: fusing ranked lists, diversity and learning to rank (chapter 11).

A first stage (an index of chapter 10) recalls a few hundred candidates per query; this module
orders them.

* **Fusing ranked lists** from several modalities or systems: :func:`reciprocal_rank_fusion`
  reads only ranks; :func:`comb_sum` and :func:`comb_mnz` add scores after a named
  normalisation (``"none"``, ``"minmax"``, ``"zscore"``, ``"softmax"``).
* **Diversity**: :func:`mmr`, maximal marginal relevance.
* **Learning to rank** on padded candidate lists: :func:`ranknet_loss`, :func:`listnet_loss`
  and :func:`lambdarank_loss` (torch, batched over queries, with a padding mask) and a small
  :class:`Reranker` that trains with :func:`xmr_lite.train.fit`.

Conventions
-----------
* A batch of candidate lists is a (Q, L) matrix: row ``q`` holds the L candidates of query
  ``q``. Lists of different lengths are padded to one length with :func:`pad_lists`, and a
  boolean ``mask`` of the same shape is True for real candidates and False for padding.
  Padding takes no part in any loss, fusion or selection. A query whose row is all padding
  is an error.
* ``relevance`` is graded: finite, non-negative numbers, 0 meaning not relevant (booleans
  work too). The gains of the nDCG inside :func:`lambdarank_loss` are linear, as in
  :func:`xmr_lite.metrics.ndcg_at_k`.
* Higher scores are better everywhere, and ties are broken by the smaller column index, as in
  :mod:`xmr_lite.metrics`.
* Tensors keep their device; the fusions return numpy for numpy input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xmr_lite import train
from xmr_lite._checks import (
    ArrayLike,
    as_float,
    as_tensor,
    check_choice,
    check_finite,
    check_int,
    check_k,
    check_ndim,
    check_number,
    to_output,
)
from xmr_lite._runtime import get_device

NORMALISATIONS = ("none", "minmax", "zscore", "softmax")
"""Score normalisations of :func:`normalise_scores`, :func:`comb_sum` and :func:`comb_mnz`."""

LOSSES = ("pointwise", "ranknet", "listnet", "lambdarank")
"""The losses a :class:`Reranker` can train with."""


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def pad_lists(lists: Sequence[ArrayLike], fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad 1-D lists of different lengths into one (Q, L) matrix and its mask.

    Parameters
    ----------
    lists : sequence of Q 1-D tensors or arrays
        One list per query, of lengths ``L_q >= 1``; L is the longest.
    fill : float
        The value written into the padding.

    Returns
    -------
    padded : (Q, L) tensor
        On the device of the first list, in the dtype the lists share.
    mask : (Q, L) bool tensor
        True where ``padded`` holds a real entry.
    """
    if isinstance(lists, (torch.Tensor, np.ndarray)) or not isinstance(lists, Sequence) or len(lists) == 0:
        raise ValueError("lists must be a non-empty sequence of 1-D tensors or arrays")
    rows = []
    for q, item in enumerate(lists):
        t, from_numpy = as_tensor(item, f"lists[{q}]")
        check_ndim(t, f"lists[{q}]", 1, "(L,)")
        rows.append(as_float(t, from_numpy))
    device = rows[0].device
    for q, t in enumerate(rows):
        if t.device != device:
            raise ValueError(f"lists[{q}] is on {t.device} but lists[0] is on {device}")
    dtype = rows[0].dtype
    for t in rows[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    length = max(t.numel() for t in rows)
    padded = torch.full((len(rows), length), float(fill), dtype=dtype, device=device)
    mask = torch.zeros((len(rows), length), dtype=torch.bool, device=device)
    for q, t in enumerate(rows):
        padded[q, : t.numel()] = t
        mask[q, : t.numel()] = True
    return padded, mask


def _as_lists(x: object, name: str) -> tuple[torch.Tensor, bool]:
    """A (Q, L) float matrix; a sequence of equal-length 1-D lists is stacked, unequal ones refused."""
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"{name} must not be empty")
        lengths = {len(item) for item in x}
        if len(lengths) > 1:
            raise ValueError(
                f"{name} holds lists of different lengths {sorted(lengths)}: pad them with "
                "xmr_lite.ranking.pad_lists and pass the mask it returns"
            )
        padded, _ = pad_lists(x)
        return padded, False
    t, from_numpy = as_tensor(x, name)
    check_ndim(t, name, 2, "(Q, L)")
    t = as_float(t, from_numpy)
    check_finite(t, name)
    return t, from_numpy


def _check_mask(mask: object, shape: torch.Size, device: torch.device, name: str = "mask") -> torch.Tensor:
    """A (Q, L) boolean mask with at least one True per row (all True when ``mask`` is None)."""
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    m, _ = as_tensor(mask, name)
    if m.dtype != torch.bool:
        raise ValueError(f"{name} must be boolean, got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"{name} has shape {tuple(m.shape)} but the lists have shape {tuple(shape)}")
    m = m.to(device)
    empty = (~m.any(1)).nonzero().flatten()
    if empty.numel():
        raise ValueError(f"{name} leaves query {int(empty[0])} with no candidate (an all-masked query)")
    return m


def _check_relevance(relevance: object, shape: torch.Size, device: torch.device) -> torch.Tensor:
    """Graded relevance of shape ``shape``: finite and non-negative."""
    r, _ = _as_lists(relevance, "relevance")
    if r.shape != shape:
        raise ValueError(f"relevance has shape {tuple(r.shape)} but scores has shape {tuple(shape)}")
    if bool((r < 0).any()):
        raise ValueError("relevance must be non-negative (graded, 0 = not relevant)")
    return r.to(device)


def _loss_inputs(scores: object, relevance: object, mask: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    s, _ = _as_lists(scores, "scores")
    r = _check_relevance(relevance, s.shape, s.device).to(s.dtype)
    m = _check_mask(mask, s.shape, s.device)
    return s, r, m


# --------------------------------------------------------------------------------------------
# fusing ranked lists
# --------------------------------------------------------------------------------------------


def _fusion_inputs(
    scores: Sequence[ArrayLike], masks: Sequence[ArrayLike] | None
) -> tuple[list[torch.Tensor], list[torch.Tensor], bool]:
    if isinstance(scores, (torch.Tensor, np.ndarray)) or not isinstance(scores, Sequence) or len(scores) == 0:
        raise ValueError("scores must be a non-empty sequence of (Q, N) score matrices, one per list")
    mats, kinds = [], set()
    for i, item in enumerate(scores):
        t, from_numpy = _as_lists(item, f"scores[{i}]")
        kinds.add(from_numpy)
        if mats and t.shape != mats[0].shape:
            raise ValueError(f"scores[{i}] has shape {tuple(t.shape)} but scores[0] has shape {tuple(mats[0].shape)}")
        if mats and t.device != mats[0].device:
            raise ValueError(f"scores[{i}] is on {t.device} but scores[0] is on {mats[0].device}")
        mats.append(t)
    if len(kinds) > 1:
        raise ValueError("scores must be all numpy arrays or all tensors")
    dtype = mats[0].dtype
    for t in mats[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    mats = [t.to(dtype) for t in mats]
    if masks is None:
        ms = [torch.ones(mats[0].shape, dtype=torch.bool, device=mats[0].device) for _ in mats]
    else:
        if not isinstance(masks, Sequence) or len(masks) != len(mats):
            raise ValueError(f"masks must be a sequence of {len(mats)} boolean matrices, one per list")
        ms = []
        for i, m in enumerate(masks):
            t, _ = as_tensor(m, f"masks[{i}]")
            if t.dtype != torch.bool or t.shape != mats[0].shape:
                raise ValueError(f"masks[{i}] must be a boolean matrix of shape {tuple(mats[0].shape)}")
            ms.append(t.to(mats[0].device))
    return mats, ms, kinds.pop()


def _ranks(scores: torch.Tensor) -> torch.Tensor:
    """1-based rank of every entry in its row (ties broken by the smaller column index)."""
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(1, scores.shape[1] + 1, device=scores.device).expand_as(order)
    return ranks.scatter_(1, order, positions)


def reciprocal_rank_fusion(
    scores: Sequence[ArrayLike], k: float = 60.0, masks: Sequence[ArrayLike] | None = None
) -> ArrayLike:
    """Reciprocal rank fusion (Cormack et al., 2009): ``sum_m 1 / (k + rank_m(item))``.

    Only ranks are used, so the lists need no common score scale.

    Parameters
    ----------
    scores : sequence of M (Q, N) float tensors or arrays
        One score matrix per ranked list (modality, system) over the same N items; higher is
        better. Rank 1 is the highest score of a row.
    k : float, > 0
        The damping constant; 60 in the paper.
    masks : sequence of M (Q, N) bool tensors or arrays, optional
        True where the item is in that list (for example in its top 100). An item missing from
        a list gains nothing from it, and ranks count only the items in the list.

    Returns
    -------
    (Q, N) float tensor or array
        The fused scores, higher is better; 0 for an item in no list.

    Notes
    -----
    Taught in chapter 11.
    """
    k = check_number(k, "k", 0.0, strict=True)
    mats, ms, from_numpy = _fusion_inputs(scores, masks)
    fused = torch.zeros_like(mats[0])
    for s, m in zip(mats, ms, strict=True):
        lowest = s.min() - 1.0
        ranks = _ranks(torch.where(m, s, lowest))  # items outside the list rank after those in it
        fused = fused + torch.where(m, 1.0 / (k + ranks.to(s.dtype)), torch.zeros_like(s))
    return to_output(fused, from_numpy)


def normalise_scores(scores: ArrayLike, normalisation: str = "minmax", mask: ArrayLike | None = None) -> ArrayLike:
    """Put one list's scores on a common scale, row by row, before they are added.

    Parameters
    ----------
    scores : (Q, N) float tensor or array
    normalisation : {"none", "minmax", "zscore", "softmax"}
        ``"none"`` keeps the raw scores (a raw cosine and a probability then add on different
        scales); ``"minmax"`` maps each row's items to [0, 1] (the best to 1, the worst to 0);
        ``"zscore"`` subtracts the row's mean and divides by its standard deviation;
        ``"softmax"`` turns each row into probabilities that sum to 1.
    mask : (Q, N) bool tensor or array, optional
        The items in the list; statistics use them only and the others get 0.

    Returns
    -------
    (Q, N) float tensor or array
        A constant row becomes 1 under ``"minmax"`` and 0 under ``"zscore"``.

    Notes
    -----
    Taught in chapter 11.
    """
    check_choice(normalisation, "normalisation", NORMALISATIONS)
    s, from_numpy = _as_lists(scores, "scores")
    m = _check_mask(mask, s.shape, s.device)
    return to_output(_normalise(s, m, normalisation), from_numpy)


def _normalise(s: torch.Tensor, m: torch.Tensor, normalisation: str) -> torch.Tensor:
    zero = torch.zeros_like(s)
    if normalisation == "none":
        return torch.where(m, s, zero)
    if normalisation == "softmax":
        return torch.softmax(s.masked_fill(~m, -math.inf), dim=1)
    if normalisation == "minmax":
        high = s.masked_fill(~m, -math.inf).max(1, keepdim=True).values
        low = s.masked_fill(~m, math.inf).min(1, keepdim=True).values
        spread = high - low
        out = torch.where(spread > 0, (s - low) / spread.clamp_min(torch.finfo(s.dtype).tiny), torch.ones_like(s))
        return torch.where(m, out, zero)
    count = m.sum(1, keepdim=True).to(s.dtype)
    mean = torch.where(m, s, zero).sum(1, keepdim=True) / count
    var = torch.where(m, (s - mean) ** 2, zero).sum(1, keepdim=True) / count
    std = var.sqrt()
    out = torch.where(std > 0, (s - mean) / std.clamp_min(torch.finfo(s.dtype).tiny), zero)
    return torch.where(m, out, zero)


def comb_sum(
    scores: Sequence[ArrayLike], normalisation: str = "minmax", masks: Sequence[ArrayLike] | None = None
) -> ArrayLike:
    """CombSUM (Fox and Shaw, 1994): the sum of each list's normalised scores.

    Parameters
    ----------
    scores : sequence of M (Q, N) float tensors or arrays
        One score matrix per list over the same N items; higher is better.
    normalisation : {"none", "minmax", "zscore", "softmax"}
        Applied to each list, row by row, before adding (see :func:`normalise_scores`).
    masks : sequence of M (Q, N) bool tensors or arrays, optional
        True where the item is in that list; an item adds nothing from a list it is not in.

    Returns
    -------
    (Q, N) float tensor or array, higher is better.

    Notes
    -----
    Taught in chapter 11.
    """
    check_choice(normalisation, "normalisation", NORMALISATIONS)
    mats, ms, from_numpy = _fusion_inputs(scores, masks)
    return to_output(_comb_sum(mats, ms, normalisation), from_numpy)


def _comb_sum(mats: list[torch.Tensor], ms: list[torch.Tensor], normalisation: str) -> torch.Tensor:
    for i, m in enumerate(ms):
        empty = (~m.any(1)).nonzero().flatten()
        if empty.numel():
            raise ValueError(f"masks[{i}] leaves query {int(empty[0])} with no item in that list")
    return sum(_normalise(s, m, normalisation) for s, m in zip(mats, ms, strict=True))


def comb_mnz(
    scores: Sequence[ArrayLike], normalisation: str = "minmax", masks: Sequence[ArrayLike] | None = None
) -> ArrayLike:
    """CombMNZ (Fox and Shaw, 1994): CombSUM times the number of lists that contain the item.

    Parameters and return value as in :func:`comb_sum`. Without ``masks`` every item is in
    every list, and CombMNZ is CombSUM times M: the same ranking. The multiplier matters
    when the lists are truncated (each list a first stage's top K).

    Notes
    -----
    Taught in chapter 11.
    """
    check_choice(normalisation, "normalisation", NORMALISATIONS)
    mats, ms, from_numpy = _fusion_inputs(scores, masks)
    count = sum(m.to(mats[0].dtype) for m in ms)
    return to_output(_comb_sum(mats, ms, normalisation) * count, from_numpy)


# --------------------------------------------------------------------------------------------
# diversity
# --------------------------------------------------------------------------------------------


def mmr(
    relevance: ArrayLike,
    similarity: ArrayLike,
    k: int,
    relevance_weight: float = 0.5,
    mask: ArrayLike | None = None,
) -> ArrayLike:
    """Maximal marginal relevance (Carbonell and Goldstein, 1998): a greedy, diverse top ``k``.

    Step by step it picks the candidate ``d`` that maximises
    ``w * relevance[d] - (1 - w) * max_{s in picked} similarity[d, s]``
    with ``w = relevance_weight`` (the λ of the paper).

    Parameters
    ----------
    relevance : (Q, C) float tensor or array
        How well each candidate matches the query (for example the first-stage score).
    similarity : (C, C) or (Q, C, C) float tensor or array
        Similarity between candidates: one matrix for all queries, or one per query.
    k : int, 1 <= k <= the fewest candidates of any query
    relevance_weight : float in [0, 1]
        1 is plain relevance order; 0 is pure novelty after the first pick.
    mask : (Q, C) bool tensor or array, optional
        True for real candidates; padding is never picked.

    Returns
    -------
    (Q, k) int64 tensor or array
        The picked candidates' column indices, in the order they were picked. Ties go to the
        smaller index.

    Notes
    -----
    Taught in chapter 11.
    """
    rel, from_numpy = _as_lists(relevance, "relevance")
    q, c = rel.shape
    sim, sim_np = as_tensor(similarity, "similarity")
    if sim_np != from_numpy:
        raise ValueError("relevance and similarity must both be numpy arrays or both be tensors")
    sim = as_float(sim, sim_np)
    if sim.shape == (c, c):
        sim = sim.unsqueeze(0).expand(q, c, c)
    elif sim.shape != (q, c, c):
        raise ValueError(f"similarity must have shape ({c}, {c}) or ({q}, {c}, {c}), got {tuple(sim.shape)}")
    check_finite(sim, "similarity")
    if sim.device != rel.device:
        raise ValueError(f"similarity is on {sim.device} but relevance is on {rel.device}")
    lam = check_number(relevance_weight, "relevance_weight", 0.0)
    if lam > 1.0:
        raise ValueError(f"relevance_weight must be in [0, 1], got {relevance_weight}")
    m = _check_mask(mask, rel.shape, rel.device)
    k = check_k(k, int(m.sum(1).min()))
    dtype = torch.promote_types(rel.dtype, sim.dtype)
    rel, sim = rel.to(dtype), sim.to(dtype)
    rows = torch.arange(q, device=rel.device)
    available = m.clone()
    penalty = torch.full_like(rel, -math.inf)  # max similarity to the picked items; none yet
    picked = torch.empty((q, k), dtype=torch.long, device=rel.device)
    for step in range(k):  # step 0: nothing picked, no redundancy
        redundancy = torch.where(penalty == -math.inf, torch.zeros_like(rel), penalty)
        gain = lam * rel - (1.0 - lam) * redundancy
        choice = gain.masked_fill(~available, -math.inf).argmax(1)
        picked[:, step] = choice
        available[rows, choice] = False
        penalty = torch.maximum(penalty, sim[rows, :, choice])
    return to_output(picked, from_numpy)


# --------------------------------------------------------------------------------------------
# learning-to-rank losses
# --------------------------------------------------------------------------------------------


def _pairs(
    scores: torch.Tensor, relevance: torch.Tensor, mask: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise logistic losses ``log(1 + exp(-sigma (s_i - s_j)))`` over pairs with rel_i > rel_j."""
    better = (relevance[:, :, None] > relevance[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    diff = scores[:, :, None] - scores[:, None, :]
    return nn.functional.softplus(-sigma * diff), better


def ranknet_loss(
    scores: ArrayLike, relevance: ArrayLike, mask: ArrayLike | None = None, sigma: float = 1.0
) -> torch.Tensor:
    """RankNet's pairwise logistic loss (Burges et al., 2005).

    For each query, the mean over the pairs ``(i, j)`` with ``relevance[i] > relevance[j]`` of
    ``log(1 + exp(-sigma (s_i - s_j)))``, the cross-entropy between "i above j" and the
    model's probability ``sigmoid(sigma (s_i - s_j))``; then the mean over the queries that
    have at least one such pair.

    Parameters
    ----------
    scores : (Q, L) float tensor
        The model's scores of each query's candidates (gradients flow through it).
    relevance : (Q, L) tensor or array
        Graded relevance, finite and non-negative.
    mask : (Q, L) bool tensor, optional
        True for real candidates, False for padding. No row may be all False.
    sigma : float, > 0
        The slope of the sigmoid.

    Returns
    -------
    0-d tensor
        On the device of ``scores``; 0 (still differentiable) when no query has a pair.

    Notes
    -----
    Taught in chapter 11, where its gradient
    ``dL/ds_i = -sigma * sum_j sigmoid(-sigma (s_i - s_j))`` (over pairs where i is the better item, with
    the opposite sign where it is the worse) is derived and checked with autograd.
    """
    sigma = check_number(sigma, "sigma", 0.0, strict=True)
    s, r, m = _loss_inputs(scores, relevance, mask)
    losses, better = _pairs(s, r, m, sigma)
    n_pairs = better.sum((1, 2))
    per_query = (losses * better).sum((1, 2)) / n_pairs.clamp_min(1)
    return _mean_over(per_query, n_pairs > 0, s)


def _mean_over(per_query: torch.Tensor, valid: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    if not bool(valid.any()):
        return (scores * 0.0).sum()
    return per_query[valid].mean()


def listnet_loss(
    scores: ArrayLike, relevance: ArrayLike, mask: ArrayLike | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """ListNet's top-one cross-entropy (Cao et al., 2007).

    Each list becomes two "top-one" distributions over its candidates, ``softmax(relevance /
    temperature)`` (the target) and ``softmax(scores)`` (the model); the loss is their
    cross-entropy ``-sum_i P_rel(i) log P_score(i)``, averaged over queries.

    Parameters
    ----------
    scores : (Q, L) float tensor
    relevance : (Q, L) tensor or array
        Graded relevance, finite and non-negative.
    mask : (Q, L) bool tensor, optional
        Padding (False) is left out of both softmaxes. No row may be all False.
    temperature : float, > 0
        Divides the grades: smaller puts more of the target on the best candidates.

    Returns
    -------
    0-d tensor on the device of ``scores``.

    Notes
    -----
    Taught in chapter 11. The minimum over scores is the entropy of the target, reached when
    ``softmax(scores)`` equals it; among orderings of fixed score values, the one that
    follows the relevance is best.
    """
    temperature = check_number(temperature, "temperature", 0.0, strict=True)
    s, r, m = _loss_inputs(scores, relevance, mask)
    target = torch.softmax((r / temperature).masked_fill(~m, -math.inf), dim=1)
    log_p = torch.log_softmax(s.masked_fill(~m, -math.inf), dim=1)
    return -(target * log_p.masked_fill(~m, 0.0)).sum(1).mean()


def _discounts(length: int, k: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    positions = torch.arange(length, device=device, dtype=dtype)
    discount = 1.0 / torch.log2(positions + 2.0)
    return torch.where(positions < k, discount, torch.zeros_like(discount))


def _ideal_dcg(relevance: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    gains = relevance.masked_fill(~mask, 0.0)
    ideal = torch.sort(gains, dim=1, descending=True).values
    return (ideal * _discounts(gains.shape[1], k, gains.device, gains.dtype)).sum(1)


def delta_ndcg(
    scores: ArrayLike, relevance: ArrayLike, mask: ArrayLike | None = None, k: int | None = None
) -> torch.Tensor:
    """``|ΔnDCG@k|`` of swapping each pair of candidates in the ranking that ``scores`` give.

    Parameters
    ----------
    scores : (Q, L) float tensor
    relevance : (Q, L) tensor or array, graded and non-negative
    mask : (Q, L) bool tensor, optional
        Padding ranks after every real candidate and has zero gain.
    k : int, optional
        Truncation of the nDCG; default L (the whole list).

    Returns
    -------
    (Q, L, L) tensor, no gradient
        Entry ``[q, i, j]`` is ``|rel_i - rel_j| * |D(pos_i) - D(pos_j)| / IDCG@k`` with
        ``D(p) = 1 / log2(p + 2)`` for 0-based positions ``p < k`` and 0 beyond; 0 for a
        query without a relevant candidate.

    Notes
    -----
    Taught in chapter 11: these are LambdaRank's pair weights.
    """
    s, r, m = _loss_inputs(scores, relevance, mask)
    k = s.shape[1] if k is None else check_k(k, s.shape[1])
    return _delta_ndcg(s.detach(), r, m, k)


def _delta_ndcg(s: torch.Tensor, r: torch.Tensor, m: torch.Tensor, k: int) -> torch.Tensor:
    lowest = s.min() - 1.0
    positions = _ranks(torch.where(m, s, lowest)) - 1  # 0-based; padding after real items
    discount = _discounts(s.shape[1], k, s.device, s.dtype)[positions]
    gains = r.masked_fill(~m, 0.0)
    idcg = _ideal_dcg(r, m, k)
    delta = (gains[:, :, None] - gains[:, None, :]).abs() * (discount[:, :, None] - discount[:, None, :]).abs()
    scale = torch.where(idcg > 0, 1.0 / idcg.clamp_min(torch.finfo(s.dtype).tiny), torch.zeros_like(idcg))
    return delta * scale[:, None, None]


def lambdarank_loss(
    scores: ArrayLike,
    relevance: ArrayLike,
    mask: ArrayLike | None = None,
    sigma: float = 1.0,
    k: int | None = None,
) -> torch.Tensor:
    """LambdaRank: RankNet's pair losses weighted by ``|ΔnDCG@k|`` of swapping the pair.

    For each query, ``sum_{rel_i > rel_j} |ΔnDCG_ij| * log(1 + exp(-sigma (s_i - s_j)))``
    with the weights from :func:`delta_ndcg` held constant (no gradient flows through the
    sort); then the mean over queries. Its gradient is Burges' lambda: the RankNet gradient
    of each pair scaled by how much the pair's order changes the nDCG.

    Parameters
    ----------
    scores : (Q, L) float tensor
    relevance : (Q, L) tensor or array, graded and non-negative
    mask : (Q, L) bool tensor, optional
        True for real candidates. No row may be all False.
    sigma : float, > 0
    k : int, optional
        The nDCG truncation the weights aim at (for example 10); default the whole list.

    Returns
    -------
    0-d tensor on the device of ``scores``; 0 for queries without a relevant candidate.

    Notes
    -----
    Taught in chapter 11. Gains are linear (``rel``), as in :func:`xmr_lite.metrics.ndcg_at_k`.
    """
    sigma = check_number(sigma, "sigma", 0.0, strict=True)
    s, r, m = _loss_inputs(scores, relevance, mask)
    k = s.shape[1] if k is None else check_k(k, s.shape[1])
    weights = _delta_ndcg(s.detach(), r, m, k)
    losses, better = _pairs(s, r, m, sigma)
    return (weights * losses * better).sum((1, 2)).mean()


def pointwise_loss(scores: ArrayLike, relevance: ArrayLike, mask: ArrayLike | None = None) -> torch.Tensor:
    """The pointwise baseline: the mean squared error between scores and grades over real candidates.

    Parameters
    ----------
    scores : (Q, L) float tensor
    relevance : (Q, L) tensor or array, graded and non-negative
    mask : (Q, L) bool tensor, optional

    Returns
    -------
    0-d tensor on the device of ``scores``.

    Notes
    -----
    Taught in chapter 11.
    """
    s, r, m = _loss_inputs(scores, relevance, mask)
    return ((s - r) ** 2)[m].mean()


_LOSS_FUNCTIONS = {
    "pointwise": lambda s, r, m, k: pointwise_loss(s, r, m),
    "ranknet": lambda s, r, m, k: ranknet_loss(s, r, m),
    "listnet": lambda s, r, m, k: listnet_loss(s, r, m),
    "lambdarank": lambda s, r, m, k: lambdarank_loss(s, r, m, k=min(k, s.shape[1])),
}


def masked_ndcg(scores: ArrayLike, relevance: ArrayLike, k: int, mask: ArrayLike | None = None) -> torch.Tensor:
    """nDCG@k of each padded candidate list (linear gains, ties by index), as :func:`xmr_lite.metrics.ndcg_at_k`.

    Parameters
    ----------
    scores : (Q, L) float tensor
    relevance : (Q, L) tensor or array, graded and non-negative
    k : int, 1 <= k <= L
    mask : (Q, L) bool tensor, optional
        Padding ranks last and has zero gain.

    Returns
    -------
    (Q,) tensor
        NaN for a query without a relevant candidate (as ``metrics.average_precision``).

    Notes
    -----
    The ideal ordering is that of the candidates, not of the whole gallery: a relevant item
    the first stage missed does not count. Taught in chapter 11.
    """
    s, r, m = _loss_inputs(scores, relevance, mask)
    k = check_k(k, s.shape[1])
    s = s.detach()
    lowest = s.min() - 1.0
    order = torch.sort(torch.where(m, s, lowest), dim=1, descending=True, stable=True).indices
    gains = r.masked_fill(~m, 0.0).gather(1, order)
    dcg = (gains * _discounts(s.shape[1], k, s.device, s.dtype)).sum(1)
    idcg = _ideal_dcg(r, m, k)
    return torch.where(idcg > 0, dcg / idcg.clamp_min(torch.finfo(s.dtype).tiny), torch.full_like(dcg, math.nan))


# --------------------------------------------------------------------------------------------
# a small re-ranker
# --------------------------------------------------------------------------------------------


class Reranker(nn.Module):
    """A small network that scores each (query, candidate) feature vector: (Q, L, F) -> (Q, L).

    Features are standardised with the training set's mean and standard deviation (kept as
    buffers), then a multilayer perceptron with one hidden layer (or a linear model with
    ``hidden=0``) gives one score per candidate.

    Parameters
    ----------
    n_features : int, >= 1
        F, the width of a candidate's feature vector.
    hidden : int, >= 0
        Width of the hidden layer; 0 makes the scorer linear.
    loss : {"pointwise", "ranknet", "listnet", "lambdarank"}
        What :meth:`fit` minimises.
    k : int
        The nDCG truncation that ``"lambdarank"`` aims at and that validation measures.

    Notes
    -----
    Taught in chapter 11.
    """

    def __init__(self, n_features: int, hidden: int = 32, loss: str = "lambdarank", k: int = 10) -> None:
        super().__init__()
        self.n_features = check_int(n_features, "n_features")
        hidden = check_int(hidden, "hidden", minimum=0)
        self.loss = check_choice(loss, "loss", LOSSES)
        self.k = check_int(k, "k")
        if hidden:
            self.scorer = nn.Sequential(nn.Linear(self.n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        else:
            self.scorer = nn.Linear(self.n_features, 1)
        self.register_buffer("feature_mean", torch.zeros(self.n_features))
        self.register_buffer("feature_std", torch.ones(self.n_features))

    def _features(self, features: object) -> torch.Tensor:
        x, from_numpy = as_tensor(features, "features")
        check_ndim(x, "features", 3, "(Q, L, F)")
        if x.shape[2] != self.n_features:
            raise ValueError(f"features has {x.shape[2]} features per candidate, expected {self.n_features}")
        x = as_float(x, from_numpy)
        check_finite(x, "features")
        return x.to(device=self.feature_mean.device, dtype=self.feature_mean.dtype)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Scores of shape (Q, L) for features of shape (Q, L, F) (padding gets a score too)."""
        x = (self._features(features) - self.feature_mean) / self.feature_std
        return self.scorer(x).squeeze(-1)

    @torch.no_grad()
    def score(self, features: ArrayLike, mask: ArrayLike | None = None) -> torch.Tensor:
        """Scores (Q, L) in eval mode; padding (``mask`` False) gets a score below every real one."""
        was_training = self.training
        self.eval()
        s = self(features)
        self.train(was_training)
        if mask is not None:
            m = _check_mask(mask, s.shape, s.device)
            s = torch.where(m, s, s.min() - 1.0)
        return s

    def fit(
        self,
        features: ArrayLike,
        relevance: ArrayLike,
        mask: ArrayLike | None = None,
        val: tuple | None = None,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-2,
        weight_decay: float = 0.0,
        patience: int | None = None,
        random_state: int = 0,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> train.History:
        """Train with :func:`xmr_lite.train.fit` on padded candidate lists, Adam, shuffled batches of queries.

        Parameters
        ----------
        features : (Q, L, F) float tensor or array
        relevance : (Q, L) tensor or array, graded and non-negative
        mask : (Q, L) bool tensor or array, optional
        val : tuple ``(features, relevance, mask)``, optional
            Validation lists: the model keeps the epoch with the best mean nDCG@k on them.
        epochs, batch_size : int
        lr, weight_decay : float
            Adam's learning rate and weight decay.
        patience : int, optional
            Early stopping on the validation nDCG (see :func:`xmr_lite.train.fit`).
        random_state : int
            Seeds the weights and the batch order.
        device : torch.device or str, optional
            Default :func:`xmr_lite.get_device`.
        progress : bool
            Show :func:`~xmr_lite.train.fit`'s progress bar.

        Returns
        -------
        xmr_lite.train.History
        """
        device = torch.device(device) if device is not None else get_device()
        x = self._features(features).cpu()
        r = _check_relevance(relevance, x.shape[:2], x.device).to(x.dtype)
        m = _check_mask(None if mask is None else _cpu(mask), x.shape[:2], x.device)
        batch_size = check_int(batch_size, "batch_size")
        generator = torch.Generator().manual_seed(check_int(random_state, "random_state", minimum=0))
        self._reset(generator, x[m])
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, r, m), batch_size=batch_size, shuffle=True, generator=generator
        )
        val_loader = None
        if val is not None:
            if not isinstance(val, tuple) or len(val) != 3:
                raise ValueError("val must be a tuple (features, relevance, mask)")
            vx = self._features(val[0]).cpu()
            vr = _check_relevance(val[1], vx.shape[:2], vx.device).to(vx.dtype)
            vm = _check_mask(None if val[2] is None else _cpu(val[2]), vx.shape[:2], vx.device)
            val_loader = [(vx, vr, vm)]
        optimizer = torch.optim.Adam(
            self.parameters(), lr=check_number(lr, "lr", 0.0, strict=True), weight_decay=weight_decay
        )
        return train.fit(
            self,
            self._loss,
            optimizer,
            loader,
            val_loader=val_loader,
            epochs=epochs,
            metric=self._val_ndcg if val is not None else None,
            mode="max" if val is not None else None,
            patience=patience,
            device=device,
            progress=progress,
            desc=f"{self.loss} epochs",
        )

    def _reset(self, generator: torch.Generator, real_features: torch.Tensor) -> None:
        """Seeded initial weights and the feature statistics of the real training candidates."""
        for module in self.scorer.modules() if isinstance(self.scorer, nn.Sequential) else [self.scorer]:
            if isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                with torch.no_grad():
                    module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 2 * bound - bound)
                    module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 2 * bound - bound)
        std = real_features.std(0)
        self.feature_mean.copy_(real_features.mean(0))
        self.feature_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def _loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, r, m = batch
        return _LOSS_FUNCTIONS[self.loss](model(x), r, m, self.k)

    def _val_ndcg(self, model: nn.Module, loader: list) -> float:
        values = [masked_ndcg(model(x), r, min(self.k, x.shape[1]), m) for x, r, m in loader]
        ndcg = torch.cat(values)
        return float(ndcg[~ndcg.isnan()].mean())


def _cpu(mask: object) -> object:
    return mask.cpu() if isinstance(mask, torch.Tensor) else mask


__all__ = [
    "LOSSES",
    "NORMALISATIONS",
    "Reranker",
    "comb_mnz",
    "comb_sum",
    "delta_ndcg",
    "lambdarank_loss",
    "listnet_loss",
    "masked_ndcg",
    "mmr",
    "normalise_scores",
    "pad_lists",
    "pointwise_loss",
    "ranknet_loss",
    "reciprocal_rank_fusion",
]
