"""Compressed embeddings: float16, int8 scalar quantisation and binary codes with Hamming search.

Taught in chapter 14 (:ref:`chap-practice`), which weighs each code against recall and bytes
per vector, next to the product quantisation of chapter 10 (:class:`ProductQuantizer`).

=============  =================  ==========================================
code           bytes per vector   search
=============  =================  ==========================================
float32        ``4 * D``          exact inner product
float16        ``2 * D``          exact inner product on the decoded vectors
int8           ``D``              inner product on the decoded vectors
binary         ``ceil(D / 8)``    Hamming distance (:func:`hamming_search`)
=============  =================  ==========================================
"""

from __future__ import annotations

import numpy as np
import torch

from xmr_lite._checks import ArrayLike, as_matrix, as_tensor, check_k, check_ndim, to_output


def to_float16(x: ArrayLike) -> ArrayLike:
    """Round (N, D) vectors to float16, half the bytes of float32.

    Parameters
    ----------
    x : (N, D) float tensor or array
        Finite values; a value beyond float16's range (65,504) raises.

    Returns
    -------
    (N, D) float16 tensor or array, on the device of ``x`` (numpy in, numpy out).
    """
    t, from_numpy = as_matrix(x, "x")
    if bool((t.abs() > torch.finfo(torch.float16).max).any()):
        raise ValueError("x has values beyond the float16 range (|x| > 65504)")
    return to_output(t.to(torch.float16), from_numpy)


class ScalarQuantizer:
    """Per-dimension int8 quantisation: each coordinate mapped linearly onto 256 levels.

    ``fit`` records, for every dimension, the smallest and largest training value; ``encode``
    maps ``[low, high]`` onto the integers 0..255 (values outside are clipped), one byte per
    coordinate; ``decode`` maps each level back to ``low + code * step`` with
    ``step = (high - low) / 255``, so the rounding error of a value inside the range is at most
    ``step / 2``.

    Notes
    -----
    Taught in chapter 14. faiss's ``IndexScalarQuantizer`` with ``QT_8bit`` does the same.
    """

    def __init__(self) -> None:
        self.low: torch.Tensor | None = None
        self.step: torch.Tensor | None = None

    @property
    def dimension(self) -> int:
        """Vector width D (after ``fit``)."""
        self._check_fitted()
        return int(self.low.shape[0])

    def _check_fitted(self) -> None:
        if self.low is None:
            raise ValueError("the quantizer is not fitted: call fit(x) first")

    def fit(self, x: ArrayLike) -> ScalarQuantizer:
        """Learn each dimension's range from (N, D) training vectors; returns ``self``."""
        t, _ = as_matrix(x, "x")
        t = t.to(torch.float32)
        self.low = t.min(0).values
        span = t.max(0).values - self.low
        self.step = torch.where(span > 0, span / 255, torch.ones_like(span))  # a constant dimension: any step
        return self

    def _input(self, x: ArrayLike) -> tuple[torch.Tensor, bool]:
        self._check_fitted()
        t, from_numpy = as_matrix(x, "x")
        if t.shape[1] != self.dimension:
            raise ValueError(f"x must have shape (N, {self.dimension}), got {tuple(t.shape)}")
        return t.to(torch.float32), from_numpy

    def encode(self, x: ArrayLike) -> ArrayLike:
        """(N, D) float vectors -> (N, D) uint8 codes."""
        t, from_numpy = self._input(x)
        low, step = self.low.to(t.device), self.step.to(t.device)
        codes = torch.round((t - low) / step).clamp(0, 255).to(torch.uint8)
        return to_output(codes, from_numpy)

    def decode(self, codes: ArrayLike) -> ArrayLike:
        """(N, D) uint8 codes -> (N, D) float32 vectors."""
        self._check_fitted()
        t, from_numpy = as_tensor(codes, "codes")
        check_ndim(t, "codes", 2, f"(N, {self.dimension})")
        if t.dtype != torch.uint8:
            raise ValueError(f"codes must be uint8, got {t.dtype}")
        if t.shape[1] != self.dimension:
            raise ValueError(f"codes must have shape (N, {self.dimension}), got {tuple(t.shape)}")
        low, step = self.low.to(t.device), self.step.to(t.device)
        return to_output(low + t.to(torch.float32) * step, from_numpy)


