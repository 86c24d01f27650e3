"""OGM-GE's coefficients and gradient modulation (xmr_lite.train, chapter 14)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from xmr_lite import train


def paper_coefficients(score_a: np.ndarray, score_b: np.ndarray, alpha: float) -> tuple[float, float]:
    """Peng et al. (2022), eqs. 9-10, written out: rho = sum s^a / sum s^v; k = 1 - tanh(alpha rho) if rho > 1."""
    rho_a = score_a.sum() / score_b.sum()
    rho_b = score_b.sum() / score_a.sum()
    k_a = 1 - np.tanh(alpha * rho_a) if rho_a > 1 else 1.0
    k_b = 1 - np.tanh(alpha * rho_b) if rho_b > 1 else 1.0
    return float(k_a), float(k_b)


def test_coefficients_follow_the_paper_on_a_worked_example():
    a, b = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64), torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64)
    k_a, k_b = train.ogm_coefficients(a, b, alpha=0.5)
    # rho_a = 2.4 / 0.9 = 8 / 3; k_a = 1 - tanh(4 / 3) = 0.129938...
    assert k_a == pytest.approx(1 - math.tanh(4 / 3), abs=1e-12)
    assert k_a == pytest.approx(0.129938, abs=1e-6)
    assert k_b == 1.0
    # the other modality ahead: the roles swap
    assert train.ogm_coefficients(b, a, alpha=0.5) == pytest.approx((1.0, k_a))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), alpha=st.floats(0.01, 5.0))
def test_coefficients_match_the_formula_and_its_invariants(seed, n, alpha):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    assume(a.sum() > 1e-6 and b.sum() > 1e-6)
    k_a, k_b = train.ogm_coefficients(a, b, alpha=alpha)
    assert (k_a, k_b) == pytest.approx(paper_coefficients(a, b, alpha), abs=1e-12)
    assert 0 <= k_a <= 1 and 0 <= k_b <= 1
    assert max(k_a, k_b) == 1.0  # only the modality ahead is slowed down
    assert (k_a < 1) == (a.sum() > b.sum())
    assert train.ogm_coefficients(b, a, alpha=alpha) == pytest.approx((k_b, k_a), abs=1e-12)
    scale = float(rng.uniform(0.1, 10))  # the ratio, so the coefficients, ignore a common scale
    assert train.ogm_coefficients(a * scale, b * scale, alpha=alpha) == pytest.approx((k_a, k_b), abs=1e-9)
    as_tensors = train.ogm_coefficients(torch.from_numpy(a).float(), torch.from_numpy(b).float(), alpha=alpha)
    assert as_tensors == pytest.approx((k_a, k_b), abs=1e-5)


def test_stronger_alpha_slows_the_leader_more_and_equal_scores_leave_both_alone():
    a, b = np.array([0.9, 0.6]), np.array([0.3, 0.3])
    assert train.ogm_coefficients(a, b, alpha=1.0)[0] < train.ogm_coefficients(a, b, alpha=0.1)[0]
    assert train.ogm_coefficients(a, a.copy(), alpha=1.0) == (1.0, 1.0)
    assert train.ogm_coefficients(np.array([1, 2], dtype=np.uint8), np.array([1, 1], dtype=np.uint8)) == pytest.approx(
        paper_coefficients(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 0.5)
    )


@pytest.mark.parametrize(
    ("a", "b", "alpha", "match"),
    [
        (torch.ones(2, 2), torch.ones(2), 0.5, "score_a"),
        (torch.ones(3), torch.ones(0), 0.5, "score_b"),
        (torch.tensor([1.0, float("nan")]), torch.ones(2), 0.5, "score_a"),
        (torch.ones(2), torch.tensor([0.5, -0.1]), 0.5, "score_b"),
        (torch.ones(2), torch.ones(3), 0.5, "same length"),
        (torch.zeros(2), torch.ones(2), 0.5, "positive sum"),
        (torch.ones(2), torch.ones(2), 0.0, "alpha"),
        (torch.ones(2), torch.ones(2), True, "alpha"),
        ([0.5, 0.5], torch.ones(2), 0.5, "score_a"),
    ],
)
def test_bad_scores_raise_naming_the_argument(a, b, alpha, match):
    with pytest.raises(ValueError, match=match):
        train.ogm_coefficients(a, b, alpha=alpha)


def layer_with_gradient(device: torch.device, seed: int) -> tuple[nn.Linear, dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    layer = nn.Linear(200, 100).to(device)
    layer(torch.randn(32, 200, device=device)).square().sum().backward()
    return layer, {name: p.grad.clone() for name, p in layer.named_parameters()}


def test_without_noise_the_gradient_is_only_scaled(device):
    layer, before = layer_with_gradient(device, seed=0)
    train.modulate_gradients_(layer.parameters(), 0.3, noise=False)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, 0.3 * before[name])


def test_noise_has_the_spread_of_the_unscaled_gradient_and_is_seeded(device):
    layer, before = layer_with_gradient(device, seed=1)
    train.modulate_gradients_(layer.parameters(), 0.5, generator=torch.Generator(device).manual_seed(0))
    added = layer.weight.grad - 0.5 * before["weight"]  # (100, 200): 20,000 noise draws
    assert abs(float(added.mean())) < 0.05 * float(before["weight"].std())
    assert float(added.std()) == pytest.approx(float(before["weight"].std()), rel=0.05)
    again, _ = layer_with_gradient(device, seed=1)
    train.modulate_gradients_(again.parameters(), 0.5, generator=torch.Generator(device).manual_seed(0))
    torch.testing.assert_close(again.weight.grad, layer.weight.grad)


def test_parameters_without_gradient_or_spread_are_left_as_they_are(device):
    single = nn.Parameter(torch.ones(1, device=device))
    single.grad = torch.full((1,), 2.0, device=device)
    unused = nn.Parameter(torch.ones(3, device=device))
    train.modulate_gradients_([single, unused], 0.25, generator=torch.Generator(device).manual_seed(0))
    assert float(single.grad) == 0.5 and unused.grad is None


@pytest.mark.parametrize("coefficient", [-0.1, 1.5, float("nan"), "1"])
def test_coefficient_out_of_range_raises(coefficient):
    with pytest.raises(ValueError, match="coefficient"):
        train.modulate_gradients_(nn.Linear(2, 2).parameters(), coefficient)
