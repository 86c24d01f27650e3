"""Product quantisation from scratch in torch (chapter 10).

A vector is cut into ``m`` sub-vectors; each sub-space has its own codebook of ``2**nbits``
k-means centroids, and a vector is stored as the ``m`` indices of its nearest codewords.
Distances to a query are then sums of ``m`` table look-ups (asymmetric distance computation).
Chapter 10 (:ref:`chap-search-at-scale`) checks the codes and distances against
:class:`faiss.IndexPQ` given the same codebooks.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from xmr_lite._checks import ArrayLike, as_tensor, check_int, check_k, check_ndim, to_output
from xmr_lite._runtime import get_device
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    is_distance,
    resolve_dimension,
    unit_rows,
)
from xmr_lite.search.kmeans import kmeans, squared_distances_to


class ProductQuantizer(DimAlias):
    """Codebooks that compress a D-dimensional vector into ``m`` codes of ``nbits`` bits.

    Parameters
    ----------
    dimension : int
        Vector width D, divisible by ``m``.
    m : int
        Number of sub-spaces (and of codes per vector).
    nbits : int, 1..8
        Bits per code; each sub-space has ``2**nbits`` codewords.
    device : torch.device or str, optional
        Defaults to :func:`xmr_lite.get_device`.

    Attributes
    ----------
    codebooks : (m, 2**nbits, D // m) float32 tensor, after :meth:`train`
    """

    def __init__(
        self,
        dimension: int | None = None,
        m: int = 8,
        nbits: int = 8,
        device: torch.device | str | None = None,
        *,
        dim: int | None = None,
    ) -> None:
        self.dimension = resolve_dimension(dimension, dim)
        self.m = check_int(m, "m")
        if self.dimension % self.m:
            raise ValueError(f"dimension must be divisible by m, got dimension={self.dimension}, m={self.m}")
        self.nbits = check_int(nbits, "nbits")
        if self.nbits > 8:
            raise ValueError(f"nbits must be between 1 and 8 (one byte per code), got {self.nbits}")
        self.ksub = 2**self.nbits
        self.dsub = self.dimension // self.m
        self.device = torch.device(device) if device is not None else get_device()
        self.codebooks: torch.Tensor | None = None

    @property
    def code_size(self) -> int:
        """Bytes per encoded vector (``m`` one-byte codes)."""
        return self.m

    def _require_trained(self) -> torch.Tensor:
        if self.codebooks is None:
            raise ValueError("the product quantiser is not trained: call train(x) first")
        return self.codebooks

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (m, N, D/m): the sub-vectors of every row, one sub-space per slice."""
        return x.to(self.device, torch.float32).reshape(len(x), self.m, self.dsub).transpose(0, 1)

    def train(self, x: ArrayLike, n_iter: int = 25, random_state: int = 0, init: str = "random") -> None:
        """Learn one codebook per sub-space by k-means (``2**nbits`` centroids each) on (N, D) ``x``.

        ``init`` is passed to :func:`~xmr_lite.search.kmeans`. Random rows, as faiss starts its
        codebooks, are much cheaper than k-means++ for 256 centroids in each of ``m`` sub-spaces.
        """
        t, _ = check_vectors(x, "x", self.dimension)
        if len(t) < self.ksub:
            raise ValueError(f"x has {len(t)} rows but training needs at least 2**nbits={self.ksub}")
        parts = self._split(t)
        books = [
            kmeans(parts[j], self.ksub, n_iter, init, random_state + j, device=self.device).centroids
            for j in range(self.m)
        ]
        self.codebooks = torch.stack(books)  # type: ignore[arg-type]

    def set_codebooks(self, codebooks: ArrayLike) -> None:
        """Use given (m, 2**nbits, D/m) codebooks (for example faiss's, to compare)."""
        c, _ = as_tensor(codebooks, "codebooks")
        shape = (self.m, self.ksub, self.dsub)
        if tuple(c.shape) != shape:
            raise ValueError(f"codebooks must have shape {shape}, got {tuple(c.shape)}")
        self.codebooks = c.to(self.device, torch.float32).clone()

    def encode(self, x: ArrayLike) -> ArrayLike:
        """(N, D) vectors -> (N, m) uint8 codes: the nearest codeword in each sub-space."""
        books = self._require_trained()
        t, from_numpy = check_vectors(x, "x", self.dimension)
        parts = self._split(t)
        codes = torch.stack([squared_distances_to(parts[j], books[j]).argmin(1) for j in range(self.m)], dim=1)
        return to_output(codes.to(torch.uint8), from_numpy)

    def _check_codes(self, codes: ArrayLike) -> tuple[torch.Tensor, bool]:
        c, from_numpy = as_tensor(codes, "codes")
        check_ndim(c, "codes", 2, f"(N, {self.m})")
        if c.shape[1] != self.m:
            raise ValueError(f"codes has {c.shape[1]} columns but the quantiser has m={self.m}")
        c = c.to(self.device, torch.int64)
        if bool(((c < 0) | (c >= self.ksub)).any()):
            raise ValueError(f"codes must lie in [0, {self.ksub})")
        return c, from_numpy

    def decode(self, codes: ArrayLike) -> ArrayLike:
        """(N, m) codes -> (N, D) reconstructed vectors (the chosen codewords side by side)."""
        books = self._require_trained()
        c, from_numpy = self._check_codes(codes)
        parts = [books[j][c[:, j]] for j in range(self.m)]
        return to_output(torch.cat(parts, dim=1), from_numpy)

    def lookup_tables(self, q: ArrayLike, metric: str = "sqeuclidean") -> torch.Tensor:
        """(Q, m, 2**nbits) per-sub-space scores of every codeword for each query.

        Squared distances for ``"sqeuclidean"``, inner products for ``"dot"``.
        """
        books = self._require_trained()
        t, _ = check_vectors(q, "q", self.dimension)
        parts = self._split(t)  # (m, Q, dsub)
        if metric == "dot":
            tables = torch.bmm(parts, books.transpose(1, 2))
        else:
            tables = torch.stack([squared_distances_to(parts[j], books[j]) for j in range(self.m)])
        return tables.transpose(0, 1)

    def adc(self, q: ArrayLike, codes: ArrayLike, metric: str = "sqeuclidean") -> ArrayLike:
        """Asymmetric distances: (Q, N) approximate scores of queries against encoded vectors.

        ``score[i, n] = sum_j table[i, j, codes[n, j]]``: the query stays exact, the stored
        vector is replaced by its codewords.
        """
        _, from_numpy = as_tensor(q, "q")
        tables = self.lookup_tables(q, metric)  # (Q, m, ksub)
        c, _ = self._check_codes(codes)
        return to_output(self.adc_from_one_hot(tables, self.one_hot(c)), from_numpy)

    def one_hot(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, m * 2**nbits) sparse CSR matrix with a 1 at ``j * 2**nbits + codes[n, j]``.

        Summing ``m`` table entries per stored vector is then one sparse-dense matrix
        product, which runs in compiled code instead of ``m`` Python-level gathers.
        """
        n = len(codes)
        columns = (codes.to(torch.int64) + torch.arange(self.m, device=codes.device) * self.ksub).reshape(-1)
        rows = torch.arange(0, n * self.m + 1, self.m, device=codes.device)
        values = torch.ones(n * self.m, device=codes.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            return torch.sparse_csr_tensor(rows, columns, values, size=(n, self.m * self.ksub))

    @staticmethod
    def adc_from_one_hot(tables: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
        """(Q, N) sums of table entries: ``tables`` (Q, m, ksub) against a :meth:`one_hot` matrix."""
        flat = tables.reshape(len(tables), -1).T.contiguous()  # (m * ksub, Q)
        return torch.sparse.mm(one_hot, flat).T.contiguous()  # (Q, N); topk is slow on a transposed view


class PQIndex(DimAlias):
    """A flat index of product-quantised codes, searched by asymmetric distances.

    Stores ``m`` bytes per vector instead of ``4 * D``.

    Parameters
    ----------
    dimension : int
    m, nbits : int
        See :class:`ProductQuantizer`.
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Score convention as :class:`~xmr_lite.search.ExactIndex` (approximate scores).
    device : torch.device or str, optional
    chunk_size : int
        Codes scored at once.
    """

    def __init__(
        self,
        dimension: int | None = None,
        m: int = 8,
        nbits: int = 8,
        metric: str = "sqeuclidean",
        device: torch.device | str | None = None,
        chunk_size: int = 65536,
        *,
        dim: int | None = None,
    ) -> None:
        self.pq = ProductQuantizer(resolve_dimension(dimension, dim), m, nbits, device)
        self.dimension = self.pq.dimension
        self.metric = check_metric(metric)
        self.device = self.pq.device
        self.chunk_size = check_int(chunk_size, "chunk_size")
        self._codes: list[torch.Tensor] = []
        self._one_hot: list[tuple[int, torch.Tensor]] | None = None

    def __len__(self) -> int:
        return sum(len(c) for c in self._codes)

    @property
    def codes(self) -> torch.Tensor:
        """(N, m) uint8 codes of everything added."""
        if len(self._codes) > 1:
            self._codes = [torch.cat(self._codes)]
        return self._codes[0] if self._codes else torch.empty(0, self.pq.m, dtype=torch.uint8, device=self.device)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32)
        return unit_rows(x) if self.metric == "cosine" else x

    def _one_hot_chunks(self) -> list[tuple[int, torch.Tensor]]:
        """The codes as sparse one-hot blocks of ``chunk_size`` rows, built once per :meth:`add`."""
        if self._one_hot is None:
            codes = self.codes
            starts = range(0, len(codes), self.chunk_size)
            self._one_hot = [(s, self.pq.one_hot(codes[s : s + self.chunk_size])) for s in starts]
        return self._one_hot

    def train(self, x: ArrayLike, n_iter: int = 25, random_state: int = 0, init: str = "random") -> None:
        """Train the codebooks on (N, D) vectors (N >= 2**nbits); see :meth:`ProductQuantizer.train`."""
        t, _ = check_vectors(x, "x", self.dimension)
        self.pq.train(self._prepare(t), n_iter=n_iter, random_state=random_state, init=init)

    def add(self, x: ArrayLike) -> None:
        """Encode and append (N, D) vectors; the index must be trained first."""
        if self.pq.codebooks is None:
            raise ValueError("the index is not trained: call train(x) first")
        t, _ = check_vectors(x, "x", self.dimension)
        self._codes.append(self.pq.encode(self._prepare(t)))  # type: ignore[arg-type]
        self._one_hot = None

    def search(self, q: ArrayLike, k: int) -> tuple[ArrayLike, ArrayLike]:
        """The ``k`` best codes for each (Q, D) query, by asymmetric distance; as ExactIndex.search."""
        if self.pq.codebooks is None:
            raise ValueError("the index is not trained: call train(x) first")
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        qp = self._prepare(qt)
        sign = -1.0 if is_distance(self.metric) else 1.0
        table_metric = "sqeuclidean" if is_distance(self.metric) else "dot"
        tables = self.pq.lookup_tables(qp, table_metric)
        best = torch.full((len(qp), 0), float("-inf"), device=self.device)
        best_ids = torch.empty((len(qp), 0), dtype=torch.int64, device=self.device)
        for start, one_hot in self._one_hot_chunks():
            scores = sign * self.pq.adc_from_one_hot(tables, one_hot)
            top = torch.topk(scores, min(k, one_hot.shape[0]), dim=1)
            merged = torch.cat([best, top.values], 1)
            merged_ids = torch.cat([best_ids, top.indices + start], 1)
            keep = torch.topk(merged, min(k, merged.shape[1]), dim=1)
            best, best_ids = keep.values, merged_ids.gather(1, keep.indices)
        scores = sign * best
        if self.metric == "euclidean":
            scores = scores.clamp_min(0.0).sqrt()
        return to_output(scores.to(qt.device), from_numpy), to_output(best_ids.to(qt.device), from_numpy)

    def save(self, path: str | Path) -> None:
        """Write codebooks, codes and settings to a torch file."""
        state = {
            "dimension": self.dimension,
            "m": self.pq.m,
            "nbits": self.pq.nbits,
            "metric": self.metric,
            "codebooks": None if self.pq.codebooks is None else self.pq.codebooks.cpu(),
            "codes": self.codes.cpu(),
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> PQIndex:
        """Read an index written by :meth:`save` (``weights_only=True``: no code runs)."""
        state = torch.load(Path(path), weights_only=True)
        index = cls(state["dimension"], state["m"], state["nbits"], state["metric"], device=device)
        if state["codebooks"] is not None:
            index.pq.set_codebooks(state["codebooks"])
        if len(state["codes"]):
            index._codes = [state["codes"].to(index.device)]
            index._one_hot = None
        return index
