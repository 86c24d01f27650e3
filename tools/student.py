"""Write student copies of the chapters: the same notebooks with every solution removed.

Usage::

    python -m tools.student --out student

A solution is everything from a ``{solution-start}`` directive to its ``{solution-end}``,
code cells included. The exercise text stays.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext

from tools.bookconfig import chapter_sources
from tools.notebooks import paired_ipynb_text, with_bootstrap

SOLUTION = re.compile(r"```\{solution-start\}.*?```\{solution-end\}\n```\n?", flags=re.DOTALL)


def strip_solutions(markdown: str) -> str:
    """Remove every solution block from a MyST chapter's text."""
    stripped = SOLUTION.sub("", markdown)
    if "{solution-start}" in stripped or "{solution-end}" in stripped:
        raise ValueError("unbalanced solution-start / solution-end directives")
    return stripped


def write_student_copy(source: Path, out_dir: Path) -> Path:
    """Write ``out_dir/<stem>.ipynb`` without solutions; return its path."""
    text = strip_solutions(source.read_text(encoding="utf-8"))
    nb = with_bootstrap(jupytext.reads(text, fmt="md:myst"))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.with_suffix(".ipynb").name
    target.write_text(paired_ipynb_text(nb), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("student"), help="output folder")
    args = parser.parse_args(argv)
    for source in chapter_sources():
        print(f"wrote {write_student_copy(source, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
