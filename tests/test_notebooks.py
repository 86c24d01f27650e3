"""The paired notebooks, the Colab set-up cell, the chapter runner and the student copies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

from tools.bookconfig import ROOT, chapter_sources, repository
from tools.bootstrap import TAG, bootstrap_source
from tools.chapter_runner import budget_of, execute, store_in_cache
from tools.notebooks import out_of_date, read_chapter
from tools.student import strip_solutions, write_student_copy

CHAPTERS = chapter_sources()


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2


def test_paired_notebooks_are_in_sync():
    assert out_of_date(CHAPTERS) == [], "run `make notebooks`"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_hidden_bootstrap_cell(path):
    nb = read_chapter(path)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert TAG in first.metadata.get("tags", [])
    assert first.source == bootstrap_source()
    ipynb = jupytext.read(path.with_suffix(".ipynb"))
    assert ipynb.cells[0].source == bootstrap_source()
    assert all(not c.get("outputs") for c in ipynb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_follows_the_house_layout(path):
    nb = read_chapter(path)
    assert path.stem[:2].isdigit()
    assert budget_of(nb) > 0
    code = "\n".join(c.source for c in nb.cells[1:] if c.cell_type == "code")
    assert "seed_everything(0)" in code and "get_device()" in code
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    title = re.sub(r"^\([\w-]+\)=\n", "", markdown.lstrip())  # an optional label line, (chap-name)=
    assert title.startswith(f"# {int(path.stem[:2])}.")
    assert markdown.count("{exercise}") >= 3
    assert markdown.count("{solution-start}") == markdown.count("{exercise}")


def test_bootstrap_uses_the_configured_repository():
    url, branch = repository()
    assert f'"XMR_REPO_URL", "{url}"' in bootstrap_source()
    assert f'"XMR_REF", "{branch}"' in bootstrap_source()


def run_bootstrap(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    program = bootstrap_source() + "\nimport xmr_lite\nprint('CWD', os.getcwd())\nprint('LIB', xmr_lite.__file__)\n"
    return subprocess.run(
        [sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_bootstrap_does_nothing_inside_the_repository(tmp_path):
    env = {**os.environ, "XMR_REPO_URL": str(tmp_path / "must-not-be-cloned")}
    result = run_bootstrap(ROOT / "chapters", env)
    assert result.returncode == 0, result.stderr
    assert f"CWD {ROOT / 'chapters'}" in result.stdout
    assert not any(tmp_path.iterdir())


def current_branch() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_bootstrap_clones_installs_and_moves_into_the_chapters(tmp_path):
    """Colab, simulated: a kernel outside any checkout, the repository served from a local URL.

    pip runs as a dry run (``PIP_DRY_RUN``) so that the test environment is left alone; its
    JSON report (``PIP_REPORT``) shows what would be installed over packages already present,
    as Colab's torch is: xmr-lite alone, with the installed torch kept.
    """
    work = tmp_path / "colab"
    work.mkdir()
    env = {
        **os.environ,
        "XMR_REPO_URL": ROOT.as_uri(),
        "XMR_REF": current_branch(),
        "PIP_DRY_RUN": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_NO_INDEX": "1",
        "PIP_REPORT": str(tmp_path / "pip-report.json"),
    }
    result = run_bootstrap(work, env)
    assert result.returncode == 0, result.stderr
    clone = work / "xmr"
    assert (clone / "xmr_lite" / "__init__.py").is_file()
    assert f"CWD {clone / 'chapters'}" in result.stdout
    assert f"LIB {clone / 'xmr_lite' / '__init__.py'}" in result.stdout
    report = json.loads((tmp_path / "pip-report.json").read_text(encoding="utf-8"))
    would_install = [item["metadata"]["name"] for item in report["install"]]
    assert would_install == ["xmr-lite"]


CHAPTER_OK = """---
jupytext:
  notebook_metadata_filter: xmr
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
xmr: {budget_s: BUDGET}
---

# 99. A test chapter

```{code-cell} ipython3
import time
time.sleep(SLEEP)
print(6 * 7)
```

