"""Tests for xmr_lite.ranking: fusion by hand, MMR, each loss against a direct formula, the re-ranker."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from xmr_lite import metrics, ranking

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_lists(seed: int, q: int = 4, length: int = 7, grades: int = 4, device: str = "cpu", padded: bool = True):
    """Random scores, graded relevance and a padding mask (every row keeps at least two items)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(q, length, generator=g, dtype=torch.float64)
    relevance = torch.randint(0, grades, (q, length), generator=g).to(torch.float64)
    mask = torch.ones(q, length, dtype=torch.bool)
    if padded:
        lengths = torch.randint(2, length + 1, (q,), generator=g)
        mask = torch.arange(length)[None, :] < lengths[:, None]
    return scores.to(device), relevance.to(device), mask.to(device)


# --------------------------------------------------------------------------------------------
# direct formulas, one query at a time, with Python loops
# --------------------------------------------------------------------------------------------


def ranknet_direct(s, r, m, sigma=1.0):
    per_query = []
    for q in range(s.shape[0]):
        idx = [i for i in range(s.shape[1]) if m[q, i]]
        terms = [math.log1p(math.exp(-sigma * (s[q, i] - s[q, j]))) for i in idx for j in idx if r[q, i] > r[q, j]]
        if terms:
            per_query.append(sum(terms) / len(terms))
    return sum(per_query) / len(per_query) if per_query else 0.0


def listnet_direct(s, r, m, temperature=1.0):
    total = 0.0
    for q in range(s.shape[0]):
        idx = [i for i in range(s.shape[1]) if m[q, i]]
        zr = sum(math.exp(r[q, i] / temperature) for i in idx)
        zs = sum(math.exp(s[q, i]) for i in idx)
        total -= sum(math.exp(r[q, i] / temperature) / zr * math.log(math.exp(s[q, i]) / zs) for i in idx)
    return total / s.shape[0]


def dcg(gains_in_order, k):
    return sum(g / math.log2(p + 2) for p, g in enumerate(gains_in_order[:k]))


def lambdarank_direct(s, r, m, sigma=1.0, k=None):
    total = 0.0
    for q in range(s.shape[0]):
        idx = [i for i in range(s.shape[1]) if m[q, i]]
        k_q = s.shape[1] if k is None else k
        order = sorted(idx, key=lambda i: (-s[q, i], i))
        ideal = dcg(sorted((r[q, i] for i in idx), reverse=True), k_q)
        if ideal == 0:
            continue
        base = dcg([r[q, i] for i in order], k_q)
        for i in idx:
            for j in idx:
                if r[q, i] > r[q, j]:
                    swapped = list(order)
                    a, b = swapped.index(i), swapped.index(j)
                    swapped[a], swapped[b] = swapped[b], swapped[a]
                    delta = abs(dcg([r[q, x] for x in swapped], k_q) - base) / ideal
                    total += delta * math.log1p(math.exp(-sigma * (s[q, i] - s[q, j])))
    return total / s.shape[0]


# --------------------------------------------------------------------------------------------
# fusion
# --------------------------------------------------------------------------------------------


def test_rrf_hand_computed_example(device):
    # list A ranks items 0, 1, 2; list B ranks 2, 0, 1
    a = torch.tensor([[3.0, 2.0, 1.0]], device=device)
    b = torch.tensor([[0.5, 0.1, 0.9]], device=device)
    fused = ranking.reciprocal_rank_fusion([a, b], k=60)
    expected = torch.tensor([[1 / 61 + 1 / 62, 1 / 62 + 1 / 63, 1 / 63 + 1 / 61]], dtype=fused.dtype)
    assert fused.device == a.device
    torch.testing.assert_close(fused.cpu(), expected)


def test_rrf_masked_item_gains_nothing_and_ranks_skip_it():
    a = np.array([[3.0, 2.0, 1.0]])
    b = np.array([[0.5, 0.9, 0.1]])
    masks = [np.array([[True, True, True]]), np.array([[True, False, True]])]  # B did not retrieve item 1
    fused = ranking.reciprocal_rank_fusion([a, b], k=1, masks=masks)
    assert isinstance(fused, np.ndarray)
    # in B, item 0 is first and item 2 second: item 1 is outside the list
    np.testing.assert_allclose(fused, [[1 / 2 + 1 / 2, 1 / 3, 1 / 4 + 1 / 3]])


