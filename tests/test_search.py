import warnings

import faiss
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xmr_lite.search import INDEX_METRICS, ExactIndex, FaissIndex


def data(rng: np.random.Generator, n: int = 500, d: int = 16) -> np.ndarray:
    return rng.normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("metric", INDEX_METRICS)
def test_exact_index_matches_faiss_flat(metric, device):
    rng = np.random.default_rng(0)
    gallery, queries = data(rng), data(rng, 20)
    exact = ExactIndex(16, metric, device=device, chunk_size=128)
    exact.add(torch.from_numpy(gallery).to(device))
    flat = FaissIndex(16, metric, "flat")
    flat.add(gallery)
    s1, i1 = exact.search(torch.from_numpy(queries).to(device), 10)
    s2, i2 = flat.search(queries, 10)
    assert i1.device.type == device.type
    np.testing.assert_array_equal(i1.cpu().numpy(), i2)
    np.testing.assert_allclose(s1.cpu().numpy(), s2, rtol=1e-4, atol=1e-4)


def test_exact_index_against_raw_faiss_index_flat():
    rng = np.random.default_rng(1)
    gallery, queries = data(rng), data(rng, 10)
    raw = faiss.IndexFlatL2(16)
    raw.add(gallery)
    distances, ids = raw.search(queries, 5)
    index = ExactIndex(16, "sqeuclidean", device="cpu")
    index.add(gallery)
    scores, ours = index.search(queries, 5)
    np.testing.assert_array_equal(ours, ids)
    np.testing.assert_allclose(scores, distances, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_self_queries_find_themselves_on_off_centre_data(metric):
    """The ||q||^2 + ||y||^2 - 2 q.y expansion cancels on data far from the origin."""
    rng = np.random.default_rng(2)
    points = (rng.normal(size=(2000, 8)) + 1e4).astype(np.float32)
    index = ExactIndex(8, metric, device="cpu", chunk_size=256)
    index.add(points)
    scores, ids = index.search(points[:200], 3)
    np.testing.assert_array_equal(ids[:, 0], np.arange(200))
    np.testing.assert_array_equal(scores[:, 0], 0.0)
    exact = np.sqrt(((points[:200, None, :].astype(np.float64) - points[ids]) ** 2).sum(-1))
    expected = exact if metric == "euclidean" else exact**2
    np.testing.assert_allclose(scores, expected, rtol=1e-3)


def test_add_after_search_invalidates_cached_norms():
    rng = np.random.default_rng(3)
    index = ExactIndex(4, "sqeuclidean", device="cpu")
    index.add(rng.normal(size=(50, 4)).astype(np.float32))
    query = np.full((1, 4), 7.0, dtype=np.float32)
    _, before = index.search(query, 1)
    index.add(query + 0.01)  # the new vector is the nearest to the query
    scores, after = index.search(query, 1)
    assert before[0, 0] != 50
    assert after[0, 0] == 50
    np.testing.assert_allclose(scores[0, 0], 4 * 0.01**2, rtol=1e-2)


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(4)
    gallery, queries = data(rng, 1000), data(rng, 7)
    results = []
    for chunk in (1, 7, 1000, 5000):
        index = ExactIndex(16, "dot", device="cpu", chunk_size=chunk, query_chunk_size=3)
        index.add(gallery[:600])
        index.add(gallery[600:])
        results.append(index.search(queries, 12)[1])
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_ids_continue_across_adds_and_len():
    index = ExactIndex(2, "sqeuclidean", device="cpu")
    index.add(np.array([[0.0, 0.0]], dtype=np.float32))
    index.add(np.array([[10.0, 10.0], [1.0, 1.0]], dtype=np.float32))
    assert len(index) == 3
    _, ids = index.search(np.array([[1.1, 1.0]], dtype=np.float32), 3)
    assert ids.tolist() == [[2, 0, 1]]


@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int32])
def test_numpy_inputs_of_any_dtype(dtype):
    rng = np.random.default_rng(5)
    gallery = rng.integers(0, 200, size=(100, 6)).astype(dtype)
    for index in (ExactIndex(6, "euclidean", device="cpu"), FaissIndex(6, "euclidean")):
        index.add(gallery)
        scores, ids = index.search(gallery[:5], 1)
        assert scores.dtype == np.float32 and ids.dtype == np.int64
        np.testing.assert_array_equal(scores[:, 0], 0.0)


def test_l2_and_dim_are_deprecated_aliases():
    rng = np.random.default_rng(6)
    gallery = data(rng, 100, 4)
    with pytest.warns(DeprecationWarning, match="sqeuclidean"):
        old = ExactIndex(4, "l2", device="cpu")
    with pytest.warns(DeprecationWarning, match="dimension"):
        old_faiss = FaissIndex(dim=4, metric="sqeuclidean")
    assert old.metric == "sqeuclidean" and old_faiss.dimension == 4
    with pytest.warns(DeprecationWarning, match="index.dimension"):
        assert old.dim == 4
    new = ExactIndex(4, "sqeuclidean", device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for index in (old, new):
            index.add(gallery)
        np.testing.assert_array_equal(old.search(gallery, 3)[1], new.search(gallery, 3)[1])
    with pytest.raises(ValueError, match="not both"):
        ExactIndex(4, dim=4)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "pq", "ivfpq"])
