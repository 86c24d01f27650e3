"""A faiss index behind the :class:`~xmr_lite.search.ExactIndex` API: the production path.

Chapter 10 (:ref:`chap-search-at-scale`) teaches what each kind does by building it from
scratch (:mod:`xmr_lite.search.kmeans`, :mod:`~xmr_lite.search.ivf`, :mod:`~xmr_lite.search.pq`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np
import torch

from xmr_lite._checks import ArrayLike, check_choice, check_k
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    is_distance,
    missing_score,
    resolve_dimension,
    to_numpy32,
    unit_rows,
)

FAISS_KINDS = ("flat", "ivf", "hnsw", "pq", "ivfpq")


class FaissIndex(DimAlias):
    """A faiss index with ``add``/``search``/``len``/``save``/``load`` like :class:`ExactIndex`.

    Parameters
    ----------
    dimension : int
        Vector width D.
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Same conventions as :class:`ExactIndex` (``"l2"`` is a deprecated alias of
        ``"sqeuclidean"``).
    kind : {"flat", "ivf", "hnsw", "pq", "ivfpq"}
        ``"flat"`` is exact. ``"ivf"`` clusters the gallery into ``nlist`` cells and visits
        ``nprobe`` of them. ``"hnsw"`` walks a graph with ``M`` links per node (``ef_search``
        candidates per query). ``"pq"`` compresses each vector into ``m`` codes of ``nbits``
        bits; ``"ivfpq"`` does both.
    dim : int, optional
        Deprecated name of ``dimension``.
    **params
        ``nlist`` (100) and ``nprobe`` (8) for ivf; ``M`` (32), ``ef_construction`` (40) and
        ``ef_search`` (64) for hnsw; ``m`` (8) and ``nbits`` (8) for pq; all four of ivf and pq
        for ivfpq.

    Notes
    -----
    ``"ivf"``, ``"pq"`` and ``"ivfpq"`` must be trained; the first :meth:`add` trains them on
    the vectors it receives unless :meth:`train` was called. faiss runs on the CPU; torch
    inputs on any device are accepted and results return to that device.
    """

    _DEFAULTS: ClassVar[dict[str, dict[str, int]]] = {
        "flat": {},
        "ivf": {"nlist": 100, "nprobe": 8},
        "hnsw": {"M": 32, "ef_construction": 40, "ef_search": 64},
        "pq": {"m": 8, "nbits": 8},
        "ivfpq": {"nlist": 100, "nprobe": 8, "m": 8, "nbits": 8},
    }

    def __init__(
        self,
        dimension: int | None = None,
        metric: str = "cosine",
        kind: str = "flat",
        *,
        dim: int | None = None,
        **params: int,
    ) -> None:
        self.dimension = resolve_dimension(dimension, dim)
        self.metric = check_metric(metric)
        self.kind = check_choice(kind, "kind", FAISS_KINDS)
        allowed = self._DEFAULTS[kind]
        unknown = set(params) - set(allowed)
        if unknown:
            raise ValueError(f"kind={kind!r} takes params {sorted(allowed)}, got {sorted(unknown)}")
        self.params = {**allowed, **params}
        self.index = self._build()

    def _flat(self) -> faiss.Index:
        d = self.dimension
        return faiss.IndexFlatL2(d) if is_distance(self.metric) else faiss.IndexFlatIP(d)

    def _build(self) -> faiss.Index:
        d, p = self.dimension, self.params
        faiss_metric = faiss.METRIC_L2 if is_distance(self.metric) else faiss.METRIC_INNER_PRODUCT
        if "m" in p and d % p["m"]:
            raise ValueError(f"{self.kind} needs dimension divisible by m, got dimension={d}, m={p['m']}")
        if "nprobe" in p and not 1 <= p["nprobe"] <= p["nlist"]:
            raise ValueError(f"nprobe must satisfy 1 <= nprobe <= nlist={p['nlist']}, got {p['nprobe']}")
        if self.kind == "flat":
            return self._flat()
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, p["M"], faiss_metric)
            index.hnsw.efConstruction = p["ef_construction"]
            index.hnsw.efSearch = p["ef_search"]
            return index
        if self.kind == "pq":
            return faiss.IndexPQ(d, p["m"], p["nbits"], faiss_metric)
        self._quantizer = self._flat()  # the IVF index does not own it: keep it alive with the index
        if self.kind == "ivf":
            index = faiss.IndexIVFFlat(self._quantizer, d, p["nlist"], faiss_metric)
        else:
            index = faiss.IndexIVFPQ(self._quantizer, d, p["nlist"], p["m"], p["nbits"], faiss_metric)
        index.nprobe = p["nprobe"]
        return index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _prepare(self, x: torch.Tensor) -> np.ndarray:
        x = x.detach().to("cpu", torch.float32)
        return to_numpy32(unit_rows(x) if self.metric == "cosine" else x)

    def train(self, x: ArrayLike) -> None:
        """Train the coarse quantiser (ivf) or codebooks (pq) on (N, D) vectors."""
        t, _ = check_vectors(x, "x", self.dimension)
        arr = self._prepare(t)
        need = max(self.params.get("nlist", 1), 2 ** self.params.get("nbits", 0))
        if len(arr) < need:
            raise ValueError(f"x has {len(arr)} rows but training {self.kind} needs at least {need}")
        self.index.train(arr)

    def add(self, x: ArrayLike) -> None:
        """Append (N, D) vectors; trains first if the index needs it and is untrained."""
        t, _ = check_vectors(x, "x", self.dimension)
        if not self.index.is_trained:
            self.train(t)
        self.index.add(self._prepare(t))

    def search(self, q: ArrayLike, k: int) -> tuple[ArrayLike, ArrayLike]:
        """Same contract as :meth:`ExactIndex.search`; faiss's own ``-1`` marks a missing place."""
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        scores, ids = self.index.search(self._prepare(qt), k)
        if self.metric == "euclidean":
            scores = np.sqrt(np.maximum(scores, 0.0))
        scores[ids < 0] = missing_score(self.metric)
        ids = ids.astype(np.int64)
        if from_numpy:
            return scores, ids
        return torch.from_numpy(scores).to(qt.device), torch.from_numpy(ids).to(qt.device)

    def save(self, path: str | Path) -> None:
        """Write the faiss index and its settings into one ``.npz`` file."""
        meta = {"dimension": self.dimension, "metric": self.metric, "kind": self.kind, "params": self.params}
        with Path(path).open("wb") as f:
            np.savez(f, index=faiss.serialize_index(self.index), meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | Path) -> FaissIndex:
        """Read an index written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            dimension = meta.get("dimension", meta.get("dim"))
            metric = {"l2": "sqeuclidean"}.get(meta["metric"], meta["metric"])
            index = cls(dimension, metric, meta["kind"], **meta["params"])
            index.index = faiss.deserialize_index(stored["index"])
        return index
