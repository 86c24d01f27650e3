"""Shared fixtures: the devices every tensor test runs on, a network block, and the repository root on sys.path.

This file imports only the library and pytest, so that the unit tests run with
``pip install -e .[test]`` alone. The tests of the book tooling (chapters, notebooks, the
Colab set-up cell, the workshop guide) need the book's packages from ``requirements/lock.txt``;
without them those files are not collected, and the run says so at the end.
"""

from __future__ import annotations

import importlib.util
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


BOOK_TESTS = (
    "test_book_extension.py",
    "test_bootstrap.py",
    "test_chapters.py",
    "test_check_browser.py",
    "test_check_claims.py",
    "test_kernel_env.py",
    "test_notebooks.py",
    "test_workshop.py",
)
BOOK_TOOLING = (
    "yaml",
    "nbformat",
    "nbclient",
    "jupytext",
    "jupyter_cache",
    "myst_nb",
    "myst_parser",
    "pybtex",
    "selenium",
)
NOT_COLLECTED: list[str] = []


def missing_book_tooling() -> list[str]:
    """The modules of the book tooling that this environment lacks."""
    return [name for name in BOOK_TOOLING if importlib.util.find_spec(name) is None]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out the book-tooling tests where the book's packages are not installed."""
    if collection_path.name in BOOK_TESTS and missing_book_tooling():
        NOT_COLLECTED.append(collection_path.name)
        return True
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which test files were left out, and why."""
    if NOT_COLLECTED:
        terminalreporter.section("book tooling not installed")
        terminalreporter.write_line(
            f"not collected: {', '.join(sorted(NOT_COLLECTED))} (missing {', '.join(missing_book_tooling())}; "
            "install requirements/lock.txt to run them)"
        )


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


@pytest.fixture
def fresh_data_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing verified yet, and the real data folder: the data tests use it on every test
    (``pytestmark = pytest.mark.usefixtures("fresh_data_cache")``)."""
    monkeypatch.delenv(xd.DATA_DIR_ENV, raising=False)
    xd.clear_verification_cache()
    yield
    xd.clear_verification_cache()
