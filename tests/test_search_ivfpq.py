"""IVF-PQ from scratch against faiss's IndexIVFPQ on the same centroids and codebooks."""

import faiss
import numpy as np
import pytest
import torch
from faiss.contrib.inspect_tools import get_invlist
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests._search_helpers import assert_search_refuses, assert_untrained_refuses, blobs, recall
from xmr_lite.search import ExactIndex, IVFPQIndex

D, NLIST, M = 16, 20, 4
ADC_TOLERANCE = 1e-4  # relative; ours sums the terms in another order than faiss (float32)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def faiss_ivfpq(index: IVFPQIndex, x: np.ndarray) -> tuple[faiss.IndexIVFPQ, faiss.Index]:
    """faiss's IndexIVFPQ given our centroids and codebooks, holding ``x``; and its quantiser (kept alive)."""
    inner = index.metric in ("cosine", "dot")
    quantizer = faiss.IndexFlatIP(D) if inner else faiss.IndexFlatL2(D)
    quantizer.add(index.centroids.cpu().numpy())
    metric = faiss.METRIC_INNER_PRODUCT if inner else faiss.METRIC_L2
    reference = faiss.IndexIVFPQ(quantizer, D, index.nlist, index.pq.m, index.pq.nbits, metric)
    faiss.copy_array_to_vector(index.pq.codebooks.cpu().numpy().ravel(), reference.pq.centroids)
    reference.is_trained = True
    reference.add(unit(x) if index.metric == "cosine" else x)
    return reference, quantizer


def trained(seed: int, metric: str, nprobe: int, device, rerank: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    x, q = blobs(rng, 2000, D), blobs(rng, 40, D)
    index = IVFPQIndex(D, NLIST, M, 8, metric, nprobe, rerank, device=device)
    index.train(x, n_iter=8, random_state=0)
    index.add(torch.from_numpy(x[:1200]).to(device))
    index.add(x[1200:])
    return index, x, q


@pytest.mark.parametrize("metric", ["sqeuclidean", "dot", "cosine"])
def test_same_lists_codes_and_adc_distances_as_faiss(metric, device):
    index, x, q = trained(0, metric, 4, device)
    assert len(index) == 2000 and sum(index.list_sizes()) == 2000
    reference, _quantizer = faiss_ivfpq(index, x)
    for cell in range(NLIST):
        ref_ids, ref_codes = get_invlist(reference.invlists, cell)
        assert index.list_sizes()[cell] == len(ref_ids)
        if len(ref_ids):
            ours_codes, ours_ids = (t.cpu().numpy() for t in index._cell(cell)[:2])
            assert set(ours_ids.tolist()) == set(ref_ids.tolist())
            np.testing.assert_array_equal(ours_codes[np.argsort(ours_ids)], ref_codes[np.argsort(ref_ids)])
    for nprobe in (1, 4, NLIST):
        reference.nprobe = nprobe
        ref_scores, ref_ids = reference.search(unit(q) if metric == "cosine" else q, 10)
        scores, ids = index.search(q, 10, nprobe=nprobe)
        finite = ref_ids >= 0
        np.testing.assert_array_equal(ids >= 0, finite)
        scale = np.abs(ref_scores[finite]).max()
        np.testing.assert_allclose(scores[finite], ref_scores[finite], rtol=ADC_TOLERANCE, atol=ADC_TOLERANCE * scale)
        for ours_row, ref_row in zip(ids, ref_ids, strict=True):  # same candidates; equal codes may tie at the end
            ours_set, ref_set = set(ours_row[ours_row >= 0].tolist()), set(ref_row[ref_row >= 0].tolist())
            assert len(ours_set & ref_set) >= 0.9 * len(ref_set)


def test_rerank_returns_exact_scores_and_full_settings_are_exact(device):
    index, x, q = trained(1, "euclidean", NLIST, device, rerank=200)
    truth = ExactIndex(D, "euclidean", device="cpu")
    truth.add(x)
    true_scores, true_ids = truth.search(q, 10)
    approximate = index.search(q, 10, rerank=0)[1]
    scores, ids = index.search(q, 10)
    assert recall(ids, true_ids) >= 0.99 and recall(ids, true_ids) >= recall(approximate, true_ids)
    np.testing.assert_allclose(scores, np.sqrt(((q[:, None] - x[ids]) ** 2).sum(-1)), rtol=1e-4, atol=1e-4)
    exhaustive = index.search(q, 10, rerank=len(index))
    np.testing.assert_array_equal(exhaustive[1], true_ids)
    np.testing.assert_allclose(exhaustive[0], true_scores, rtol=1e-4, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16), st.integers(1, 6), st.integers(1, 12), st.sampled_from(["sqeuclidean", "dot"]))
