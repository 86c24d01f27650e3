"""Device choice and seeding (taught in chapter 1)."""

from __future__ import annotations

import os
import random

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
        If ``XMR_DEVICE`` names a device that torch does not know or that is not available.
    """
    requested = os.environ.get(_DEVICE_ENV, "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(f"{_DEVICE_ENV}={requested!r} is not a torch device name") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{_DEVICE_ENV}={requested!r} but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{_DEVICE_ENV}={requested!r} but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CUDA included).

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer in [0, 2**32).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what old code draws from
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
