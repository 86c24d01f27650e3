"""Execute every chapter once, time it against its budget, and hand it to the book build.

The selected chapters run one at a time, or ``XMR_CHAPTER_JOBS`` at a time (see
``tools.chapter_runner.default_jobs``), the first time a chapter test asks for them; each test
then checks its own chapter's outcome and budget.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools.bookconfig import chapter_sources
from tools.chapter_runner import ChapterResult, execute_many, store_in_cache

TEST_NAME = "test_chapter_runs_within_budget"


class ChapterTimes:
    """A pytest plugin that prints each executed chapter's wall time at the end of the run."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.lines:
            terminalreporter.section("chapter wall times (2-core CPU budget)")
            for line in self.lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def executed_chapters(
    request: pytest.FixtureRequest,
) -> dict[Path, tuple[nbformat.NotebookNode, ChapterResult]]:
    """Run every chapter this session selected, in parallel, and cache the successes."""
    plugin = ChapterTimes()
    request.config.pluginmanager.register(plugin, "xmr-chapter-times")
    selected = [
        item.callspec.params["path"]
        for item in request.session.items
        if getattr(item, "originalname", None) == TEST_NAME
    ]
    outcomes = {}
    for nb, result in execute_many(selected):
        outcomes[result.path] = (nb, result)
        plugin.lines.append(result.line())
        if result.error is None:
            store_in_cache(result.path, nb, result.seconds)
    return outcomes


@pytest.mark.chapter
@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.stem)
def test_chapter_runs_within_budget(path, executed_chapters):
    _, result = executed_chapters[path]
    assert result.error is None, f"{path.name}: {result.error}"
    assert result.seconds <= result.budget_s, result.line()
