import faiss
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xmr_lite.search import ExactIndex, FaissIndex

RNG = np.random.default_rng(2)


def data(n: int = 500, d: int = 16) -> np.ndarray:
    return RNG.normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_exact_index_matches_faiss_flat(metric, device):
    gallery, queries = data(), data(20)
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
    gallery, queries = data(), data(10)
    raw = faiss.IndexFlatL2(16)
    raw.add(gallery)
    distances, ids = raw.search(queries, 5)
    index = ExactIndex(16, "l2", device="cpu")
    index.add(gallery)
    scores, ours = index.search(queries, 5)
    np.testing.assert_array_equal(ours, ids)
    np.testing.assert_allclose(scores, distances, rtol=1e-4, atol=1e-4)


def test_chunking_does_not_change_results():
    gallery, queries = data(1000), data(7)
    results = []
    for chunk in (1, 7, 1000, 5000):
        index = ExactIndex(16, "dot", device="cpu", chunk_size=chunk)
        index.add(gallery[:600])
        index.add(gallery[600:])
        results.append(index.search(queries, 12)[1])
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_ids_continue_across_adds_and_len():
    index = ExactIndex(2, "l2", device="cpu")
    index.add(np.array([[0.0, 0.0]], dtype=np.float32))
    index.add(np.array([[10.0, 10.0], [1.0, 1.0]], dtype=np.float32))
    assert len(index) == 3
    _, ids = index.search(np.array([[1.1, 1.0]], dtype=np.float32), 3)
    assert ids.tolist() == [[2, 0, 1]]


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "pq"])
def test_faiss_kinds_find_most_true_neighbours(kind):
    gallery, queries = data(2000, 32), data(50, 32)
    params = {"nlist": 16, "nprobe": 16} if kind == "ivf" else {}
    index = FaissIndex(32, "l2", kind, **params)
    index.add(gallery)
    truth = ExactIndex(32, "l2", device="cpu")
    truth.add(gallery)
    _, found = index.search(queries, 10)
    _, true_ids = truth.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, true_ids, strict=True)])
    assert recall >= (0.99 if kind in ("flat", "ivf") else 0.3 if kind == "pq" else 0.9)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_and_load_round_trip(tmp_path, kind):
    gallery, queries = data(), data(5)
    faiss_index = FaissIndex(16, "cosine", kind)
    faiss_index.add(gallery)
    faiss_index.save(tmp_path / "f.npz")
    loaded = FaissIndex.load(tmp_path / "f.npz")
    assert len(loaded) == len(faiss_index) and loaded.kind == kind
    np.testing.assert_array_equal(loaded.search(queries, 5)[1], faiss_index.search(queries, 5)[1])

    exact = ExactIndex(16, "cosine", device="cpu")
    exact.add(gallery)
    exact.save(tmp_path / "e.pt")
    again = ExactIndex.load(tmp_path / "e.pt", device="cpu")
    np.testing.assert_array_equal(again.search(queries, 5)[1], exact.search(queries, 5)[1])


def test_missing_results_are_marked():
    index = FaissIndex(8, "l2", "ivf", nlist=4, nprobe=1)
    index.add(data(200, 8))
    scores, ids = index.search(data(30, 8), 150)
    assert (ids >= -1).all()
    assert np.isinf(scores[ids == -1]).all()


@pytest.mark.parametrize("make", [lambda: ExactIndex(4, device="cpu"), lambda: FaissIndex(4)])
def test_bad_input(make):
    index = make()
    with pytest.raises(ValueError, match="D=3 but the index has dim=4"):
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
    with pytest.raises(ValueError, match="dim must be a positive int"):
        FaissIndex(0)
    with pytest.raises(ValueError, match="kind must be one of"):
        FaissIndex(4, kind="lsh")
    with pytest.raises(ValueError, match="takes params"):
        FaissIndex(4, kind="flat", nlist=3)
    with pytest.raises(ValueError, match="divisible by m"):
        FaissIndex(10, kind="pq", m=4)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.sampled_from(["cosine", "dot", "l2"]))
def test_scores_are_sorted_best_first(n, k, metric):
    k = min(k, n)
    index = ExactIndex(3, metric, device="cpu", chunk_size=5)
    index.add(RNG.normal(size=(n, 3)).astype(np.float32) + 0.1)
    scores, ids = index.search(RNG.normal(size=(4, 3)).astype(np.float32), k)
    diffs = np.diff(scores, axis=1)
    assert (diffs >= -1e-6).all() if metric == "l2" else (diffs <= 1e-6).all()
    assert all(len(set(row)) == k for row in ids)
