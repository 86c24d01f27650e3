"""Input validation shared by the library.

Every public function converts its inputs with these helpers, so a wrong shape, a NaN or an
out-of-range ``k`` fails early with a ``ValueError`` that names the argument.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray]


def as_tensor(x: object, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``x`` as a tensor and whether it came in as a numpy array.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray
        The input. Lists are refused: callers pass arrays so that dtype and device are explicit.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    tensor : torch.Tensor
        A tensor sharing memory with ``x`` where possible.
    from_numpy : bool
        True when ``x`` was a numpy array, so results go back as numpy.
    """
    if isinstance(x, torch.Tensor):
        return x, False
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise ValueError(f"{name} must be a numeric array, got dtype object")
        return torch.from_numpy(np.ascontiguousarray(x)), True
    raise ValueError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def as_float(x: torch.Tensor, from_numpy: bool) -> torch.Tensor:
    """Cast integer or boolean tensors to floating point (float64 for numpy, else the default)."""
    if x.is_floating_point():
        return x
    return x.to(torch.float64 if from_numpy else torch.get_default_dtype())


def check_ndim(x: torch.Tensor, name: str, ndim: int, shape_hint: str) -> None:
    """Raise unless ``x`` has ``ndim`` dimensions and no empty axis."""
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D with shape {shape_hint}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise if ``x`` holds NaN or infinity."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def as_matrix(x: object, name: str, shape_hint: str = "(N, D)") -> tuple[torch.Tensor, bool]:
    """Validate a finite, non-empty 2-D float array and return it as a tensor."""
    t, from_numpy = as_tensor(x, name)
    check_ndim(t, name, 2, shape_hint)
    t = as_float(t, from_numpy)
    check_finite(t, name)
    return t, from_numpy


def same_device(x: torch.Tensor, y: torch.Tensor, name_y: str) -> None:
    """Raise if ``y`` is not on the device of ``x`` (nothing is moved silently)."""
    if x.device != y.device:
        raise ValueError(f"{name_y} is on {y.device} but the first input is on {x.device}")


def same_shape(first: torch.Tensor, other: torch.Tensor, first_name: str, other_name: str) -> None:
    """Raise unless ``other`` has the shape of ``first`` and sits on its device."""
    if other.shape != first.shape:
        raise ValueError(
            f"{other_name} has shape {tuple(other.shape)} but {first_name} has shape {tuple(first.shape)}; "
            "they must match"
        )
    if other.device != first.device:
        raise ValueError(f"{other_name} is on {other.device} but {first_name} is on {first.device}")


def common_dtype(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """Promote floating tensors to one dtype (float32 with float64 gives float64)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return [t.to(dtype) for t in tensors]


def check_k(k: object, n: int, name: str = "k") -> int:
    """Return ``k`` as an int after checking 1 <= k <= n."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {type(k).__name__}")
    if not 1 <= int(k) <= n:
        raise ValueError(f"{name} must satisfy 1 <= {name} <= {n}, got {k}")
    return int(k)


def is_int(value: object) -> bool:
    """True for a Python or numpy integer, False for a bool (which Python counts as an int)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking that it is an integer >= ``minimum``."""
    if not is_int(value) or int(value) < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: object, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """Return ``value`` as a float after checking that it is a finite number, >= ``minimum``.

    With ``strict=True`` the number must be > ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}, got {value}")
    return v


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def to_output(t: torch.Tensor, from_numpy: bool) -> ArrayLike:
    """Return ``t`` as numpy when the input was numpy, else unchanged."""
    return t.detach().cpu().numpy() if from_numpy else t


def deprecated_alias(new_name: str, old_name: str) -> property:
    """A read-only property ``old_name`` that returns ``self.<new_name>`` with a ``DeprecationWarning``.

    Used where an attribute was renamed (``embed_dim`` and ``dim`` became ``dimension``), so
    that old code keeps running while it is told the new name.
    """

    def getter(self: object) -> object:
        warnings.warn(
            f"{type(self).__name__}.{old_name} is deprecated: use .{new_name}", DeprecationWarning, stacklevel=2
        )
        return getattr(self, new_name)

    return property(getter, doc=f"Deprecated alias of ``{new_name}``.")


def module_dtype(module: object) -> torch.dtype:
    """The floating dtype a model computes in: that of its first floating parameter or buffer.

    Inputs are cast to it at the boundary, so that a float64 or uint8 numpy array does not
    crash a float32 model with a dtype mismatch. Anything without floating parameters (a plain
    function) gives torch's default dtype.
    """
    if isinstance(module, torch.nn.Module):
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                return tensor.dtype
    return torch.get_default_dtype()


def check_index(value: object, n: int, name: str) -> int:
    """Return ``value`` as an int after checking that it is an integer index in [0, n)."""
    if not is_int(value) or not 0 <= int(value) < n:
        raise ValueError(f"{name} must be an int in [0, {n}), got {value!r}")
    return int(value)
