"""k-means, IVF and product quantisation from scratch, against scikit-learn and faiss."""

import faiss
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans

from tests._search_helpers import assert_search_refuses, assert_untrained_refuses, blobs, recall
from xmr_lite.search import ExactIndex, IVFIndex, PQIndex, ProductQuantizer, assign, kmeans, kmeans_plus_plus

# k-means


def test_kmeans_matches_sklearn_and_faiss_from_the_same_start(device):
    rng = np.random.default_rng(0)
    x = blobs(rng)
    init = kmeans_plus_plus(x, 16, random_state=0)
    ours = kmeans(torch.from_numpy(x).to(device), 16, n_iter=30, init=torch.from_numpy(init).to(device))
    assert ours.centroids.device.type == device.type
    sk = KMeans(16, init=init, n_init=1, max_iter=30, tol=0.0, algorithm="lloyd").fit(x)
    assert ours.inertia == pytest.approx(sk.inertia_, rel=1e-4)
    np.testing.assert_allclose(np.sort(ours.centroids.cpu().numpy(), 0), np.sort(sk.cluster_centers_, 0), atol=1e-3)
    fk = faiss.Kmeans(8, 16, niter=30, max_points_per_centroid=10**6, seed=0)
    fk.train(x, init_centroids=init)
    faiss_inertia = float(fk.index.search(x, 1)[0].sum())
    assert ours.inertia == pytest.approx(faiss_inertia, rel=1e-4)


def test_kmeans_labels_are_the_nearest_centroids_and_numpy_stays_numpy():
    rng = np.random.default_rng(1)
    x = blobs(rng, 500).astype(np.float64)
    result = kmeans(x, 5, random_state=3, device="cpu")
    assert isinstance(result.centroids, np.ndarray) and result.centroids.shape == (5, 8)
    np.testing.assert_array_equal(result.labels, assign(x, result.centroids))
    d2 = ((x[:, None, :] - result.centroids[None]) ** 2).sum(-1)
    assert result.inertia == pytest.approx(d2.min(1).sum(), rel=1e-4)


def test_kmeans_is_deterministic_for_a_seed_and_kmeans_pp_spreads_out():
    rng = np.random.default_rng(2)
    x = blobs(rng, 800)
    a, b = kmeans(x, 12, random_state=5, device="cpu"), kmeans(x, 12, random_state=5, device="cpu")
    np.testing.assert_array_equal(a.centroids, b.centroids)
    seeds = kmeans_plus_plus(x, 12, random_state=0)
    assert len({tuple(row) for row in seeds}) == 12
    rand = kmeans(x, 12, n_iter=1, init="random", random_state=0, device="cpu")
    plus = kmeans(x, 12, n_iter=1, init="k-means++", random_state=0, device="cpu")
    assert plus.inertia < rand.inertia


def test_kmeans_on_off_centre_data():
    rng = np.random.default_rng(3)
    x = blobs(rng, 1000) + np.float32(1e4)
    init = x[:6].copy()
    ours = kmeans(x, 6, n_iter=20, init=init, device="cpu")
    sk = KMeans(6, init=init, n_init=1, max_iter=20, tol=0.0, algorithm="lloyd").fit(x.astype(np.float64))
    assert ours.inertia == pytest.approx(sk.inertia_, rel=1e-3)


