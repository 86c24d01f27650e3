"""Tests for losses.multi_positive_info_nce: the formula, its lower bound log k, and input checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xmr_lite import losses


def by_loops(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    logits = a @ b.T / temperature
    n = len(y)
    rows = []
    for i in range(n):
        logp = logits[i] - torch.logsumexp(logits[i], 0)
        rows.append(-torch.stack([logp[j] for j in range(n) if y[j] == y[i]]).mean())
    cols = []
    for j in range(n):
        logp = logits[:, j] - torch.logsumexp(logits[:, j], 0)
        cols.append(-torch.stack([logp[i] for i in range(n) if y[i] == y[j]]).mean())
    return (torch.stack(rows).mean() + torch.stack(cols).mean()) / 2


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), classes=st.integers(1, 4))
def test_matches_the_formula_written_with_loops(seed: int, n: int, classes: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = torch.randint(classes, (n,), generator=g)
    torch.testing.assert_close(losses.multi_positive_info_nce(a, b, y, 0.2), by_loops(a, b, y, 0.2))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12))
def test_distinct_labels_give_plain_info_nce(seed: int, n: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)
    y = torch.randperm(n, generator=g)
    torch.testing.assert_close(losses.multi_positive_info_nce(a, b, y, 0.1), losses.info_nce(a, b, 0.1))


def _log_k_bound(y: torch.Tensor) -> float:
    k = (y[:, None] == y[None, :]).sum(1).double()
    return float(k.log().mean())  # rows and columns have the same k_i


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 16), classes=st.integers(1, 4))
def test_never_below_mean_log_k(seed: int, n: int, classes: int) -> None:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (n,), generator=g)
    assume(int((y[:, None] == y[None, :]).sum()) > n)  # at least one label repeats
    a, b = torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randn(n, 3, generator=g, dtype=torch.float64)
    assert float(losses.multi_positive_info_nce(a, b, y, 0.05)) >= _log_k_bound(y) - 1e-9


def test_the_log_k_minimum_is_reached_when_each_label_is_one_point() -> None:
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    points = torch.eye(3, dtype=torch.float64)[y]  # items of a label coincide, labels orthogonal
    loss = float(losses.multi_positive_info_nce(points, points, y, temperature=0.005))
    bound = _log_k_bound(y)
    assert bound == pytest.approx((3 * math.log(3) + 2 * math.log(2)) / 6)
    assert loss == pytest.approx(bound, abs=1e-6)
    assert bound > 0  # the loss cannot reach zero when a label repeats


def test_gradient_and_device(device: torch.device) -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 4, generator=g).to(device).requires_grad_(True)
    b = torch.randn(6, 4, generator=g).to(device)
    loss = losses.multi_positive_info_nce(a, b, torch.tensor([0, 0, 1, 1, 2, 2], device=device))
    loss.backward()
    assert loss.device.type == device.type and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_bad_input() -> None:
    a, b, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="b has shape"):
        losses.multi_positive_info_nce(a, b[:3], y)
    with pytest.raises(ValueError, match="labels must have shape"):
        losses.multi_positive_info_nce(a, b, y[:3])
    with pytest.raises(ValueError, match="temperature"):
        losses.multi_positive_info_nce(a, b, y, temperature=0.0)
    with pytest.raises(ValueError, match="a contains NaN"):
        losses.multi_positive_info_nce(torch.full((4, 3), float("nan")), b, y)
    with pytest.raises(ValueError, match="a must be"):
        losses.multi_positive_info_nce(a.numpy(), b, y)
    assert "multi_positive_info_nce" in losses.__all__
