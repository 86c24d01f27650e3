"""Keep the chapters' paired ``.ipynb`` files (for Colab) generated from their ``.md`` sources.

Usage::

    python -m tools.notebooks          # rewrite the set-up cell and every paired notebook
    python -m tools.notebooks --check  # exit 1 if anything is out of date (used by the tests)

The ``.md`` file is the source. The ``.ipynb`` is generated, carries no outputs, and is never
edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

from tools.bookconfig import chapter_sources
from tools.bootstrap import TAG, bootstrap_source


def read_chapter(path: Path) -> nbformat.NotebookNode:
    """Read a MyST chapter as a notebook."""
    return jupytext.read(path, fmt="md:myst")


def with_bootstrap(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``nb`` whose first cell is the current set-up cell (inserted or replaced)."""
    cell = nbformat.v4.new_code_cell(bootstrap_source(), metadata={"tags": [TAG]})
    cells = list(nb.cells)
    if cells and cells[0].cell_type == "code" and TAG in cells[0].metadata.get("tags", []):
        cells[0] = cell
    else:
        cells.insert(0, cell)
    nb.cells = cells
    # keep the chapter's `xmr:` front matter (its CPU budget) when jupytext writes the file
    nb.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = "xmr"
    return nb


def paired_ipynb_text(nb: nbformat.NotebookNode) -> str:
    """The exact text of the committed notebook: no outputs, no execution counts."""
    clean = nbformat.from_dict(nb)
    for cell in clean.cells:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    clean.nbformat, clean.nbformat_minor = 4, 4
    return jupytext.writes(clean, fmt="ipynb")


def expected_files(source: Path) -> dict[Path, str]:
    """What the ``.md`` and ``.ipynb`` of a chapter should contain."""
    nb = with_bootstrap(read_chapter(source))
    return {source: jupytext.writes(nb, fmt="md:myst"), source.with_suffix(".ipynb"): paired_ipynb_text(nb)}


def out_of_date(sources: list[Path]) -> list[Path]:
    """The files whose content differs from what :func:`expected_files` makes."""
    stale = []
    for source in sources:
        for path, text in expected_files(source).items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter sources (default: all)")
    args = parser.parse_args(argv)
    sources = args.chapters or chapter_sources()
    stale = out_of_date(sources)
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run `make notebooks`)")
        return 1 if stale else 0
    for source in sources:
        for path, text in expected_files(source).items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
