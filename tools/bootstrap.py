"""The first cell of every chapter: makes a notebook self-sufficient on Colab.

The cell is generated from :data:`TEMPLATE` with the repository URL and branch from
``_config.yml``, so one setting moves every chapter. ``python -m tools.notebooks`` writes it
into the chapters and ``tests/test_notebooks.py`` checks that each chapter carries it.

What the cell does, so that "Restart, then Run all" works as well as a first run:

* inside a checkout of the repository (local Jupyter in ``chapters/``, Binder): nothing, except
  putting the checkout on ``sys.path`` when ``xmr_lite`` is not installed;
* elsewhere, with no ``xmr`` folder (a fresh Colab runtime): clone the repository at the
  book's branch into ``xmr``;
* with an ``xmr`` folder that is a clone of the configured repository (its ``origin``), as
  after a kernel restart on Colab or a second chapter opened in the same folder: keep it;
* with an ``xmr`` folder that is anything else: stop with an error and touch nothing;
* then install ``xmr_lite`` from that clone unless this Python already has it installed from
  there (the package's dependencies are lower bounds only, so Colab's torch stays), and change
  into the clone's ``chapters`` folder.
"""

from __future__ import annotations

from tools.bookconfig import repository

TAG = "remove-cell"

TEMPLATE = """\
# Set-up for Colab and other fresh kernels; inside the repository it only makes xmr_lite importable.
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

XMR_URL = os.environ.get("XMR_REPO_URL", "{url}")
XMR_REF = os.environ.get("XMR_REF", "{branch}")


def _is_checkout(folder: pathlib.Path) -> bool:
    return (folder / "xmr_lite" / "__init__.py").is_file() and (folder / "_toc.yml").is_file()


def _repository_root() -> pathlib.Path | None:
    here = pathlib.Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if _is_checkout(p)), None)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").removesuffix(".git") == b.rstrip("/").removesuffix(".git")


def _check_our_clone(clone: pathlib.Path) -> None:
    origin = subprocess.run(["git", "-C", str(clone), "remote", "get-url", "origin"], capture_output=True, text=True)
    if origin.returncode != 0 or not _same_url(origin.stdout.strip(), XMR_URL):
        raise RuntimeError(f"{{clone.resolve()}} exists but is not a clone of {{XMR_URL}}: move it away")


def _installed_from(clone: pathlib.Path) -> bool:
    try:
        direct_url = importlib.metadata.distribution("xmr-lite").read_text("direct_url.json") or "{{}}"
    except importlib.metadata.PackageNotFoundError:
        return False
    return _same_url(json.loads(direct_url).get("url", ""), clone.resolve().as_uri())


root = _repository_root()
if root is not None:
    if importlib.util.find_spec("xmr_lite") is None:  # a checkout whose xmr_lite is not installed (Binder, conda)
        sys.path.insert(0, str(root))
else:
    clone = pathlib.Path("xmr")
    if clone.exists():
        _check_our_clone(clone)
        print(f"Using the clone already in {{clone.resolve()}}")
    else:
        git_clone = ["git", "clone", "--quiet", "--depth", "1", "--branch", XMR_REF, XMR_URL, str(clone)]
        subprocess.run(git_clone, check=True)
    if not _installed_from(clone):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{{clone}}[chapters]"], check=True)
    sys.path.insert(0, str(clone.resolve()))
    os.chdir(clone / "chapters")"""


def bootstrap_source() -> str:
    """The set-up cell's source for the configured repository."""
    url, branch = repository()
    return TEMPLATE.format(url=url, branch=branch)
