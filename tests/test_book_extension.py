"""The Sphinx extension of the book: offline MathJax and author-year bibliography labels."""

from __future__ import annotations

from pybtex.database import Entry, Person

from tools.book_extension import AuthorYearLabelStyle, author_year_label, copy_mathjax


def entry(year: str, *authors: str) -> Entry:
    return Entry("article", fields={"year": year, "title": "A title"}, persons={"author": [Person(a) for a in authors]})


def test_labels_are_author_year_like_the_citations():
    assert author_year_label(entry("2004", "Ledoit, Olivier")) == "Ledoit 2004"
    assert author_year_label(entry("2004", "Ledoit, Olivier", "Wolf, Michael")) == "Ledoit and Wolf 2004"
    assert author_year_label(entry("2019", "Johnson, Jeff", "Douze, Matthijs", "J{\\'e}gou, Herv{\\'e}")) == (
        "Johnson et al. 2019"
    )
    assert author_year_label(entry("2010", "Radovanovi{\\'c}, Milo{\\v s}")) == "Radovanović 2010"


def test_same_authors_and_year_get_a_letter():
    entries = [entry("2013", "Mikolov, Tomas", "Chen, Kai", "Corrado, Greg"), entry("2013", "Mikolov, Tomas", "B, C")]
    entries.append(entry("2013", "Mikolov, Tomas", "Sutskever, Ilya", "Chen, Kai"))
    labels = list(AuthorYearLabelStyle().format_labels(entries))
    assert labels == ["Mikolov et al. 2013a", "Mikolov and B 2013", "Mikolov et al. 2013b"]


def test_mathjax_is_copied_for_offline_use(tmp_path):
    target = tmp_path / "_static" / "mathjax"
    copy_mathjax(target)
    assert (target / "tex-chtml.js").stat().st_size > 100_000
    assert any((target / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert not (target / "tex-svg.js").exists()
