"""Pairwise similarities and distances between two sets of vectors (taught in chapter 2).

Every function takes a query set ``x`` of shape (Q, D) and a gallery ``y`` of shape (N, D)
and returns a (Q, N) matrix. Torch tensors stay on their device; numpy arrays come back as
numpy arrays. Similarities (``dot``, ``cosine_similarity``) are "higher is closer"; every
other measure is a distance or divergence, "lower is closer".

**Metric names.** One set of names is used across the library (:func:`pairwise`,
:func:`xmr_lite.train.retrieval_scores`, :func:`xmr_lite.metrics.leave_one_out_retrieval`,
:mod:`xmr_lite.search`):

=====================  ==========================================  ==================
name                   value for rows ``x`` and ``y``              closer means
=====================  ==========================================  ==================
``"euclidean"``        ``||x - y||``                               lower
``"sqeuclidean"``      ``||x - y||^2``                             lower
``"cosine"``           ``x . y / (||x|| ||y||)``, a *similarity*   higher
``"cosine_distance"``  ``1 - cosine``                              lower
``"dot"``              ``x . y``                                   higher
``"mahalanobis"``      ``sqrt((x - y)^T VI (x - y))``              lower
``"kl"``               ``KL(x || y)`` of two distributions         lower
``"js"``               Jensen-Shannon divergence                   lower
=====================  ==========================================  ==================

``"l2"`` is accepted as a deprecated alias of ``"sqeuclidean"`` and raises a
``DeprecationWarning`` (scikit-learn's ``"l2"`` is the Euclidean distance, not its square, so
the name is ambiguous). :func:`canonical_metric` maps a name to the canonical one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Union

import torch

from xmr_lite._checks import (
    ArrayLike,
    as_matrix,
    check_choice,
    common_dtype,
    same_device,
    to_output,
)

METRICS = (
    "euclidean",
    "sqeuclidean",
    "dot",
    "cosine",
    "cosine_distance",
    "mahalanobis",
    "kl",
    "js",
)
"""The names accepted by :func:`pairwise` (see the table above)."""

DEPRECATED_METRICS = {"l2": "sqeuclidean"}
"""Old metric names that still work, with a ``DeprecationWarning``, mapped to the new ones."""

Shrinkage = Union[float, str, None]


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a (Q, D) and an (N, D) input and bring them to one dtype."""
    xt, x_np = as_matrix(x, "x", "(Q, D)")
    yt, y_np = as_matrix(y, "y", "(N, D)")
    if x_np != y_np:
        raise ValueError("x and y must both be numpy arrays or both be torch tensors")
    same_device(xt, yt, "y")
    if xt.shape[1] != yt.shape[1]:
        raise ValueError(f"x has D={xt.shape[1]} but y has D={yt.shape[1]}; the dimensions must match")
    xt, yt = common_dtype(xt, yt)
    return xt, yt, x_np


def _sq_dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||x_i - y_j||^2 from the differences themselves.

    The shortcut ||x||^2 + ||y||^2 - 2 x.y is faster but cancels badly for nearby points far
    from the origin (float32 keeps about seven digits of ||x||^2, and the difference is lost in
    them). :class:`xmr_lite.search.ExactIndex` uses the shortcut for speed, on data centred on
    the gallery mean, and re-ranks its short list with exact differences.
    """
    return torch.cdist(x, y, p=2.0, compute_mode="donot_use_mm_for_euclid_dist").square_()


def sqeuclidean(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Squared Euclidean distances ``||x_i - y_j||^2``.

    Parameters
    ----------
    x : (Q, D) float tensor or array
    y : (N, D) float tensor or array

    Returns
    -------
    (Q, N) tensor or array of the same kind as ``x``.
    """
    xt, yt, from_numpy = _pair(x, y)
    return to_output(_sq_dists(xt, yt), from_numpy)


def euclidean(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Euclidean distances ``||x_i - y_j||``; shapes as in :func:`sqeuclidean`."""
    xt, yt, from_numpy = _pair(x, y)
    return to_output(_sq_dists(xt, yt).sqrt_(), from_numpy)


def dot(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Inner products ``x_i . y_j`` (a similarity); shapes as in :func:`sqeuclidean`."""
    xt, yt, from_numpy = _pair(x, y)
    return to_output(xt @ yt.T, from_numpy)


def _unit_rows(x: torch.Tensor, name: str) -> torch.Tensor:
    norms = x.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"{name} has a zero row; the cosine of a zero vector is undefined")
    return x / norms


