"""Exact (brute-force) search in torch, chunked so that large galleries fit in memory.

Taught in chapters 1 and 2; chapter 10 (:ref:`chap-search-at-scale`) measures where it stops
scaling and compares it with faiss's flat index.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xmr_lite._checks import ArrayLike, check_int, check_k, to_output
from xmr_lite._runtime import get_device
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    is_distance,
    resolve_dimension,
    unit_rows,
)


class ExactIndex(DimAlias):
    """Brute-force nearest neighbours: every query is scored against every stored vector.

    Parameters
    ----------
    dimension : int
        Vector width D.
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Similarities (cosine, dot) are returned higher-is-better, distances lower-is-better.
        ``"l2"`` is accepted as a deprecated alias of ``"sqeuclidean"``.
    device : torch.device or str, optional
        Where the vectors live and scores are computed; defaults to :func:`xmr_lite.get_device`.
    chunk_size : int
        Gallery rows scored at once; the (Q, chunk_size) block is the only large temporary.
        The default is measured by ``benchmarks/ann.py``, which sweeps 1,024 to 65,536 rows
        on one thread: on 49,000 and 100,000 GloVe vectors (Intel Xeon, 2 cores) 4,096 was
        the fastest or within noise of it for inner products, and 1.1-1.2x the speed of
        65,536. Results do not depend on it.
    query_chunk_size : int
        Queries processed at once.
    dim : int, optional
        Deprecated name of ``dimension``.

    Notes
    -----
    Distances use the expansion ``|q - y|^2 = |q|^2 + |y|^2 - 2 q.y`` (one matrix product per
    block), computed on data centred on the gallery mean so that an offset of the whole data
    set cannot cancel the digits that tell neighbours apart. The ``2k`` best candidates are then
    re-ranked with the exact differences, so the distances returned are exact too.

    Examples
    --------
    >>> index = ExactIndex(dimension=2, metric="sqeuclidean", device="cpu")
    >>> index.add(torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]))
    >>> scores, ids = index.search(torch.tensor([[0.9, 0.1]]), k=2)
    >>> ids.tolist()
    [[1, 0]]
    """

    def __init__(
        self,
        dimension: int | None = None,
        metric: str = "cosine",
        device: torch.device | str | None = None,
        chunk_size: int = 4096,
        query_chunk_size: int = 4096,
        *,
        dim: int | None = None,
    ) -> None:
        self.dimension = resolve_dimension(dimension, dim)
        self.metric = check_metric(metric)
        self.device = torch.device(device) if device is not None else get_device()
        self.chunk_size = check_int(chunk_size, "chunk_size")
        self.query_chunk_size = check_int(query_chunk_size, "query_chunk_size")
        self._chunks: list[torch.Tensor] = []
        self._vectors: torch.Tensor | None = None
        self._invalidate()

    def _invalidate(self) -> None:
        """Forget everything derived from the stored vectors (called by :meth:`add`)."""
        self._centre: torch.Tensor | None = None  # (D,) gallery mean, distances only
        self._centred: torch.Tensor | None = None  # (N, D) gallery minus its mean
        self._sq_norms: torch.Tensor | None = None  # (N,) squared norms of the centred gallery

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks) if self._vectors is None else len(self._vectors)

    @property
    def vectors(self) -> torch.Tensor:
        """(N, D) float32 tensor of everything added (unit rows for ``"cosine"``)."""
        if self._vectors is None:
            empty = torch.empty(0, self.dimension, device=self.device)
            self._vectors = torch.cat(self._chunks) if self._chunks else empty
            self._chunks = [self._vectors] if len(self._vectors) else []
        return self._vectors

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(device=self.device, dtype=torch.float32)
        return unit_rows(x) if self.metric == "cosine" else x

    def add(self, x: ArrayLike) -> None:
        """Append (N, D) vectors; their ids continue from ``len(self)``."""
        t, _ = check_vectors(x, "x", self.dimension)
        self._chunks.append(self._prepare(t))
        self._vectors = None
        self._invalidate()

    def _distance_cache(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._centred is None:
            gallery = self.vectors
            self._centre = gallery.mean(0)
            self._centred = gallery - self._centre
            self._sq_norms = (self._centred * self._centred).sum(1)
        return self._centre, self._centred, self._sq_norms  # type: ignore[return-value]

    def _top(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k largest scores (larger is better) of a query block, chunk by chunk.

        For distances the score is ``2 q.y - |y|^2`` on centred data, which ranks like
        ``-|q - y|^2`` (the missing ``|q|^2`` is the same along a row).
        """
        if is_distance(self.metric):
            centre, gallery, sq_norms = self._distance_cache()
            q = q - centre
        else:
            gallery, sq_norms = self.vectors, None
        best_scores = torch.full((len(q), 0), float("-inf"), device=self.device)
        best_ids = torch.empty((len(q), 0), dtype=torch.int64, device=self.device)
        for start in range(0, len(gallery), self.chunk_size):
            block = gallery[start : start + self.chunk_size]
            if sq_norms is None:
                scores = q @ block.T
            else:
                bias = -sq_norms[start : start + len(block)].unsqueeze(0)
                scores = torch.addmm(bias, q, block.T, alpha=2.0)
            top = torch.topk(scores, min(k, len(block)), dim=1)
            merged_scores = torch.cat([best_scores, top.values], dim=1)
            merged_ids = torch.cat([best_ids, top.indices + start], dim=1)
            keep = torch.topk(merged_scores, min(k, merged_scores.shape[1]), dim=1)
            best_scores, best_ids = keep.values, merged_ids.gather(1, keep.indices)
        return best_scores, best_ids

    def _rerank(self, q: torch.Tensor, ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact squared distances of a short list from the differences, the k smallest first."""
        diff = q.unsqueeze(1) - self.vectors[ids]  # (Q, S, D)
        d2 = (diff * diff).sum(-1)
        order = torch.topk(d2, k, dim=1, largest=False)
        return order.values, ids.gather(1, order.indices)

    def _search_block(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not is_distance(self.metric):
            return self._top(q, k)
        _, short = self._top(q, min(len(self), 2 * k))
        d2, ids = self._rerank(q, short, k)
        return (d2.sqrt() if self.metric == "euclidean" else d2), ids

    def search(self, q: ArrayLike, k: int) -> tuple[ArrayLike, ArrayLike]:
        """Find the ``k`` best items for each query.

        Parameters
        ----------
        q : (Q, D) float tensor or array
        k : int, 1 <= k <= len(self)

        Returns
        -------
        scores : (Q, k) float32, in the index's convention, best first
        ids : (Q, k) int64 ids of the items
            Tensors on the device of ``q``, or numpy arrays if ``q`` is one.
        """
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        qp = self._prepare(qt)
        parts = [
            self._search_block(qp[i : i + self.query_chunk_size], k) for i in range(0, len(qp), self.query_chunk_size)
        ]
        scores = torch.cat([p[0] for p in parts]).to(qt.device)
        ids = torch.cat([p[1] for p in parts]).to(qt.device)
        return to_output(scores, from_numpy), to_output(ids, from_numpy)

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` (a torch file of plain tensors and settings)."""
        state = {"dimension": self.dimension, "metric": self.metric, "vectors": self.vectors.cpu()}
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> ExactIndex:
        """Read an index written by :meth:`save` (with ``weights_only=True``: no code runs)."""
        state = torch.load(Path(path), weights_only=True)
        dimension = state.get("dimension", state.get("dim"))  # files written before the rename
        metric = {"l2": "sqeuclidean"}.get(state["metric"], state["metric"])
        index = cls(dimension, metric, device=device)
        if len(state["vectors"]):
            index._chunks = [state["vectors"].to(index.device)]
        return index
