"""Losses that learn a shared embedding space (taught in chapter 9).

Every loss takes torch tensors, works on whatever device they live on, and is differentiable,
so it can be used directly as a training objective. All distances are Euclidean; on
L2-normalised embeddings they are a monotone function of the cosine similarity.

* :func:`contrastive_loss`: pairs labelled "same" or "different" (Hadsell et al. 2006).
* :func:`triplet_loss`: given (anchor, positive, negative) triplets (Schroff et al. 2015).
* :func:`batch_triplet_loss`: triplets mined inside a labelled batch: batch-all, batch-hard
  (Hermans et al. 2017) or semi-hard (Schroff et al. 2015).
* :func:`info_nce`: the CLIP-style loss with in-batch negatives and a temperature (van den Oord
  et al. 2018; Radford et al. 2021).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.nn import functional as F  # noqa: N812 - the PyTorch convention

from xmr_lite._checks import check_choice, check_finite, check_ndim, check_number, same_shape

MINING = ("batch_all", "batch_hard", "semi_hard")
"""The mining strategies accepted by :func:`batch_triplet_loss`."""


class TripletLoss(NamedTuple):
    """What :func:`batch_triplet_loss` returns: two 0-d tensors on the embeddings' device.

    Both stay tensors so that a training step never waits for the device (no ``.item()``);
    call ``float(...)`` when a number is needed. It unpacks like a pair:
    ``loss, active = batch_triplet_loss(...)``.
    """

    loss: torch.Tensor
    """The mean triplet loss, attached to the graph."""
    active_fraction: torch.Tensor
    """The fraction of the triplets considered whose loss is positive, detached."""


def _embeddings(x: object, name: str) -> torch.Tensor:
    """Check a finite, non-empty (B, D) floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, D), got {type(x).__name__}")
    check_ndim(x, name, 2, "(B, D)")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {x.dtype}")
    check_finite(x, name)
    return x


def _matching_embeddings(named: dict[str, object]) -> list[torch.Tensor]:
    """Check each (B, D) input of ``named`` (name -> value), then that all match the first's shape and device."""
    checked = [_embeddings(x, name) for name, x in named.items()]
    names = list(named)
    for other, other_name in zip(checked[1:], names[1:], strict=True):
        same_shape(checked[0], other, names[0], other_name)
    return checked


def _labels(labels: object, batch: int, device: torch.device, name: str = "labels") -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B,), got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != batch:
        raise ValueError(f"{name} must have shape ({batch},), got {tuple(labels.shape)}")
    if labels.device != device:
        raise ValueError(f"{name} is on {labels.device} but the embeddings are on {device}")
    check_finite(labels, name)
    return labels