```{exercise} Add
:label: ex-99-1

Add two numbers.
```

```{solution-start} ex-99-1
:class: dropdown
```

```{code-cell} ipython3
print("the secret solution", 1 + 1)
```

```{solution-end}
```
"""


def write_chapter(tmp_path: Path, budget: float = 60, sleep: float = 0, extra: str = "") -> Path:
    path = tmp_path / "99_test.md"
    text = CHAPTER_OK.replace("BUDGET", str(budget)).replace("SLEEP", str(sleep))
    path.write_text(text + extra, encoding="utf-8")
    return path


def test_runner_executes_times_and_caches(tmp_path):
    path = write_chapter(tmp_path)
    nb, result = execute(path)
    assert result.ok and result.error is None and 0 < result.seconds < 60
    assert nb.cells[1].outputs[0]["text"] == "42\n"
    assert result.budget_s == 60
    store_in_cache(path, nb, result.seconds, tmp_path / "cache")
    from jupyter_cache import get_cache

    assert get_cache(str(tmp_path / "cache")).match_cache_notebook(read_chapter(path)) is not None


def test_runner_keeps_figures_even_when_the_caller_sets_a_non_interactive_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a headless default that would draw nothing in a notebook
    plot = "\n```{code-cell} ipython3\nimport matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()\n```\n"
    nb, result = execute(write_chapter(tmp_path, extra=plot))
    assert result.ok, result.error
    assert any("image/png" in out.get("data", {}) for out in nb.cells[-1].outputs)
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's environment is given back


def test_build_check_counts_figures(tmp_path):
    from tools.check_build import expected_figures, missing_figures, rendered_figures

    source = ROOT / "chapters" / "01_pipeline.md"
    pages = tmp_path / "chapters"
    pages.mkdir()
    page = pages / "01_pipeline.html"
    page.write_text("<p>no figures</p>", encoding="utf-8")
    assert expected_figures(source) >= 1 and rendered_figures(page) == 0
    assert [line.split(":")[0] for line in missing_figures(tmp_path)] == ["chapters/01_pipeline"]
    page.write_text('<img alt="" src="../_images/abc.png" />' * expected_figures(source), encoding="utf-8")
    assert missing_figures(tmp_path) == []


def test_runner_reports_a_failing_cell(tmp_path):
    path = write_chapter(tmp_path, extra='\n```{code-cell} ipython3\nraise ValueError("boom")\n```\n')
    _, result = execute(path)
    assert not result.ok
    assert "boom" in result.error
    assert "ERROR" in result.line()


def test_runner_fails_a_chapter_over_budget(tmp_path):
    path = write_chapter(tmp_path, budget=0.5, sleep=1.0)
    _, result = execute(path)
    assert result.error is None and not result.ok
    assert "OVER BUDGET" in result.line()


def test_runner_and_book_build_hash_chapters_alike():
    """The build finds the runner's results only if myst-nb reads the same code as jupytext."""
    from jupyter_cache.cache.main import JupyterCacheBase
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    cache = JupyterCacheBase(str(ROOT / "_build" / "unused-cache"))
    for path in CHAPTERS:
        ours = cache.create_hashed_notebook(read_chapter(path))[1]
        text = path.read_text(encoding="utf-8")
        theirs_nb = read_myst_markdown_notebook(text, config=MdParserConfig(), path=path)
        assert ours == cache.create_hashed_notebook(theirs_nb)[1], path.name


def test_student_copy_has_no_solutions(tmp_path):
    source = write_chapter(tmp_path)
    text = strip_solutions(source.read_text(encoding="utf-8"))
    assert "{exercise}" in text and "secret solution" not in text
    target = write_student_copy(source, tmp_path / "student")
    nb = jupytext.read(target)
    sources = "\n".join(c.source for c in nb.cells)
    assert "Add two numbers" in sources and "secret solution" not in sources
    assert nb.cells[0].source == bootstrap_source()


def test_unbalanced_solution_is_an_error():
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions("```{solution-start} ex\n```\nno end")
