"""Shared fixtures: the devices every tensor test runs on, and the repository root on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print each executed chapter's wall time at the end of the run."""
    from tests.test_chapters import CHAPTER_TIMES

    if CHAPTER_TIMES:
        terminalreporter.section("chapter wall times (2-core CPU budget)")
        for line in CHAPTER_TIMES:
            terminalreporter.write_line(line)
