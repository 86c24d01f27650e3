"""Execute every chapter once, time it against its budget, and hand it to the book build."""

from __future__ import annotations

import pytest

from tools.bookconfig import chapter_sources
from tools.chapter_runner import execute, store_in_cache


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
def chapter_times(pytestconfig: pytest.Config) -> list[str]:
    """The lines the summary prints; registered only when a chapter test runs."""
    plugin = ChapterTimes()
    pytestconfig.pluginmanager.register(plugin, "xmr-chapter-times")
    return plugin.lines


@pytest.mark.chapter
@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.stem)
def test_chapter_runs_within_budget(path, chapter_times):
    nb, result = execute(path)
    chapter_times.append(result.line())
    assert result.error is None, f"{path.name}: {result.error}"
    store_in_cache(path, nb, result.seconds)
    assert result.seconds <= result.budget_s, result.line()
