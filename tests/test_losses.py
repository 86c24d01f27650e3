import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from xmr_lite import losses


def rand(rng: np.random.Generator, *shape: int, device: torch.device, requires_grad: bool = False) -> torch.Tensor:
    t = torch.from_numpy(rng.normal(size=shape)).to(device)
    return t.requires_grad_(requires_grad)


# ---------------------------------------------------------------------------- direct formulas


def contrastive_by_loop(x1: np.ndarray, x2: np.ndarray, same: np.ndarray, margin: float) -> float:
    total = 0.0
    for a, b, y in zip(x1, x2, same, strict=True):
        d = math.dist(a, b)
        total += y * d**2 + (1 - y) * max(0.0, margin - d) ** 2
    return total / len(x1)


def triplet_by_loop(a: np.ndarray, p: np.ndarray, n: np.ndarray, margin: float) -> float:
    return float(
        np.mean([max(0.0, math.dist(ai, pi) - math.dist(ai, ni) + margin) for ai, pi, ni in zip(a, p, n, strict=True)])
    )


def all_triplets(labels: list[int]) -> list[tuple[int, int, int]]:
    idx = range(len(labels))
    return [
        (i, j, k)
        for i, j, k in itertools.product(idx, idx, idx)
        if i != j and labels[i] == labels[j] and labels[k] != labels[i]
    ]


def batch_all_by_loop(e: np.ndarray, labels: list[int], margin: float) -> tuple[float, float]:
    values = [max(0.0, math.dist(e[i], e[j]) - math.dist(e[i], e[k]) + margin) for i, j, k in all_triplets(labels)]
    active = [v for v in values if v > 0]
    return (sum(active) / max(len(active), 1), len(active) / len(values))


def batch_hard_by_loop(e: np.ndarray, labels: list[int], margin: float) -> tuple[float, float]:
    values = []
    for i in range(len(labels)):
        pos = [math.dist(e[i], e[j]) for j in range(len(labels)) if j != i and labels[j] == labels[i]]
        neg = [math.dist(e[i], e[k]) for k in range(len(labels)) if labels[k] != labels[i]]
        if pos:
            values.append(max(0.0, max(pos) - min(neg) + margin))
    return float(np.mean(values)), float(np.mean([v > 0 for v in values]))


def semi_hard_by_loop(e: np.ndarray, labels: list[int], margin: float) -> tuple[float, float]:
    values = []
    for i, j in itertools.permutations(range(len(labels)), 2):
        if labels[i] != labels[j]:
            continue
        d_ap = math.dist(e[i], e[j])
        neg = [math.dist(e[i], e[k]) for k in range(len(labels)) if labels[k] != labels[i]]
        farther = [d for d in neg if d > d_ap]
        d_an = min(farther) if farther else max(neg)
        values.append(max(0.0, d_ap - d_an + margin))
    return float(np.mean(values)), float(np.mean([v > 0 for v in values]))


def info_nce_by_loop(a: np.ndarray, b: np.ndarray, temperature: float) -> tuple[float, float]:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / temperature
    rows = [-(logits[i, i] - np.log(np.exp(logits[i]).sum())) for i in range(len(a))]
    cols = [-(logits[i, i] - np.log(np.exp(logits[:, i]).sum())) for i in range(len(a))]
    return float(np.mean(rows)), float((np.mean(rows) + np.mean(cols)) / 2)


# ---------------------------------------------------------------------------- against the formulas


@pytest.mark.parametrize("margin", [0.5, 1.0, 3.0])
def test_contrastive_matches_formula(device, margin):
    rng = np.random.default_rng(101)
    x1, x2 = rand(rng, 12, 5, device=device), rand(rng, 12, 5, device=device)
    same = torch.from_numpy(rng.integers(0, 2, size=12)).to(device)
    ours = losses.contrastive_loss(x1, x2, same, margin=margin)
    assert ours.device.type == device.type and ours.ndim == 0
    expected = contrastive_by_loop(x1.cpu().numpy(), x2.cpu().numpy(), same.cpu().numpy(), margin)
    assert float(ours) == pytest.approx(expected, rel=1e-10)