def test_combsum_and_combmnz_hand_computed():
    a = np.array([[0.9, 0.5, 0.1]])  # min-max: 1, 0.5, 0
    b = np.array([[10.0, 30.0, 20.0]])  # min-max: 0, 1, 0.5
    np.testing.assert_allclose(ranking.comb_sum([a, b]), [[1.0, 1.5, 0.5]])
    masks = [np.array([[True, True, True]]), np.array([[False, True, True]])]
    # B holds items 1 and 2 only: min-max over them gives 1 and 0; item 0 is in one list
    np.testing.assert_allclose(ranking.comb_sum([a, b], masks=masks), [[1.0, 1.5, 0.0]])
    np.testing.assert_allclose(ranking.comb_mnz([a, b], masks=masks), [[1.0, 3.0, 0.0]])
    np.testing.assert_allclose(ranking.comb_sum([a, b], normalisation="none"), [[10.9, 30.5, 20.1]])


def test_combmnz_without_masks_is_m_times_combsum(device):
    g = torch.Generator().manual_seed(3)
    lists = [torch.randn(5, 8, generator=g).to(device) for _ in range(3)]
    for norm in ranking.NORMALISATIONS:
        torch.testing.assert_close(ranking.comb_mnz(lists, norm), 3 * ranking.comb_sum(lists, norm))


def test_normalisations_formulas():
    g = np.random.default_rng(4)
    s = g.normal(size=(3, 6))
    np.testing.assert_allclose(
        ranking.normalise_scores(s, "minmax"), (s - s.min(1, keepdims=True)) / np.ptp(s, axis=1, keepdims=True)
    )
    np.testing.assert_allclose(
        ranking.normalise_scores(s, "zscore"), (s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True)
    )
    e = np.exp(s)
    np.testing.assert_allclose(ranking.normalise_scores(s, "softmax"), e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(ranking.normalise_scores(s, "none"), s)
    constant = np.ones((1, 4))
    np.testing.assert_allclose(ranking.normalise_scores(constant, "minmax"), np.ones((1, 4)))
    np.testing.assert_allclose(ranking.normalise_scores(constant, "zscore"), np.zeros((1, 4)))


@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 100), shift=st.floats(-50, 50))
@settings(max_examples=30, deadline=None)
def test_rrf_and_minmax_ignore_monotone_rescaling(seed, scale, shift):
    g = np.random.default_rng(seed)
    a, b = g.normal(size=(3, 9)), g.normal(size=(3, 9))
    assume(len(np.unique(a)) == a.size)
    np.testing.assert_allclose(
        ranking.reciprocal_rank_fusion([a, b]), ranking.reciprocal_rank_fusion([scale * a + shift, b])
    )
    np.testing.assert_allclose(ranking.comb_sum([a, b]), ranking.comb_sum([scale * a + shift, b]), atol=1e-9)


# --------------------------------------------------------------------------------------------
# MMR
# --------------------------------------------------------------------------------------------


@given(seed=st.integers(0, 10_000), k=st.integers(1, 8))
@settings(max_examples=30, deadline=None)
def test_mmr_lambda_one_is_relevance_order(seed, k):
    g = np.random.default_rng(seed)
    rel = g.normal(size=(3, 8))
    sim = g.normal(size=(8, 8))
    picked = ranking.mmr(rel, sim, k=k, relevance_weight=1.0)
    np.testing.assert_array_equal(picked, np.argsort(-rel, axis=1, kind="stable")[:, :k])


def test_mmr_hand_computed_and_per_query_similarity(device):
    # items 0 and 1 are near duplicates; item 2 is less relevant but different
    rel = torch.tensor([[1.0, 0.95, 0.6]], device=device)
    sim = torch.tensor([[1.0, 0.99, 0.1], [0.99, 1.0, 0.1], [0.1, 0.1, 1.0]], device=device)
    # step 2 gains: item 1: 0.5*0.95 - 0.5*0.99 = -0.02; item 2: 0.5*0.6 - 0.5*0.1 = 0.25
    picked = ranking.mmr(rel, sim, k=3, relevance_weight=0.5)
    assert picked.device == rel.device
    assert picked.cpu().tolist() == [[0, 2, 1]]
    per_query = ranking.mmr(rel, sim[None], k=3, relevance_weight=0.5)
    assert per_query.cpu().tolist() == [[0, 2, 1]]


def test_mmr_never_picks_padding_and_picks_distinct_items():
    rel = torch.tensor([[0.1, 0.9, 5.0, 0.5], [3.0, 0.2, 0.3, 0.4]])
    mask = torch.tensor([[True, True, False, True], [True, True, True, True]])
    sim = torch.eye(4)
    picked = ranking.mmr(rel, sim, k=3, relevance_weight=0.7, mask=mask)
    assert 2 not in picked[0].tolist()
    for row in picked.tolist():
        assert len(set(row)) == 3
    with pytest.raises(ValueError, match="k"):
        ranking.mmr(rel, sim, k=4, mask=mask)  # the first query has only three candidates


