import itertools
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score, ndcg_score

from xmr_lite import metrics as m

# One query, five items. Ranked by score: items 2, 0, 4, 1, 3; relevant items: 0 and 3.
SCORES = np.array([[0.8, 0.3, 0.9, 0.1, 0.5]])
RELEVANT = np.array([[True, False, False, True, False]])


def test_hand_computed_example():
    assert m.hit_rate_at_k(SCORES, RELEVANT, 1) == 0.0
    assert m.hit_rate_at_k(SCORES, RELEVANT, 2) == 1.0
    assert m.recall_at_k(SCORES, RELEVANT, 2) == 0.5
    assert m.recall_at_k(SCORES, RELEVANT, 5) == 1.0
    assert m.precision_at_k(SCORES, RELEVANT, 2) == 0.5
    # relevant at ranks 2 and 5: AP = (1/2 + 2/5) / 2
    assert m.average_precision(SCORES, RELEVANT)[0] == pytest.approx(0.45)
    assert m.mrr(SCORES, RELEVANT) == 0.5
    assert m.median_rank(SCORES, RELEVANT) == 2.0
    assert m.mean_rank(SCORES, RELEVANT) == 2.0
    dcg = 1 / np.log2(3) + 1 / np.log2(6)
    ideal = 1 / np.log2(2) + 1 / np.log2(3)
    assert m.ndcg_at_k(SCORES, RELEVANT, 5) == pytest.approx(dcg / ideal)


def test_hit_rate_and_recall_differ_with_many_relevant_items():
    scores = np.array([[0.9, 0.8, 0.1, 0.2]])
    relevance = np.array([[True, False, True, True]])
    assert m.hit_rate_at_k(scores, relevance, 1) == 1.0
    assert m.recall_at_k(scores, relevance, 1) == pytest.approx(1 / 3)


def test_ties_are_broken_by_gallery_index():
    scores = np.zeros((1, 4))
    assert m.mrr(scores, np.array([[False, False, True, False]])) == pytest.approx(1 / 3)
    assert m.mrr(scores, np.array([[True, False, False, False]])) == 1.0


def test_average_precision_matches_sklearn(device):
    rng = np.random.default_rng(100)
    scores = rng.normal(size=(20, 30))
    relevance = rng.random(size=(20, 30)) < 0.3
    relevance[:, 0] = True  # every query has a relevant item
    ours = m.average_precision(torch.from_numpy(scores).to(device), torch.from_numpy(relevance).to(device))
    assert ours.device.type == device.type
    expected = [average_precision_score(r, s) for r, s in zip(relevance, scores, strict=True)]
    np.testing.assert_allclose(ours.cpu().numpy(), expected, rtol=1e-12)
    assert m.mean_average_precision(scores, relevance) == pytest.approx(np.mean(expected))


@pytest.mark.parametrize("k", [1, 3, 10, 30])
def test_ndcg_matches_sklearn_with_graded_relevance(k):
    rng = np.random.default_rng(101)
    scores = rng.normal(size=(15, 30))
    grades = rng.integers(0, 4, size=(15, 30)).astype(float)
    grades[:, 0] = 2.0
    assert m.ndcg_at_k(scores, grades, k) == pytest.approx(ndcg_score(grades, scores, k=k), rel=1e-10)


def test_relevance_from_labels(device):
    q = torch.tensor([0, 1], device=device)
    g = torch.tensor([1, 0, 1], device=device)
    rel = m.relevance_from_labels(q, g)
    assert rel.device.type == device.type
    assert rel.tolist() == [[False, True, False], [True, False, True]]


