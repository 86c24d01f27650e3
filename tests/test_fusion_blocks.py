"""Tests of query-level fusion with a mask over per-modality blocks (xmr_lite.fusion)."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xmr_lite.fusion import fuse_query_blocks, stack_item_blocks


def _random_parts(seed: int, rows: int, dims: tuple[int, ...]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, d, generator=g) for d in dims]


def test_inner_product_is_weighted_mean_of_present_cosines():
    queries, items = _random_parts(0, 4, (3, 5, 2)), _random_parts(1, 7, (3, 5, 2))
    mask = torch.tensor([[True, False, True], [False, True, False], [True, True, True], [False, False, True]])
    weights = [2.0, 1.0, 0.5]
    scores = fuse_query_blocks(queries, mask, weights) @ stack_item_blocks(items).T
    cos = torch.stack(
        [
            torch.nn.functional.cosine_similarity(q[:, None], x[None], dim=-1)
            for q, x in zip(queries, items, strict=True)
        ],
        dim=-1,
    )
    w = mask.float() * torch.tensor(weights)
    expected = (cos * w[:, None]).sum(-1) / w.sum(1, keepdim=True)
    torch.testing.assert_close(scores, expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 5))
def test_masked_block_ignores_its_input(seed, rows):
    parts = _random_parts(seed, rows, (4, 6))
    g = np.random.default_rng(seed)
    mask = torch.from_numpy(g.random((rows, 2)) < 0.5)
    assume(bool(mask.any(dim=1).all()))
    changed = [p.clone() for p in parts]
    changed[0][~mask[:, 0]] = 99.0
    changed[1][~mask[:, 1]] = -3.0
    torch.testing.assert_close(fuse_query_blocks(parts, mask), fuse_query_blocks(changed, mask))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_single_modality_query_ranks_as_that_modality_alone(seed):
    queries, items = _random_parts(seed, 3, (5, 8)), _random_parts(seed + 1, 20, (5, 8))
    mask = torch.tensor([[True, False]] * 3)
    fused = fuse_query_blocks(queries, mask) @ stack_item_blocks(items).T
    alone = torch.nn.functional.normalize(queries[0], dim=1) @ torch.nn.functional.normalize(items[0], dim=1).T
    torch.testing.assert_close(fused, alone)


def test_numpy_float64_and_uint8_inputs_are_cast():
    parts = [np.ones((2, 3), dtype=np.float64), np.arange(8, dtype=np.uint8).reshape(2, 4)]
    out = fuse_query_blocks(parts, np.array([[True, True], [True, False]]))
    assert out.dtype == torch.float32 and out.shape == (2, 7)
    assert stack_item_blocks(parts).shape == (2, 7)


def test_rows_are_unit_length_when_one_modality_is_present():
    out = fuse_query_blocks(_random_parts(3, 5, (3, 3)), torch.tensor([[True, False]] * 5))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))


@pytest.mark.parametrize(
    ("parts", "mask", "weights", "match"),
    [
        ([], torch.ones(1, 0, dtype=torch.bool), None, "parts"),
        ([torch.ones(2, 3), torch.ones(3, 3)], torch.ones(2, 2, dtype=torch.bool), None, r"parts\[1\]"),
        ([torch.ones(2, 3), torch.ones(2, 3)], torch.ones(2, 3, dtype=torch.bool), None, "mask"),
        ([torch.ones(2, 3), torch.ones(2, 3)], torch.ones(2, 2), None, "mask"),
        ([torch.ones(2, 3), torch.ones(2, 3)], torch.tensor([[True, False], [False, False]]), None, "mask"),
        ([torch.ones(2, 3), torch.ones(2, 3)], torch.ones(2, 2, dtype=torch.bool), [1.0], "weights"),
        ([torch.ones(2, 3), torch.ones(2, 3)], torch.ones(2, 2, dtype=torch.bool), [1.0, 0.0], r"weights\[1\]"),
        ([torch.full((2, 3), float("nan")), torch.ones(2, 3)], torch.ones(2, 2, dtype=torch.bool), None, "NaN|finite"),
        ([torch.ones(3), torch.ones(2, 3)], torch.ones(2, 2, dtype=torch.bool), None, r"parts\[0\]"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(parts, mask, weights, match):
    with pytest.raises(ValueError, match=match):
        fuse_query_blocks(parts, mask, weights)


def test_stack_item_blocks_refuses_empty_input():
    with pytest.raises(ValueError, match="parts"):
        stack_item_blocks([torch.ones(0, 3)])
