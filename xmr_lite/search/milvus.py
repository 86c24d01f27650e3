"""A Milvus collection behind the index API: ``add`` with metadata, ``search`` with a filter.

Chapter 10 (:ref:`chap-search-at-scale`) runs it on Milvus Lite, the embedded server that
``pymilvus`` starts from a local file URI (``"/tmp/book.db"``). The same class, unchanged,
talks to a Milvus server or cluster when given its network URI
(``"http://milvus.example.org:19530"``). Needs the ``vectordb`` extra:
``pip install pymilvus milvus-lite``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from xmr_lite._checks import ArrayLike, check_choice, check_int, check_k
from xmr_lite.search._common import (
    DimAlias,
    check_metric,
    check_vectors,
    missing_score,
    resolve_dimension,
    to_numpy32,
    unit_rows,
)

INDEX_TYPES = ("FLAT", "IVF_FLAT", "HNSW", "AUTOINDEX")
FIELD_TYPES = ("int64", "float", "bool", "varchar")
METRIC_PROPERTY = "xmr.metric"
"""Collection property that records the metric name (Milvus's ``L2`` is both distances)."""


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as err:  # pragma: no cover - the extra is installed in the book's environment
        raise ImportError("MilvusIndex needs pymilvus and milvus-lite: pip install pymilvus milvus-lite") from err
    return pymilvus


class MilvusIndex(DimAlias):
    """Vectors and scalar metadata in a Milvus collection, with the ``add``/``search`` API.

    Parameters
    ----------
    uri : str
        A local file ending in ``.db`` (embedded Milvus Lite) or a server's URI
        (``"http://host:19530"``). The rest of the code is the same for both.
    collection : str
        Collection name.
    dimension : int
        Vector width D.
    metric : {"cosine", "dot", "sqeuclidean", "euclidean"}
        Mapped to Milvus's ``COSINE``, ``IP`` and ``L2`` (squared; ``"euclidean"`` takes the root).
    index_type : {"FLAT", "IVF_FLAT", "HNSW", "AUTOINDEX"}
        The vector index Milvus builds, with ``index_params`` (``{"nlist": 128}``,
        ``{"M": 16, "efConstruction": 64}``).
    fields : mapping of str to {"int64", "float", "bool", "varchar"}, optional
        Scalar metadata stored next to each vector, usable in filters.
    overwrite : bool
        Drop an existing collection of that name (True), or open it as it is (False): that is
        how a second process finds the data the first one stored.
    token : str, optional
        Credentials of a server (``"user:password"``); unused by Milvus Lite.
    dim : int, optional
        Deprecated name of ``dimension``.
    """

    _METRICS: ClassVar[dict[str, str]] = {"cosine": "COSINE", "dot": "IP", "sqeuclidean": "L2", "euclidean": "L2"}
    _FIELD_TYPES: ClassVar[dict[str, str]] = {"int64": "INT64", "float": "FLOAT", "bool": "BOOL", "varchar": "VARCHAR"}

    def __init__(
        self,
        uri: str,
        collection: str = "xmr",
        dimension: int | None = None,
        metric: str = "cosine",
        index_type: str = "FLAT",
        index_params: Mapping[str, int] | None = None,
        fields: Mapping[str, str] | None = None,
        overwrite: bool = True,
        token: str | None = None,
        *,
        dim: int | None = None,
    ) -> None:
        pymilvus = _pymilvus()
        self.dimension = resolve_dimension(dimension, dim)
        self.metric = check_metric(metric)
        self.index_type = check_choice(index_type, "index_type", INDEX_TYPES)
        self.index_params = dict(index_params or {})
        self.fields = {
            name: check_choice(kind, f"fields[{name!r}]", FIELD_TYPES) for name, kind in (fields or {}).items()
        }
        for name in self.fields:
            if name in ("id", "vector"):
                raise ValueError(f"fields must not use the reserved name {name!r}")
        self.uri, self.collection = str(uri), collection
        self.client = pymilvus.MilvusClient(uri=self.uri, token=token or "")
        if overwrite and self.client.has_collection(collection):
            self.client.drop_collection(collection)
        if not self.client.has_collection(collection):
            self._create(pymilvus)
        self.client.load_collection(collection)
        self._count = self._stored_count()

    def _create(self, pymilvus: Any) -> None:
        data_type = pymilvus.DataType
        schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", data_type.INT64, is_primary=True)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=self.dimension)
        for name, kind in self.fields.items():
            extra = {"max_length": 512} if kind == "varchar" else {}
            schema.add_field(name, getattr(data_type, self._FIELD_TYPES[kind]), **extra)
        params = self.client.prepare_index_params()
        params.add_index(
            field_name="vector",
            index_type=self.index_type,
            metric_type=self._METRICS[self.metric],
            params=self.index_params,
        )
        # Milvus's L2 serves both distances: the property tells load which one this collection returns.
        properties = {METRIC_PROPERTY: self.metric}
        self.client.create_collection(self.collection, schema=schema, index_params=params, properties=properties)

    def _stored_count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def __len__(self) -> int:
        return self._count

    def _prepare(self, x: torch.Tensor) -> np.ndarray:
        x = x.detach().to("cpu", torch.float32)
        return to_numpy32(unit_rows(x) if self.metric == "cosine" else x)

    def _metadata_rows(self, metadata: Mapping[str, Any] | None, n: int) -> list[dict[str, Any]]:
        metadata = dict(metadata or {})
        missing, unknown = set(self.fields) - set(metadata), set(metadata) - set(self.fields)
        if missing or unknown:
            raise ValueError(
                f"metadata must give exactly the fields {sorted(self.fields)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        columns = {}
        for name, values in metadata.items():
            column = np.asarray(values)
            if column.shape != (n,):
                raise ValueError(f"metadata[{name!r}] must have shape ({n},), got {column.shape}")
            columns[name] = column.tolist()
        return [{name: columns[name][i] for name in columns} for i in range(n)]

    def add(self, x: ArrayLike, metadata: Mapping[str, Any] | None = None, batch_size: int = 5000) -> None:
        """Insert (N, D) vectors with one value per row for each metadata field.

        Ids continue from ``len(self)``. ``metadata`` maps each field name to an (N,) array.
        """
        t, _ = check_vectors(x, "x", self.dimension)
        batch_size = check_int(batch_size, "batch_size")
        vectors = self._prepare(t)
        meta = self._metadata_rows(metadata, len(vectors))
        for start in range(0, len(vectors), batch_size):
            rows = [
                {"id": self._count + i, "vector": vectors[i].tolist(), **meta[i]}
                for i in range(start, min(start + batch_size, len(vectors)))
            ]
            self.client.insert(self.collection, rows)
        self._count += len(vectors)

    def search(
        self,
        q: ArrayLike,
        k: int,
        filter: str = "",
        search_params: Mapping[str, int] | None = None,
    ) -> tuple[ArrayLike, ArrayLike]:
        """The ``k`` best items for each (Q, D) query among those that pass ``filter``.

        Parameters
        ----------
        q : (Q, D) float tensor or array
        k : int, 1 <= k <= len(self)
        filter : str
            A Milvus boolean expression over the metadata fields (``"label == 3"``,
            ``"price < 20 and in_stock"``). A field the collection does not have is a
            ``ValueError``.
        search_params : mapping, optional
            Index knobs such as ``{"nprobe": 16}`` (IVF) or ``{"ef": 64}`` (HNSW).

        Returns
        -------
        scores, ids : (Q, k)
            As :meth:`ExactIndex.search`. When fewer than ``k`` items pass the filter, the
            missing places have id ``-1`` and score ``-inf`` (``+inf`` for distances).
        """
        qt, from_numpy = check_vectors(q, "q", self.dimension)
        k = check_k(k, len(self))
        params = {"metric_type": self._METRICS[self.metric], "params": dict(search_params or {})}
        exception = _pymilvus().exceptions.MilvusException
        try:
            hits = self.client.search(
                self.collection, data=self._prepare(qt).tolist(), limit=k, filter=filter, search_params=params
            )
        except exception as err:
            raise ValueError(f"filter {filter!r} was refused by Milvus: {err.message}") from err
        scores = np.full((len(qt), k), missing_score(self.metric), dtype=np.float32)
        ids = np.full((len(qt), k), -1, dtype=np.int64)
        for row, found in enumerate(hits):
            for place, hit in enumerate(found):
                scores[row, place], ids[row, place] = hit["distance"], hit["id"]
        if self.metric == "euclidean":
            scores = np.sqrt(np.maximum(scores, 0.0))
        if from_numpy:
            return scores, ids
        return torch.from_numpy(scores).to(qt.device), torch.from_numpy(ids).to(qt.device)

    def save(self, path: object = None) -> None:
        """Flush inserted rows to storage; the data lives at the URI, not in a file of ours."""
        self.client.flush(self.collection)

    @classmethod
    def _stored_metric(cls, info: Mapping[str, Any], milvus_metric: str) -> str:
        """The metric name a collection was created with; Milvus's own name for other collections."""
        recorded = (info.get("properties") or {}).get(METRIC_PROPERTY)
        if recorded is not None:
            metric = check_metric(recorded)
            if cls._METRICS[metric] != milvus_metric:
                raise ValueError(f"the collection records metric {metric!r} but its index uses {milvus_metric}")
            return metric
        return {"COSINE": "cosine", "IP": "dot", "L2": "sqeuclidean"}[milvus_metric]

    @classmethod
    def load(cls, uri: str, collection: str = "xmr", **kwargs: Any) -> MilvusIndex:
        """Open an existing collection (``overwrite=False``), for example from another process.

        The other settings (``dimension``, ``metric``, ...) are read back from the collection.
        """
        client = _pymilvus().MilvusClient(uri=str(uri), token=kwargs.get("token") or "")
        if not client.has_collection(collection):
            raise ValueError(f"collection {collection!r} does not exist at {uri!r}")
        info = client.describe_collection(collection)
        index_info = client.describe_index(collection, "vector")
        dimension = next(int(f["params"]["dim"]) for f in info["fields"] if f["name"] == "vector")
        names = {"INT64": "int64", "FLOAT": "float", "BOOL": "bool", "VARCHAR": "varchar"}
        fields = {f["name"]: names[f["type"].name] for f in info["fields"] if f["name"] not in ("id", "vector")}
        metric = cls._stored_metric(info, index_info["metric_type"])
        return cls(
            uri,
            collection,
            dimension,
            metric,
            index_type=index_info["index_type"],
            fields=fields,
            overwrite=False,
            **kwargs,
        )