def test_queries_without_relevant_items_are_excluded_with_a_warning():
    rng = np.random.default_rng(102)
    scores = rng.normal(size=(3, 5))
    relevance = np.zeros((3, 5), dtype=bool)
    relevance[0, 1] = True
    with pytest.warns(UserWarning, match="2 of 3 queries"):
        value = m.mean_average_precision(scores, relevance)
    assert value == pytest.approx(m.mean_average_precision(scores[:1], relevance[:1]))
    with pytest.warns(UserWarning):
        ap = m.average_precision(scores, relevance)
    assert np.isnan(ap[1:]).all()
    with pytest.raises(ValueError, match="no relevant item for any query"):
        m.mrr(scores, np.zeros((3, 5), dtype=bool))


def test_evaluate_returns_every_metric_once_warned():
    rng = np.random.default_rng(103)
    scores = rng.normal(size=(6, 12))
    relevance = rng.random(size=(6, 12)) < 0.4
    relevance[0] = False
    relevance[1:, 0] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = m.evaluate(scores, relevance, ks=(1, 5, 20))
    assert len([w for w in caught if "excluded" in str(w.message)]) == 1
    for key in ("R@1", "recall@5", "P@5", "nDCG@1", "mAP", "MRR", "MedR", "MeanR"):
        assert key in result
    assert "R@20" not in result  # k larger than the gallery is skipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert result["mAP"] == pytest.approx(m.mean_average_precision(scores, relevance))
        assert result["R@5"] == pytest.approx(m.hit_rate_at_k(scores, relevance, 5))


@pytest.mark.parametrize(
    ("scores", "relevance", "k", "match"),
    [
        (np.ones((2, 3)), np.ones((2, 4), dtype=bool), 1, "relevance has shape"),
        (np.ones(3), np.ones(3, dtype=bool), 1, "scores must be 2-D"),
        (np.ones((2, 3)), np.ones((2, 3), dtype=bool), 0, "1 <= k <= 3"),
        (np.ones((2, 3)), np.ones((2, 3), dtype=bool), 4, "1 <= k <= 3"),
        (np.full((2, 3), np.nan), np.ones((2, 3), dtype=bool), 1, "scores contains NaN"),
        (np.ones((0, 3)), np.ones((0, 3), dtype=bool), 1, "scores must not be empty"),
        (np.ones((2, 3)), -np.ones((2, 3)), 1, "non-negative"),
    ],
)
def test_bad_input(scores, relevance, k, match):
    with pytest.raises(ValueError, match=match):
        m.hit_rate_at_k(scores, relevance, k)


def test_k_must_be_an_int():
    with pytest.raises(ValueError, match="k must be an int"):
        m.precision_at_k(SCORES, RELEVANT, 2.0)


score_matrices = arrays(np.float64, (4, 8), elements=st.floats(-5, 5, allow_nan=False))
relevance_matrices = arrays(np.bool_, (4, 8))


@settings(max_examples=60, deadline=None)
@given(score_matrices, relevance_matrices)
def test_average_precision_is_between_0_and_1(scores, relevance):
    relevance[:, 3] = True
    ap = m.average_precision(scores, relevance)
    assert ((ap >= 0) & (ap <= 1)).all()


@settings(max_examples=60, deadline=None)
@given(score_matrices, relevance_matrices)
def test_recall_is_non_decreasing_in_k(scores, relevance):
    relevance[:, 0] = True
    recalls = [m.recall_at_k(scores, relevance, k) for k in range(1, 9)]
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(recalls))
    assert recalls[-1] == pytest.approx(1.0)
    hits = [m.hit_rate_at_k(scores, relevance, k) for k in range(1, 9)]
    assert all(h >= r - 1e-12 for h, r in zip(hits, recalls, strict=True))


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "sqeuclidean", "dot"])
def test_leave_one_out_r1_is_the_nearest_neighbour_accuracy_of_sklearn(metric, device):
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 5))
    labels = rng.integers(0, 4, size=40)
    found = m.leave_one_out_retrieval(torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device), metric)
    if metric == "dot":
        neighbour = np.argsort(-(x @ x.T + np.diag(np.full(40, -np.inf))), axis=1, kind="stable")[:, 0]
    else:
        sk_metric = {"sqeuclidean": "euclidean"}.get(metric, metric)  # same order of neighbours
        _, idx = NearestNeighbors(n_neighbors=2, metric=sk_metric).fit(x).kneighbors(x)
        neighbour = idx[:, 1]
    assert found["R@1"] == pytest.approx(np.mean(labels[neighbour] == labels))


