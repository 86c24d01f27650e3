"""A small Sphinx extension for the book build (``_config.yml``: ``sphinx.local_extensions``).

* **Offline math.** MathJax 3 is served from the build itself: its files come from the PyPI
  package ``django-static-mathjax`` (import name ``mathjax``), installed with the book's
  requirements, and are copied to ``_build/html/_static/mathjax/``; ``mathjax_path`` in
  ``_config.yml`` points there. No page loads anything from a CDN to show its formulas.
* **Kernels.** Every chapter kernel the build starts gets the text progress bars of
  ``tools.kernel_env``.
* **Author-year bibliography labels.** The text cites author-year ("Mikolov et al., 2013"); the
  bibliography page labels its entries the same way ("Mikolov et al. 2013a") instead of
  pybtex's alpha labels ("[MCCD13]"): the ``xmr_author_year`` style below.
* **One Thebe configuration.** sphinx-book-theme and sphinx-thebe both add the Thebe config
  script when launch buttons are on; the second copy makes the browser report
  ``THEBE_JS_URL`` as declared twice. Only the first is kept.
"""

from __future__ import annotations

import codecs
import shutil
import string
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

from tools import kernel_env

#: Top-level bundles of MathJax that the book does not load (it loads ``tex-chtml.js``).
UNUSED_MATHJAX = ("*svg*", "*-full*", "*speech*", "mml-*", "tex-mml-*", "startup.js")


def mathjax_source() -> Path:
    """The ``es5`` folder of MathJax 3 inside the installed ``django-static-mathjax`` package."""
    import mathjax  # the PyPI package django-static-mathjax

    source = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (source / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax 3 not found at {source}: install django-static-mathjax")
    return source


def copy_mathjax(target: Path) -> None:
    """Copy the MathJax files the book needs to ``target`` (``_static/mathjax`` of the build)."""
    source = mathjax_source()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*UNUSED_MATHJAX))
    shutil.rmtree(target / "output" / "svg", ignore_errors=True)


def _copy_mathjax_after_build(app: Any, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static" / "mathjax")


def _one_thebe_config(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop the second copy of the Thebe configuration script from a page's scripts."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen_thebe_config = False
    kept = []
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body", "") or ""
        if "THEBE_JS_URL" in body:
            if seen_thebe_config:
                continue
            seen_thebe_config = True
        kept.append(script)
    context["script_files"] = kept


def _plain(latex: str) -> str:
    """A BibTeX name without braces and LaTeX accents: ``{van der Walt}`` -> ``van der Walt``."""
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def author_year_label(entry: Any) -> str:
    """``Smith 2020``, ``Smith and Jones 2020`` or ``Smith et al. 2020`` for one entry."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(person.prelast_names + person.last_names)) for person in persons]
    if not names:
        who = _plain(entry.fields.get("organization", entry.fields.get("title", entry.key)))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; a letter tells apart two works of the same authors and year."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year_label(entry) for entry in entries]
        repeated = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if repeated[label] > 1:
                suffix = string.ascii_lowercase[seen[label]]
                seen[label] += 1
                yield label + suffix
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries, sorted by author, year and title, with author-year labels."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "xmr_author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "xmr_author_year", AuthorYearStyle)


def setup(app: Any) -> dict[str, Any]:
    kernel_env.apply()
    app.connect("build-finished", _copy_mathjax_after_build)
    app.connect("html-page-context", _one_thebe_config, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