def test_results_are_sorted_distinct_and_more_probes_never_lose_candidates(seed, nprobe, k, metric):
    rng = np.random.default_rng(seed)
    x, q = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    index = IVFPQIndex(8, nlist=6, m=2, nbits=4, metric=metric, nprobe=nprobe, device="cpu")
    index.train(x, n_iter=3, random_state=seed)
    index.add(x)
    assume(min(index.list_sizes()) > 0)
    scores, ids = index.search(q, k)
    valid = ids >= 0
    steps = np.diff(np.where(valid, scores, np.nan), axis=1)
    ordered = steps[~np.isnan(steps)]
    assert (ordered >= -1e-5).all() if metric == "sqeuclidean" else (ordered <= 1e-5).all()
    for row, ok in zip(ids, valid, strict=True):
        assert len(set(row[ok].tolist())) == ok.sum()
    # the candidates of nprobe cells are a subset of those of all cells: the k-th score can only improve
    everything = index.search(q, k, nprobe=6)[0]
    worst, worst_all = scores[:, -1], everything[:, -1]
    if metric == "sqeuclidean":
        assert (worst_all <= worst + 1e-4).all()
    else:
        assert (worst_all >= worst - 1e-4).all()


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**16))
def test_codes_reconstruct_better_than_the_centroid_alone(seed):
    rng = np.random.default_rng(seed)
    x = blobs(rng, 300, 8)
    index = IVFPQIndex(8, nlist=4, m=4, nbits=4, metric="sqeuclidean", nprobe=2, device="cpu")
    index.train(x, n_iter=3, random_state=seed)
    xt = torch.from_numpy(x)
    cells = index._assign(xt)
    residuals = xt - index.centroids[cells]
    decoded = index.pq.decode(index.pq.encode(residuals))
    assert ((residuals - decoded) ** 2).sum() < (residuals**2).sum()


def test_save_and_load_round_trip(tmp_path):
    index, _, q = trained(2, "cosine", 3, "cpu", rerank=30)
    index.save(tmp_path / "ivfpq.pt")
    again = IVFPQIndex.load(tmp_path / "ivfpq.pt", device="cpu")
    assert (len(again), again.nprobe, again.rerank, again.metric) == (2000, 3, 30, "cosine")
    for rerank in (0, 30):
        np.testing.assert_array_equal(again.search(q, 5, rerank=rerank)[1], index.search(q, 5, rerank=rerank)[1])
    assert index.bytes_per_vector == M + 8


def test_missing_results_are_marked():
    rng = np.random.default_rng(3)
    x = blobs(rng, 400, 8)
    index = IVFPQIndex(8, nlist=10, m=2, nbits=4, metric="sqeuclidean", nprobe=1, device="cpu")
    index.train(x)
    index.add(x)
    scores, ids = index.search(x[:20], 300)
    missing = ids == -1
    assert missing.any() and np.isposinf(scores[missing]).all() and np.isfinite(scores[~missing]).all()
    assert index.bytes_per_vector == 2 + 8 + 4


def test_bad_input():
    rng = np.random.default_rng(4)
    x = blobs(rng, 300, 8)
    with pytest.raises(ValueError, match="divisible by m"):
        IVFPQIndex(10, nlist=4, m=4, nprobe=2)
    with pytest.raises(ValueError, match="nprobe must satisfy 1 <= nprobe <= nlist=4"):
        IVFPQIndex(8, nlist=4, m=2, nprobe=5)
    with pytest.raises(ValueError, match="rerank must be an int >= 0"):
        IVFPQIndex(8, nlist=4, m=2, nprobe=2, rerank=-1)
    index = IVFPQIndex(8, nlist=4, m=2, nbits=8, metric="dot", nprobe=2, device="cpu")
    assert_untrained_refuses(index, x)
    with pytest.raises(ValueError, match="x is required"):
        index.train()
    with pytest.raises(ValueError, match="needs at least nlist=400"):
        IVFPQIndex(8, nlist=400, m=2, device="cpu").train(x)
    with pytest.raises(ValueError, match="needs at least 2\\*\\*nbits=256"):
        index.train(x[:100])
    with pytest.raises(ValueError, match="codebooks must have shape"):
        index.train(centroids=np.ones((4, 8)), codebooks=np.ones((2, 3, 4)))
    index.train(x)
    index.add(x)
    assert_search_refuses(index, x, too_many_probes=5)
    with pytest.raises(ValueError, match="x contains NaN"):
        index.add(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match="create the index with rerank > 0"):
        index.search(x[:1], 5, rerank=10)
    with pytest.raises(ValueError, match="keeps no float vectors"):
        _ = index.vectors
    reranking = IVFPQIndex(8, nlist=4, m=2, nbits=4, metric="dot", nprobe=2, rerank=20, device="cpu")
    reranking.train(x)
    reranking.add(x)
    with pytest.raises(ValueError, match="rerank must be 0 or at least k=30"):
        reranking.search(x[:1], 30)