def _safe_norm(diff: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last axis whose gradient is 0 (not NaN) where the norm is 0.

    ``sqrt`` has an infinite slope at 0, so ``||x - x||`` would send NaN gradients back.
    """
    squared = diff.square().sum(-1)
    positive = squared > 0
    safe = torch.where(positive, squared, torch.ones_like(squared))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squared))


def pairwise_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between every pair of rows, with a usable gradient at 0.

    Parameters
    ----------
    embeddings : (B, D) float tensor

    Returns
    -------
    (B, B) tensor on the same device; the diagonal is exactly 0.

    Notes
    -----
    ``torch.cdist`` in its exact mode, from the differences themselves (chapter 2 shows how the
    faster ``||a||² + ||b||² − 2a·b`` cancels for nearby points); its gradient is 0 where two
    points coincide. Taught in chapter 9.
    """
    e = _embeddings(embeddings, "embeddings")
    return torch.cdist(e, e, compute_mode="donot_use_mm_for_euclid_dist")


def contrastive_loss(x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """The contrastive loss of Hadsell, Chopra and LeCun (2006).

    For each pair with Euclidean distance ``d = ||x1_i - x2_i||``::

        same_i * d**2 + (1 - same_i) * max(0, margin - d)**2

    averaged over the batch. Matching pairs are pulled together; non-matching pairs are pushed
    apart until they are ``margin`` away, and then left alone. Without the second term every
    embedding could collapse to one point (chapter 9 shows it).

    Parameters
    ----------
    x1, x2 : (B, D) float tensors
        The two sides of each pair (e.g. an image embedding and an audio embedding).
    same : (B,) tensor of 0/1 (bool, int or float)
        1 where ``x1[i]`` and ``x2[i]`` should match, 0 where they should not.
    margin : float, >= 0

    Returns
    -------
    0-d tensor on the device of ``x1``.

    Notes
    -----
    Taught in chapter 9.
    """
    x1, x2 = _matching_embeddings({"x1": x1, "x2": x2})
    same = _labels(same, x1.shape[0], x1.device, "same")
    if not bool(((same == 0) | (same == 1)).all()):
        raise ValueError("same must hold only 0 and 1")
    margin = check_number(margin, "margin", minimum=0)
    y = same.to(x1.dtype)
    d = _safe_norm(x1 - x2)
    return (y * d.square() + (1 - y) * F.relu(margin - d).square()).mean()


def triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 0.2
) -> torch.Tensor:
    """The triplet loss: ``max(0, ||a - p|| - ||a - n|| + margin)``, averaged over the batch.

    The positive must be closer to the anchor than the negative is, by at least ``margin``.
    Triplets that already satisfy this ("easy" triplets) contribute 0 and no gradient.

    Parameters
    ----------
    anchor, positive, negative : (B, D) float tensors
        Row ``i`` of each forms one triplet.
    margin : float, >= 0

    Returns
    -------
    0-d tensor on the device of ``anchor``.

    Notes
    -----
    Taught in chapter 9.
    """
    anchor, positive, negative = _matching_embeddings({"anchor": anchor, "positive": positive, "negative": negative})
    margin = check_number(margin, "margin", minimum=0)
    return F.relu(_safe_norm(anchor - positive) - _safe_norm(anchor - negative) + margin).mean()


def batch_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2, mining: str = "batch_all"
) -> TripletLoss:
    """Triplet loss with the triplets mined inside a labelled batch.

    Items with the same label are positives of each other, items with different labels are
    negatives. Distances are Euclidean, and each triplet (a, p, n) has the loss
    ``max(0, d(a, p) - d(a, n) + margin)``.

    * ``"batch_all"``: every valid triplet (a, p, n) of the batch. The loss is the **mean over
      the triplets whose loss is positive** (the active ones), not over all triplets: late in
      training most triplets are easy, and averaging their zeros in would shrink the gradient.
    * ``"batch_hard"`` (Hermans, Beyer and Leibe 2017): for each anchor that has a positive,
      its farthest positive and its closest negative; the mean over those anchors.
    * ``"semi_hard"`` (Schroff, Kalenichenko and Philbin 2015, FaceNet): for each
      anchor-positive pair, the closest negative that is still *farther* than the positive,
      ``d(a, p) < d(a, n)``; the loss is positive when that negative lies inside the margin.
      When no negative is farther than the positive, the farthest negative is used (as
      TensorFlow Addons' ``TripletSemiHardLoss`` does), so the hardest negatives, which can
      make early training collapse, are never chosen. The mean over all anchor-positive pairs.

    Parameters
    ----------
    embeddings : (B, D) float tensor
    labels : (B,) integer tensor on the same device
        Needs at least 2 classes and at least one class with 2 or more items.
    margin : float, >= 0
    mining : {"batch_all", "batch_hard", "semi_hard"}

    Returns
    -------
    TripletLoss
        A named pair of 0-d tensors on the device of ``embeddings``:

        ``loss``
            0 (still attached to the graph) when no triplet is active.
        ``active_fraction``
            The fraction of the triplets considered whose loss is positive: all valid triplets
            for batch-all, one per anchor for batch-hard, one per anchor-positive pair for
            semi-hard. A detached tensor, not a float, so that no step waits for the device;
            ``float(active_fraction)`` gives the number.

    Notes
    -----
    Taught in chapter 9, which plots the fraction of active triplets during training.
    """
    e = _embeddings(embeddings, "embeddings")
    labels = _labels(labels, e.shape[0], e.device)
    margin = check_number(margin, "margin", minimum=0)
    check_choice(mining, "mining", MINING)
    if labels.unique().numel() < 2:
        raise ValueError("labels must hold at least 2 classes: a triplet needs a negative")

    dist = pairwise_distances(e)  # (B, B)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=e.device)
    is_positive = same & ~eye  # (B, B): j is a positive of anchor i
    is_negative = ~same  # (B, B): k is a negative of anchor i
    if not bool(is_positive.any()):
        raise ValueError("labels must have at least one class with 2 or more items: a triplet needs a positive")

    if mining == "batch_hard":
        has_positive = is_positive.any(1)
        hardest_positive = torch.where(is_positive, dist, torch.zeros_like(dist)).amax(1)
        hardest_negative = torch.where(is_negative, dist, torch.full_like(dist, math.inf)).amin(1)
        losses = F.relu(hardest_positive - hardest_negative + margin)[has_positive]
        return TripletLoss(losses.mean(), _active_fraction(losses))

    # batch-all and semi-hard both start from every (anchor i, positive j) pair ...
    anchor, positive = is_positive.nonzero(as_tuple=True)  # (P,) each
    d_ap = dist[anchor, positive]  # (P,)
    d_an = dist[anchor]  # (P, B): the anchor's distance to every item k
    negative = is_negative[anchor]  # (P, B): which of them are negatives

    if mining == "batch_all":
        # ... and pair it with every negative: P x (negatives) triplets
        losses = F.relu(d_ap[:, None] - d_an + margin)[negative]
        n_active = (losses > 0).sum()
        return TripletLoss(losses.sum() / n_active.clamp_min(1), _active_fraction(losses))

    # semi_hard: ... with one negative each, the closest one that is farther than the positive
    farther = negative & (d_an > d_ap[:, None])
    closest_farther = torch.where(farther, d_an, torch.full_like(d_an, math.inf)).amin(1)
    farthest = torch.where(negative, d_an, torch.full_like(d_an, -math.inf)).amax(1)
    chosen = torch.where(farther.any(1), closest_farther, farthest)
    losses = F.relu(d_ap - chosen + margin)
    return TripletLoss(losses.mean(), _active_fraction(losses))