# --------------------------------------------------------------------------------------------
# losses against the direct formulas
# --------------------------------------------------------------------------------------------


def test_losses_on_a_hand_made_list():
    s = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
    r = torch.tensor([[0.0, 2.0, 1.0]], dtype=torch.float64)
    # pairs (1 over 0), (1 over 2), (2 over 0)
    expected = (math.log1p(math.exp(1.0)) + math.log1p(math.exp(-1.0)) + math.log1p(math.exp(2.0))) / 3
    assert float(ranking.ranknet_loss(s, r)) == pytest.approx(expected)
    p_r = np.exp([0.0, 2.0, 1.0]) / np.exp([0.0, 2.0, 1.0]).sum()
    log_p_s = np.array([2.0, 1.0, 0.0]) - np.log(np.exp([2.0, 1.0, 0.0]).sum())
    assert float(ranking.listnet_loss(s, r)) == pytest.approx(-(p_r * log_p_s).sum())
    # positions 0, 1, 2 have discounts 1, 1/log2(3), 1/2; the ideal DCG is 2 + 1/log2(3)
    d1 = 1 / math.log2(3)
    weights = [2 * (1 - d1), 1 * (d1 - 0.5), 1 * (1 - 0.5)]
    pair_losses = [math.log1p(math.exp(1.0)), math.log1p(math.exp(-1.0)), math.log1p(math.exp(2.0))]
    expected = sum(w * x for w, x in zip(weights, pair_losses, strict=True)) / (2 + d1)
    assert float(ranking.lambdarank_loss(s, r)) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
def test_losses_match_direct_formulas_on_random_padded_lists(seed, device):
    s, r, m = random_lists(seed, device=device)
    sn, rn, mn = s.cpu().numpy(), r.cpu().numpy(), m.cpu().numpy()
    for loss, direct in [
        (ranking.ranknet_loss(s, r, m, sigma=0.7), ranknet_direct(sn, rn, mn, sigma=0.7)),
        (ranking.listnet_loss(s, r, m, temperature=0.5), listnet_direct(sn, rn, mn, temperature=0.5)),
        (ranking.lambdarank_loss(s, r, m), lambdarank_direct(sn, rn, mn)),
        (ranking.lambdarank_loss(s, r, m, sigma=2.0, k=3), lambdarank_direct(sn, rn, mn, sigma=2.0, k=3)),
    ]:
        assert loss.device == s.device and loss.ndim == 0
        assert float(loss) == pytest.approx(direct, rel=1e-9, abs=1e-12)


def test_padding_values_do_not_matter(device):
    s, r, m = random_lists(11, device=device)
    s2, r2 = s.clone(), r.clone()
    s2[~m], r2[~m] = 1e3, 7.0  # garbage in the padding
    for fn in (ranking.ranknet_loss, ranking.listnet_loss, ranking.lambdarank_loss, ranking.pointwise_loss):
        torch.testing.assert_close(fn(s, r, m), fn(s2, r2, m))


def test_ranknet_gradient_matches_the_derived_formula():
    s, r, m = random_lists(5, q=1, length=6, padded=False)
    s.requires_grad_(True)
    sigma = 1.5
    loss = ranking.ranknet_loss(s, r, m, sigma=sigma)
    loss.backward()
    n_pairs = sum(1 for i in range(6) for j in range(6) if r[0, i] > r[0, j])
    expected = torch.zeros(6, dtype=s.dtype)
    with torch.no_grad():
        for i, j in itertools.product(range(6), range(6)):
            if r[0, i] > r[0, j]:
                lam = -sigma * torch.sigmoid(-sigma * (s[0, i] - s[0, j])) / n_pairs
                expected[i] += lam
                expected[j] -= lam
    torch.testing.assert_close(s.grad[0], expected)


def test_lambdarank_gradient_is_the_weighted_ranknet_gradient():
    s, r, m = random_lists(8, q=1, length=6, padded=False)
    s.requires_grad_(True)
    ranking.lambdarank_loss(s, r, m).backward()
    weights = ranking.delta_ndcg(s, r, m)
    expected = torch.zeros(6, dtype=s.dtype)
    with torch.no_grad():
        for i, j in itertools.product(range(6), range(6)):
            if r[0, i] > r[0, j]:
                lam = -weights[0, i, j] * torch.sigmoid(-(s[0, i] - s[0, j]))
                expected[i] += lam
                expected[j] -= lam
    torch.testing.assert_close(s.grad[0], expected)