def test_kmeans_bad_input():
    x = np.ones((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="n_clusters=6 needs at least as many points"):
        kmeans(x, 6)
    with pytest.raises(ValueError, match="n_clusters must be an int >= 1"):
        kmeans(x, 0)
    with pytest.raises(ValueError, match="init must have shape"):
        kmeans(x, 2, init=np.ones((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="init must be"):
        kmeans(x, 2, init="forgy")
    with pytest.raises(ValueError, match="x contains NaN"):
        kmeans(np.full((5, 2), np.nan), 2)
    with pytest.raises(ValueError, match="centroids have D=3"):
        assign(x, np.ones((2, 3)))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**16))
def test_lloyd_never_increases_inertia(n, k, seed):
    assume(k <= n)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    one = kmeans(x, k, n_iter=1, random_state=seed, device="cpu")
    more = kmeans(x, k, n_iter=5, random_state=seed, device="cpu")
    assert more.inertia <= one.inertia * (1 + 1e-5) + 1e-5
    assert set(np.unique(more.labels)) <= set(range(k))


# IVF


def faiss_ivf(centroids: np.ndarray, x: np.ndarray, metric: str, nprobe: int) -> tuple[faiss.Index, faiss.Index]:
    """faiss's IVF-Flat on given centroids, and its quantiser (which the caller keeps alive)."""
    inner = metric in ("cosine", "dot")
    quantizer = faiss.IndexFlatIP(x.shape[1]) if inner else faiss.IndexFlatL2(x.shape[1])
    quantizer.add(centroids)
    index = faiss.IndexIVFFlat(
        quantizer, x.shape[1], len(centroids), faiss.METRIC_INNER_PRODUCT if inner else faiss.METRIC_L2
    )
    index.nprobe = nprobe
    index.add(x)
    return index, quantizer


@pytest.mark.parametrize("metric", ["sqeuclidean", "dot", "cosine"])
@pytest.mark.parametrize("nprobe", [1, 3, 20])
def test_ivf_matches_faiss_ivf_flat_on_the_same_cells(metric, nprobe, device):
    rng = np.random.default_rng(4)
    x, q = blobs(rng), blobs(rng, 40)
    ours = IVFIndex(8, nlist=20, metric=metric, nprobe=nprobe, device=device)
    ours.train(x, random_state=0)
    ours.add(torch.from_numpy(x[:1200]).to(device))
    ours.add(x[1200:])
    assert len(ours) == 2000 and sum(ours.list_sizes()) == 2000
    scores, ids = ours.search(q, 10)
    prepared = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
    queries = q / np.linalg.norm(q, axis=1, keepdims=True) if metric == "cosine" else q
    reference, _quantizer = faiss_ivf(ours.centroids.cpu().numpy(), prepared, metric, nprobe)
    ref_scores, ref_ids = reference.search(queries, 10)
    np.testing.assert_array_equal(ids, ref_ids)
    finite = ref_ids >= 0
    np.testing.assert_allclose(scores[finite], ref_scores[finite], rtol=1e-4, atol=1e-3)


def test_ivf_with_every_cell_is_exact_and_fewer_cells_lose_recall():
    rng = np.random.default_rng(5)
    x, q = blobs(rng), blobs(rng, 50)
    index = IVFIndex(8, nlist=16, metric="euclidean", nprobe=16, device="cpu")
    index.train(x)
    index.add(x)
    truth = ExactIndex(8, "euclidean", device="cpu")
    truth.add(x)
    true_scores, true_ids = truth.search(q, 10)
    scores, ids = index.search(q, 10)
    np.testing.assert_array_equal(ids, true_ids)
    np.testing.assert_allclose(scores, true_scores, rtol=1e-4, atol=1e-4)
    assert recall(index.search(q, 10, nprobe=1)[1], true_ids) < 1.0


def test_ivf_marks_missing_results_and_round_trips(tmp_path):
    rng = np.random.default_rng(6)
    x = blobs(rng, 300)
    index = IVFIndex(8, nlist=10, metric="sqeuclidean", nprobe=1, device="cpu")
    index.train(x)
    index.add(x)
    scores, ids = index.search(x[:20], 200)
    missing = ids == -1
    assert missing.any()
    assert np.isposinf(scores[missing]).all() and np.isfinite(scores[~missing]).all()
    index.save(tmp_path / "ivf.pt")
    again = IVFIndex.load(tmp_path / "ivf.pt", device="cpu")
    assert len(again) == 300 and again.nprobe == 1
    np.testing.assert_array_equal(again.search(x[:20], 5)[1], index.search(x[:20], 5)[1])


def test_ivf_bad_input():
    rng = np.random.default_rng(7)
    x = blobs(rng, 50)
    with pytest.raises(ValueError, match="nprobe must satisfy 1 <= nprobe <= nlist=4"):
        IVFIndex(8, nlist=4, nprobe=5)
    index = IVFIndex(8, nlist=4, metric="dot", nprobe=2, device="cpu")
    assert_untrained_refuses(index, x)
    with pytest.raises(ValueError, match="needs at least nlist=60"):
        IVFIndex(8, nlist=60, device="cpu").train(x)
    with pytest.raises(ValueError, match="centroids must have shape"):
        index.train(centroids=np.ones((3, 8)))
    index.train(x)
    index.add(x)
    assert_search_refuses(index, x, too_many_probes=9)


# product quantisation


def faiss_pq_with(codebooks: np.ndarray, d: int, m: int, nbits: int) -> faiss.IndexPQ:
    index = faiss.IndexPQ(d, m, nbits)
    faiss.copy_array_to_vector(np.ascontiguousarray(codebooks, dtype=np.float32).ravel(), index.pq.centroids)
    index.is_trained = True
    return index


@pytest.mark.parametrize("m", [2, 4, 8])
def test_pq_codes_and_distances_match_faiss_with_the_same_codebooks(m, device):
    rng = np.random.default_rng(8)
    x, q = blobs(rng, 1500, 16), blobs(rng, 30, 16)
    pq = ProductQuantizer(16, m=m, nbits=8, device=device)  # 8 bits: faiss stores one byte per code
    pq.train(torch.from_numpy(x).to(device), n_iter=10, random_state=0)
    assert tuple(pq.codebooks.shape) == (m, 256, 16 // m)
    codes = pq.encode(x)
    reference = faiss_pq_with(pq.codebooks.cpu().numpy(), 16, m, 8)
    theirs = reference.pq.compute_codes(x)
    rows, cols = np.nonzero(codes != theirs)  # only where two codewords tie to float precision
    books = pq.codebooks.cpu().numpy()
    parts = x.reshape(len(x), m, -1)[rows, cols]
    gap = ((parts - books[cols, codes[rows, cols]]) ** 2).sum(1) - ((parts - books[cols, theirs[rows, cols]]) ** 2).sum(
        1
    )
    assert len(rows) <= 2 and np.abs(gap).max(initial=0) < 1e-5
    np.testing.assert_allclose(pq.decode(codes), reference.pq.decode(codes), atol=1e-5)
    reference.add(x)
    ref_d, ref_ids = reference.search(q, 10)
    index = PQIndex(16, m=m, nbits=8, metric="sqeuclidean", device=device, chunk_size=500)
    index.pq = pq
    index.add(x)
    d, ids = index.search(q, 10)
    np.testing.assert_allclose(d, ref_d, rtol=1e-4, atol=1e-3)
    adc = pq.adc(q, codes)
    np.testing.assert_allclose(np.sort(adc, 1)[:, :10], ref_d, rtol=1e-4, atol=1e-3)
    # vectors with the same codes tie exactly, so ids may differ only where their scores agree
    np.testing.assert_allclose(
        np.take_along_axis(adc, ids, 1), np.take_along_axis(adc, ref_ids, 1), rtol=1e-4, atol=1e-3
    )


def test_pq_more_subspaces_reconstruct_better_and_cost_more_bytes():
    rng = np.random.default_rng(9)
    x = blobs(rng, 1500, 16)
    errors, sizes = [], []
    for m in (2, 4, 8):
        pq = ProductQuantizer(16, m=m, nbits=5, device="cpu")
        pq.train(x)
        errors.append(float(((pq.decode(pq.encode(x)) - x) ** 2).sum(1).mean()))
        sizes.append(pq.code_size)
    assert errors[0] > errors[1] > errors[2]
    assert sizes == [2, 4, 8]


def test_pq_index_finds_neighbours_and_round_trips(tmp_path):
    rng = np.random.default_rng(10)
    x, q = blobs(rng, 2000, 16), blobs(rng, 40, 16)
    index = PQIndex(16, m=8, nbits=8, metric="cosine", device="cpu")
    index.train(x)
    index.add(x)
    truth = ExactIndex(16, "cosine", device="cpu")
    truth.add(x)
    assert recall(index.search(q, 10)[1], truth.search(q, 10)[1]) > 0.5
    index.save(tmp_path / "pq.pt")
    again = PQIndex.load(tmp_path / "pq.pt", device="cpu")
    assert len(again) == 2000 and again.codes.dtype == torch.uint8
    np.testing.assert_array_equal(again.search(q, 5)[1], index.search(q, 5)[1])


def test_pq_bad_input():
    rng = np.random.default_rng(11)
    with pytest.raises(ValueError, match="divisible by m"):
        ProductQuantizer(10, m=4)
    with pytest.raises(ValueError, match="nbits must be between 1 and 8"):
        ProductQuantizer(8, m=2, nbits=9)
    pq = ProductQuantizer(8, m=2, nbits=8, device="cpu")
    with pytest.raises(ValueError, match="not trained"):
        pq.encode(np.ones((2, 8)))
    with pytest.raises(ValueError, match="needs at least 2\\*\\*nbits=256"):
        pq.train(blobs(rng, 100))
    with pytest.raises(ValueError, match="not trained"):
        PQIndex(8, m=2, device="cpu").search(np.ones((1, 8)), 1)
    pq.train(blobs(rng, 300))
    with pytest.raises(ValueError, match="codes has 3 columns"):
        pq.decode(np.zeros((1, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="codebooks must have shape"):
        pq.set_codebooks(np.zeros((2, 4, 4), dtype=np.float32))
