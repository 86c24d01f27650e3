"""Data and checks shared by the tests of the approximate indexes (IVF, PQ, IVF-PQ)."""

from __future__ import annotations

import numpy as np
import pytest


def blobs(rng: np.random.Generator, n: int = 2000, d: int = 8) -> np.ndarray:
    """(n, d) float32 points around 12 random centres (spread 4, unit noise)."""
    centres = rng.normal(scale=4.0, size=(12, d))
    return (centres[rng.integers(0, 12, n)] + rng.normal(size=(n, d))).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over the (Q, k) rows of the fraction of ``truth``'s ids that ``found`` holds."""
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth, strict=True)]))


def assert_untrained_refuses(index: object, x: np.ndarray) -> None:
    """An untrained index refuses to add ``x`` and to search it."""
    with pytest.raises(ValueError, match="not trained"):
        index.add(x)
    with pytest.raises(ValueError, match="not trained"):
        index.search(x, 1)


def assert_search_refuses(index: object, x: np.ndarray, too_many_probes: int) -> None:
    """A filled (D = 8) index refuses ``too_many_probes``, k past its size and 3-wide queries."""
    with pytest.raises(ValueError, match="nprobe must satisfy"):
        index.search(x, 1, nprobe=too_many_probes)
    with pytest.raises(ValueError, match=f"1 <= k <= {len(index)}"):
        index.search(x, len(index) + 1)
    with pytest.raises(ValueError, match="D=3 but the index has dimension=8"):
        index.search(np.ones((1, 3)), 1)
