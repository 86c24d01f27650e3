"""The environment of the kernels that execute the chapters: text progress bars, no download bars.

The progress-bar policy of the book (CONTRIBUTING.md, "Progress bars"): a chapter writes
``from tqdm.auto import tqdm`` as usual. In a live notebook that draws a Jupyter widget. A
widget leaves nothing in the built HTML (and needs JavaScript from a CDN), so every kernel
that the book build or ``tools.chapter_runner`` starts runs a startup file that makes
``tqdm.auto`` a *text* bar on stdout:

* a bar that stays (``leave=True``, the default) prints one line when it closes, its final
  state, such as ``epochs: 100%|██████████| 8/8 [00:12<00:00]``: a readable record in the
  page (intermediate updates are not printed: the page would keep each as a line);
* a transient bar (``leave=False``) is switched off, so it leaves no blank gap;
* Hugging Face's download and loading bars are off (``HF_HUB_DISABLE_PROGRESS_BARS``);
* numpy scalars print as plain numbers (``0.5``, not ``np.float64(0.5)``), which glue can format;
* a warning prints as ``UserWarning: message``, without the kernel's temporary file name
  (``/tmp/ipykernel_1234/...py:5:``), a build path that would otherwise leak into the page.

The startup file goes into a fresh IPython directory (``IPYTHONDIR``), so nothing outside the
build changes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_FILE = '''"""Text progress bars and short warnings for the built book (written by tools/kernel_env.py)."""
import sys
import warnings

import tqdm.auto
import tqdm.autonotebook
import tqdm.std


class TextProgress(tqdm.std.tqdm):
    """A text bar on stdout that prints one line, its final state, when it closes.

    Intermediate updates would each become a line of the stored output (the book keeps every
    stream message), so none is printed. A transient bar (leave=False) prints nothing at all.
    """

    def __init__(self, *args, **kwargs):
        self._closing = False
        if kwargs.get("leave", True) is False:
            kwargs["disable"] = True
        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("ncols", 80)
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        if not self._closing:
            return True
        return super().display(msg, pos)

    def close(self):
        self._closing = True
        super().close()


def text_trange(*args, **kwargs):
    return TextProgress(range(*args), **kwargs)


for module in (tqdm.auto, tqdm.autonotebook):
    module.tqdm = TextProgress
    module.trange = text_trange


def short_warning(message, category, filename, lineno, line=None):
    """'UserWarning: message', without the kernel's temporary file name: no build path in the book."""
    return f"{category.__name__}: {message}\\n"


warnings.formatwarning = short_warning

# numpy 2 writes a scalar as np.float64(0.5); the book's {glue:text} roles format the plain
# number (0.5). Scalars print as plain numbers in the book's kernels, as in numpy 1.
import numpy

numpy.set_printoptions(legacy="1.25")
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
