"""IVF-PQ from scratch in torch: product-quantised residuals in inverted lists (chapter 10).

The coarse quantiser of :class:`~xmr_lite.search.IVFIndex` sends each vector to a cell; the
vector's *residual* from its cell centroid is encoded by a
:class:`~xmr_lite.search.ProductQuantizer` into ``m`` bytes. A query visits ``nprobe`` cells
and scores their codes by asymmetric distances; optionally the ``rerank`` best candidates are
re-scored exactly from the stored float vectors. Chapter 10 (:ref:`chap-search-at-scale`)
checks it against :class:`faiss.IndexIVFPQ` given the same centroids and codebooks.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xmr_lite._checks import ArrayLike, check_int, check_k, to_output
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    is_distance,
    resolve_dimension,
)
from xmr_lite.search.ivf import IVFIndex, _best_of_probed_cells, _rows_by_cell, _to_convention
from xmr_lite.search.pq import ProductQuantizer


class IVFPQIndex(DimAlias):
    """Inverted lists of product-quantised residuals, with an optional exact re-rank.

    Parameters
    ----------
    dimension : int
        Vector width D, divisible by ``m``.
    nlist : int
        Number of cells of the coarse quantiser.
    m, nbits : int
        Sub-spaces and bits per code of the residual quantiser (see
        :class:`~xmr_lite.search.ProductQuantizer`); ``m`` bytes per vector.
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Score convention as :class:`~xmr_lite.search.ExactIndex`.
    nprobe : int
        Cells visited per query by default, 1 <= nprobe <= nlist.
    rerank : int
        Length of the short list re-scored exactly from the float vectors; 0 (the default)
        returns the approximate scores and does not keep the float vectors.
    device : torch.device or str, optional
        Defaults to :func:`xmr_lite.get_device`.

    Notes
    -----
    A stored vector ``y`` in cell ``c`` is approximated by ``c + r``, where ``r`` is the decoded
    residual. For distances,
    ``|q - c - r|^2 = |q - c|^2 - 2 q.r + (2 c.r + |r|^2)``: the first term comes from the
    coarse search, the second from one (Q, m, 2**nbits) table of inner products per query, the
    same for every cell, and the bracket is one float per stored vector, computed at
    :meth:`add`. For inner products, ``q.(c + r) = q.c + q.r``. The approximate distances
    agree with faiss's (which builds a table per query and cell) to float32 rounding.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(600, 8)).astype("float32")
    >>> index = IVFPQIndex(8, nlist=4, m=2, nbits=4, metric="sqeuclidean", nprobe=4, rerank=50, device="cpu")
    >>> index.train(x)
    >>> index.add(x)
    >>> index.search(x[:2], k=1)[1].ravel().tolist()
    [0, 1]
    """

    def __init__(
        self,
        dimension: int | None = None,
        nlist: int = 100,
        m: int = 8,
        nbits: int = 8,
        metric: str = "cosine",
        nprobe: int = 8,
        rerank: int = 0,
        device: torch.device | str | None = None,
        *,
        dim: int | None = None,
    ) -> None:
        self.dimension = resolve_dimension(dimension, dim)
        self.metric = check_metric(metric)
        self.coarse = IVFIndex(self.dimension, nlist, self.metric, nprobe, device)
        self.device = self.coarse.device
        self.pq = ProductQuantizer(self.dimension, m, nbits, self.device)
        self.rerank = check_int(rerank, "rerank", minimum=0)
        self._codes: list[list[torch.Tensor]] = [[] for _ in range(self.nlist)]
        self._ids: list[list[torch.Tensor]] = [[] for _ in range(self.nlist)]
        self._bias: list[list[torch.Tensor]] = [[] for _ in range(self.nlist)]
        self._one_hot: dict[int, torch.Tensor] = {}
        self._vectors: list[torch.Tensor] = []
        self._ntotal = 0

    @property
    def nlist(self) -> int:
        """Number of cells."""
        return self.coarse.nlist

    @property
    def nprobe(self) -> int:
        """Cells visited per query by default."""
        return self.coarse.nprobe

    @property
    def centroids(self) -> torch.Tensor | None:
        """(nlist, D) cell centroids of the coarse quantiser, once trained."""
        return self.coarse.centroids

    @property
    def is_trained(self) -> bool:
        """Whether both the coarse quantiser and the residual codebooks are trained."""
        return self.coarse.is_trained and self.pq.codebooks is not None

    @property
    def bytes_per_vector(self) -> int:
        """Bytes per vector in the inverted lists: codes, a 64-bit id, a float32 term for distances.

        The float vectors kept for re-ranking (``4 * D`` more bytes) are read only for the
        short list and can live on disk; they are not counted.
        """
        return self.pq.code_size + 8 + (4 if is_distance(self.metric) else 0)

    def __len__(self) -> int:
        return self._ntotal

    def _require_trained(self) -> None:
        if not self.is_trained:
            raise ValueError("the index is not trained: call train(x) (or pass centroids and codebooks) first")

    def train(
        self,
        x: ArrayLike | None = None,
        n_iter: int = 25,
        random_state: int = 0,
        centroids: ArrayLike | None = None,
        codebooks: ArrayLike | None = None,
    ) -> None:
        """Learn the cells by k-means, then the codebooks on the residuals of ``x``.

        Parameters
        ----------
        x : (N, D) float tensor or array, N >= nlist and N >= 2**nbits
            Training vectors (needed unless both ``centroids`` and ``codebooks`` are given).
        n_iter, random_state : int
            Passed to :func:`~xmr_lite.search.kmeans` for both quantisers.
        centroids : (nlist, D) float tensor or array, optional
            Use these cells as they are (for example faiss's, to compare).
        codebooks : (m, 2**nbits, D/m) float tensor or array, optional
            Use these residual codebooks as they are.
        """
        if x is None and (centroids is None or codebooks is None):
            raise ValueError("x is required to train (or pass both centroids and codebooks)")
        self.coarse.train(x, n_iter=n_iter, random_state=random_state, centroids=centroids)
        if codebooks is not None:
            self.pq.set_codebooks(codebooks)
        else:
            t, _ = check_vectors(x, "x", self.dimension)  # type: ignore[arg-type]
            xp = self.coarse._prepare(t)
            self.pq.train(self._residuals(xp, self._assign(xp)), n_iter=n_iter, random_state=random_state)
        self._one_hot.clear()

    def _assign(self, xp: torch.Tensor) -> torch.Tensor:
        """(N,) cell of each prepared row."""
        return self.coarse._coarse(xp, 1).squeeze(1)

    def _residuals(self, xp: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        return xp - self.centroids[cells]  # type: ignore[index]

    def add(self, x: ArrayLike) -> None:
        """Encode the residuals of (N, D) vectors into the lists of their cells; ids continue from len(self)."""
        self._require_trained()
        t, _ = check_vectors(x, "x", self.dimension)
        xp = self.coarse._prepare(t)
        cells = self._assign(xp)
        codes = self.pq.encode(self._residuals(xp, cells))
        bias = self._code_bias(codes, cells)  # type: ignore[arg-type]
        ids = torch.arange(self._ntotal, self._ntotal + len(xp), device=self.device)
        for cell, rows in _rows_by_cell(cells, self.nlist):
            self._codes[cell].append(codes[rows])  # type: ignore[index]
            self._ids[cell].append(ids[rows])
            self._bias[cell].append(bias[rows])
            self._one_hot.pop(cell, None)
        if self.rerank:
            self._vectors.append(xp)
        self._ntotal += len(xp)

    def _code_bias(self, codes: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """(N,) the query-independent part ``2 c.r + |r|^2`` of each distance (zero for inner products)."""
        if not is_distance(self.metric):
            return torch.zeros(len(codes), device=self.device)
        r = self.pq.decode(codes)
        c = self.centroids[cells]  # type: ignore[index]
        return (r * (2.0 * c + r)).sum(1)  # type: ignore[operator]

    def list_sizes(self) -> list[int]:
        """Number of vectors in each cell."""
        return [sum(len(part) for part in parts) for parts in self._ids]

    def _cell(self, cell: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Codes, ids, bias terms and the sparse one-hot code matrix of one cell."""
        if len(self._ids[cell]) > 1:
            for parts in (self._codes, self._ids, self._bias):
                parts[cell] = [torch.cat(parts[cell])]
            self._one_hot.pop(cell, None)
        codes = self._codes[cell][0]
        if cell not in self._one_hot:
            self._one_hot[cell] = self.pq.one_hot(codes)
        return codes, self._ids[cell][0], self._bias[cell][0], self._one_hot[cell]

    @property
    def vectors(self) -> torch.Tensor:
        """(N, D) float vectors kept for re-ranking (unit rows for ``"cosine"``); needs ``rerank > 0``."""
        if not self.rerank:
            raise ValueError("the index keeps no float vectors: create it with rerank > 0")
        if len(self._vectors) > 1:
            self._vectors = [torch.cat(self._vectors)]
        return self._vectors[0] if self._vectors else torch.empty(0, self.dimension, device=self.device)

    def _coarse_scores(self, qp: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
        """(Q, nprobe) the cell part of each score, larger is better: ``-|q - c|^2`` or ``q.c``."""
        return self._paired_scores(qp, self.centroids[probes])  # type: ignore[index]

    def _paired_scores(self, qp: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """(Q, D) queries and (Q, S, D) vectors, one list per query -> (Q, S) ``-|q - y|^2`` or ``q.y``."""
        if is_distance(self.metric):
            diff = qp.unsqueeze(1) - vectors
            return -(diff * diff).sum(-1)
        return (qp.unsqueeze(1) * vectors).sum(-1)

    def _approximate(self, qp: torch.Tensor, depth: int, nprobe: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``depth`` best (Q, depth) approximate scores (larger is better) and ids."""
        probes = self.coarse._coarse(qp, nprobe)  # (Q, nprobe)
        base = self._coarse_scores(qp, probes)
        tables = self.pq.lookup_tables(qp, "dot")  # (Q, m, ksub): q.r per codeword
        columns = tables.reshape(len(qp), -1).T.contiguous()  # (m * ksub, Q): one column per query
        scale = 2.0 if is_distance(self.metric) else 1.0  # -|q - c - r|^2 = base + 2 q.r - bias

        def scan(cell: int, visits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
            if not self._ids[cell]:
                return None
            _, ids, bias, one_hot = self._cell(cell)
            lookups = torch.sparse.mm(one_hot, columns.index_select(1, visits // nprobe))  # (L, visits)
            scores = scale * lookups - bias.unsqueeze(1) + base.reshape(-1)[visits].unsqueeze(0)
            return scores.T, ids

        return _best_of_probed_cells(probes, self.nlist, depth, scan)

    def _rerank(self, qp: torch.Tensor, ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact scores (larger is better) of a (Q, S) short list, the k best first."""
        exact = self._paired_scores(qp, self.vectors[ids.clamp_min(0)])
        exact = exact.masked_fill(ids < 0, float("-inf"))
        keep = torch.topk(exact, k, dim=1)
        return keep.values, ids.gather(1, keep.indices)

    def search(
        self, q: ArrayLike, k: int, nprobe: int | None = None, rerank: int | None = None
    ) -> tuple[ArrayLike, ArrayLike]:
        """The ``k`` best stored vectors among the ``nprobe`` closest cells of each query.

        Parameters
        ----------
        q : (Q, D) float tensor or array
        k : int, 1 <= k <= len(self)
        nprobe : int, optional
            Overrides the index's ``nprobe`` for this call.
        rerank : int, optional
            Overrides the index's short-list length for this call: 0 for approximate scores,
            otherwise ``k <= rerank``, and the index must have been created with ``rerank > 0``.

        Returns
        -------
        scores, ids : (Q, k)
            As :meth:`ExactIndex.search`: approximate (ADC) scores, or exact ones after a
            re-rank. A place with no candidate has id ``-1`` and score ``-inf`` (``+inf`` for
            distances).
        """
        self._require_trained()
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        nprobe = self.nprobe if nprobe is None else self.coarse._check_nprobe(nprobe)
        shortlist = self._check_rerank(self.rerank if rerank is None else rerank, k)
        qp = self.coarse._prepare(qt)
        scores, ids = self._approximate(qp, max(k, shortlist), nprobe)
        if shortlist:
            scores, ids = self._rerank(qp, ids, k)
        scores = _to_convention(scores, ids, self.metric)
        return to_output(scores.to(qt.device), from_numpy), to_output(ids.to(qt.device), from_numpy)

    def _check_rerank(self, rerank: object, k: int) -> int:
        value = check_int(rerank, "rerank", minimum=0)
        if value and not self.rerank:
            raise ValueError("rerank > 0 needs the float vectors: create the index with rerank > 0")
        if value and value < k:
            raise ValueError(f"rerank must be 0 or at least k={k}, got {value}")
        return min(value, len(self))

    def save(self, path: str | Path) -> None:
        """Write centroids, codebooks, lists (and re-rank vectors) and settings to a torch file."""
        self._require_trained()
        cells = [self._cell(c)[:3] if self._ids[c] else None for c in range(self.nlist)]
        empty_codes = torch.empty(0, self.pq.m, dtype=torch.uint8)
        state = {
            "dimension": self.dimension,
            "nlist": self.nlist,
            "m": self.pq.m,
            "nbits": self.pq.nbits,
            "metric": self.metric,
            "nprobe": self.nprobe,
            "rerank": self.rerank,
            "centroids": self.centroids.cpu(),  # type: ignore[union-attr]
            "codebooks": self.pq.codebooks.cpu(),  # type: ignore[union-attr]
            "codes": [cell[0].cpu() if cell else empty_codes for cell in cells],
            "ids": [cell[1].cpu() if cell else torch.empty(0, dtype=torch.int64) for cell in cells],
            "bias": [cell[2].cpu() if cell else torch.empty(0) for cell in cells],
            "vectors": self.vectors.cpu() if self.rerank else None,
            "ntotal": self._ntotal,
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> IVFPQIndex:
        """Read an index written by :meth:`save` (``weights_only=True``: no code runs)."""
        state = torch.load(Path(path), weights_only=True)
        index = cls(
            state["dimension"],
            state["nlist"],
            state["m"],
            state["nbits"],
            state["metric"],
            state["nprobe"],
            state["rerank"],
            device=device,
        )
        index.train(centroids=state["centroids"], codebooks=state["codebooks"])
        for cell, (codes, ids, bias) in enumerate(zip(state["codes"], state["ids"], state["bias"], strict=True)):
            if len(ids):
                index._codes[cell] = [codes.to(index.device)]
                index._ids[cell] = [ids.to(index.device)]
                index._bias[cell] = [bias.to(index.device)]
        if state["vectors"] is not None and len(state["vectors"]):
            index._vectors = [state["vectors"].to(index.device)]
        index._ntotal = int(state["ntotal"])
        return index
