"""Execute every chapter once, time it against its budget, and hand it to the book build."""

from __future__ import annotations

import pytest

from tools.bookconfig import chapter_sources
from tools.chapter_runner import execute, store_in_cache

CHAPTER_TIMES: list[str] = []


@pytest.mark.chapter
@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.stem)
def test_chapter_runs_within_budget(path):
    nb, result = execute(path)
    CHAPTER_TIMES.append(result.line())
    assert result.error is None, f"{path.name}: {result.error}"
    store_in_cache(path, nb, result.seconds)
    assert result.seconds <= result.budget_s, result.line()
