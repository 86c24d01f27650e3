"""Shared fixtures: the devices every tensor test runs on, a network block, and the repository root on sys.path."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import xmr_lite.data as xd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for `tools`, which is not an installed package


def available_devices() -> list[str]:
    """CPU always, plus CUDA and MPS when present, so that results are compared across them."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@pytest.fixture(params=available_devices())
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each test that asks for ``device`` runs once per available device."""
    return torch.device(request.param)


class NetworkUsedError(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every attempt to open a connection fail loudly, as on a machine with no network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsedError(f"a network connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)  # the loader must go offline by itself
    xd.clear_verification_cache()
    yield
    xd.clear_verification_cache()