def binary_codes(x: ArrayLike) -> ArrayLike:
    """Keep the sign of every coordinate: (N, D) vectors -> (N, ceil(D / 8)) packed uint8 codes.

    Bit ``j`` of a vector (the ``j % 8``-th most significant bit of byte ``j // 8``, as
    ``numpy.packbits`` orders them) is 1 where coordinate ``j`` is positive. For unit vectors
    the Hamming distance between two codes estimates the angle between the vectors
    (random-hyperplane hashing, here with the coordinate axes as the hyperplanes). Centre the
    vectors first (subtract the training mean) so that each bit splits the data.

    Parameters
    ----------
    x : (N, D) float tensor or array

    Returns
    -------
    (N, ceil(D / 8)) uint8 tensor or array, on the device of ``x``. Unused trailing bits are 0.
    """
    t, from_numpy = as_matrix(x, "x")
    bits = (t > 0).to(torch.uint8)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = torch.cat([bits, bits.new_zeros(bits.shape[0], pad)], dim=1)
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8, device=t.device)
    packed = (bits.view(bits.shape[0], -1, 8) * weights).sum(-1, dtype=torch.int32).to(torch.uint8)
    return to_output(packed, from_numpy)


def _packed(codes: object, name: str) -> np.ndarray:
    t, _ = as_tensor(codes, name)
    check_ndim(t, name, 2, "(N, bytes)")
    if t.dtype != torch.uint8:
        raise ValueError(f"{name} must be uint8 packed bits, got {t.dtype}")
    return np.ascontiguousarray(t.detach().cpu().numpy())


def hamming_search(queries: ArrayLike, gallery: ArrayLike, k: int) -> tuple[ArrayLike, ArrayLike]:
    """The ``k`` gallery codes nearest each query code in Hamming distance, with faiss.

    Parameters
    ----------
    queries : (Q, B) uint8 tensor or array
        Packed codes from :func:`binary_codes`.
    gallery : (N, B) uint8 tensor or array
        Packed codes of the same width ``B`` bytes.
    k : int, 1 <= k <= N

    Returns
    -------
    distances : (Q, k) int64
        Hamming distances (number of differing bits), smallest first.
    ids : (Q, k) int64
        Gallery rows. Ties are broken by faiss (smaller row first in practice).
        Tensors on the device of ``queries``, or numpy when ``queries`` is numpy.
    """
    import faiss

    q_tensor, from_numpy = as_tensor(queries, "queries")
    q, g = _packed(queries, "queries"), _packed(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} bytes per code but gallery has {g.shape[1]}")
    k = check_k(k, len(g))
    index = faiss.IndexBinaryFlat(8 * g.shape[1])
    index.add(g)
    distances, ids = index.search(q, k)
    distances_t = torch.from_numpy(distances.astype(np.int64))
    ids_t = torch.from_numpy(ids.astype(np.int64))
    if from_numpy:
        return distances_t.numpy(), ids_t.numpy()
    return distances_t.to(q_tensor.device), ids_t.to(q_tensor.device)


def bytes_per_vector(code: str, dimension: int) -> int:
    """Storage of one D-dimensional vector under ``code`` in {"float32", "float16", "int8", "binary"}."""
    if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)) or dimension < 1:
        raise ValueError(f"dimension must be an int >= 1, got {dimension!r}")
    sizes = {"float32": 4 * dimension, "float16": 2 * dimension, "int8": dimension, "binary": -(-dimension // 8)}
    if code not in sizes:
        raise ValueError(f"code must be one of {list(sizes)}, got {code!r}")
    return int(sizes[code])


__all__ = ["ScalarQuantizer", "binary_codes", "bytes_per_vector", "hamming_search", "to_float16"]