def test_contrastive_accepts_bool_and_float_same(device):
    rng = np.random.default_rng(200)
    x1, x2 = rand(rng, 6, 3, device=device), rand(rng, 6, 3, device=device)
    same = torch.tensor([1, 0, 1, 0, 0, 1], device=device)
    as_int = losses.contrastive_loss(x1, x2, same)
    assert float(losses.contrastive_loss(x1, x2, same.bool())) == pytest.approx(float(as_int))
    assert float(losses.contrastive_loss(x1, x2, same.double())) == pytest.approx(float(as_int))


def test_contrastive_terms_separately(device):
    x1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]], device=device)
    x2 = torch.tensor([[3.0, 4.0], [0.3, 0.4]], device=device)
    # pairs at distances 5 and 0.5. Matching: d**2 = 25 and 0.25. Non-matching with margin 1:
    # (1 - 5) clipped to 0, and (1 - 0.5)**2 = 0.25.
    assert float(losses.contrastive_loss(x1, x2, torch.tensor([1, 0], device=device))) == pytest.approx(25.25 / 2)
    assert float(losses.contrastive_loss(x1, x2, torch.tensor([0, 1], device=device))) == pytest.approx(0.25 / 2)
    assert float(losses.contrastive_loss(x1, x2, torch.tensor([0, 0], device=device))) == pytest.approx(0.25 / 2)


@pytest.mark.parametrize("margin", [0.0, 0.2, 1.0])
def test_triplet_matches_formula(device, margin):
    rng = np.random.default_rng(201)
    a, p, n = (rand(rng, 10, 4, device=device) for _ in range(3))
    ours = losses.triplet_loss(a, p, n, margin=margin)
    expected = triplet_by_loop(*(t.cpu().numpy() for t in (a, p, n)), margin)
    assert float(ours) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(
    ("mining", "by_loop"),
    [("batch_all", batch_all_by_loop), ("batch_hard", batch_hard_by_loop), ("semi_hard", semi_hard_by_loop)],
)
@pytest.mark.parametrize("margin", [0.2, 1.0])
def test_batch_triplet_matches_loops(device, mining, by_loop, margin):
    rng = np.random.default_rng(202)
    labels = [0, 0, 1, 1, 1, 2, 2, 3]  # class 3 has no positive: it is only a negative
    e = rand(rng, len(labels), 3, device=device)
    loss, fraction = losses.batch_triplet_loss(e, torch.tensor(labels, device=device), margin, mining)
    expected_loss, expected_fraction = by_loop(e.cpu().numpy(), labels, margin)
    assert loss.device.type == device.type
    assert float(loss) == pytest.approx(expected_loss, rel=1e-10, abs=1e-12)
    assert float(fraction) == pytest.approx(expected_fraction)


@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0])
def test_info_nce_matches_formula(device, temperature):
    rng = np.random.default_rng(203)
    a, b = rand(rng, 9, 6, device=device), rand(rng, 9, 6, device=device)
    one_way, both_ways = info_nce_by_loop(a.cpu().numpy(), b.cpu().numpy(), temperature)
    assert float(losses.info_nce(a, b, temperature, symmetric=False)) == pytest.approx(one_way, rel=1e-9)
    assert float(losses.info_nce(a, b, temperature)) == pytest.approx(both_ways, rel=1e-9)


def test_info_nce_matches_clip_pseudocode(device):
    # CLIP's paper: labels = arange(n); loss = (ce(logits, labels, axis=0) + ce(logits, labels, axis=1)) / 2
    rng = np.random.default_rng(204)
    a, b = rand(rng, 16, 8, device=device), rand(rng, 16, 8, device=device)
    logits = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T / 0.07
    log_rows = logits.log_softmax(1).diagonal()
    log_cols = logits.log_softmax(0).diagonal()
    expected = -(log_rows.mean() + log_cols.mean()) / 2
    assert float(losses.info_nce(a, b)) == pytest.approx(float(expected), rel=1e-9)