def test_faiss_kinds_find_most_true_neighbours(kind):
    rng = np.random.default_rng(7)
    gallery, queries = data(rng, 2000, 32), data(rng, 50, 32)
    params = {"nlist": 16, "nprobe": 16} if kind in ("ivf", "ivfpq") else {}
    index = FaissIndex(32, "sqeuclidean", kind, **params)
    index.add(gallery)
    truth = ExactIndex(32, "sqeuclidean", device="cpu")
    truth.add(gallery)
    _, found = index.search(queries, 10)
    _, true_ids = truth.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, true_ids, strict=True)])
    assert recall >= (0.99 if kind in ("flat", "ivf") else 0.3 if "pq" in kind else 0.9)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_and_load_round_trip(tmp_path, kind):
    rng = np.random.default_rng(8)
    gallery, queries = data(rng), data(rng, 5)
    faiss_index = FaissIndex(16, "cosine", kind)
    faiss_index.add(gallery)
    faiss_index.save(tmp_path / "f.npz")
    loaded = FaissIndex.load(tmp_path / "f.npz")
    assert len(loaded) == len(faiss_index) and loaded.kind == kind
    np.testing.assert_array_equal(loaded.search(queries, 5)[1], faiss_index.search(queries, 5)[1])

    exact = ExactIndex(16, "euclidean", device="cpu")
    exact.add(gallery)
    exact.save(tmp_path / "e.pt")
    again = ExactIndex.load(tmp_path / "e.pt", device="cpu")
    assert again.metric == "euclidean" and again.dimension == 16
    np.testing.assert_array_equal(again.search(queries, 5)[1], exact.search(queries, 5)[1])


def test_missing_results_are_marked():
    rng = np.random.default_rng(9)
    index = FaissIndex(8, "sqeuclidean", "ivf", nlist=4, nprobe=1)
    index.add(data(rng, 200, 8))
    scores, ids = index.search(data(rng, 30, 8), 150)
    missing = ids == -1
    assert missing.any(), "one cell of four holds fewer than 150 of 200 vectors"
    assert (ids >= -1).all()
    assert np.isposinf(scores[missing]).all()
    assert np.isfinite(scores[~missing]).all()


@pytest.mark.parametrize("make", [lambda: ExactIndex(4, device="cpu"), lambda: FaissIndex(4)])
def test_bad_input(make):
    index = make()
    with pytest.raises(ValueError, match="D=3 but the index has dimension=4"):
        index.add(np.ones((2, 3), dtype=np.float32))
    index.add(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="q must be 2-D"):
        index.search(np.ones(4, dtype=np.float32), 1)
    with pytest.raises(ValueError, match="1 <= k <= 4"):
        index.search(np.ones((1, 4), dtype=np.float32), 5)
    with pytest.raises(ValueError, match="1 <= k <= 4"):
        index.search(np.ones((1, 4), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="contains NaN"):
        index.search(np.full((1, 4), np.nan, dtype=np.float32), 1)
    with pytest.raises(ValueError, match="must not be empty"):
        index.add(np.ones((0, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="zero vector"):
        index.add(np.zeros((1, 4), dtype=np.float32))


def test_bad_construction():
    with pytest.raises(ValueError, match="metric must be one of"):
        ExactIndex(4, "manhattan")
    with pytest.raises(ValueError, match="dimension must be an int >= 1"):
        FaissIndex(0)
    with pytest.raises(ValueError, match="chunk_size must be an int >= 1"):
        ExactIndex(4, chunk_size=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        FaissIndex(4, kind="lsh")
    with pytest.raises(ValueError, match="takes params"):
        FaissIndex(4, kind="flat", nlist=3)
    with pytest.raises(ValueError, match="divisible by m"):
        FaissIndex(10, kind="pq", m=4)
    with pytest.raises(ValueError, match="nprobe must satisfy"):
        FaissIndex(4, kind="ivf", nlist=4, nprobe=5)


def test_faiss_training_on_too_few_points():
    rng = np.random.default_rng(10)
    index = FaissIndex(4, "sqeuclidean", "ivf", nlist=50)
    with pytest.raises(ValueError, match="needs at least 50"):
        index.add(data(rng, 20, 4))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.sampled_from(INDEX_METRICS), st.integers(0, 2**16))
def test_scores_are_sorted_best_first(n, k, metric, seed):
    assume(k <= n)
    rng = np.random.default_rng(seed)
    index = ExactIndex(3, metric, device="cpu", chunk_size=5)
    index.add(rng.normal(size=(n, 3)).astype(np.float32) + 0.1)
    scores, ids = index.search(rng.normal(size=(4, 3)).astype(np.float32), k)
    diffs = np.diff(scores, axis=1)
    assert (diffs >= -1e-6).all() if metric.endswith("euclidean") else (diffs <= 1e-6).all()
    assert all(len(set(row)) == k for row in ids)
