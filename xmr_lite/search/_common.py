"""What every index in :mod:`xmr_lite.search` shares: metric names, widths and input checks."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from xmr_lite._checks import ArrayLike, as_matrix, check_choice, check_int

INDEX_METRICS = ("cosine", "dot", "sqeuclidean", "euclidean")
"""Metric names of every index, as in :mod:`xmr_lite.distances`.

``"cosine"`` and ``"dot"`` are similarities (higher is better); ``"sqeuclidean"`` and
``"euclidean"`` are distances (lower is better).
"""

DEPRECATED_METRICS = {"l2": "sqeuclidean"}
"""Old names still accepted, with a :class:`DeprecationWarning`."""


def check_metric(metric: object, allowed: tuple[str, ...] = INDEX_METRICS) -> str:
    """Return the canonical name of ``metric``; ``"l2"`` warns and becomes ``"sqeuclidean"``."""
    if isinstance(metric, str) and metric in DEPRECATED_METRICS:
        new = DEPRECATED_METRICS[metric]
        warnings.warn(
            f"metric={metric!r} is deprecated: use metric={new!r} (the same squared distance)",
            DeprecationWarning,
            stacklevel=3,
        )
        metric = new
    return check_choice(metric, "metric", allowed)  # type: ignore[arg-type]


def is_distance(metric: str) -> bool:
    """True when lower scores are better (``"sqeuclidean"``, ``"euclidean"``)."""
    return metric in ("sqeuclidean", "euclidean")


def resolve_dimension(dimension: object, dim: object) -> int:
    """The vector width from ``dimension``, or from the deprecated ``dim`` with a warning."""
    if dim is not None:
        if dimension is not None:
            raise ValueError("give dimension only (dim is its deprecated name), not both")
        warnings.warn("dim= is deprecated: use dimension=", DeprecationWarning, stacklevel=3)
        dimension = dim
    if dimension is None:
        raise ValueError("dimension is required: the width D of the vectors")
    return check_int(dimension, "dimension", minimum=1)


def check_vectors(x: ArrayLike, name: str, dimension: int) -> tuple[torch.Tensor, bool]:
    """Validate an (N, D) input against the index width; return it and whether it was numpy."""
    t, from_numpy = as_matrix(x, name, f"(N, {dimension})")
    if t.shape[1] != dimension:
        raise ValueError(f"{name} has D={t.shape[1]} but the index has dimension={dimension}")
    return t, from_numpy


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L2 norm; a zero row raises (it has no direction)."""
    norms = x.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError("a zero vector has no cosine; remove it or use metric='dot'")
    return x / norms


def to_numpy32(x: torch.Tensor) -> np.ndarray:
    """A contiguous float32 numpy copy of ``x`` on the CPU (what faiss takes)."""
    return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)


def missing_score(metric: str) -> float:
    """The score of an empty result place: ``+inf`` for distances, ``-inf`` for similarities."""
    return float("inf") if is_distance(metric) else float("-inf")


class DimAlias:
    """Mixin: ``index.dim`` still reads ``index.dimension``, with a deprecation warning."""

    dimension: int

    @property
    def dim(self) -> int:
        warnings.warn("index.dim is deprecated: use index.dimension", DeprecationWarning, stacklevel=2)
        return self.dimension
