"""After ``jupyter-book build``: every page of the table of contents exists and no chapter failed."""

from __future__ import annotations

import sys

import yaml

from tools.bookconfig import BUILD, ROOT


def toc_files() -> list[str]:
    """Every ``file:`` entry of ``_toc.yml``, the root page first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def main() -> int:
    html = BUILD / "html"
    missing = [f for f in toc_files() if not (html / f"{f}.html").is_file()]
    reports = sorted((html / "reports").glob("*.err.log")) if (html / "reports").is_dir() else []
    for f in missing:
        print(f"missing page: {f}.html")
    for report in reports:
        print(f"execution failed: {report}")
    if missing or reports:
        return 1
    print(f"all {len(toc_files())} pages built: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