def test_leave_one_out_removes_the_query_from_its_own_gallery():
    """Two items per class far apart: each item's only relevant item is the other one."""
    x = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    labels = np.array([0, 0, 1, 1])
    found = m.leave_one_out_retrieval(x, labels, ks=(1, 2, 3, 4))
    assert found["R@1"] == 1.0 and found["mAP"] == 1.0 and found["MedR"] == 1.0
    assert "R@4" not in found  # only N - 1 = 3 others to rank
    # the same numbers by hand, with the diagonal removed
    scores = x @ x.T / np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1))
    keep = ~np.eye(4, dtype=bool)
    relevance = labels[:, None] == labels[None, :]
    assert found == m.evaluate(scores[keep].reshape(4, 3), relevance[keep].reshape(4, 3), ks=(1, 2, 3))


def test_leave_one_out_negates_distances():
    """Euclidean: the nearest item must come first (a distance, not a similarity)."""
    x = np.array([[0.0], [0.1], [5.0], [5.2], [10.0]])
    labels = np.array([0, 0, 1, 1, 2])
    with pytest.warns(UserWarning, match="1 of 5 queries"):  # item 4 is a class of its own
        found = m.leave_one_out_retrieval(x, labels, metric="euclidean", ks=(1,))
    assert found["R@1"] == 1.0


def test_leave_one_out_validates():
    x = np.zeros((3, 2)) + np.arange(3)[:, None]
    for args, match in (
        ((x, np.array([0, 1])), "labels has 2 entries"),
        ((x[:1], np.array([0])), "at least 2 rows"),
        ((x, np.array([0, 0, 1]), "mahalanobis"), "precision matrix"),
        ((x, np.array([0, 0, 1]), "hamming"), "metric"),
        ((x[0], np.array([0, 0, 1])), "embeddings"),
        ((x, np.array([[0, 0, 1]])), "labels"),
    ):
        with pytest.raises(ValueError, match=match):
            m.leave_one_out_retrieval(*args)