def test_masked_ndcg_matches_metrics_ndcg_at_k(device):
    s, r, _ = random_lists(2, q=6, length=9, padded=False, device=device)
    r[:, 0] = 1.0  # every query has a relevant item
    for k in (1, 3, 9):
        ours = ranking.masked_ndcg(s, r, k)
        assert float(ours.mean()) == pytest.approx(metrics.ndcg_at_k(s, r, k))


def test_masked_ndcg_is_nan_without_relevant_candidates():
    s = torch.tensor([[0.3, 0.1], [0.2, 0.5]])
    r = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    out = ranking.masked_ndcg(s, r, 2)
    assert math.isnan(float(out[0])) and float(out[1]) == pytest.approx(1 / math.log2(3))


# --------------------------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------------------------

LOSS_FNS = [ranking.ranknet_loss, ranking.listnet_loss, ranking.lambdarank_loss]


@given(seed=st.integers(0, 100_000))
@SETTINGS
def test_swapping_the_scores_of_tied_items_leaves_the_loss_unchanged(seed):
    s, r, m = random_lists(seed, q=1, length=8, grades=3, padded=False)
    g = np.random.default_rng(seed)
    i, j = g.choice(8, size=2, replace=False)
    assume(r[0, i] == r[0, j])
    swapped = s.clone()
    swapped[0, i], swapped[0, j] = s[0, j], s[0, i]
    for fn in LOSS_FNS:
        assert float(fn(swapped, r, m)) == pytest.approx(float(fn(s, r, m)), rel=1e-9, abs=1e-12)


@given(seed=st.integers(0, 100_000))
@SETTINGS
def test_permuting_the_candidates_leaves_the_loss_unchanged(seed):
    s, r, m = random_lists(seed, q=2, length=7)
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(7))
    for fn in LOSS_FNS:
        assert float(fn(s[:, perm], r[:, perm], m[:, perm])) == pytest.approx(float(fn(s, r, m)), rel=1e-9)


@given(seed=st.integers(0, 100_000))
@SETTINGS
def test_the_ordering_that_follows_relevance_minimises_the_loss(seed):
    s, r, m = random_lists(seed, q=1, length=6, padded=False)
    assume(len(set(r[0].tolist())) > 1)
    values = torch.sort(s[0], descending=True).values
    perfect = torch.empty_like(s)
    perfect[0, torch.sort(r[0], descending=True, stable=True).indices] = values  # best score to best grade
    for fn in (ranking.ranknet_loss, ranking.listnet_loss):
        assert float(fn(perfect, r, m)) <= float(fn(s, r, m)) + 1e-12
    # LambdaRank's weights follow the current ranking, so it is not a loss over orderings (a
    # misordered list can score lower); but once the order is perfect, wider margins only lower it
    assume(bool((values[:-1] > values[1:]).all()))
    losses = [float(ranking.lambdarank_loss(scale * perfect, r, m)) for scale in (1.0, 2.0, 4.0)]
    assert losses[0] > losses[1] > losses[2]


@given(seed=st.integers(0, 100_000))
@SETTINGS
def test_delta_ndcg_is_symmetric_and_zero_between_equal_grades(seed):
    s, r, m = random_lists(seed, q=2, length=6)
    d = ranking.delta_ndcg(s, r, m)
    torch.testing.assert_close(d, d.transpose(1, 2))
    gains = r.masked_fill(~m, 0.0)  # padding has no gain
    assert bool((d[gains[:, :, None] == gains[:, None, :]] == 0).all())
    assert bool((d >= 0).all())


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


