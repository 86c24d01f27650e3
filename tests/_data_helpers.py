"""Helpers shared by the data tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import xmr_lite.data as xd


def corrupted_copy(tmp_path: Path, subdir: str, name: str, offset: int = 100) -> Path:
    """Copy ``data/<subdir>`` under ``tmp_path``, flip the bits of one byte of ``name``; return the copy's root."""
    shutil.copytree(xd.data_dir() / subdir, tmp_path / subdir)
    path = tmp_path / subdir / name
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    return tmp_path