def reference_metrics(scores: np.ndarray, relevance: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """Every metric of `evaluate`, by loops over the queries, written from the definitions."""
    per_query: dict[str, list[float]] = {}
    for s, rel in zip(scores, relevance, strict=True):
        if not rel.any():
            continue
        order = np.argsort(-s, kind="stable")
        ranked = rel[order]
        n_relevant = int(rel.sum())
        first = int(np.flatnonzero(ranked)[0]) + 1
        hits_at = np.cumsum(ranked)
        values = {
            "mAP": sum(hits_at[i] / (i + 1) for i in np.flatnonzero(ranked)) / n_relevant,
            "MRR": 1.0 / first,
            "MedR": first,
            "MeanR": first,
        }
        for k in ks:
            values[f"R@{k}"] = float(hits_at[k - 1] > 0)
            values[f"recall@{k}"] = hits_at[k - 1] / n_relevant
            values[f"P@{k}"] = hits_at[k - 1] / k
        for key, value in values.items():
            per_query.setdefault(key, []).append(float(value))
    return {key: float(np.median(v) if key == "MedR" else np.mean(v)) for key, v in per_query.items()}


def test_evaluate_puts_each_metric_under_its_own_key():
    """Many relevant items per query, so that recall, precision, MRR and the ranks all differ."""
    rng = np.random.default_rng(104)
    scores = rng.normal(size=(10, 15))
    relevance = rng.random(size=(10, 15)) < 0.3
    relevance[:, 0] = True  # every query has a relevant item; several have many
    result = m.evaluate(scores, relevance, ks=(1, 3, 7))
    expected = reference_metrics(scores, relevance, (1, 3, 7))
    assert {k for k in result if not k.startswith("nDCG")} == set(expected)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key
    # the pairs a swapped key would confuse really differ here
    assert expected["P@7"] != pytest.approx(expected["recall@7"])
    assert expected["MRR"] != pytest.approx(expected["MeanR"])
    assert result["nDCG@3"] == pytest.approx(m.ndcg_at_k(scores, relevance, 3))


def test_median_rank_of_an_even_number_of_queries_is_the_mean_of_the_middle_two():
    # first relevant item at ranks 1, 2, 3 and 5 (one relevant item per query)
    scores = np.tile(np.arange(5, 0, -1, dtype=float), (4, 1))  # item 0 first, item 4 last
    relevance = np.zeros((4, 5), dtype=bool)
    relevance[[0, 1, 2, 3], [0, 1, 2, 4]] = True
    assert m.median_rank(scores, relevance) == 2.5  # the lower median would say 2
    assert m.evaluate(scores, relevance, ks=(1,))["MedR"] == 2.5
    rng = np.random.default_rng(105)
    scores = rng.normal(size=(8, 20))
    relevance = rng.random(size=(8, 20)) < 0.1
    relevance[:, 19] = True
    assert m.median_rank(scores, relevance) == pytest.approx(reference_metrics(scores, relevance, ())["MedR"])


def test_precision_divides_by_k_even_when_there_are_fewer_relevant_items():
    # one relevant item, ranked first: P@5 is 1/5, not 1/min(5, 1)
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    relevance = np.array([[True, False, False, False, False, False]])
    assert m.precision_at_k(scores, relevance, 5) == pytest.approx(0.2)
    assert m.evaluate(scores, relevance, ks=(5,))["P@5"] == pytest.approx(0.2)


def test_a_device_without_float64_ranks_on_the_cpu(monkeypatch):
    """MPS has no float64: faked here by declaring the CPU float64-less, so the MPS path runs."""
    assert not m._has_float64(torch.device("mps")) and m._has_float64(torch.device("cpu"))
    rng = np.random.default_rng(106)
    scores = torch.from_numpy(rng.normal(size=(6, 9))).float()
    relevance = torch.from_numpy(rng.random(size=(6, 9)) < 0.4)
    relevance[:, 0] = True
    expected_ap = m.average_precision(scores, relevance)
    expected = m.evaluate(scores, relevance)
    moved = []
    real_cpu = torch.Tensor.cpu

    def recording_cpu(self, *args, **kwargs):
        moved.append(self.shape)
        return real_cpu(self, *args, **kwargs)

    monkeypatch.setattr(m, "_has_float64", lambda device: False)
    monkeypatch.setattr(torch.Tensor, "cpu", recording_cpu)
    ap = m.average_precision(scores, relevance)
    assert moved == [(6, 9), (6, 9)]  # scores and relevance went to the CPU first
    assert ap.dtype == torch.float32 and ap.device == scores.device
    torch.testing.assert_close(ap, expected_ap.float())
    assert m.evaluate(scores, relevance) == pytest.approx(expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compares the CPU with a CUDA GPU (make gpu-check)")
def test_metrics_agree_between_cpu_and_gpu():
    rng = np.random.default_rng(107)
    scores = torch.from_numpy(rng.normal(size=(30, 50))).float()
    relevance = torch.from_numpy(rng.random(size=(30, 50)) < 0.2)
    relevance[:, 0] = True
    assert m.evaluate(scores, relevance) == pytest.approx(m.evaluate(scores.cuda(), relevance.cuda()))
    labels = torch.from_numpy(rng.integers(0, 5, size=30))
    cpu = m.leave_one_out_retrieval(scores, labels)
    assert cpu == pytest.approx(m.leave_one_out_retrieval(scores.cuda(), labels.cuda()), rel=1e-5)
