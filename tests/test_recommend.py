"""Tests of xmr_lite.recommend (BPR, LightGCN propagation, logQ correction) and of the simulated click log."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xmr_lite.data as xd
from xmr_lite import losses
from xmr_lite.recommend import (
    LightGCNPropagation,
    bpr_loss,
    catalogue_coverage,
    exclude_seen,
    logq_corrected_softmax_loss,
    normalized_adjacency,
    sampling_log_probability,
)


def rand(rng: np.random.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(rng.normal(size=shape)).to(device)


def random_log(rng: np.random.Generator, n_users: int, n_items: int, m: int, device: torch.device):
    users = torch.from_numpy(rng.integers(0, n_users, size=m)).to(device)
    items = torch.from_numpy(rng.integers(0, n_items, size=m)).to(device)
    return users, items


def dense_normalized_adjacency(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """``D^-1/2 A D^-1/2`` built entry by entry, as the formula reads."""
    n = n_users + n_items
    a = np.zeros((n, n))
    for u, i in zip(users, items, strict=True):
        a[u, n_users + i] = a[n_users + i, u] = 1.0
    degree = a.sum(1)
    out = np.zeros_like(a)
    for r in range(n):
        for c in range(n):
            if a[r, c]:
                out[r, c] = 1.0 / math.sqrt(degree[r] * degree[c])
    return out


# ------------------------------------------------------------------------------------- BPR


def test_bpr_loss_matches_the_formula(device):
    rng = np.random.default_rng(0)
    pos, neg = rand(rng, 16, device=device), rand(rng, 16, device=device)
    pairs = zip(pos.tolist(), neg.tolist(), strict=True)
    expected = np.mean([-math.log(1 / (1 + math.exp(-(p - n)))) for p, n in pairs])
    assert float(bpr_loss(pos, neg)) == pytest.approx(expected, rel=1e-9)
    assert bpr_loss(pos, neg).device.type == device.type


def test_bpr_loss_with_several_negatives_per_positive(device):
    rng = np.random.default_rng(1)
    pos, neg = rand(rng, 8, 3, device=device), rand(rng, 8, 3, device=device)
    expected = np.log1p(np.exp((neg - pos).cpu().numpy())).mean()
    assert float(bpr_loss(pos, neg)) == pytest.approx(expected, rel=1e-9)


def test_bpr_loss_does_not_overflow_for_large_margins(device):
    pos = torch.tensor([1000.0, -1000.0], device=device)
    neg = torch.tensor([-1000.0, 1000.0], device=device)
    assert float(bpr_loss(pos, neg)) == pytest.approx(1000.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 5.0))
def test_bpr_loss_is_log2_at_ties_and_falls_as_the_positive_rises(seed, step):
    rng = np.random.default_rng(seed)
    pos, neg = rand(rng, 5, device=torch.device("cpu")), rand(rng, 5, device=torch.device("cpu"))
    assert float(bpr_loss(pos, pos.clone())) == pytest.approx(math.log(2))
    assert float(bpr_loss(pos + step, neg)) < float(bpr_loss(pos, neg))
    assert float(bpr_loss(pos, neg)) > 0


def test_bpr_loss_rejects_bad_input():
    good = torch.zeros(3)
    with pytest.raises(ValueError, match="negative_scores has shape"):
        bpr_loss(good, torch.zeros(4))
    with pytest.raises(ValueError, match="positive_scores must be floating"):
        bpr_loss(torch.zeros(3, dtype=torch.long), good)
    with pytest.raises(ValueError, match="positive_scores must not be empty"):
        bpr_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="negative_scores contains NaN"):
        bpr_loss(good, torch.tensor([0.0, float("nan"), 0.0]))
    with pytest.raises(ValueError, match=r"positive_scores must be a torch\.Tensor"):
        bpr_loss(np.zeros(3), good)


# --------------------------------------------------------------------------------- LightGCN


def test_normalized_adjacency_matches_the_formula(device):
    rng = np.random.default_rng(2)
    users, items = random_log(rng, 6, 9, 20, device)
    got = normalized_adjacency(users, items, 6, 9)
    assert got.is_sparse and got.device.type == device.type
    expected = dense_normalized_adjacency(users.cpu().numpy(), items.cpu().numpy(), 6, 9)
    np.testing.assert_allclose(got.to_dense().cpu().numpy(), expected, rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.integers(1, 8), st.integers(1, 40))
def test_normalized_adjacency_is_symmetric_with_spectrum_in_unit_interval(seed, n_users, n_items, m):
    rng = np.random.default_rng(seed)
    users, items = random_log(rng, n_users, n_items, m, torch.device("cpu"))
    a = normalized_adjacency(users, items, n_users, n_items).to_dense().double()
    assert torch.equal(a, a.T)
    eigenvalues = torch.linalg.eigvalsh(a)
    assert float(eigenvalues.abs().max()) <= 1 + 1e-6
    assert float(eigenvalues.max()) == pytest.approx(1.0, abs=1e-5)  # every graph with an edge


def test_repeated_interactions_count_once():
    users, items = torch.tensor([0, 0, 1]), torch.tensor([2, 2, 2])
    once = normalized_adjacency(torch.tensor([0, 1]), torch.tensor([2, 2]), 2, 3)
    assert torch.equal(normalized_adjacency(users, items, 2, 3).to_dense(), once.to_dense())


def test_lightgcn_propagation_is_the_mean_of_the_layers(device):
    rng = np.random.default_rng(3)
    users, items = random_log(rng, 5, 7, 18, device)
    adjacency = normalized_adjacency(users, items, 5, 7)
    e = rand(rng, 12, 4, device=device).float()
    dense = torch.from_numpy(dense_normalized_adjacency(users.cpu().numpy(), items.cpu().numpy(), 5, 7)).float()
    e_cpu = e.cpu()
    expected = (e_cpu + dense @ e_cpu + dense @ dense @ e_cpu + dense @ dense @ dense @ e_cpu) / 4
    got = LightGCNPropagation(n_layers=3)(adjacency, e)
    assert got.device.type == device.type
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        LightGCNPropagation(3)(adjacency.to_dense(), e).cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6
    )


def test_lightgcn_with_no_layers_is_the_identity_and_gradients_flow():
    rng = np.random.default_rng(4)
    users, items = random_log(rng, 4, 4, 10, torch.device("cpu"))
    adjacency = normalized_adjacency(users, items, 4, 4)
    e = rand(rng, 8, 3, device=torch.device("cpu")).requires_grad_(True)
    assert torch.equal(LightGCNPropagation(0)(adjacency, e), e)
    LightGCNPropagation(2)(adjacency, e).sum().backward()
    assert e.grad is not None and bool(torch.isfinite(e.grad).all())


def test_graph_functions_reject_bad_input():
    users, items = torch.tensor([0, 1]), torch.tensor([0, 2])
    with pytest.raises(ValueError, match="items holds unknown ids"):
        normalized_adjacency(users, items, 2, 2)
    with pytest.raises(ValueError, match="users holds unknown ids"):
        normalized_adjacency(torch.tensor([-1, 0]), items, 2, 3)
    with pytest.raises(ValueError, match="users has shape"):
        normalized_adjacency(users, torch.tensor([0, 1, 2]), 2, 3)
    with pytest.raises(ValueError, match="users must not be empty"):
        normalized_adjacency(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 2, 3)
    with pytest.raises(ValueError, match="items must hold integer ids"):
        normalized_adjacency(users, torch.tensor([0.0, 1.0]), 2, 3)
    with pytest.raises(ValueError, match="n_users must be an int"):
        normalized_adjacency(users, items, 0, 3)
    adjacency = normalized_adjacency(users, items, 2, 3)
    with pytest.raises(ValueError, match="adjacency has shape"):
        LightGCNPropagation(2)(adjacency, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="n_layers must be an int"):
        LightGCNPropagation(-1)
    with pytest.raises(ValueError, match="embeddings contains NaN"):
        LightGCNPropagation(1)(adjacency, torch.full((5, 2), float("nan")))


# ------------------------------------------------------------------------------------ logQ


def test_sampling_log_probability_matches_the_counts(device):
    items = torch.tensor([0, 0, 0, 2], device=device)
    got = sampling_log_probability(items, 4, smoothing=1.0)
    expected = np.log(np.array([4, 1, 2, 1]) / 8)
    np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=1e-6)
    assert got.device.type == device.type
    assert float(got.exp().sum()) == pytest.approx(1.0)


def test_logq_loss_without_correction_is_one_directional_info_nce(device):
    rng = np.random.default_rng(5)
    u, v = rand(rng, 12, 6, device=device), rand(rng, 12, 6, device=device)
    expected = losses.info_nce(u, v, temperature=0.2, symmetric=False)
    assert float(logq_corrected_softmax_loss(u, v, temperature=0.2)) == pytest.approx(float(expected), rel=1e-9)


def test_logq_loss_matches_the_formula(device):
    rng = np.random.default_rng(6)
    u, v, q = rand(rng, 5, 3, device=device), rand(rng, 5, 3, device=device), rand(rng, 5, device=device)
    un = u.cpu().numpy() / np.linalg.norm(u.cpu().numpy(), axis=1, keepdims=True)
    vn = v.cpu().numpy() / np.linalg.norm(v.cpu().numpy(), axis=1, keepdims=True)
    logits = un @ vn.T / 0.1 - q.cpu().numpy()[None, :]
    expected = np.mean([np.log(np.exp(row).sum()) - row[b] for b, row in enumerate(logits)])
    got = logq_corrected_softmax_loss(u, v, q, temperature=0.1)
    assert float(got) == pytest.approx(expected, rel=1e-9)
    assert got.device.type == device.type


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(-20, 20))
def test_logq_loss_ignores_a_constant_shift_of_log_q(seed, shift):
    assume(abs(shift) > 1e-3)
    rng = np.random.default_rng(seed)
    cpu = torch.device("cpu")
    u, v, q = rand(rng, 6, 4, device=cpu), rand(rng, 6, 4, device=cpu), rand(rng, 6, device=cpu)
    base = float(logq_corrected_softmax_loss(u, v, q))
    assert float(logq_corrected_softmax_loss(u, v, q + shift)) == pytest.approx(base, rel=1e-9, abs=1e-9)


def test_logq_functions_reject_bad_input():
    u = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="log_q must have shape"):
        logq_corrected_softmax_loss(u + 1, u + 1, torch.zeros(4))
    with pytest.raises(ValueError, match="items has shape"):
        logq_corrected_softmax_loss(u, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="temperature must be >"):
        logq_corrected_softmax_loss(u, u, temperature=0.0)
    with pytest.raises(ValueError, match="items holds unknown ids"):
        sampling_log_probability(torch.tensor([0, 5]), 5)
    with pytest.raises(ValueError, match="smoothing must be >"):
        sampling_log_probability(torch.tensor([0, 1]), 5, smoothing=0.0)
    with pytest.raises(ValueError, match="items must not be empty"):
        sampling_log_probability(torch.zeros(0, dtype=torch.long), 5)


# ------------------------------------------------------------------------------ evaluation


def test_exclude_seen_sends_seen_items_to_the_bottom(device):
    scores = torch.arange(12, dtype=torch.float32, device=device).reshape(3, 4)
    out = exclude_seen(scores, torch.tensor([0, 2], device=device), torch.tensor([3, 0], device=device))
    assert int(out[0].argmin()) == 3 and int(out[2].argmin()) == 0
    assert bool(torch.isfinite(out).all())
    assert float(scores[0, 3]) == 3.0  # the input is left alone
    assert torch.equal(out[1], scores[1])


def test_exclude_seen_rejects_bad_input():
    with pytest.raises(ValueError, match="items holds unknown ids"):
        exclude_seen(torch.zeros(2, 3), torch.tensor([0]), torch.tensor([3]))
    with pytest.raises(ValueError, match="scores must be 2-D"):
        exclude_seen(torch.zeros(3), torch.tensor([0]), torch.tensor([0]))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 20), st.integers(1, 5))
def test_catalogue_coverage_counts_distinct_items(seed, n_users, k):
    rng = np.random.default_rng(seed)
    n_items = 12
    assume(k <= n_items)
    top = torch.from_numpy(np.stack([rng.choice(n_items, size=k, replace=False) for _ in range(n_users)]))
    coverage = catalogue_coverage(top, n_items)
    assert coverage == pytest.approx(len(set(top.flatten().tolist())) / n_items)
    assert k / n_items <= coverage <= 1


def test_catalogue_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="top_items holds unknown ids"):
        catalogue_coverage(torch.tensor([[0, 12]]), 12)
    with pytest.raises(ValueError, match="top_items must be 2-D"):
        catalogue_coverage(torch.tensor([0, 1]), 12)


# ------------------------------------------------------------------------- the click log


@pytest.fixture(scope="module")
def log() -> xd.ShopInteractions:
    return xd.load_xmr_shop_interactions()


def test_click_log_is_time_ordered_and_split_by_day(log):
    assert len(log.user) == len(log.item) == len(log.day) == len(log.session) > 10_000
    assert np.all(np.diff(log.day) >= 0)
    assert set(log.split) == {"train", "test"}
    assert np.all(log.day[log.split == "train"] < xd.INTERACTIONS_TEST_START_DAY)
    assert np.all(log.day[log.split == "test"] >= xd.INTERACTIONS_TEST_START_DAY)
    assert log.item.max() < log.n_items == len(xd.load_xmr_shop().titles)
    assert not log.item.flags.writeable


def test_cold_items_are_never_clicked_in_training(log):
    cold = log.cold_items
    assert len(cold) > 0
    assert not np.isin(cold, log.item[log.split == "train"]).any()
    assert np.isin(cold, log.item[log.split == "test"]).all()


def test_click_log_has_a_long_tail(log):
    """The generator's popularity term: a head of items takes a large share of the clicks."""
    counts = np.sort(np.bincount(log.item, minlength=log.n_items))[::-1]
    head = counts[: log.n_items // 5].sum() / counts.sum()
    assert head > 2 * 0.2  # twice the share of the top fifth under uniform clicks