def cosine_similarity(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Cosine similarities ``x_i . y_j / (||x_i|| ||y_j||)``, in [-1, 1].

    Raises ``ValueError`` for a zero row, whose cosine is undefined.
    Shapes as in :func:`sqeuclidean`.
    """
    xt, yt, from_numpy = _pair(x, y)
    sim = _unit_rows(xt, "x") @ _unit_rows(yt, "y").T
    return to_output(sim.clamp_(-1.0, 1.0), from_numpy)


def cosine_distance(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Cosine distances ``1 - cosine_similarity``, in [0, 2] (scipy's ``"cosine"``)."""
    xt, yt, from_numpy = _pair(x, y)
    sim = (_unit_rows(xt, "x") @ _unit_rows(yt, "y").T).clamp_(-1.0, 1.0)
    return to_output(1.0 - sim, from_numpy)


def covariance(data: ArrayLike, shrinkage: Shrinkage = None) -> ArrayLike:
    """Estimate a covariance matrix, optionally shrunk towards a scaled identity.

    The shrunk estimate is ``(1 - a) S + a (trace(S) / D) I`` where ``S`` is the maximum
    likelihood covariance (divided by ``n``, as scikit-learn does).

    Parameters
    ----------
    data : (n, D) float tensor or array
        Samples in rows. Needs n >= 2.
    shrinkage : float in [0, 1], "ledoit_wolf" or None
        ``None`` returns ``S`` itself, which is singular whenever n <= D. A float fixes ``a``;
        ``"ledoit_wolf"`` picks ``a`` by the Ledoit-Wolf formula, matching
        ``sklearn.covariance.LedoitWolf``.

    Returns
    -------
    (D, D) tensor or array of the same kind as ``data``.
    """
    d, from_numpy = as_matrix(data, "data", "(n, D)")
    n, dim = d.shape
    if n < 2:
        raise ValueError(f"data needs at least 2 rows to estimate a covariance, got {n}")
    centred = d - d.mean(0)
    s = centred.T @ centred / n
    mu = torch.trace(s) / dim
    identity = torch.eye(dim, dtype=s.dtype, device=s.device)
    if shrinkage is None:
        return to_output(s, from_numpy)
    if isinstance(shrinkage, str):
        check_choice(shrinkage, "shrinkage", ["ledoit_wolf"])
        alpha = _ledoit_wolf_alpha(centred, s, mu)
    else:
        alpha = float(shrinkage)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
    return to_output((1.0 - alpha) * s + alpha * mu * identity, from_numpy)


def _ledoit_wolf_alpha(centred: torch.Tensor, s: torch.Tensor, mu: torch.Tensor) -> float:
    """The Ledoit-Wolf (2004) shrinkage intensity for the target ``mu * I``."""
    n, dim = centred.shape
    delta = ((s - mu * torch.eye(dim, dtype=s.dtype, device=s.device)) ** 2).sum()
    sq = centred**2
    beta = ((sq.T @ sq) / n - s**2).sum() / n
    if float(delta) == 0.0:
        return 0.0
    return float(torch.clamp(beta / delta, 0.0, 1.0))


def mahalanobis(
    x: ArrayLike,
    y: ArrayLike,
    VI: ArrayLike | None = None,
    data: ArrayLike | None = None,
    shrinkage: Shrinkage = None,
) -> ArrayLike:
    """Mahalanobis distances ``sqrt((x_i - y_j)^T VI (x_i - y_j))``.

    Give either the precision matrix ``VI`` (the inverse covariance, as in scipy) or ``data``
    to estimate the covariance from. A covariance estimated from fewer samples than
    dimensions is singular: instead of inverting it blindly this raises, unless
    ``shrinkage`` makes it invertible (see :func:`covariance`).

    Parameters
    ----------
    x : (Q, D) float tensor or array
    y : (N, D) float tensor or array
    VI : (D, D) symmetric positive semi-definite matrix, optional
        An indefinite matrix (a negative eigenvalue) raises ``ValueError``.
    data : (n, D) samples, optional
    shrinkage : float, "ledoit_wolf" or None
        Passed to :func:`covariance` when ``data`` is given.

    Returns
    -------
    (Q, N) tensor or array of the same kind as ``x``.

    Notes
    -----
    Computed as the Euclidean distance between ``(x - c) A`` and ``(y - c) A``, where
    ``A A^T = VI`` and ``c`` is the mean of ``y``: from differences, so points far from the
    origin lose no precision (a point's distance to itself is 0).
    """
    xt, yt, from_numpy = _pair(x, y)
    if (VI is None) == (data is None):
        raise ValueError("give exactly one of VI (a precision matrix) or data (to estimate one)")
    dim = xt.shape[1]
    if VI is not None:
        vi, _ = as_matrix(VI, "VI", "(D, D)")
        vi = vi.to(device=xt.device, dtype=xt.dtype)
        if vi.shape != (dim, dim):
            raise ValueError(f"VI must have shape ({dim}, {dim}), got {tuple(vi.shape)}")
        if not torch.allclose(vi, vi.T, rtol=1e-5, atol=1e-8):
            raise ValueError("VI must be symmetric")
    else:
        dt, _ = as_matrix(data, "data", "(n, D)")
        if dt.shape[1] != dim:
            raise ValueError(f"data has D={dt.shape[1]} but x has D={dim}")
        cov = covariance(dt.to(device=xt.device, dtype=xt.dtype), shrinkage)
        rank = int(torch.linalg.matrix_rank(cov))
        if rank < dim:
            raise ValueError(
                f"the covariance estimated from data has rank {rank} < D={dim} "
                f"({dt.shape[0]} samples); it cannot be inverted: pass shrinkage"
            )
        vi = torch.linalg.inv(cov)
        vi = (vi + vi.T) / 2
    root = _psd_root(vi)
    # centre both sets on one point, then map into the space where VI is the identity and
    # measure from the differences themselves: no ||x||^2 + ||y||^2 - 2 x.y cancellation on
    # points far from the origin
    centre = yt.mean(0, keepdim=True)
    return to_output(_sq_dists((xt - centre) @ root, (yt - centre) @ root).sqrt_(), from_numpy)


def _psd_root(vi: torch.Tensor) -> torch.Tensor:
    """A matrix ``A`` with ``A @ A.T == vi``, for a symmetric positive semi-definite ``vi``.

    Raises ``ValueError`` when ``vi`` has a clearly negative eigenvalue (it is indefinite, and
    its "distances" would be square roots of negative numbers).
    """
    eigenvalues, eigenvectors = torch.linalg.eigh(vi)
    largest = float(eigenvalues.abs().max())
    tolerance = vi.shape[0] * torch.finfo(vi.dtype).eps * 10 * largest
    if float(eigenvalues.min()) < -tolerance:
        raise ValueError(
            f"VI must be positive semi-definite; it has the eigenvalue {float(eigenvalues.min()):.3g} "
            "(pass a precision matrix, the inverse of a covariance)"
        )
    return eigenvectors * eigenvalues.clamp_min(0.0).sqrt()


def _check_distributions(p: torch.Tensor, name: str, atol: float = 1e-5) -> None:
    if bool((p < 0).any()):
        raise ValueError(f"{name} has negative entries; rows must be probability distributions")
    sums = p.sum(1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=atol):
        raise ValueError(f"rows of {name} must sum to 1 (max deviation {float((sums - 1).abs().max()):.2e})")


def _kl_matrix(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p_i || q_j) with 0 log 0 = 0 and p log(p / 0) = inf."""
    plogp = torch.special.xlogy(p, p).sum(1, keepdim=True)  # (Q, 1)
    plogq = torch.special.xlogy(p[:, None, :], q[None, :, :]).sum(-1)  # (Q, N); -inf where q = 0 < p
    return plogp - plogq


def kl_divergence(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Kullback-Leibler divergences ``KL(x_i || y_j) = sum_k x_ik log(x_ik / y_jk)``, in nats.

    Rows must be probability distributions. KL is not symmetric and is infinite where
    ``y_jk = 0 < x_ik``. Shapes as in :func:`sqeuclidean`.
    """
    xt, yt, from_numpy = _pair(x, y)
    _check_distributions(xt, "x")
    _check_distributions(yt, "y")
    return to_output(_kl_matrix(xt, yt), from_numpy)


def js_divergence(x: ArrayLike, y: ArrayLike) -> ArrayLike:
    """Jensen-Shannon divergences ``(KL(x||m) + KL(y||m)) / 2`` with ``m = (x + y) / 2``, in nats.

    Symmetric, finite and at most ``log 2``. scipy's ``jensenshannon`` is its square root,
    which is a metric. Shapes as in :func:`sqeuclidean`.
    """
    xt, yt, from_numpy = _pair(x, y)
    _check_distributions(xt, "x")
    _check_distributions(yt, "y")
    p = xt[:, None, :]
    q = yt[None, :, :]
    m = (p + q) / 2
    kl_pm = (torch.special.xlogy(p, p) - torch.special.xlogy(p, m)).sum(-1)
    kl_qm = (torch.special.xlogy(q, q) - torch.special.xlogy(q, m)).sum(-1)
    return to_output(((kl_pm + kl_qm) / 2).clamp_min_(0.0), from_numpy)


_NAMED: dict[str, Callable[..., ArrayLike]] = {
    "euclidean": euclidean,
    "sqeuclidean": sqeuclidean,
    "dot": dot,
    "cosine": cosine_similarity,
    "cosine_distance": cosine_distance,
    "mahalanobis": mahalanobis,
    "kl": kl_divergence,
    "js": js_divergence,
}


def canonical_metric(metric: str) -> str:
    """The canonical name of ``metric``: itself, or the new name of a deprecated alias.

    Parameters
    ----------
    metric : str
        One of :data:`METRICS` or of :data:`DEPRECATED_METRICS` (``"l2"``).

    Returns
    -------
    str
        A name of :data:`METRICS`.

    Raises
    ------
    ValueError
        For an unknown name.

    Warns
    -----
    DeprecationWarning
        For ``"l2"``, which means ``"sqeuclidean"`` here.
    """
    if isinstance(metric, str) and metric in DEPRECATED_METRICS:
        new = DEPRECATED_METRICS[metric]
        warnings.warn(
            f'metric "{metric}" is deprecated: it means "{new}" (squared distances); write "{new}", '
            'or "euclidean" for the distance itself',
            DeprecationWarning,
            stacklevel=3,
        )
        return new
    if not isinstance(metric, str):
        raise ValueError(f"metric must be a str, got {type(metric).__name__}")
    return check_choice(metric, "metric", METRICS)


def pairwise(x: ArrayLike, y: ArrayLike, metric: str = "cosine", **kwargs: object) -> ArrayLike:
    """Compare every row of ``x`` with every row of ``y``.

    Parameters
    ----------
    x : (Q, D) float tensor or array
        Queries.
    y : (N, D) float tensor or array
        Gallery items.
    metric : str
        One of :data:`METRICS` (``"l2"`` still works, with a ``DeprecationWarning``).
        ``"cosine"`` and ``"dot"`` are similarities; the others are distances or divergences.
    **kwargs
        Extra arguments of the metric, e.g. ``VI``, ``data`` and ``shrinkage`` for
        ``"mahalanobis"``.

    Returns
    -------
    (Q, N) tensor (same device as ``x``) or numpy array.
    """
    metric = canonical_metric(metric)
    if kwargs and metric != "mahalanobis":
        raise ValueError(f"metric {metric!r} takes no extra arguments, got {sorted(kwargs)}")
    return _NAMED[metric](x, y, **kwargs)


def is_similarity(metric: str) -> bool:
    """True when a larger value of ``metric`` means closer (``"dot"`` and ``"cosine"``)."""
    metric = canonical_metric(metric)
    return metric in ("dot", "cosine")


__all__ = [
    "DEPRECATED_METRICS",
    "METRICS",
    "canonical_metric",
    "cosine_distance",
    "cosine_similarity",
    "covariance",
    "dot",
    "euclidean",
    "is_similarity",
    "js_divergence",
    "kl_divergence",
    "mahalanobis",
    "pairwise",
    "sqeuclidean",
]
