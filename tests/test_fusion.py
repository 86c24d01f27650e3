"""Tests for xmr_lite.fusion: the shared contract, each module's formula, and input checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from xmr_lite import fusion

DIMS = [5, 3, 4]
OUT = 8


def two_groups(dims: object) -> list[list[int]]:
    """Streams 0 and 1 in one group and the rest in another; [[0], [1]] for two (or bad) dims."""
    n = len(dims) if isinstance(dims, list) else 2
    return [[0, 1], list(range(2, n))] if n > 2 else [[0], [1]]


# Every module, built from (dims, out_dim); each entry is (name, constructor).
MODULES = {
    "concat": fusion.ConcatFusion,
    "weighted_fixed": lambda dims, out: fusion.WeightedSumFusion(
        dims, out, weights=[i + 1.0 for i in range(len(dims))]
    ),
    "weighted_learned": fusion.WeightedSumFusion,
    "attention": fusion.AttentionFusion,
    "gated": fusion.GatedFusion,
    "bilinear": fusion.BilinearFusion,
    "bilinear_no_one": lambda dims, out: fusion.BilinearFusion(dims, out, append_one=False),
    "low_rank": lambda dims, out: fusion.LowRankBilinearFusion(dims, out, rank=3),
    "self_attention": lambda dims, out: fusion.SelfAttentionFusion(dims, out, n_heads=2),
    "cross_attention": lambda dims, out: fusion.CrossAttentionFusion(dims, out, n_heads=2),
    "late": fusion.LateFusion,
    "hierarchical": lambda dims, out: fusion.HierarchicalFusion(dims, out, groups=two_groups(dims)),
}
# Full bilinear fusion without the appended 1 multiplies the modalities, so a masked (zero)
# modality zeroes the whole product: it still has no influence, but it is not "graceful".
ALL = list(MODULES)


def make(name: str, device: torch.device, dims: list[int] = DIMS, out: int = OUT, seed: int = 0) -> fusion._Fusion:
    torch.manual_seed(seed)
    return MODULES[name](dims, out).to(device)


def random_inputs(
    batch: int, device: torch.device, dims: list[int] = DIMS, seed: int = 1, requires_grad: bool = False
) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g).to(device).requires_grad_(requires_grad) for d in dims]


def random_mask(batch: int, m: int, seed: int, device: torch.device) -> torch.Tensor:
    """A random (B, M) mask with at least one present modality in every row."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, m, generator=g) < 0.5
    keep = torch.randint(0, m, (batch,), generator=g)
    mask[torch.arange(batch), keep] = True
    return mask.to(device)


# --------------------------------------------------------------------------------------------
# the shared contract
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dims", [[5, 3], [5, 3, 4]])
def test_output_shape_and_device(name: str, dims: list[int], device: torch.device) -> None:
    module = make(name, device, dims)
    out = module(random_inputs(7, device, dims))
    assert out.shape == (7, OUT)
    assert out.device.type == device.type
    assert torch.isfinite(out).all()
    masked = module(random_inputs(7, device, dims), mask=random_mask(7, len(dims), 0, device))
    assert masked.shape == (7, OUT)


