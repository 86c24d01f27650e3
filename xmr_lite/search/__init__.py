"""Nearest-neighbour search: exact, from-scratch approximate indexes, faiss, and a vector database.

Chapters 1 and 2 use :class:`ExactIndex`; chapter 10 (:ref:`chap-search-at-scale`) builds
k-means, an IVF index, product quantisation and IVF-PQ with a re-rank from scratch, compares
each with faiss, and runs the same retrieval through Milvus. Chapter 14 (:ref:`chap-practice`)
compresses embeddings to float16, int8 and binary codes (:mod:`xmr_lite.search.quantize`).

Every index stores vectors with ``add`` and answers ``search(q, k)`` with ``(scores, ids)``,
best first, and has ``len``, ``save`` and ``load``.

Metric names are those of :mod:`xmr_lite.distances`:

=================  ===========================  ==============
``metric``         score                        better
=================  ===========================  ==============
``"cosine"``       cosine similarity            higher
``"dot"``          inner product                higher
``"sqeuclidean"``  squared Euclidean distance   lower
``"euclidean"``    Euclidean distance           lower
=================  ===========================  ==============

``"l2"`` (the old name of ``"sqeuclidean"``) and ``dim=`` (the old name of ``dimension=``)
still work and raise a :class:`DeprecationWarning`.

When an index holds fewer than ``k`` reachable vectors (possible for approximate indexes),
missing places get id ``-1`` and score ``-inf`` (``+inf`` for distances). Exact ties at the
k-th place may be resolved either way.
"""

from __future__ import annotations

from typing import Any

from xmr_lite.search._common import INDEX_METRICS
from xmr_lite.search.exact import ExactIndex
from xmr_lite.search.faiss_index import FAISS_KINDS, FaissIndex
from xmr_lite.search.ivf import IVFIndex
from xmr_lite.search.ivfpq import IVFPQIndex
from xmr_lite.search.kmeans import KMeansResult, assign, kmeans, kmeans_plus_plus
from xmr_lite.search.pq import PQIndex, ProductQuantizer
from xmr_lite.search.quantize import ScalarQuantizer, binary_codes, bytes_per_vector, hamming_search, to_float16


def __getattr__(name: str) -> Any:
    """Import the Milvus adapter only when asked for: ``pymilvus`` is an optional extra."""
    if name == "MilvusIndex":
        from xmr_lite.search.milvus import MilvusIndex

        return MilvusIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAISS_KINDS",
    "INDEX_METRICS",
    "ExactIndex",
    "FaissIndex",
    "IVFIndex",
    "IVFPQIndex",
    "KMeansResult",
    "MilvusIndex",
    "PQIndex",
    "ProductQuantizer",
    "ScalarQuantizer",
    "assign",
    "binary_codes",
    "bytes_per_vector",
    "hamming_search",
    "kmeans",
    "kmeans_plus_plus",
    "to_float16",
]