def test_pairwise_distances_matches_cdist(device):
    rng = np.random.default_rng(205)
    e = rand(rng, 7, 5, device=device)
    d = losses.pairwise_distances(e)
    np.testing.assert_allclose(d.cpu().numpy(), cdist(e.cpu().numpy(), e.cpu().numpy()), atol=1e-12)
    assert bool((d.diagonal() == 0).all())


# ---------------------------------------------------------------------------- mining on hand-made batches


def line(*xs: float, device: torch.device) -> torch.Tensor:
    """Points on a line, as (B, 1) embeddings: distances are easy to read off."""
    return torch.tensor([[x] for x in xs], dtype=torch.float64, device=device)


def test_batch_hard_picks_farthest_positive_and_closest_negative(device):
    # anchor 0 at 0; positives at 0.1 and 0.5; negatives at 0.3 and 2.0.
    e = line(0.0, 0.1, 0.5, 0.3, 2.0, device=device)
    labels = torch.tensor([0, 0, 0, 1, 1], device=device)
    loss, fraction = losses.batch_triplet_loss(e, labels, margin=0.0, mining="batch_hard")
    # per anchor: its farthest positive minus its closest negative
    per_anchor = [0.5 - 0.3, 0.4 - 0.2, 0.5 - 0.2, 1.7 - 0.2, 1.7 - 1.5]
    expected = np.mean(per_anchor)
    assert float(loss) == pytest.approx(expected)
    assert float(fraction) == pytest.approx(1.0)


def test_semi_hard_skips_harder_negatives_and_picks_the_next_farther(device):
    # anchor 0 at 0, its positive at 1. Negatives at 0.5 (hard: closer than the positive),
    # 1.1 (semi-hard: inside the margin) and 1.15 (semi-hard, but farther).
    e = line(0.0, 1.0, 0.5, 1.1, 1.15, device=device)
    labels = torch.tensor([0, 0, 1, 1, 1], device=device)
    margin = 0.3
    loss, _ = losses.batch_triplet_loss(e, labels, margin=margin, mining="semi_hard")
    # pairs with a positive: (0,1) picks 1.1 -> 1 - 1.1 + 0.3 = 0.2; (1,0): d_ap = 1; negatives at 0.5, 0.1,
    # 0.15 are all closer, so the farthest (0.5) -> 1 - 0.5 + 0.3 = 0.8. The six pairs among 2, 3, 4 have
    # class 0 as negatives.
    neg = {2: [0.5, 0.5], 3: [1.1, 0.1], 4: [1.15, 0.15]}
    pos = {(2, 3): 0.6, (2, 4): 0.65, (3, 2): 0.6, (3, 4): 0.05, (4, 2): 0.65, (4, 3): 0.05}
    values = [0.2, 0.8]
    for (i, _), d_ap in pos.items():
        farther = [d for d in neg[i] if d > d_ap]
        values.append(max(0.0, d_ap - (min(farther) if farther else max(neg[i])) + margin))
    assert float(loss) == pytest.approx(np.mean(values))


def test_batch_all_averages_over_active_triplets_only(device):
    # two tight, well separated classes: only triplets that cross a small gap are active
    e = line(0.0, 0.1, 0.25, 0.35, device=device)
    labels = torch.tensor([0, 0, 1, 1], device=device)
    loss, fraction = losses.batch_triplet_loss(e, labels, margin=0.2, mining="batch_all")
    values = [
        max(0.0, abs(e[i] - e[j]).item() - abs(e[i] - e[k]).item() + 0.2) for i, j, k in all_triplets([0, 0, 1, 1])
    ]
    active = [v for v in values if v > 0]
    assert 0 < len(active) < len(values)
    assert float(loss) == pytest.approx(sum(active) / len(active))
    assert float(fraction) == pytest.approx(len(active) / len(values))


def test_easy_batch_gives_zero_loss_and_no_active_triplet(device):
    e = line(0.0, 0.01, 5.0, 5.01, device=device).requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 1], device=device)
    for mining in losses.MINING:
        loss, fraction = losses.batch_triplet_loss(e, labels, mining=mining)
        assert loss.item() == 0.0 and float(fraction) == 0.0
        loss.backward()  # still attached to the graph
        assert e.grad is not None and bool((e.grad == 0).all())
        e.grad = None


