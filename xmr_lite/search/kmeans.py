"""k-means from scratch in torch: k-means++ seeding and Lloyd's iterations (chapter 10).

The coarse quantiser of an IVF index and each codebook of a product quantiser are k-means
centroids; chapter 10 (:ref:`chap-search-at-scale`) checks these functions against
:class:`sklearn.cluster.KMeans` and :class:`faiss.Kmeans` started from the same centroids.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from xmr_lite._checks import ArrayLike, as_matrix, check_int, to_output
from xmr_lite._runtime import get_device


class KMeansResult(NamedTuple):
    """What :func:`kmeans` returns (numpy arrays when the input was numpy)."""

    centroids: ArrayLike
    """(K, D) float32 cluster centres."""
    labels: ArrayLike
    """(N,) int64 index of each point's centre."""
    inertia: float
    """Sum of squared distances from each point to its centre."""
    n_iter: int
    """Lloyd iterations run."""


def _generator(random_state: int, device: torch.device) -> torch.Generator:
    seed = check_int(random_state, "random_state", minimum=0)
    return torch.Generator(device=device).manual_seed(seed)


def squared_distances_to(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """(N, K) squared distances by the expansion, clamped at zero.

    Callers centre ``x`` first (as :func:`kmeans` does), which keeps the expansion accurate.
    """
    d2 = (x * x).sum(1, keepdim=True) - 2.0 * x @ centroids.T + (centroids * centroids).sum(1)
    return d2.clamp_min_(0.0)


def kmeans_plus_plus(x: ArrayLike, n_clusters: int, random_state: int = 0) -> ArrayLike:
    """k-means++ seeding: each new centre is a point drawn with probability ∝ D(x)².

    Parameters
    ----------
    x : (N, D) float tensor or array
    n_clusters : int, 1 <= n_clusters <= N
    random_state : int
        Seed of the draws.

    Returns
    -------
    (K, D) float32 initial centroids, rows of ``x``.
    """
    xt, from_numpy = as_matrix(x, "x")
    k = _check_clusters(n_clusters, len(xt))
    xt = xt.to(torch.float32)
    gen = _generator(random_state, xt.device)
    first = int(torch.randint(len(xt), (1,), generator=gen, device=xt.device))
    chosen = [first]
    closest = _sq_dist_to_one(xt, xt[first])
    for _ in range(1, k):
        total = closest.sum()
        if float(total) == 0.0:  # fewer distinct points than centres: take any unused row
            used = set(chosen)
            nxt = next(i for i in range(len(xt)) if i not in used)
        else:
            nxt = int(torch.multinomial(closest / total, 1, generator=gen))
        chosen.append(nxt)
        torch.minimum(closest, _sq_dist_to_one(xt, xt[nxt]), out=closest)
    return to_output(xt[chosen].clone(), from_numpy)


def _sq_dist_to_one(x: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(N,) squared distances from every row to one centre, from the differences."""
    diff = x - centre
    return (diff * diff).sum(1)


def _check_clusters(n_clusters: object, n: int) -> int:
    k = check_int(n_clusters, "n_clusters", minimum=1)
    if k > n:
        raise ValueError(f"n_clusters={k} needs at least as many points, but x has {n} rows")
    return k


def _lloyd_step(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One assignment and update; an empty cluster keeps its centre."""
    d2 = squared_distances_to(x, centroids)
    best, labels = d2.min(1)
    sums = torch.zeros_like(centroids).index_add_(0, labels, x)
    counts = torch.bincount(labels, minlength=len(centroids)).to(x.dtype).unsqueeze(1)
    updated = torch.where(counts > 0, sums / counts.clamp_min(1.0), centroids)
    return updated, labels, float(best.sum())


def kmeans(
    x: ArrayLike,
    n_clusters: int,
    n_iter: int = 25,
    init: ArrayLike | str = "k-means++",
    random_state: int = 0,
    tol: float = 0.0,
    device: torch.device | str | None = None,
) -> KMeansResult:
    """Lloyd's k-means: assign each point to its nearest centre, move centres to their means.

    Parameters
    ----------
    x : (N, D) float tensor or array
    n_clusters : int
        K, with 1 <= K <= N (fewer points than centres is a ``ValueError``).
    n_iter : int
        At most this many Lloyd iterations.
    init : "k-means++", "random" or (K, D) tensor or array
        Initial centroids: k-means++ seeding, K distinct random rows, or given centres.
    random_state : int
        Seed of the initialisation.
    tol : float
        Stop early once the inertia improves by no more than ``tol`` (relative).
    device : torch.device or str, optional
        Where to compute; defaults to the device of a tensor ``x``, or
        :func:`xmr_lite.get_device` for numpy.

    Returns
    -------
    KMeansResult
        ``centroids`` (K, D), ``labels`` (N,), ``inertia`` (the sum of squared distances to the
        final centres) and ``n_iter``.
    """
    xt, from_numpy = as_matrix(x, "x")
    k = _check_clusters(n_clusters, len(xt))
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    dev = torch.device(device) if device is not None else (get_device() if from_numpy else xt.device)
    xt = xt.to(dev, torch.float32)
    centroids = _initial_centroids(xt, k, init, random_state)
    shift = xt.mean(0)  # centring keeps the expansion in squared_distances_to accurate
    xc, cc = xt - shift, centroids - shift
    previous = float("inf")
    done = 0
    for done in range(1, n_iter + 1):
        cc, _, inertia = _lloyd_step(xc, cc)
        if previous - inertia <= tol * max(previous, 1e-30) and done > 1:
            break
        previous = inertia
    best, labels = squared_distances_to(xc, cc).min(1)
    centroids = cc + shift
    return KMeansResult(to_output(centroids, from_numpy), to_output(labels, from_numpy), float(best.sum()), done)


def _initial_centroids(x: torch.Tensor, k: int, init: ArrayLike | str, random_state: int) -> torch.Tensor:
    if isinstance(init, str):
        if init == "k-means++":
            return kmeans_plus_plus(x, k, random_state)  # type: ignore[return-value]
        if init == "random":
            gen = _generator(random_state, x.device)
            return x[torch.randperm(len(x), generator=gen, device=x.device)[:k]].clone()
        raise ValueError(f"init must be 'k-means++', 'random' or a (K, D) array, got {init!r}")
    c, _ = as_matrix(init, "init", "(K, D)")
    if tuple(c.shape) != (k, x.shape[1]):
        raise ValueError(f"init must have shape ({k}, {x.shape[1]}), got {tuple(c.shape)}")
    return c.to(x.device, torch.float32).clone()


def assign(x: ArrayLike, centroids: ArrayLike) -> ArrayLike:
    """(N,) index of the nearest centroid (squared Euclidean) of each row of ``x``."""
    xt, from_numpy = as_matrix(x, "x")
    ct, _ = as_matrix(centroids, "centroids", "(K, D)")
    if ct.shape[1] != xt.shape[1]:
        raise ValueError(f"centroids have D={ct.shape[1]} but x has D={xt.shape[1]}")
    xt = xt.to(torch.float32)
    ct = ct.to(xt.device, torch.float32)
    shift = ct.mean(0)
    return to_output(squared_distances_to(xt - shift, ct - shift).argmin(1), from_numpy)
