"""The lowest layer of the data package: digests and the error a failed check raises.

Both :mod:`xmr_lite.data._download` and :mod:`xmr_lite.data._registry` build on it, so the
dependency runs one way: ``_integrity`` <- ``_download`` <- ``_registry``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from xmr_lite._checks import check_int

_HEX64 = re.compile(r"[0-9a-f]{64}")


class DataIntegrityError(ValueError):
    """A registered file is missing, altered, or its package is not installed."""


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The sha256 digest of a file, read in chunks.

    Parameters
    ----------
    path : str or path-like
        The file.
    chunk_size : int
        Bytes read at a time (positive).

    Returns
    -------
    str
        64 lowercase hex characters.

    Raises
    ------
    ValueError
        If ``chunk_size`` is not a positive int or ``path`` is not a file.
    """
    chunk_size = check_int(chunk_size, "chunk_size")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(sha256: object, name: str = "sha256") -> str:
    """Return ``sha256`` lower-cased after checking it is 64 hex characters."""
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower()):
        raise ValueError(f"{name} must be a sha256 hex digest of 64 characters, got {sha256!r}")
    return sha256.lower()