# ---------------------------------------------------------------------------- gradients and invariants


@pytest.mark.parametrize("mining", losses.MINING)
def test_gradients_are_finite_with_duplicate_points(device, mining):
    e = line(0.0, 0.0, 0.0, 1.0, device=device).repeat(1, 3).requires_grad_(True)
    loss, _ = losses.batch_triplet_loss(e, torch.tensor([0, 0, 1, 1], device=device), mining=mining)
    loss.backward()
    assert bool(torch.isfinite(e.grad).all())


def test_contrastive_gradient_is_finite_for_identical_points(device):
    rng = np.random.default_rng(206)
    x = rand(rng, 3, 4, device=device, requires_grad=True)
    loss = losses.contrastive_loss(x, x.detach().clone(), torch.tensor([0, 1, 0], device=device))
    loss.backward()
    assert bool(torch.isfinite(x.grad).all())


def test_contrastive_gradient_matches_autograd_of_formula(device):
    rng = np.random.default_rng(207)
    x1 = rand(rng, 5, 3, device=device, requires_grad=True)
    x2 = rand(rng, 5, 3, device=device)
    same = torch.tensor([1, 0, 1, 0, 0], device=device)
    losses.contrastive_loss(x1, x2, same, margin=2.0).backward()
    ours = x1.grad.clone()
    x1.grad = None
    d = (x1 - x2).norm(dim=1)
    y = same.double()
    (y * d**2 + (1 - y) * torch.clamp(2.0 - d, min=0) ** 2).mean().backward()
    torch.testing.assert_close(ours, x1.grad)


def test_info_nce_trains_matching_rows_together(device):
    torch.manual_seed(0)
    a = torch.randn(8, 4, device=device, requires_grad=True)
    b = torch.randn(8, 4, device=device)
    opt = torch.optim.SGD([a], lr=0.5)
    first = losses.info_nce(a, b, temperature=0.1).item()
    for _ in range(100):
        opt.zero_grad()
        loss = losses.info_nce(a, b, temperature=0.1)
        loss.backward()
        opt.step()
    assert loss.item() < first / 4
    nearest = (torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T).argmax(1)
    assert torch.equal(nearest, torch.arange(8, device=device))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.1, 10.0),
    shift=st.floats(-5.0, 5.0),
)
def test_triplet_losses_ignore_rotation_and_translation(seed, scale, shift):
    """Euclidean distances, hence every triplet loss, do not change under a rigid motion."""
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(10, 4, generator=gen, dtype=torch.float64) * scale
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    moved = e @ q + shift
    for mining in losses.MINING:
        before = losses.batch_triplet_loss(e, labels, mining=mining)
        after = losses.batch_triplet_loss(moved, labels, mining=mining)
        assert float(after[0]) == pytest.approx(float(before[0]), rel=1e-9, abs=1e-9)
        assert float(after[1]) == pytest.approx(float(before[1]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0), temperature=st.floats(0.01, 5.0))
