"""The first cell of every chapter: makes a notebook self-sufficient on Colab.

The cell is generated from :data:`TEMPLATE` with the repository URL and branch from
``_config.yml``, so one setting moves every chapter. ``python -m tools.notebooks`` writes it
into the chapters and ``tests/test_notebooks.py`` checks that each chapter carries it.
Inside the repository the cell does nothing; on Colab it clones the repository at the book's
branch, installs ``xmr_lite`` without touching the preinstalled torch (the package's own
dependencies are lower bounds only) and changes into the chapter folder.
"""

from __future__ import annotations

from tools.bookconfig import repository

TAG = "remove-cell"

TEMPLATE = """\
# Set-up for Colab and other fresh kernels; inside the repository this cell does nothing.
import os
import pathlib
import subprocess
import sys


def _inside_repository() -> bool:
    here = pathlib.Path.cwd().resolve()
    return any((p / "xmr_lite" / "__init__.py").is_file() and (p / "_toc.yml").is_file() for p in (here, *here.parents))


if not _inside_repository():
    url = os.environ.get("XMR_REPO_URL", "{url}")
    ref = os.environ.get("XMR_REF", "{branch}")
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", ref, url, "xmr"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", "xmr[assets]"], check=True)
    sys.path.insert(0, str(pathlib.Path("xmr").resolve()))
    os.chdir("xmr/chapters")"""


def bootstrap_source() -> str:
    """The set-up cell's source for the configured repository."""
    url, branch = repository()
    return TEMPLATE.format(url=url, branch=branch)