@pytest.mark.parametrize("name", ALL)
def test_batch_of_one(name: str, device: torch.device) -> None:
    assert make(name, device)(random_inputs(1, device)).shape == (1, OUT)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_masked_modality_has_no_influence(name: str, seed: int, device: torch.device) -> None:
    module = make(name, device).eval()
    batch = 6
    xs = random_inputs(batch, device, seed=seed)
    mask = random_mask(batch, len(DIMS), seed, device)
    changed = [torch.where(mask[:, i : i + 1], x, 100 * torch.randn_like(x) + 7) for i, x in enumerate(xs)]
    assert not all(torch.equal(a, b) for a, b in zip(xs, changed, strict=True)) or bool(mask.all())
    torch.testing.assert_close(module(changed, mask), module(xs, mask), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_present_modality_does_influence(name: str, device: torch.device) -> None:
    # The converse of the masking test, so that it cannot pass by ignoring every input.
    module = make(name, device).eval()
    xs = random_inputs(4, device)
    for i in range(len(DIMS)):
        changed = list(xs)
        changed[i] = xs[i] + 1.0
        assert not torch.allclose(module(changed), module(xs)), f"modality {i} is ignored"


@pytest.mark.parametrize("name", ALL)
def test_mask_all_true_equals_no_mask(name: str, device: torch.device) -> None:
    module = make(name, device)
    xs = random_inputs(5, device)
    full = torch.ones(5, len(DIMS), dtype=torch.bool, device=device)
    torch.testing.assert_close(module(xs, full), module(xs))


@pytest.mark.parametrize("name", ALL)
def test_rows_are_independent(name: str, device: torch.device) -> None:
    # Fusing a batch equals fusing each example alone: nothing leaks across the batch.
    module = make(name, device).eval()
    xs = random_inputs(5, device)
    mask = random_mask(5, len(DIMS), 3, device)
    whole = module(xs, mask)
    for b in range(5):
        alone = module([x[b : b + 1] for x in xs], mask[b : b + 1])
        torch.testing.assert_close(alone, whole[b : b + 1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_gradients_reach_every_input_and_parameter(name: str, device: torch.device) -> None:
    module = make(name, device)
    xs = random_inputs(6, device, requires_grad=True)
    module(xs).pow(2).sum().backward()
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.abs().sum() > 0, f"no gradient reaches inputs[{i}]"
    for pname, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"no gradient for {pname}"


@pytest.mark.parametrize("name", ALL)
def test_masked_input_gets_zero_gradient(name: str, device: torch.device) -> None:
    module = make(name, device)
    product_only = isinstance(module, fusion.BilinearFusion) and not module.append_one
    xs = random_inputs(4, device, requires_grad=True)
    mask = torch.tensor([[True, False, True]] * 4, device=device)
    module(xs, mask).sum().backward()
    assert torch.count_nonzero(xs[1].grad) == 0
    if product_only:
        # Without the appended 1 the output is the outer product alone; a zero factor zeroes
        # it, so nothing at all gets through. This is why append_one is the default.
        assert torch.count_nonzero(xs[0].grad) == 0
    else:
        assert xs[0].grad.abs().sum() > 0


@pytest.mark.parametrize("name", ALL)
def test_float64_inputs_work_with_a_float64_module(name: str) -> None:
    module = make(name, torch.device("cpu")).double()
    out = module([x.double() for x in random_inputs(3, torch.device("cpu"))])
    assert out.dtype == torch.float64


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_wrong_number_of_modalities(name: str, device: torch.device) -> None:
    module = make(name, device)
    with pytest.raises(ValueError, match="inputs must hold 3"):
        module(random_inputs(4, device)[:2])
    with pytest.raises(ValueError, match="inputs must be a list"):
        module(torch.randn(4, 5, device=device))


@pytest.mark.parametrize("name", ALL)
def test_dimension_mismatch(name: str, device: torch.device) -> None:
    module = make(name, device)
    xs = random_inputs(4, device)
    xs[1] = torch.randn(4, DIMS[1] + 1, device=device)
    with pytest.raises(ValueError, match=r"inputs\[1\].*dims\[1\]"):
        module(xs)


@pytest.mark.parametrize("name", ALL)
def test_other_bad_inputs(name: str, device: torch.device) -> None:
    module = make(name, device)
    xs = random_inputs(4, device)
    bad_batch = [xs[0], torch.randn(3, DIMS[1], device=device), xs[2]]
    with pytest.raises(ValueError, match="batch size"):
        module(bad_batch)
    with pytest.raises(ValueError, match=r"inputs\[0\] must be 2-D"):
        module([xs[0][0], xs[1], xs[2]])
    nan = xs[2].clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"inputs\[2\] contains NaN"):
        module([xs[0], xs[1], nan])
    with pytest.raises(ValueError, match=r"inputs\[1\] must be a floating-point"):
        module([xs[0], torch.ones(4, DIMS[1], dtype=torch.long, device=device), xs[2]])
    with pytest.raises(ValueError, match=r"inputs\[1\] has dtype"):
        module([xs[0], xs[1].double(), xs[2]])
    with pytest.raises(ValueError, match="must not be empty"):
        module([x[:0] for x in xs])


@pytest.mark.parametrize("name", ALL)
def test_bad_masks(name: str, device: torch.device) -> None:
    module = make(name, device)
    xs = random_inputs(4, device)
    with pytest.raises(ValueError, match="mask must have shape"):
        module(xs, torch.ones(4, 2, dtype=torch.bool, device=device))
    with pytest.raises(ValueError, match="mask must have shape"):
        module(xs, torch.ones(3, 3, dtype=torch.bool, device=device))
    with pytest.raises(ValueError, match="mask must be a boolean"):
        module(xs, torch.ones(4, 3, device=device))
    all_masked = torch.ones(4, 3, dtype=torch.bool, device=device)
    all_masked[2] = False
    with pytest.raises(ValueError, match=r"every modality masked \(rows \[2\]"):
        module(xs, all_masked)


@pytest.mark.parametrize("name", ALL)
def test_bad_constructor_arguments(name: str) -> None:
    for dims, match in [
        ([5], "at least two"),
        ([5, 0], r"dims\[1\]"),
        ("53", "dims must be a list"),
        ([5, 2.5], "dims"),
    ]:
        with pytest.raises(ValueError, match=match):
            MODULES[name](dims, OUT)
    for out in (0, 2.0, True):
        with pytest.raises(ValueError, match="out_dim"):
            MODULES[name](DIMS, out)


def test_inputs_on_another_device_are_refused() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a second device")
    module = fusion.ConcatFusion(DIMS, OUT)
    xs = random_inputs(2, torch.device("cpu"))
    xs[1] = xs[1].cuda()
    with pytest.raises(ValueError, match=r"inputs\[1\] is on"):
        module(xs)


# --------------------------------------------------------------------------------------------
# each module's formula
# --------------------------------------------------------------------------------------------


def test_concat_is_a_linear_layer_on_the_concatenation(device: torch.device) -> None:
    module = make("concat", device)
    xs = random_inputs(5, device)
    expected = torch.cat(xs, 1) @ module.linear.weight.T + module.linear.bias
    torch.testing.assert_close(module(xs), expected)
    # A masked modality is replaced by zeros.
    mask = torch.tensor([[True, False, True]] * 5, device=device)
    expected = torch.cat([xs[0], torch.zeros_like(xs[1]), xs[2]], 1) @ module.linear.weight.T + module.linear.bias
    torch.testing.assert_close(module(xs, mask), expected)


def test_fixed_weighted_sum_is_alpha_beta_gamma(device: torch.device) -> None:
    a, b, c = (torch.randn(4, 6, device=device) for _ in range(3))
    module = fusion.WeightedSumFusion([6, 6, 6], 6, weights=[2.0, 1.0, 1.0], project=False).to(device)
    torch.testing.assert_close(module([a, b, c]), 0.5 * a + 0.25 * b + 0.25 * c)
    # Masking the second modality renormalises (2, 1) to (2/3, 1/3).
    mask = torch.tensor([[True, False, True]] * 4, device=device)
    torch.testing.assert_close(module([a, b, c], mask), (2 * a + c) / 3)
    assert module.learned is False
    assert list(module.parameters()) == []  # nothing to learn without projections


def test_fixed_weighted_sum_with_projections(device: torch.device) -> None:
    module = fusion.WeightedSumFusion(DIMS, OUT, weights=[1, 1, 2]).to(device)
    xs = random_inputs(3, device)
    projected = [p.weight @ x.T for p, x in zip(module.projections, xs, strict=True)]
    projected = [(h.T + p.bias) for h, p in zip(projected, module.projections, strict=True)]
    torch.testing.assert_close(module(xs), 0.25 * projected[0] + 0.25 * projected[1] + 0.5 * projected[2])
    assert "fixed_weights" not in dict(module.named_parameters())


def test_learned_weights_are_a_softmax_that_trains(device: torch.device) -> None:
    module = make("weighted_learned", device)
    torch.testing.assert_close(module.weights, torch.full((3,), 1 / 3, device=device))
    optimiser = torch.optim.SGD(module.parameters(), lr=0.5)
    xs = random_inputs(16, device)
    target = xs[0][:, :1]  # only the first modality can explain the target
    for _ in range(50):
        optimiser.zero_grad()
        loss = (module(xs)[:, :1] - target).pow(2).mean()
        loss.backward()
        optimiser.step()
    assert module.weights.sum().item() == pytest.approx(1.0)
    assert not torch.allclose(module.weights, torch.full((3,), 1 / 3, device=device))


def test_weighted_sum_arguments() -> None:
    with pytest.raises(ValueError, match="weights must hold 3"):
        fusion.WeightedSumFusion(DIMS, OUT, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        fusion.WeightedSumFusion(DIMS, OUT, weights=[1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        fusion.WeightedSumFusion(DIMS, OUT, weights=[1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="weights must be a sequence"):
        fusion.WeightedSumFusion(DIMS, OUT, weights="abc")
    with pytest.raises(ValueError, match="project=False"):
        fusion.WeightedSumFusion(DIMS, OUT, project=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), m=st.integers(2, 5), batch=st.integers(1, 9))
def test_attention_weights_sum_to_one_over_present_modalities(seed: int, m: int, batch: int, device) -> None:
    dims = [3 + i for i in range(m)]
    module = fusion.AttentionFusion(dims, 4).to(device)
    xs = random_inputs(batch, device, dims, seed=seed)
    mask = random_mask(batch, m, seed, device)
    out = module(xs, mask)
    w = module.last_weights
    assert w.shape == (batch, m)
    torch.testing.assert_close(w.sum(1), torch.ones(batch, device=device))
    assert (w[~mask] == 0).all()
    assert (w[mask] > 0).all()
    # The output is the weighted sum of the squashed projections.
    h = torch.stack([torch.tanh(p(x)) for p, x in zip(module.projections, xs, strict=True)], 1)
    torch.testing.assert_close(out, (w.unsqueeze(-1) * h).sum(1))


def test_attention_weights_depend_on_the_input(device: torch.device) -> None:
    module = make("attention", device)
    module(random_inputs(4, device, seed=1))
    first = module.last_weights.clone()
    module(random_inputs(4, device, seed=2))
    assert not torch.allclose(first, module.last_weights)
    assert not torch.allclose(first[0], first[1])  # per example, unlike the learned weighted sum


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_gates_sum_to_one_and_two_modalities_give_a_gmu(seed: int, device: torch.device) -> None:
    module = fusion.GatedFusion([5, 3], 4).to(device)
    xs = random_inputs(6, device, [5, 3], seed=seed)
    out = module(xs)
    g = module.last_gates
    torch.testing.assert_close(g.sum(1), torch.ones(6, 4, device=device))
    # GMU form: z = s * h1 + (1 - s) * h2 with s = sigmoid(l1 - l2).
    logits = module.gate_layer(torch.cat(xs, 1)).view(6, 2, 4)
    s = torch.sigmoid(logits[:, 0] - logits[:, 1])
    h1, h2 = (torch.tanh(p(x)) for p, x in zip(module.projections, xs, strict=True))
    torch.testing.assert_close(out, s * h1 + (1 - s) * h2, rtol=1e-5, atol=1e-6)
    mask = random_mask(6, 2, seed, device)
    module(xs, mask)
    assert (module.last_gates[~mask] == 0).all()


@pytest.mark.parametrize("append_one", [False, True])
def test_bilinear_equals_linear_map_of_flattened_outer_product(append_one: bool, device: torch.device) -> None:
    d1, d2, k = 4, 3, 5
    module = fusion.BilinearFusion([d1, d2], k, append_one=append_one).to(device)
    x, y = random_inputs(6, device, [d1, d2])
    if append_one:
        x1, y1 = nn.functional.pad(x, (0, 1), value=1.0), nn.functional.pad(y, (0, 1), value=1.0)
    else:
        x1, y1 = x, y
    # z_k = sum_ij W_kij x_i y_j + b_k, written three independent ways.
    outer = torch.einsum("bi,bj->bij", x1, y1).reshape(6, -1)
    by_outer = outer @ module.linear.weight.T + module.linear.bias
    by_torch = nn.functional.bilinear(x1, y1, module.weight, module.linear.bias)
    by_loops = torch.stack(
        [torch.stack([x1[b] @ module.weight[kk] @ y1[b] + module.linear.bias[kk] for kk in range(k)]) for b in range(6)]
    )
    out = module([x, y])
    for expected in (by_outer, by_torch, by_loops):
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_bilinear_parameter_count_is_a_product() -> None:
    module = fusion.BilinearFusion([4, 3, 2], 5)
    assert module.weight.shape == (5, 5, 4, 3)
    assert sum(p.numel() for p in module.parameters()) == 5 * 5 * 4 * 3 + 5


def test_bilinear_three_modalities_matches_einsum(device: torch.device) -> None:
    module = fusion.BilinearFusion([4, 3, 2], 5).to(device)
    xs = random_inputs(3, device, [4, 3, 2])
    x, y, u = (nn.functional.pad(t, (0, 1), value=1.0) for t in xs)
    expected = torch.einsum("kijl,bi,bj,bl->bk", module.weight, x, y, u) + module.linear.bias
    torch.testing.assert_close(module(xs), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dims", [[4, 3], [4, 3, 2]])
@pytest.mark.parametrize("append_one", [False, True])
def test_low_rank_equals_full_bilinear_with_the_rebuilt_weight(dims, append_one, device: torch.device) -> None:
    low = fusion.LowRankBilinearFusion(dims, 5, rank=3, append_one=append_one).to(device)
    full = fusion.BilinearFusion(dims, 5, append_one=append_one).to(device)
    with torch.no_grad():
        full.linear.weight.copy_(low.full_weight().reshape(5, -1))
        full.linear.bias.copy_(low.bias)
    xs = random_inputs(7, device, dims)
    mask = random_mask(7, len(dims), 0, device)
    torch.testing.assert_close(low(xs), full(xs), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(low(xs, mask), full(xs, mask), rtol=1e-5, atol=1e-5)


def test_low_rank_parameter_count_is_a_sum() -> None:
    dims, out, rank = [32, 32, 16], 64, 4
    low = fusion.LowRankBilinearFusion(dims, out, rank=rank)
    full_count = out * math.prod(d + 1 for d in dims) + out
    low_count = sum(p.numel() for p in low.parameters())
    assert low_count == rank * out * sum(d + 1 for d in dims) + out
    assert low_count < full_count / 50
    with pytest.raises(ValueError, match="rank"):
        fusion.LowRankBilinearFusion(dims, out, rank=0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_self_attention_rows_sum_to_one_and_skip_masked_tokens(seed: int, device: torch.device) -> None:
    module = fusion.SelfAttentionFusion(DIMS, OUT, n_heads=2).to(device)
    mask = random_mask(5, 3, seed, device)
    module(random_inputs(5, device, seed=seed), mask)
    a = module.last_attention
    assert a.shape == (5, 3, 3)
    torch.testing.assert_close(a.sum(-1), torch.ones(5, 3, device=device))
    assert (a.permute(0, 2, 1)[~mask] == 0).all()  # nobody reads a masked token


@pytest.mark.parametrize("cls", [fusion.SelfAttentionFusion, fusion.CrossAttentionFusion])
def test_attention_layer_arguments(cls: type) -> None:
    with pytest.raises(ValueError, match="divisible by n_heads"):
        cls(DIMS, 6, n_heads=4)
    with pytest.raises(ValueError, match="n_heads"):
        cls(DIMS, 8, n_heads=0)
    with pytest.raises(ValueError, match="ff_mult"):
        cls(DIMS, 8, ff_mult=0)


def test_modules_train_on_a_task_that_needs_both_modalities() -> None:
    # y = [sign(x1) == sign(x2)] needs both modalities (each alone is at chance, 0.5);
    # a short training run through every module should fit it.
    torch.manual_seed(0)
    x1, x2 = torch.randn(256, 2), torch.randn(256, 2)
    y = ((x1[:, 0] > 0) == (x2[:, 0] > 0)).long()
    for name in [
        "concat",
        "weighted_learned",
        "attention",
        "gated",
        "bilinear",
        "low_rank",
        "self_attention",
        "cross_attention",
        "hierarchical",
    ]:
        torch.manual_seed(0)
        fuse = MODULES[name]([2, 2], 16)
        head = nn.Sequential(nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
        optimiser = torch.optim.Adam([*fuse.parameters(), *head.parameters()], lr=1e-2)
        for _ in range(100):
            optimiser.zero_grad()
            nn.functional.cross_entropy(head(fuse([x1, x2])), y).backward()
            optimiser.step()
        accuracy = (head(fuse([x1, x2])).argmax(1) == y).float().mean().item()
        assert accuracy > 0.9, (name, accuracy)


# --------------------------------------------------------------------------------------------
# formulas written out from the weights (each catches a dropped ReLU, residual or term)
# --------------------------------------------------------------------------------------------


def test_attention_fusion_equals_its_formula(device: torch.device) -> None:
    # s_i = w_i . relu(U_i x_i + c_i) + d_i, a = softmax(s), z = sum_i a_i tanh(P_i x_i)
    module = make("attention", device)
    xs = random_inputs(6, device, seed=4)
    scores, squashed = [], []
    for x, scorer, proj in zip(xs, module.scorers, module.projections, strict=True):
        first, last = scorer[0], scorer[2]
        scores.append(torch.relu(x @ first.weight.T + first.bias) @ last.weight.T + last.bias)
        squashed.append(torch.tanh(x @ proj.weight.T + proj.bias))
    a = torch.softmax(torch.cat(scores, dim=1), dim=1)
    expected = (a.unsqueeze(-1) * torch.stack(squashed, dim=1)).sum(1)
    torch.testing.assert_close(module(xs), expected)
    torch.testing.assert_close(module.last_weights, a.detach())


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    centred = x - x.mean(-1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + norm.eps) * norm.weight + norm.bias


def _feedforward(x: torch.Tensor, ff: nn.Sequential) -> torch.Tensor:
    return nn.functional.gelu(x @ ff[0].weight.T + ff[0].bias) @ ff[2].weight.T + ff[2].bias


def _tokens(module: fusion._Fusion, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([x @ p.weight.T + p.bias for x, p in zip(xs, module.projections, strict=True)], 1) + (
        module.modality_embedding
    )


def _finish(module: fusion._Fusion, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Feed-forward block with its residual, masked mean, output norm."""
    tokens = tokens + _feedforward(_layer_norm(tokens, module.norm_feedforward), module.feedforward)
    present = mask.unsqueeze(-1).to(tokens.dtype)
    return _layer_norm((tokens * present).sum(1) / present.sum(1), module.norm_out)


def _attend(q, k, v, allowed, n_heads):  # (B, M, D) each, allowed (B, M, M)
    b, m, d = q.shape
    dh = d // n_heads
    out = torch.zeros_like(q)
    weights = torch.zeros(b, m, m, dtype=q.dtype, device=q.device)
    for n in range(b):
        for i in range(m):
            keys = [j for j in range(m) if allowed[n, i, j]]
            for h in range(n_heads):
                part = slice(h * dh, (h + 1) * dh)
                if not keys:
                    continue
                s = torch.stack([q[n, i, part] @ k[n, j, part] for j in keys]) / math.sqrt(dh)
                w = torch.softmax(s, 0)
                out[n, i, part] = sum(wj * v[n, j, part] for wj, j in zip(w, keys, strict=True))
                weights[n, i, keys] += w / n_heads
    return out, weights


@pytest.mark.parametrize("masked", [False, True])
def test_cross_attention_equals_its_formula(masked: bool, device: torch.device) -> None:
    # Queries from each modality, keys and values from the *other* present modalities only.
    module = make("cross_attention", device, seed=5)
    xs = random_inputs(4, device, seed=6)
    mask = random_mask(4, 3, 2, device) if masked else torch.ones(4, 3, dtype=torch.bool, device=device)
    xs_zeroed = [torch.where(mask[:, i : i + 1], x, torch.zeros_like(x)) for i, x in enumerate(xs)]
    tokens = _tokens(module, xs_zeroed)
    h = _layer_norm(tokens, module.norm_attention)
    q, k, v = (h @ lin.weight.T + lin.bias for lin in (module.query, module.key, module.value))
    allowed = mask.unsqueeze(1) & mask.unsqueeze(2) & ~torch.eye(3, dtype=torch.bool, device=device)
    read, weights = _attend(q, k, v, allowed, module.n_heads)
    has_key = allowed.any(-1, keepdim=True)
    cross = torch.where(has_key, read @ module.output.weight.T + module.output.bias, torch.zeros_like(read))
    expected = _finish(module, tokens + cross, mask)  # the residual: tokens + what they read
    torch.testing.assert_close(module(xs, mask), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(module.last_attention, weights, rtol=1e-5, atol=1e-5)
    assert (module.last_attention.diagonal(dim1=1, dim2=2) == 0).all()  # never reads itself


def test_cross_attention_two_modalities_read_each_other_only(device: torch.device) -> None:
    module = fusion.CrossAttentionFusion([5, 3], 8, n_heads=2).to(device)
    xs = random_inputs(3, device, dims=[5, 3])
    module(xs)
    expected = torch.tensor([[0.0, 1.0], [1.0, 0.0]], device=device).expand(3, 2, 2)
    torch.testing.assert_close(module.last_attention, expected)
    # with the other modality masked, the present token reads nothing, and the output is finite
    mask = torch.tensor([[True, False]] * 3, device=device)
    out = module(xs, mask)
    assert torch.isfinite(out).all()
    assert (module.last_attention == 0).all()


def test_self_attention_equals_its_formula(device: torch.device) -> None:
    module = make("self_attention", device, seed=7)
    xs = random_inputs(4, device, seed=8)
    mask = random_mask(4, 3, 5, device)
    xs_zeroed = [torch.where(mask[:, i : i + 1], x, torch.zeros_like(x)) for i, x in enumerate(xs)]
    tokens = _tokens(module, xs_zeroed)
    h = _layer_norm(tokens, module.norm_attention)
    w_q, w_k, w_v = module.attention.in_proj_weight.chunk(3)
    b_q, b_k, b_v = module.attention.in_proj_bias.chunk(3)
    allowed = mask.unsqueeze(1).expand(4, 3, 3)  # every present token, itself included
    read, _ = _attend(h @ w_q.T + b_q, h @ w_k.T + b_k, h @ w_v.T + b_v, allowed, module.n_heads)
    out_proj = module.attention.out_proj
    expected = _finish(module, tokens + read @ out_proj.weight.T + out_proj.bias, mask)
    torch.testing.assert_close(module(xs, mask), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_late_fusion_averages_log_probabilities_of_present_members(masked: bool, device: torch.device) -> None:
    module = make("late", device)
    xs = random_inputs(5, device, seed=9)
    mask = random_mask(5, 3, 4, device) if masked else torch.ones(5, 3, dtype=torch.bool, device=device)
    logp = [member(x).log_softmax(1) for member, x in zip(module.members, xs, strict=True)]
    expected = torch.stack([sum(logp[i][b] for i in range(3) if mask[b, i]) / int(mask[b].sum()) for b in range(5)])
    torch.testing.assert_close(module(xs, mask), expected)


def test_late_fusion_uses_the_members_it_is_given() -> None:
    members = [nn.Linear(5, 4), nn.Linear(3, 4)]
    module = fusion.LateFusion([5, 3], 4, members=members)
    assert module.members[0] is members[0]
    xs = random_inputs(2, torch.device("cpu"), dims=[5, 3])
    expected = (members[0](xs[0]).log_softmax(1) + members[1](xs[1]).log_softmax(1)) / 2
    torch.testing.assert_close(module(xs), expected)


def test_late_fusion_bad_members() -> None:
    with pytest.raises(ValueError, match="members must hold 2"):
        fusion.LateFusion([5, 3], 4, members=[nn.Linear(5, 4)])
    with pytest.raises(ValueError, match="members must be a list"):
        fusion.LateFusion([5, 3], 4, members=nn.Linear(5, 4))
    with pytest.raises(ValueError, match="hidden"):
        fusion.LateFusion([5, 3], 4, hidden=0)
    wrong_width = fusion.LateFusion([5, 3], 4, members=[nn.Linear(5, 4), nn.Linear(3, 6)])
    with pytest.raises(ValueError, match=r"members\[1\] must return"):
        wrong_width(random_inputs(2, torch.device("cpu"), dims=[5, 3]))


def test_hierarchical_fusion_is_local_then_global(device: torch.device) -> None:
    dims = [4, 3, 5, 2]
    torch.manual_seed(0)
    module = fusion.HierarchicalFusion(dims, 6, groups=[[0, 2], [1, 3]], local_dim=5).to(device)
    xs = random_inputs(3, device, dims=dims)
    first, second = module.local
    local = [torch.relu(first([xs[0], xs[2]])), torch.relu(second([xs[1], xs[3]]))]
    torch.testing.assert_close(module(xs), module.glob(local))
    # with both streams of the second group masked, only the first group reaches the output
    mask = torch.tensor([[True, False, True, False]] * 3, device=device)
    group_mask = torch.tensor([[True, False]] * 3, device=device)
    torch.testing.assert_close(module(xs, mask), module.glob(local, group_mask))


def test_hierarchical_fusion_single_stream_groups(device: torch.device) -> None:
    module = fusion.HierarchicalFusion([4, 3], 6, groups=[[1], [0]]).to(device)
    xs = random_inputs(2, device, dims=[4, 3])
    local = [torch.relu(module.local[0](xs[1])), torch.relu(module.local[1](xs[0]))]
    torch.testing.assert_close(module(xs), module.glob(local))


def test_hierarchical_fusion_bad_groups() -> None:
    for groups, match in [
        ([[0, 1, 2]], "at least two groups"),
        ([[0, 1], [1, 2]], "exactly once"),
        ([[0, 1], []], r"groups\[1\]"),
        ([[0], [1]], "exactly once"),
        ([[0, 1], [2, 5]], "exactly once"),
        ("01", "groups must be a list"),
        ([[0, 1], [2.0]], r"groups\[1\] entries"),
    ]:
        with pytest.raises(ValueError, match=match):
            fusion.HierarchicalFusion([4, 3, 2], 6, groups=groups)
    with pytest.raises(ValueError, match="local_dim"):
        fusion.HierarchicalFusion([4, 3], 6, groups=[[0], [1]], local_dim=0)
