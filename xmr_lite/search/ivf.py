"""An inverted-file (IVF) index from scratch in torch (chapter 10).

A coarse quantiser (k-means centroids) splits the gallery into ``nlist`` cells; a query visits
the ``nprobe`` cells whose centroids are closest and scans only their vectors. Chapter 10
(:ref:`chap-search-at-scale`) checks that, for the same centroids and ``nprobe``, it returns the
same neighbours as :class:`faiss.IndexIVFFlat`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from xmr_lite._checks import ArrayLike, as_matrix, check_int, check_k, to_output
from xmr_lite._runtime import get_device
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    is_distance,
    missing_score,
    resolve_dimension,
    unit_rows,
)
from xmr_lite.search.kmeans import kmeans


class IVFIndex(DimAlias):
    """Inverted lists over k-means cells: scan ``nprobe`` of ``nlist`` cells per query.

    Parameters
    ----------
    dimension : int
        Vector width D.
    nlist : int
        Number of cells (k-means centroids).
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Score convention as in :class:`~xmr_lite.search.ExactIndex`. Cells are chosen by the
        same metric: nearest centroid for distances, largest inner product otherwise (as faiss
        does with an inner-product quantiser).
    nprobe : int
        Cells visited per query by default, 1 <= nprobe <= nlist.
    device : torch.device or str, optional
        Defaults to :func:`xmr_lite.get_device`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(500, 8)).astype("float32")
    >>> index = IVFIndex(8, nlist=10, metric="sqeuclidean", nprobe=10, device="cpu")
    >>> index.train(x)
    >>> index.add(x)
    >>> index.search(x[:2], k=1)[1].ravel().tolist()
    [0, 1]
    """

    def __init__(
        self,
        dimension: int | None = None,
        nlist: int = 100,
        metric: str = "cosine",
        nprobe: int = 8,
        device: torch.device | str | None = None,
        *,
        dim: int | None = None,
    ) -> None:
        self.dimension = resolve_dimension(dimension, dim)
        self.nlist = check_int(nlist, "nlist")
        self.metric = check_metric(metric)
        self.nprobe = self._check_nprobe(nprobe)
        self.device = torch.device(device) if device is not None else get_device()
        self.centroids: torch.Tensor | None = None
        self._lists: list[list[torch.Tensor]] = [[] for _ in range(self.nlist)]
        self._list_ids: list[list[torch.Tensor]] = [[] for _ in range(self.nlist)]
        self._ntotal = 0
        self._scan_cache: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _check_nprobe(self, nprobe: object) -> int:
        value = check_int(nprobe, "nprobe")
        if value > self.nlist:
            raise ValueError(f"nprobe must satisfy 1 <= nprobe <= nlist={self.nlist}, got {value}")
        return value

    @property
    def is_trained(self) -> bool:
        """Whether the coarse quantiser has its centroids."""
        return self.centroids is not None

    def __len__(self) -> int:
        return self._ntotal

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32)
        return unit_rows(x) if self.metric == "cosine" else x

    def train(
        self,
        x: ArrayLike | None = None,
        n_iter: int = 25,
        random_state: int = 0,
        centroids: ArrayLike | None = None,
    ) -> None:
        """Learn the ``nlist`` centroids by k-means on ``x``, or take given ``centroids``.

        Parameters
        ----------
        x : (N, D) float tensor or array, N >= nlist
            Training vectors (ignored when ``centroids`` is given).
        n_iter, random_state : int
            Passed to :func:`~xmr_lite.search.kmeans`.
        centroids : (nlist, D) float tensor or array, optional
            Use these centroids as they are (to compare with faiss on the same cells).
        """
        if centroids is not None:
            c, _ = as_matrix(centroids, "centroids", f"({self.nlist}, {self.dimension})")
            if tuple(c.shape) != (self.nlist, self.dimension):
                raise ValueError(f"centroids must have shape ({self.nlist}, {self.dimension}), got {tuple(c.shape)}")
            self.centroids = c.to(self.device, torch.float32).clone()
            return
        if x is None:
            raise ValueError("x is required to train (or pass centroids)")
        t, _ = check_vectors(x, "x", self.dimension)
        if len(t) < self.nlist:
            raise ValueError(f"x has {len(t)} rows but training needs at least nlist={self.nlist}")
        result = kmeans(self._prepare(t), self.nlist, n_iter=n_iter, random_state=random_state, device=self.device)
        self.centroids = result.centroids  # type: ignore[assignment]

    def _coarse(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """(Q, n) ids of the n best cells for each row, best first."""
        c = self.centroids
        if is_distance(self.metric):
            shift = c.mean(0)  # type: ignore[union-attr]
            xc, cc = x - shift, c - shift  # type: ignore[operator]
            scores = 2.0 * xc @ cc.T - (cc * cc).sum(1)
        else:
            scores = x @ c.T  # type: ignore[union-attr]
        return torch.topk(scores, n, dim=1).indices

    def _require_trained(self) -> None:
        if self.centroids is None:
            raise ValueError("the index is not trained: call train(x) (or pass centroids) first")

    def add(self, x: ArrayLike) -> None:
        """Append (N, D) vectors to the lists of their nearest cells; ids continue from len(self)."""
        self._require_trained()
        t, _ = check_vectors(x, "x", self.dimension)
        xp = self._prepare(t)
        cells = self._coarse(xp, 1).squeeze(1)
        ids = torch.arange(self._ntotal, self._ntotal + len(xp), device=self.device)
        for cell, rows in _rows_by_cell(cells, self.nlist):
            self._lists[cell].append(xp[rows])
            self._list_ids[cell].append(ids[rows])
            self._scan_cache.pop(cell, None)
        self._ntotal += len(xp)

    def list_sizes(self) -> list[int]:
        """Number of vectors in each cell (how balanced the cells are)."""
        return [sum(len(part) for part in parts) for parts in self._list_ids]

    def _cell(self, cell: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The vectors and ids of one cell, merged into one tensor each on first use."""
        if len(self._lists[cell]) > 1:
            self._lists[cell] = [torch.cat(self._lists[cell])]
            self._list_ids[cell] = [torch.cat(self._list_ids[cell])]
            self._scan_cache.pop(cell, None)
        return self._lists[cell][0], self._list_ids[cell][0]

    def _scan(self, q: torch.Tensor, cell: int, vectors: torch.Tensor) -> torch.Tensor:
        """(q, L) scores, larger is better: inner products or negated squared distances.

        Distances are computed on the cell centred on its mean (its members are close
        together, so the expansion keeps its digits); the centred vectors and their squared
        norms are computed once per cell.
        """
        if not is_distance(self.metric):
            return q @ vectors.T
        if cell not in self._scan_cache:
            mean = vectors.mean(0)
            centred = vectors - mean
            self._scan_cache[cell] = (mean, centred, (centred * centred).sum(1))
        mean, centred, sq_norms = self._scan_cache[cell]
        qc = q - mean
        return torch.addmm(-sq_norms.unsqueeze(0), qc, centred.T, alpha=2.0) - (qc * qc).sum(1, keepdim=True)

    def search(self, q: ArrayLike, k: int, nprobe: int | None = None) -> tuple[ArrayLike, ArrayLike]:
        """The ``k`` best stored vectors among the ``nprobe`` closest cells of each query.

        Parameters
        ----------
        q : (Q, D) float tensor or array
        k : int, 1 <= k <= len(self)
        nprobe : int, optional
            Overrides the index's ``nprobe`` for this call.

        Returns
        -------
        scores, ids : (Q, k)
            As :meth:`ExactIndex.search`. A place with no candidate (the visited cells hold
            fewer than ``k`` vectors) has id ``-1`` and score ``-inf`` (``+inf`` for distances).
        """
        self._require_trained()
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        nprobe = self.nprobe if nprobe is None else self._check_nprobe(nprobe)
        qp = self._prepare(qt)
        probes = self._coarse(qp, nprobe)  # (Q, nprobe)

        def scan(cell: int, visits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
            if not self._lists[cell]:
                return None
            vectors, ids = self._cell(cell)
            return self._scan(qp[visits // nprobe], cell, vectors), ids

        scores, found = _best_of_probed_cells(probes, self.nlist, k, scan)
        scores = _to_convention(scores, found, self.metric)
        return to_output(scores.to(qt.device), from_numpy), to_output(found.to(qt.device), from_numpy)

    def save(self, path: str | Path) -> None:
        """Write centroids, lists and settings to a torch file."""
        self._require_trained()
        cells = [self._cell(c) if self._lists[c] else (None, None) for c in range(self.nlist)]
        state = {
            "dimension": self.dimension,
            "nlist": self.nlist,
            "metric": self.metric,
            "nprobe": self.nprobe,
            "centroids": self.centroids.cpu(),  # type: ignore[union-attr]
            "lists": [v.cpu() if v is not None else torch.empty(0, self.dimension) for v, _ in cells],
            "ids": [i.cpu() if i is not None else torch.empty(0, dtype=torch.int64) for _, i in cells],
            "ntotal": self._ntotal,
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> IVFIndex:
        """Read an index written by :meth:`save` (``weights_only=True``: no code runs)."""
        state = torch.load(Path(path), weights_only=True)
        index = cls(state["dimension"], state["nlist"], state["metric"], state["nprobe"], device=device)
        index.centroids = state["centroids"].to(index.device)
        for cell, (vectors, ids) in enumerate(zip(state["lists"], state["ids"], strict=True)):
            if len(ids):
                index._lists[cell] = [vectors.to(index.device)]
                index._list_ids[cell] = [ids.to(index.device)]
        index._ntotal = int(state["ntotal"])
        return index


def _rows_by_cell(cells: torch.Tensor, nlist: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(N,) int64 cell of each row -> ``(cell, rows)`` for every non-empty cell, rows in input order."""
    order = torch.argsort(cells, stable=True)
    counts = torch.bincount(cells, minlength=nlist).tolist()
    start = 0
    for cell, count in enumerate(counts):
        if count:
            yield cell, order[start : start + count]
            start += count


def _to_convention(scores: torch.Tensor, ids: torch.Tensor, metric: str) -> torch.Tensor:
    """(Q, k) larger-is-better scores -> the metric's convention; places with id -1 get the missing score.

    Negated squared distances become distances (their square roots for ``"euclidean"``).
    """
    if is_distance(metric):
        scores = (-scores).clamp_min(0.0)
        if metric == "euclidean":
            scores = scores.sqrt()
    return scores.masked_fill(ids < 0, missing_score(metric))


def _best_of_probed_cells(
    probes: torch.Tensor,
    nlist: int,
    depth: int,
    scan: Callable[[int, torch.Tensor], tuple[torch.Tensor, torch.Tensor] | None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``depth`` best candidates of each query over the cells it probes.

    Shared by :class:`IVFIndex` and :class:`~xmr_lite.search.IVFPQIndex`: the visits are grouped
    by cell, so that each cell is scanned once for all the queries that probe it.

    Parameters
    ----------
    probes : (Q, nprobe) int64 tensor
        The cells each query visits; visit ``v`` is query ``v // nprobe``.
    nlist : int
        Number of cells.
    depth : int
        How many candidates to keep per query.
    scan : callable
        ``scan(cell, visits)`` returns ``(scores, ids)``, both ``(V, L)`` for the ``V`` visits
        of that cell and its ``L`` vectors (larger scores are better), or ``None`` for an
        empty cell.

    Returns
    -------
    scores, ids : (Q, depth)
        Best first. Places with no candidate have score ``-inf`` and id ``-1``.
    """
    n_queries, nprobe = probes.shape
    visited, values, found_ids = [], [], []
    for cell, visits in _rows_by_cell(probes.reshape(-1), nlist):
        scanned = scan(cell, visits)
        if scanned is None:
            continue
        cell_scores, cell_ids = scanned
        top = torch.topk(cell_scores, min(depth, cell_scores.shape[1]), dim=1)
        top_values, top_ids = top.values, cell_ids[top.indices]
        missing = depth - cell_scores.shape[1]
        if missing > 0:  # a cell smaller than the depth: its missing places stay empty
            top_values = torch.nn.functional.pad(top_values, (0, missing), value=float("-inf"))
            top_ids = torch.nn.functional.pad(top_ids, (0, missing), value=-1)
        visited.append(visits)
        values.append(top_values)
        found_ids.append(top_ids)
    best = torch.full((n_queries * nprobe, depth), float("-inf"), device=probes.device)
    best_ids = torch.full((n_queries * nprobe, depth), -1, dtype=torch.int64, device=probes.device)
    if visited:  # one scatter of every cell's candidates into its visit's row
        rows = torch.cat(visited)
        best[rows], best_ids[rows] = torch.cat(values), torch.cat(found_ids)
    keep = torch.topk(best.reshape(n_queries, -1), depth, dim=1)
    return keep.values, best_ids.reshape(n_queries, -1).gather(1, keep.indices)
