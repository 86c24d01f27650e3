"""The workshop guide's table agrees with the chapters it describes."""

from __future__ import annotations

import re

import yaml

from tools.bookconfig import ROOT, chapter_sources

ROW = re.compile(r"^\| (\d+)\. (.+?) \| (.+?) \| (\d+) s \| (\d+) \| .+ \|$")


def workshop_rows() -> dict[int, tuple[str, int, int]]:
    """Chapter number -> (title, budget in s, exercises), read from the guide's table."""
    rows = {}
    for line in (ROOT / "book" / "workshop.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[int(match[1])] = (match[2], int(match[4]), int(match[5]))
    return rows


def chapter_facts(text: str) -> tuple[str, int, int]:
    """(title, budget in s, exercises) of a chapter, from its front matter and its text."""
    front_matter = yaml.safe_load(text.split("---\n")[1])
    title = re.search(r"^# \d+\. (.+)$", text, flags=re.MULTILINE)[1]
    exercises = len(re.findall(r"^```\{exercise\}", text, flags=re.MULTILINE))
    return title, int(front_matter["xmr"]["budget_s"]), exercises


def test_the_guide_lists_every_chapter_with_its_budget_and_exercises():
    rows = workshop_rows()
    expected = {}
    for source in chapter_sources():
        expected[int(source.name[:2])] = chapter_facts(source.read_text(encoding="utf-8"))
    assert rows == expected


def test_the_guide_is_in_the_table_of_contents():
    assert "book/workshop" in (ROOT / "_toc.yml").read_text(encoding="utf-8")
