"""Device choice and seeding (taught in chapter 1)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

_DEVICE_ENV = "XMR_DEVICE"


def get_device() -> torch.device:
    """Return the device the book computes on.

    The order is CUDA, then Apple's MPS, then the CPU. The environment variable
    ``XMR_DEVICE`` (for example ``cpu`` or ``cuda:1``) overrides the choice.

    Returns
    -------
    torch.device
        The chosen device.

    Raises
    ------
    ValueError
        If ``XMR_DEVICE`` names a device that torch does not know or that is not available
        (``cuda:7`` on a machine with fewer than 8 GPUs, say).
    """
    requested = os.environ.get(_DEVICE_ENV, "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(f"{_DEVICE_ENV}={requested!r} is not a torch device name") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{_DEVICE_ENV}={requested!r} but CUDA is not available")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ValueError(
                f"{_DEVICE_ENV}={requested!r} but this machine has {count} CUDA device(s), numbered 0 to {count - 1}"
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{_DEVICE_ENV}={requested!r} but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CUDA included).

    Seeding makes the random draws repeatable. It does not make every computation
    bit-for-bit repeatable on a GPU: some CUDA kernels (the backward pass of an embedding
    lookup or of ``index_add``, for example) add in whatever order the threads finish.
    ``deterministic=True`` also switches torch to deterministic algorithms, which costs speed.

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.
    deterministic : bool
        Also call ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an operation
        without a deterministic version warns instead of failing), turn off cuDNN's
        benchmarking and set ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (needed by cuBLAS, and only
        effective before the first CUDA computation of the process). ``False`` (the default)
        turns them back off.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer in [0, 2**32), or ``deterministic`` is not a bool.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    if not isinstance(deterministic, bool):
        raise ValueError(f"deterministic must be a bool, got {deterministic!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what old code draws from
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
    _set_deterministic(deterministic)


def _set_deterministic(enabled: bool) -> None:
    """Switch torch's deterministic algorithms (and cuDNN's) on or off for the process."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False


@contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """Run a block with torch's deterministic algorithms on, then restore the previous setting.

    :class:`xmr_lite.text.Word2VecScratch` trains inside it, so that the same seed gives the
    same vectors on a GPU too.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    _set_deterministic(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]
