"""The shared argument checks that the library's modules call."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmr_lite._checks import check_int, check_number, is_int


def test_is_int_accepts_python_and_numpy_integers_but_not_bools_or_floats():
    assert is_int(3) and is_int(np.int64(3))
    assert not is_int(True) and not is_int(3.0) and not is_int("3")


@given(st.integers(-1000, 1000), st.integers(-10, 10))
def test_check_int_returns_the_int_or_names_the_argument(value, minimum):
    if value >= minimum:
        assert check_int(value, "n", minimum) == value
        assert type(check_int(np.int32(value), "n", minimum)) is int
    else:
        with pytest.raises(ValueError, match=f"n must be an int >= {minimum}"):
            check_int(value, "n", minimum)


@pytest.mark.parametrize("bad", [True, 2.0, "2", None])
def test_check_int_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="epochs must be an int"):
        check_int(bad, "epochs")


@given(st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans())
def test_check_number_respects_a_strict_or_inclusive_minimum(value, strict):
    accepted = value > 0 if strict else value >= 0
    if accepted:
        assert check_number(np.float32(value), "margin", minimum=0, strict=strict) == pytest.approx(value)
    else:
        with pytest.raises(ValueError, match=("margin must be > 0" if strict else "margin must be >= 0")):
            check_number(value, "margin", minimum=0, strict=strict)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_check_number_rejects_nan_and_infinity(bad):
    with pytest.raises(ValueError, match="temperature must be finite"):
        check_number(bad, "temperature")


@pytest.mark.parametrize("bad", [False, "0.1", None, [0.1]])
def test_check_number_rejects_what_is_not_a_number(bad):
    with pytest.raises(ValueError, match="temperature must be a number"):
        check_number(bad, "temperature")


def test_deprecated_alias_returns_the_new_attribute_and_warns():
    from xmr_lite._checks import deprecated_alias

    class Encoder:
        dimension = 7
        dim = deprecated_alias("dimension", "dim")

    with pytest.warns(DeprecationWarning, match=r"Encoder.dim is deprecated: use .dimension"):
        assert Encoder().dim == 7


def test_module_dtype_reads_the_first_floating_parameter():
    import torch
    from torch import nn

    from xmr_lite._checks import module_dtype

    assert module_dtype(nn.Linear(2, 2)) == torch.float32
    assert module_dtype(nn.Linear(2, 2).double()) == torch.float64
    assert module_dtype(nn.Embedding(3, 2).half()) == torch.float16
    assert module_dtype(lambda x: x) == torch.get_default_dtype()
    assert module_dtype(nn.Identity()) == torch.get_default_dtype()


def test_check_index_accepts_integers_in_range_only():
    from xmr_lite._checks import check_index

    assert check_index(0, 3, "i") == 0 and check_index(np.int32(2), 3, "i") == 2
    for bad in (-1, 3, True, 1.5, "1"):
        with pytest.raises(ValueError, match=r"i must be an int in \[0, 3\)"):
            check_index(bad, 3, "i")


def test_same_shape_names_the_argument_whose_shape_differs():
    import torch

    from xmr_lite._checks import same_shape

    same_shape(torch.zeros(2, 3), torch.ones(2, 3), "a", "b")
    with pytest.raises(ValueError, match=r"b has shape \(3, 2\) but a has shape \(2, 3\)"):
        same_shape(torch.zeros(2, 3), torch.zeros(3, 2), "a", "b")
    with pytest.raises(ValueError, match=r"b has shape \(6,\)"):
        same_shape(torch.zeros(2, 3), torch.zeros(6), "a", "b")
