"""Helpers shared by the data tests: a private copy of some data folders, and a damaged byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import xmr_lite.data as xd

DATA = Path(__file__).resolve().parents[1] / "data"


def copy_of_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *subdirs: str) -> Path:
    """Copy some folders of ``data/`` to a temporary folder and point ``XMR_DATA_DIR`` at it."""
    for subdir in subdirs:
        shutil.copytree(DATA / subdir, tmp_path / subdir)
    monkeypatch.setenv(xd.DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def flip_byte(path: Path, offset: int) -> None:
    """Invert the bits of the byte at ``offset``: the file keeps its size, only its digest changes."""
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