def test_info_nce_ignores_row_scale_and_is_bounded_below(seed, scale, temperature):
    """Rows are L2-normalised, so scaling them changes nothing; a cross-entropy is >= 0."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    loss = losses.info_nce(a, b, temperature)
    assert float(losses.info_nce(a * scale, b, temperature)) == pytest.approx(float(loss), rel=1e-9)
    assert float(loss) >= 0
    # swapping a and b leaves the symmetric loss unchanged
    assert float(losses.info_nce(b, a, temperature)) == pytest.approx(float(loss), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_batch_all_is_at_least_the_mean_over_all_triplets(seed):
    """Averaging over the active triplets only can never give less than averaging over all."""
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(8, 2, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2, 3])
    loss, fraction = losses.batch_triplet_loss(e, labels, mining="batch_all")
    expected = batch_all_by_loop(e.numpy(), labels.tolist(), 0.2)[0] * float(fraction)
    assert float(loss * fraction) == pytest.approx(expected)
    all_mean = np.mean(
        [max(0.0, math.dist(e[i], e[j]) - math.dist(e[i], e[k]) + 0.2) for i, j, k in all_triplets(labels.tolist())]
    )
    assert float(loss) >= all_mean - 1e-12


# ---------------------------------------------------------------------------- bad input


def test_mismatched_shapes_raise(device):
    rng = np.random.default_rng(208)
    x = rand(rng, 4, 3, device=device)
    with pytest.raises(ValueError, match="x2"):
        losses.contrastive_loss(x, rand(rng, 4, 2, device=device), torch.ones(4, device=device))
    with pytest.raises(ValueError, match="same"):
        losses.contrastive_loss(x, x, torch.ones(5, device=device))
    with pytest.raises(ValueError, match="negative"):
        losses.triplet_loss(x, x, rand(rng, 3, 3, device=device))
    with pytest.raises(ValueError, match="b has shape"):
        losses.info_nce(x, rand(rng, 5, 3, device=device))
    with pytest.raises(ValueError, match="labels"):
        losses.batch_triplet_loss(x, torch.tensor([0, 1, 1], device=device))


def test_bad_values_raise(device):
    rng = np.random.default_rng(209)
    x = rand(rng, 4, 3, device=device)
    with pytest.raises(ValueError, match="same must hold only 0 and 1"):
        losses.contrastive_loss(x, x, torch.tensor([0, 1, 2, 1], device=device))
    with pytest.raises(ValueError, match="margin"):
        losses.contrastive_loss(x, x, torch.ones(4, device=device), margin=-1.0)
    with pytest.raises(ValueError, match="margin"):
        losses.triplet_loss(x, x, x, margin=float("nan"))
    with pytest.raises(ValueError, match="mining"):
        losses.batch_triplet_loss(x, torch.tensor([0, 0, 1, 1], device=device), mining="hardest")
    with pytest.raises(ValueError, match="NaN"):
        losses.info_nce(torch.full((2, 3), float("nan"), device=device), x[:2])
    with pytest.raises(ValueError, match=r"2-D"):
        losses.info_nce(x[0], x[1])
    with pytest.raises(ValueError, match=r"torch\.Tensor"):
        losses.info_nce(x.cpu().numpy(), x.cpu().numpy())
    with pytest.raises(ValueError, match="floating point"):
        losses.triplet_loss(*(torch.ones(2, 2, dtype=torch.long, device=device),) * 3)


@pytest.mark.parametrize("temperature", [0.0, -0.1, float("inf"), True])
def test_temperature_must_be_positive(device, temperature):
    rng = np.random.default_rng(210)
    x = rand(rng, 4, 3, device=device)
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(x, x, temperature=temperature)


@pytest.mark.parametrize("mining", losses.MINING)
def test_mining_needs_two_classes_and_a_positive(device, mining):
    rng = np.random.default_rng(211)
    x = rand(rng, 4, 3, device=device)
    with pytest.raises(ValueError, match="at least 2 classes"):
        losses.batch_triplet_loss(x, torch.zeros(4, dtype=torch.long, device=device), mining=mining)
    with pytest.raises(ValueError, match="2 or more items"):
        losses.batch_triplet_loss(x, torch.arange(4, device=device), mining=mining)


@pytest.mark.parametrize("mining", losses.MINING)
def test_batch_triplet_loss_returns_tensors_without_a_device_sync(device, mining):
    rng = np.random.default_rng(210)
    e = rand(rng, 8, 3, device=device, requires_grad=True)
    out = losses.batch_triplet_loss(e, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3], device=device), mining=mining)
    assert isinstance(out, losses.TripletLoss) and isinstance(out, tuple) and len(out) == 2
    assert all(isinstance(t, torch.Tensor) and t.ndim == 0 and t.device.type == device.type for t in out)
    assert out.loss.requires_grad and not out.active_fraction.requires_grad
    assert 0.0 <= float(out.active_fraction) <= 1.0
    loss, active = out  # still unpacks like the old (loss, fraction) pair
    assert loss is out.loss and active is out.active_fraction
