"""Nearest-neighbour search: an exact index in torch and a faiss wrapper with the same API.

Taught in chapters 1, 2 and 10. Both indexes store vectors with :meth:`add` and answer
:meth:`search` with ``(scores, ids)``, best first.

Score conventions (the index's own, as in faiss):

* ``metric="dot"``: the inner product, higher is better.
* ``metric="cosine"``: the cosine similarity, higher is better (vectors are L2-normalised on
  the way in, so this is an inner product of unit vectors).
* ``metric="l2"``: the **squared** Euclidean distance, lower is better.

When an index holds fewer than ``k`` reachable vectors (possible for approximate faiss
indexes), missing places get id ``-1`` and score ``-inf`` (``+inf`` for ``"l2"``). Exact ties
at the k-th place may be resolved either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np
import torch

from xmr_lite._checks import ArrayLike, as_matrix, check_choice, check_k, to_output
from xmr_lite._runtime import get_device

INDEX_METRICS = ("cosine", "dot", "l2")
FAISS_KINDS = ("flat", "ivf", "hnsw", "pq")


def _check_vectors(x: ArrayLike, name: str, dim: int) -> tuple[torch.Tensor, bool]:
    t, from_numpy = as_matrix(x, name, f"(N, {dim})")
    if t.shape[1] != dim:
        raise ValueError(f"{name} has D={t.shape[1]} but the index has dim={dim}")
    return t, from_numpy


def _check_dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    return int(dim)


class ExactIndex:
    """Brute-force search in torch, chunked so that large galleries fit in memory.

    Parameters
    ----------
    dim : int
        Vector dimension D.
    metric : {"cosine", "dot", "l2"}
        See the module docstring for the score convention of each.
    device : torch.device or str, optional
        Where the vectors live and the scores are computed; defaults to
        :func:`xmr_lite.get_device`.
    chunk_size : int
        Gallery vectors scored at once. The (Q, chunk_size) score block is the only large
        temporary, so a million 128-d vectors search in bounded memory.

    Examples
    --------
    >>> index = ExactIndex(dim=2, metric="l2", device="cpu")
    >>> index.add(torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]))
    >>> scores, ids = index.search(torch.tensor([[0.9, 0.1]]), k=2)
    >>> ids.tolist()
    [[1, 0]]
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        device: torch.device | str | None = None,
        chunk_size: int = 65536,
    ) -> None:
        self.dim = _check_dim(dim)
        self.metric = check_choice(metric, "metric", INDEX_METRICS)
        self.device = torch.device(device) if device is not None else get_device()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        self._chunks: list[torch.Tensor] = []
        self._vectors: torch.Tensor | None = None
        self._sq_norms: torch.Tensor | None = None  # (N,), cached for metric="l2"

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks) if self._vectors is None else len(self._vectors)

    @property
    def vectors(self) -> torch.Tensor:
        """(N, D) float32 tensor of everything added (unit rows for ``"cosine"``)."""
        if self._vectors is None:
            empty = torch.empty(0, self.dim, device=self.device)
            self._vectors = torch.cat(self._chunks) if self._chunks else empty
            self._chunks = [self._vectors] if len(self._vectors) else []
        return self._vectors

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(device=self.device, dtype=torch.float32)
        if self.metric == "cosine":
            norms = x.norm(dim=1, keepdim=True)
            if bool((norms == 0).any()):
                raise ValueError("a zero vector has no cosine; remove it or use metric='dot'")
            x = x / norms
        return x

    def add(self, x: ArrayLike) -> None:
        """Append (N, D) vectors; their ids continue from ``len(self)``."""
        t, _ = _check_vectors(x, "x", self.dim)
        self._chunks.append(self._prepare(t))
        self._vectors = None
        self._sq_norms = None

    def _score_block(self, q: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Scores of gallery rows start:stop, oriented so that larger is better.

        For l2 this is ``2 q.y - |y|^2``, which ranks like the negated squared distance
        ``-|q - y|^2 = 2 q.y - |y|^2 - |q|^2`` (``|q|^2`` is the same for every item of a row and
        is added back to the top k only). The gallery's squared norms are computed once.
        """
        block = self.vectors[start:stop]
        if self.metric != "l2":
            return q @ block.T
        if self._sq_norms is None:
            self._sq_norms = (self.vectors * self.vectors).sum(1)
        return torch.addmm(-self._sq_norms[start:stop].unsqueeze(0), q, block.T, alpha=2.0)

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
        qt, from_numpy = _check_vectors(q, "q", self.dim)
        k = check_k(k, len(self))
        out_device = qt.device
        qp = self._prepare(qt)
        gallery = self.vectors
        best_scores = torch.full((len(qp), 0), float("-inf"), device=self.device)
        best_ids = torch.empty((len(qp), 0), dtype=torch.int64, device=self.device)
        for start in range(0, len(gallery), self.chunk_size):
            stop = min(start + self.chunk_size, len(gallery))
            scores = self._score_block(qp, start, stop)
            top = torch.topk(scores, min(k, stop - start), dim=1)
            merged_scores = torch.cat([best_scores, top.values], dim=1)
            merged_ids = torch.cat([best_ids, top.indices + start], dim=1)
            keep = torch.topk(merged_scores, min(k, merged_scores.shape[1]), dim=1)
            best_scores = keep.values
            best_ids = merged_ids.gather(1, keep.indices)
        if self.metric == "l2":
            best_scores = ((qp * qp).sum(1, keepdim=True) - best_scores).clamp_min_(0.0)
        return (
            to_output(best_scores.to(out_device), from_numpy),
            to_output(best_ids.to(out_device), from_numpy),
        )

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` (a torch file of plain tensors and settings)."""
        state = {"dim": self.dim, "metric": self.metric, "vectors": self.vectors.cpu()}
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> ExactIndex:
        """Read an index written by :meth:`save` (with ``weights_only=True``: no code runs)."""
        state = torch.load(Path(path), weights_only=True)
        index = cls(state["dim"], state["metric"], device=device)
        if len(state["vectors"]):
            index._chunks = [state["vectors"].to(index.device)]
        return index


class FaissIndex:
    """A faiss index behind the :class:`ExactIndex` API.

    Parameters
    ----------
    dim : int
        Vector dimension D.
    metric : {"cosine", "dot", "l2"}
        Same conventions as :class:`ExactIndex`.
    kind : {"flat", "ivf", "hnsw", "pq"}
        ``"flat"`` is exact (``IndexFlatIP`` / ``IndexFlatL2``). ``"ivf"`` clusters the
        gallery into ``nlist`` cells and visits ``nprobe`` of them. ``"hnsw"`` walks a graph
        with ``M`` links per node (``ef_search`` candidates per query). ``"pq"`` compresses each
        vector into ``m`` codes of ``nbits`` bits.
    **params
        ``nlist`` (100) and ``nprobe`` (8) for ivf; ``M`` (32), ``ef_construction`` (40) and
        ``ef_search`` (64) for hnsw; ``m`` (8) and ``nbits`` (8) for pq.

    Notes
    -----
    ``"ivf"`` and ``"pq"`` must be trained; the first :meth:`add` trains them on the vectors
    it receives unless :meth:`train` was called. faiss runs on the CPU; torch inputs on any
    device are accepted and results return to that device.
    """

    _DEFAULTS: ClassVar[dict[str, dict[str, int]]] = {
        "flat": {},
        "ivf": {"nlist": 100, "nprobe": 8},
        "hnsw": {"M": 32, "ef_construction": 40, "ef_search": 64},
        "pq": {"m": 8, "nbits": 8},
    }

    def __init__(self, dim: int, metric: str = "cosine", kind: str = "flat", **params: int) -> None:
        self.dim = _check_dim(dim)
        self.metric = check_choice(metric, "metric", INDEX_METRICS)
        self.kind = check_choice(kind, "kind", FAISS_KINDS)
        allowed = self._DEFAULTS[kind]
        unknown = set(params) - set(allowed)
        if unknown:
            raise ValueError(f"kind={kind!r} takes params {sorted(allowed)}, got {sorted(unknown)}")
        self.params = {**self._DEFAULTS[kind], **params}
        self.index = self._build()

    def _build(self) -> faiss.Index:
        d, p = self.dim, self.params
        faiss_metric = faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if self.kind == "flat":
            return faiss.IndexFlatL2(d) if self.metric == "l2" else faiss.IndexFlatIP(d)
        if self.kind == "ivf":
            quantizer = faiss.IndexFlatL2(d) if self.metric == "l2" else faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, p["nlist"], faiss_metric)
            index.nprobe = p["nprobe"]
            self._quantizer = quantizer  # the index does not own it: keep it alive as long as the index
            return index
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, p["M"], faiss_metric)
            index.hnsw.efConstruction = p["ef_construction"]
            index.hnsw.efSearch = p["ef_search"]
            return index
        if d % p["m"]:
            raise ValueError(f"pq needs dim divisible by m, got dim={d}, m={p['m']}")
        return faiss.IndexPQ(d, p["m"], p["nbits"], faiss_metric)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _prepare(self, x: torch.Tensor) -> np.ndarray:
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        if self.metric == "cosine":
            norms = np.linalg.norm(arr, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ValueError("a zero vector has no cosine; remove it or use metric='dot'")
            arr = arr / norms
        return arr

    def train(self, x: ArrayLike) -> None:
        """Train the coarse quantiser (ivf) or codebooks (pq) on (N, D) vectors."""
        t, _ = _check_vectors(x, "x", self.dim)
        self.index.train(self._prepare(t))

    def add(self, x: ArrayLike) -> None:
        """Append (N, D) vectors; trains first if the index needs it and is untrained."""
        t, _ = _check_vectors(x, "x", self.dim)
        arr = self._prepare(t)
        if not self.index.is_trained:
            self.index.train(arr)
        self.index.add(arr)

    def search(self, q: ArrayLike, k: int) -> tuple[ArrayLike, ArrayLike]:
        """Same contract as :meth:`ExactIndex.search`; faiss's own ``-1`` marks a missing place."""
        qt, from_numpy = _check_vectors(q, "q", self.dim)
        k = check_k(k, len(self))
        scores, ids = self.index.search(self._prepare(qt), k)
        missing = ids < 0
        scores[missing] = np.inf if self.metric == "l2" else -np.inf
        if from_numpy:
            return scores, ids.astype(np.int64)
        return torch.from_numpy(scores).to(qt.device), torch.from_numpy(ids.astype(np.int64)).to(qt.device)

    def save(self, path: str | Path) -> None:
        """Write the faiss index and its settings into one ``.npz`` file."""
        meta = json.dumps({"dim": self.dim, "metric": self.metric, "kind": self.kind, "params": self.params})
        with Path(path).open("wb") as f:
            np.savez(f, index=faiss.serialize_index(self.index), meta=np.array(meta))

    @classmethod
    def load(cls, path: str | Path) -> FaissIndex:
        """Read an index written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            index = cls(meta["dim"], meta["metric"], meta["kind"], **meta["params"])
            index.index = faiss.deserialize_index(stored["index"])
        return index


__all__ = ["FAISS_KINDS", "INDEX_METRICS", "ExactIndex", "FaissIndex"]