def _active_fraction(losses: torch.Tensor) -> torch.Tensor:
    """The fraction of positive entries, as a detached 0-d tensor in the losses' dtype."""
    return (losses.detach() > 0).to(losses.dtype).mean()


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.07, symmetric: bool = True) -> torch.Tensor:
    """InfoNCE with in-batch negatives: the loss CLIP trains with.

    Both sides are scaled to unit length, ``logits = a @ b.T / temperature`` is a (B, B) matrix
    of scaled cosine similarities, and row ``i`` is a B-way classification whose right answer
    is column ``i``: every other row of ``b`` in the batch serves as a negative.

    Parameters
    ----------
    a, b : (B, D) float tensors
        Row ``i`` of ``a`` matches row ``i`` of ``b`` (e.g. an image and its caption).
    temperature : float, > 0
        Divides the cosines. Small values sharpen the softmax and concentrate the gradient on
        the hardest negatives; CLIP learns it and starts at 0.07.
    symmetric : bool
        True: the mean of the a→b loss (cross-entropy over the rows) and the b→a loss (over
        the columns), as in CLIP. False: the a→b loss only.

    Returns
    -------
    0-d tensor on the device of ``a``.

    Notes
    -----
    Taught in chapter 9, which also shows the effect of batch size and temperature.
    """
    a, b = _matching_embeddings({"a": a, "b": b})
    check_number(temperature, "temperature", minimum=0, strict=True)
    if not isinstance(symmetric, bool):
        raise ValueError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    targets = torch.arange(a.shape[0], device=a.device)
    loss_ab = F.cross_entropy(logits, targets)
    if not symmetric:
        return loss_ab
    return (loss_ab + F.cross_entropy(logits.T, targets)) / 2


__all__ = [
    "MINING",
    "TripletLoss",
    "batch_triplet_loss",
    "contrastive_loss",
    "info_nce",
    "pairwise_distances",
    "triplet_loss",
]


def multi_positive_info_nce(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """InfoNCE in which every item with the same label is a right answer (supervised contrastive).

    ``logits = a @ b.T / temperature`` on unit vectors, as in :func:`info_nce`, but row ``i``
    has as targets every column ``j`` with ``labels[j] == labels[i]`` (its own included): the
    loss of row ``i`` is the mean of ``-log softmax(logits[i])[j]`` over those ``k_i`` targets.
    The same is done over the columns, and the two means are averaged (Khosla et al. 2020).
    Same-label items in a batch are then no longer pushed apart as false negatives.

    The loss is never below the mean over rows and columns of ``log k_i``: a row's
    probabilities sum to at most 1 over its ``k_i`` targets, and the mean of their negative
    logs is smallest when they share it equally. That minimum is reachable, when all items of
    a label coincide and the other labels are infinitely far; with one item per label it is 0,
    and the loss reduces to :func:`info_nce`.

    Parameters
    ----------
    a, b : (B, D) float tensors
        Row ``i`` of ``a`` and row ``i`` of ``b`` have label ``labels[i]``.
    labels : (B,) integer tensor on the same device
    temperature : float, > 0

    Returns
    -------
    0-d tensor on the device of ``a``.

    Notes
    -----
    Taught in chapter 9 (an exercise on false negatives).
    """
    a, b = _matching_embeddings({"a": a, "b": b})
    labels = _labels(labels, a.shape[0], a.device)
    check_number(temperature, "temperature", minimum=0, strict=True)
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    targets = (labels[:, None] == labels[None, :]).to(logits.dtype)  # (B, B), diagonal included
    rows = -(logits.log_softmax(1) * targets).sum(1) / targets.sum(1)
    cols = -(logits.log_softmax(0) * targets).sum(0) / targets.sum(0)
    return (rows.mean() + cols.mean()) / 2


__all__ += ["multi_positive_info_nce"]  # appended after the original list
