"""Dynamic time warping: against librosa, its invariants, batching, devices and bad input."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xmr_lite.audio as xa


def random_sequences(seed: int, n_features: int, n_x: int, n_y: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_features, n_x)), rng.normal(size=(n_features, n_y))


@pytest.mark.parametrize("metric", xa.DTW_METRICS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_features=st.integers(1, 6), n_x=st.integers(1, 15), n_y=st.integers(1, 15))
def test_dtw_equals_librosa_cost(metric, seed, n_features, n_x, n_y):
    x, y = random_sequences(seed, n_features, n_x, n_y)
    accumulated, _ = librosa.sequence.dtw(x, y, metric=metric)
    assert xa.dtw(x, y, metric) == pytest.approx(accumulated[-1, -1], rel=1e-9, abs=1e-9)


def test_dtw_hand_computed_example():
    # x = 0, 1, 2 and y = 0, 2: the best path pairs (0,0), (1,0) or (1,1), (2,1): cost |1-0| or |1-2| = 1
    x = torch.tensor([[0.0, 1.0, 2.0]])
    y = torch.tensor([[0.0, 2.0]])
    assert float(xa.dtw(x, y)) == pytest.approx(1.0)
    assert float(xa.dtw(x, y, "sqeuclidean")) == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_features=st.integers(1, 6), n_x=st.integers(1, 20))
def test_a_sequence_is_at_distance_zero_from_itself(seed, n_features, n_x):
    x, _ = random_sequences(seed, n_features, n_x, 1)
    assert xa.dtw(x, x) == pytest.approx(0.0, abs=1e-12)
    assert xa.dtw(x, x, "cosine") == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_x=st.integers(1, 15), n_y=st.integers(1, 15))
def test_dtw_is_symmetric_for_a_symmetric_frame_distance(metric, seed, n_x, n_y):
    x, y = random_sequences(seed, 3, n_x, n_y)
    assert xa.dtw(x, y, metric) == pytest.approx(xa.dtw(y, x, metric), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_x=st.integers(2, 15), repeats=st.integers(2, 4))
def test_time_stretching_costs_nothing_and_a_plain_distance_does(seed, n_x, repeats):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=(4, n_x)), axis=1)  # a smooth-ish trajectory
    stretched = np.repeat(x, repeats, axis=1)  # every frame said `repeats` times slower
    other = rng.normal(size=(4, n_x * repeats))
    assume(not np.allclose(other, stretched))
    assert xa.dtw(x, stretched) == pytest.approx(0.0, abs=1e-9)
    assert xa.dtw(stretched, other) > 0.0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_x=st.integers(1, 15))
def test_dtw_is_at_most_the_frame_by_frame_distance(seed, n_x):
    x, y = random_sequences(seed, 3, n_x, n_x)
    diagonal = np.linalg.norm(x - y, axis=0).sum()
    assert xa.dtw(x, y) <= diagonal + 1e-9


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 6))
def test_a_padded_batch_gives_each_pair_its_own_cost(seed, batch):
    rng = np.random.default_rng(seed)
    x_lengths = rng.integers(1, 12, size=batch)
    y_lengths = rng.integers(1, 12, size=batch)
    x = rng.normal(size=(batch, 3, int(x_lengths.max())))
    y = rng.normal(size=(batch, 3, int(y_lengths.max())))
    costs = xa.dtw(x, y, "euclidean", x_lengths=x_lengths, y_lengths=y_lengths)
    assert costs.shape == (batch,)
    for b in range(batch):
        alone = xa.dtw(x[b, :, : x_lengths[b]], y[b, :, : y_lengths[b]])
        assert costs[b] == pytest.approx(alone, rel=1e-12)


def test_one_query_against_many_references_broadcasts():
    rng = np.random.default_rng(3)
    query = rng.normal(size=(5, 9))
    references = rng.normal(size=(7, 5, 11))
    costs = xa.dtw(query, references, "cosine")
    assert costs.shape == (7,)
    expected = [xa.dtw(query, r, "cosine") for r in references]
    np.testing.assert_allclose(costs, expected, rtol=1e-12)
    np.testing.assert_allclose(xa.dtw(references, query, "cosine"), expected, rtol=1e-12)


def test_dtw_keeps_the_device_and_numpy_gives_numpy(device):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 4, 6))
    expected = xa.dtw(x, y)
    assert isinstance(expected, np.ndarray)
    out = xa.dtw(
        torch.tensor(x, device=device, dtype=torch.float32), torch.tensor(y, device=device, dtype=torch.float32)
    )
    assert isinstance(out, torch.Tensor) and out.device.type == device.type and out.dtype == torch.float32
    np.testing.assert_allclose(out.cpu().numpy(), expected, rtol=1e-4)


def test_integer_and_float16_inputs_are_cast():
    x = np.array([[0, 1, 2]], dtype=np.uint8)
    y = np.array([[0, 2]], dtype=np.float16)
    assert float(xa.dtw(x, y)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "match"),
    [
        (np.zeros(5), np.zeros((1, 5)), {}, "x must be one sequence"),
        (np.zeros((1, 5)), np.zeros((1, 0)), {}, "y must not be empty"),
        (np.full((1, 3), np.nan), np.zeros((1, 5)), {}, "x contains NaN"),
        (np.zeros((2, 3)), np.zeros((3, 3)), {}, "same number of features"),
        (np.zeros((2, 1, 3)), np.zeros((3, 1, 3)), {}, "same batch size"),
        (np.zeros((1, 3)), np.zeros((1, 3)), {"metric": "manhattan"}, "metric must be one of"),
        (np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), {"x_lengths": np.array([1, 4])}, r"x_lengths must lie in \[1, 3\]"),
        (np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), {"y_lengths": np.array([1.0, 2.0])}, "y_lengths must hold integers"),
        (
            np.zeros((2, 1, 3)),
            np.zeros((2, 1, 3)),
            {"y_lengths": np.array([1, 2, 3])},
            r"y_lengths must have shape \(2,\)",
        ),
        ([[0.0, 1.0]], np.zeros((1, 3)), {}, "x must be a torch.Tensor or numpy.ndarray"),
    ],
)
def test_bad_input_raises_value_error(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        xa.dtw(x, y, **kwargs)