def test_lists_of_different_lengths_need_a_mask():
    with pytest.raises(ValueError, match="different lengths"):
        ranking.ranknet_loss([torch.zeros(3), torch.zeros(2)], [torch.zeros(3), torch.zeros(2)])
    padded, mask = ranking.pad_lists([torch.tensor([1.0, 2.0, 3.0]), np.array([4.0])])
    assert padded.tolist() == [[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


@pytest.mark.parametrize("bad", [-1.0, math.nan])
@pytest.mark.parametrize("fn", [*LOSS_FNS, ranking.pointwise_loss])
def test_negative_or_nan_relevance_is_refused(fn, bad):
    s = torch.zeros(2, 3)
    r = torch.ones(2, 3)
    r[1, 2] = bad
    with pytest.raises(ValueError, match="relevance"):
        fn(s, r)


@pytest.mark.parametrize("fn", [*LOSS_FNS, ranking.pointwise_loss])
def test_an_all_masked_query_is_refused(fn):
    mask = torch.tensor([[True, False], [False, False]])
    with pytest.raises(ValueError, match="all-masked"):
        fn(torch.zeros(2, 2), torch.ones(2, 2), mask)


def test_bad_arguments_are_named():
    s, r, _ = random_lists(0, padded=False)
    with pytest.raises(ValueError, match="k"):
        ranking.lambdarank_loss(s, r, k=0)
    with pytest.raises(ValueError, match="k"):
        ranking.masked_ndcg(s, r, k=s.shape[1] + 1)
    with pytest.raises(ValueError, match="k"):
        ranking.mmr(s, torch.eye(s.shape[1], dtype=s.dtype), k=0)
    with pytest.raises(ValueError, match="relevance_weight"):
        ranking.mmr(s, torch.eye(s.shape[1], dtype=s.dtype), k=2, relevance_weight=1.5)
    with pytest.raises(ValueError, match="similarity"):
        ranking.mmr(s, torch.eye(3, dtype=s.dtype), k=2)
    with pytest.raises(ValueError, match="sigma"):
        ranking.ranknet_loss(s, r, sigma=0.0)
    with pytest.raises(ValueError, match="relevance has shape"):
        ranking.listnet_loss(s, r[:, :3])
    with pytest.raises(ValueError, match="scores"):
        ranking.ranknet_loss(s.masked_fill(s > 0, math.nan), r)
    with pytest.raises(ValueError, match="normalisation"):
        ranking.comb_sum([s, s], normalisation="max")
    with pytest.raises(ValueError, match=r"scores\[1\]"):
        ranking.comb_mnz([s, s[:, :3]])
    with pytest.raises(ValueError, match="k"):
        ranking.reciprocal_rank_fusion([s], k=0)
    with pytest.raises(ValueError, match="mask"):
        ranking.ranknet_loss(s, r, torch.ones(s.shape))  # a float mask
    with pytest.raises(ValueError, match="loss"):
        ranking.Reranker(4, loss="hinge")


# --------------------------------------------------------------------------------------------
# the re-ranker
# --------------------------------------------------------------------------------------------


def synthetic_lists(seed: int, q: int = 60, length: int = 12, f: int = 4):
    """Lists whose grades follow a hidden linear score of the features, plus noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(q, length, f, generator=g)
    hidden = x @ torch.tensor([1.5, -1.0, 0.5, 0.0])[:f] + 0.3 * torch.randn(q, length, generator=g)
    relevance = torch.bucketize(hidden, torch.tensor([0.5, 1.5, 2.5])).to(torch.float32)
    mask = torch.arange(length)[None, :] < torch.randint(6, length + 1, (q, 1), generator=g)
    return x, relevance, mask


@pytest.mark.parametrize("loss", ranking.LOSSES)
def test_reranker_learns_to_rank(loss, device):
    x, r, m = synthetic_lists(0)
    vx, vr, vm = synthetic_lists(1)
    model = ranking.Reranker(4, hidden=8, loss=loss)
    before = float(ranking.masked_ndcg(model.score(vx, vm), vr, 5, vm).nanmean())
    history = model.fit(x, r, m, val=(vx, vr, vm), epochs=15, batch_size=16, lr=0.03, device=device)
    after = float(ranking.masked_ndcg(model.score(vx.to(device), vm.to(device)), vr.to(device), 5, vm).nanmean())
    assert len(history.train_loss) == 15
    assert history.best_metric == pytest.approx(max(history.val_metric))
    assert after > before + 0.1
    assert after > 0.85


def test_reranker_is_deterministic_for_a_seed_and_scores_padding_last():
    x, r, m = synthetic_lists(2, q=20)
    scores = []
    for _ in range(2):
        model = ranking.Reranker(4, hidden=4, loss="ranknet")
        model.fit(x.numpy().astype(np.float64), r.numpy(), m.numpy(), epochs=3, random_state=7, device="cpu")
        scores.append(model.score(x, m))
    torch.testing.assert_close(scores[0], scores[1])
    s = scores[0]
    for q in range(s.shape[0]):
        if not bool(m[q].all()):
            assert float(s[q][~m[q]].max()) < float(s[q][m[q]].min())
    with pytest.raises(ValueError, match="features"):
        model.score(torch.zeros(2, 3, 5))
