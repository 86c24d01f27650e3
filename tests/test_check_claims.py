"""The claims checker: typed numbers, unasserted comparisons and typed cross-references fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bookconfig import chapter_sources
from tools.check_claims import check_file, main

CODE = "```{code-cell} ipython3\nscore = 0.5\n```\n"
ASSERTED = "```{code-cell} ipython3\nassert pixels < features\n```\n"
GLUE = '```{code-cell} ipython3\nfrom myst_nb import glue\nglue("ch03_acc", 0.5, display=False)\n```\n'


def write(tmp_path: Path, body: str, name: str = "03_demo.md") -> Path:
    path = tmp_path / name
    path.write_text("---\nxmr:\n  budget_s: 10\n---\n\n# 3. A chapter\n\n" + body, encoding="utf-8")
    return path


def tokens(path: Path) -> list[str]:
    return [v.token for v in check_file(path)]


def test_a_clean_paragraph_passes(tmp_path):
    body = (
        GLUE
        + "\nThe accuracy is {glue:text}`ch03_acc:.3f`, with $k = 5$ neighbours and `n_epochs=8`;"
        + " see {ref}`sec-data` and {cite}`lecun1998mnist`. ResNet-18, R@1, Word2Vec and 3D are names.\n"
    )
    assert check_file(write(tmp_path, body)) == []


def test_a_typed_in_number_fails(tmp_path):
    path = write(tmp_path, CODE + "\nThe accuracy is 0.973 on the test set.\n")
    found = check_file(path)
    assert [v.token for v in found] == ["0.973"]
    assert found[0].line == 12
    assert "glue" in str(found[0]) and str(found[0]).startswith(str(path))


def test_an_unasserted_comparison_fails(tmp_path):
    assert tokens(write(tmp_path, CODE + "\nThe learned features beat raw pixels.\n")) == ["beat"]


def test_a_comparison_after_an_assert_passes(tmp_path):
    assert tokens(write(tmp_path, ASSERTED + "\nThe learned features beat raw pixels.\n")) == []


def test_a_comparison_with_a_glued_value_passes(tmp_path):
    body = GLUE + "\nThe winner in this run is better by {glue:text}`ch03_acc:.2f`.\n"
    assert tokens(write(tmp_path, body)) == []


def test_the_assert_must_be_in_the_nearest_code_cell_above(tmp_path):
    body = ASSERTED + "\nFine here, features beat pixels.\n\n" + CODE + "\nNot here: features beat pixels.\n"
    assert tokens(write(tmp_path, body)) == ["beat"]


@pytest.mark.parametrize(
    ("sentence", "flagged"),
    [
        ("The features find every distorted photo.", ["every"]),
        ("Every voice is synthesised from the same rules.", []),
        ("Which method is best for this query?", []),
        ("Higher is better for every metric of this table.", []),
        ("Cross-attention is the weakest.", ["weakest"]),
        ("The CNNs win in every direction.", ["win", "every"]),
    ],
)
def test_comparison_words(tmp_path, sentence, flagged):
    assert tokens(write(tmp_path, CODE + "\n" + sentence + "\n")) == flagged


def test_prose_before_any_visible_code_makes_no_comparison_claim(tmp_path):
    hidden = "```{code-cell} ipython3\n:tags: [remove-cell]\nimport os\n```\n"
    assert tokens(write(tmp_path, hidden + "\nEvery system of the book is better with data.\n")) == []


def test_a_marked_paragraph_is_exempt(tmp_path):
    body = CODE + "\n% claims: the year of the paper and a parameter of the code\nIn 2006 they used 8 epochs.\n"
    assert tokens(write(tmp_path, body)) == []


def test_the_marker_covers_only_the_next_paragraph(tmp_path):
    body = CODE + "\n% claims: a year\nIn 2006.\n\nAnd 12 more.\n"
    assert tokens(write(tmp_path, body)) == ["12"]


def test_typed_chapter_and_exercise_numbers_fail(tmp_path):
    found = check_file(write(tmp_path, CODE + "\nAs chapter 9 shows, and exercise 2 asks.\n"))
    assert [v.token for v in found] == ["chapter 9", "exercise 2"]
    assert all("{ref}" in v.reason for v in found)


def test_code_math_options_and_headings_are_not_prose(tmp_path):
    body = (
        "```{exercise} Count the neighbours\n:label: ex-03-1\n\nCount them.\n```\n\n"
        "```{solution-start} ex-03-1\n:class: dropdown\n```\n\n"
        "```{code-cell} ipython3\nx = 12345\n```\n\n"
        "$$\nx = 12 + 3\n$$\n\n"
        "```python\ny = 99\n```\n\n"
        "## 3.2 Heading with its number\n"
    )
    assert tokens(write(tmp_path, body)) == []


def test_numbers_in_an_exercise_body_and_in_tables_are_checked(tmp_path):
    body = "```{exercise} Title\n:label: ex-03-1\n\nUse 17 voices.\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert tokens(write(tmp_path, body)) == ["17", "1", "2"]


def test_glue_names_are_defined_and_prefixed(tmp_path):
    body = '```{code-cell} ipython3\nglue("acc", 1, display=False)\n```\n\nIt is {glue:text}`ch03_missing:.2f`.\n'
    assert sorted(tokens(write(tmp_path, body))) == ["acc", "ch03_missing"]


def test_main_exits_1_and_prints_file_line_token(tmp_path, capsys):
    bad = write(tmp_path, CODE + "\nIt scores 0.9.\n")
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:12: 0.9 --" in out
    assert "% claims:" in out
    good = write(tmp_path, CODE + "\nIt scores well.\n", name="04_good.md")
    assert main([str(good)]) == 0


@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.stem[:2])
def test_every_chapter_follows_the_rule(path):
    assert [str(v) for v in check_file(path)] == []
