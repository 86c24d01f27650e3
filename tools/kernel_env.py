"""The environment of the kernels that execute the chapters: text progress bars, no download bars.

The progress-bar policy of the book (CONTRIBUTING.md, "Progress bars"): a chapter writes
``from tqdm.auto import tqdm`` as usual. In a live notebook that draws a Jupyter widget. A
widget leaves nothing in the built HTML (and needs JavaScript from a CDN), so every kernel
that the book build or ``tools.chapter_runner`` starts runs a startup file that makes
``tqdm.auto`` a *text* bar on stdout:

* a bar that stays (``leave=True``, the default) leaves its final line, such as
  ``epochs: 100%|██████████| 8/8 [00:12<00:00]``, as a readable record in the page;
* a transient bar (``leave=False``) is switched off, so it leaves no blank gap;
* Hugging Face's download and loading bars are off (``HF_HUB_DISABLE_PROGRESS_BARS``).

The startup file goes into a fresh IPython directory (``IPYTHONDIR``), so nothing outside the
build changes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_FILE = '''"""Text progress bars for the built book (written by tools/kernel_env.py)."""
import sys

import tqdm.auto
import tqdm.autonotebook
import tqdm.std


class TextProgress(tqdm.std.tqdm):
    """A text bar on stdout: its last line stays in the page; a transient bar prints nothing."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("leave", True) is False:
            kwargs["disable"] = True
        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("ncols", 80)
        kwargs.setdefault("mininterval", 2.0)
        super().__init__(*args, **kwargs)


def text_trange(*args, **kwargs):
    return TextProgress(range(*args), **kwargs)


for module in (tqdm.auto, tqdm.autonotebook):
    module.tqdm = TextProgress
    module.trange = text_trange
'''

#: Environment variables of every book kernel besides ``IPYTHONDIR``.
KERNEL_VARIABLES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def make_ipython_dir(parent: Path | None = None) -> Path:
    """A fresh IPython directory whose default profile runs the text-progress startup file."""
    root = Path(tempfile.mkdtemp(prefix="xmr-ipython-", dir=parent))
    startup = root / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-text-progress.py").write_text(STARTUP_FILE, encoding="utf-8")
    return root


def book_kernel_variables() -> dict[str, str]:
    """The variables to set before a book kernel starts (a new IPython directory each call)."""
    return {"IPYTHONDIR": str(make_ipython_dir()), **KERNEL_VARIABLES}


def apply() -> None:
    """Set the variables for every kernel this process starts from now on (the book build)."""
    os.environ.update(book_kernel_variables())
    os.environ.pop("MPLBACKEND", None)  # MPLBACKEND=Agg would make plt.show() draw nothing


@contextmanager
def book_kernel() -> Iterator[None]:
    """Set the variables while kernels start inside the block, then restore the environment."""
    saved = dict(os.environ)
    apply()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
