"""After ``jupyter-book build``: every page exists, no chapter failed, and every figure is there."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from tools.bookconfig import BUILD, ROOT
from tools.notebooks import read_chapter

FIGURE = re.compile(r'<img[^>]+src="[^"]*_images/[^"]+\.png"')


def toc_files() -> list[str]:
    """Every ``file:`` entry of ``_toc.yml``, the root page first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def expected_figures(source: Path) -> int:
    """How many code cells of a chapter end a figure with ``plt.show()``."""
    return sum(1 for cell in read_chapter(source).cells if cell.cell_type == "code" and "plt.show()" in cell.source)


def rendered_figures(page: Path) -> int:
    """How many PNG figures a built HTML page shows."""
    return len(FIGURE.findall(page.read_text(encoding="utf-8")))


def missing_figures(html: Path, root: Path = ROOT) -> list[str]:
    """One line for each chapter page that shows fewer figures than its source draws."""
    problems = []
    for name in toc_files():
        source, page = root / f"{name}.md", html / f"{name}.html"
        if not (name.startswith("chapters/") and source.is_file() and page.is_file()):
            continue
        expected, found = expected_figures(source), rendered_figures(page)
        if found < expected:
            problems.append(f"{name}: {found} figures in the HTML, {expected} cells call plt.show()")
    return problems


def main() -> int:
    html = BUILD / "html"
    missing = [f for f in toc_files() if not (html / f"{f}.html").is_file()]
    reports = sorted((html / "reports").glob("*.err.log")) if (html / "reports").is_dir() else []
    for f in missing:
        print(f"missing page: {f}.html")
    for report in reports:
        print(f"execution failed: {report}")
    figures = missing_figures(html)
    for line in figures:
        print(f"missing figures: {line}")
    if missing or reports or figures:
        return 1
    print(f"all {len(toc_files())} pages built, with their figures: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
