"""The Milvus adapter on Milvus Lite: the embedded server, reached by its file URI and by its network URI."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the vectordb extra is not installed")
pytest.importorskip("milvus_lite", reason="the vectordb extra is not installed")

from xmr_lite.search import ExactIndex, MilvusIndex


@pytest.fixture
def gallery() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 8)).astype(np.float32), rng.integers(0, 4, 300)


@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean", "euclidean"])
def test_flat_collection_agrees_with_exact_search(tmp_path, gallery, metric):
    x, labels = gallery
    index = MilvusIndex(str(tmp_path / "m.db"), "t", dimension=8, metric=metric, fields={"label": "int64"})
    index.add(x, metadata={"label": labels})
    assert len(index) == 300
    exact = ExactIndex(8, metric, device="cpu")
    exact.add(x)
    scores, ids = index.search(x[:10], 5)
    ref_scores, ref_ids = exact.search(x[:10], 5)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-4)


def test_filtered_search_returns_only_matching_items_and_marks_missing(tmp_path, gallery):
    x, labels = gallery
    index = MilvusIndex(
        str(tmp_path / "m.db"), "t", dimension=8, metric="sqeuclidean", fields={"label": "int64", "price": "float"}
    )
    price = np.arange(300, dtype=np.float32)
    index.add(x, metadata={"label": labels, "price": price})
    _, ids = index.search(x[:5], 10, filter="label == 3")
    assert (labels[ids] == 3).all()
    exact = ExactIndex(8, "sqeuclidean", device="cpu")
    exact.add(x[labels == 3])
    np.testing.assert_array_equal(ids, np.flatnonzero(labels == 3)[exact.search(x[:5], 10)[1]])
    scores, ids = index.search(x[:2], 10, filter="price < 4")
    assert (ids[:, :4] >= 0).all() and (ids[:, 4:] == -1).all()
    assert np.isposinf(scores[:, 4:]).all()
    with pytest.raises(ValueError, match="filter 'colour == 1' was refused"):
        index.search(x[:1], 3, filter="colour == 1")


def test_hnsw_and_ivf_index_types_find_the_neighbours(tmp_path, gallery):
    x, _ = gallery
    exact = ExactIndex(8, "cosine", device="cpu")
    exact.add(x)
    _, truth = exact.search(x[:20], 5)
    for index_type, build, search in [
        ("HNSW", {"M": 16, "efConstruction": 64}, {"ef": 64}),
        ("IVF_FLAT", {"nlist": 4}, {"nprobe": 4}),
    ]:
        index = MilvusIndex(str(tmp_path / f"{index_type}.db"), "t", 8, "cosine", index_type, build)
        index.add(x)
        _, ids = index.search(x[:20], 5, search_params=search)
        np.testing.assert_array_equal(ids, truth)


def test_data_persists_across_processes(tmp_path, gallery):
    """One process stores vectors and metadata and exits; this one opens the file and finds them."""
    x, labels = gallery
    uri = str(tmp_path / "p.db")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "labels.npy", labels)
    script = (
        "import numpy as np, sys; from xmr_lite.search import MilvusIndex; "
        f"i = MilvusIndex({uri!r}, 'kept', 8, 'cosine', fields={{'label': 'int64'}}); "
        "i.add(np.load(sys.argv[1]), metadata={'label': np.load(sys.argv[2])}); i.save()"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "x.npy"), str(tmp_path / "labels.npy")], timeout=120, check=True
    )
    index = MilvusIndex.load(uri, "kept")
    assert (len(index), index.metric, index.dimension, index.fields) == (300, "cosine", 8, {"label": "int64"})
    _, ids = index.search(x[:3], 4, filter="label == 1")
    exact = ExactIndex(8, "cosine", device="cpu")
    exact.add(x[labels == 1])
    np.testing.assert_array_equal(ids, np.flatnonzero(labels == 1)[exact.search(x[:3], 4)[1]])


@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean", "euclidean"])
def test_load_reads_back_every_metric_name(tmp_path, gallery, metric):
    """Regression: a "euclidean" collection came back as "sqeuclidean" (Milvus calls both L2)."""
    x, _ = gallery
    uri = str(tmp_path / "r.db")
    stored = MilvusIndex(uri, "r", dimension=8, metric=metric)
    stored.add(x)
    stored.save()
    again = MilvusIndex.load(uri, "r")
    assert again.metric == metric
    np.testing.assert_allclose(again.search(x[:3], 4)[0], stored.search(x[:3], 4)[0], rtol=1e-6)


def test_stored_metric_falls_back_to_milvus_names_and_refuses_a_contradiction():
    assert MilvusIndex._stored_metric({"properties": {}}, "L2") == "sqeuclidean"  # a collection made elsewhere
    assert MilvusIndex._stored_metric({"properties": {"xmr.metric": "euclidean"}}, "L2") == "euclidean"
    with pytest.raises(ValueError, match="records metric 'euclidean' but its index uses IP"):
        MilvusIndex._stored_metric({"properties": {"xmr.metric": "euclidean"}}, "IP")


def test_the_same_client_code_talks_to_a_server_by_network_uri(tmp_path, gallery):
    """Milvus Lite is a gRPC server; given its http:// URI the adapter runs the cluster code path."""
    from milvus_lite.server_manager import server_manager_instance

    x, _ = gallery
    network_uri = server_manager_instance.start_and_get_uri(str(tmp_path / "server.db"))
    assert network_uri.startswith("http://")
    index = MilvusIndex(network_uri, "t", dimension=8, metric="dot")
    index.add(x)
    exact = ExactIndex(8, "dot", device="cpu")
    exact.add(x)
    np.testing.assert_array_equal(index.search(x[:5], 3)[1], exact.search(x[:5], 3)[1])


def test_bad_input(tmp_path, gallery):
    x, labels = gallery
    uri = str(tmp_path / "b.db")
    with pytest.raises(ValueError, match="index_type must be one of"):
        MilvusIndex(uri, "t", 8, index_type="DISKANN")
    with pytest.raises(ValueError, match="reserved name 'id'"):
        MilvusIndex(uri, "t", 8, fields={"id": "int64"})
    index = MilvusIndex(uri, "t", 8, fields={"label": "int64"})
    with pytest.raises(ValueError, match="missing \\['label'\\]"):
        index.add(x)
    with pytest.raises(ValueError, match="metadata\\['label'\\] must have shape \\(300,\\)"):
        index.add(x, metadata={"label": labels[:10]})
    with pytest.raises(ValueError, match="D=4 but the index has dimension=8"):
        index.add(x[:, :4], metadata={"label": labels})
    index.add(x, metadata={"label": labels})
    with pytest.raises(ValueError, match="1 <= k <= 300"):
        index.search(x[:1], 301)
    with pytest.raises(ValueError, match="does not exist"):
        MilvusIndex.load(uri, "nothing")
