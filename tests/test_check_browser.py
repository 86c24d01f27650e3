"""The browser check: a planted broken page fails it, a clean one passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.check_browser import broken_links, check, launch_problems, own_console_error

HAS_BROWSER = bool((shutil.which("chromium") or shutil.which("chromium-browser")) and shutil.which("chromedriver"))
needs_browser = pytest.mark.skipif(
    not HAS_BROWSER, reason="Debian chromium and chromium-driver are not installed (.ci/apt-packages.txt)"
)

CLEAN = """<!doctype html><html><head><meta name="viewport" content="width=device-width"></head>
<body><main><h1 id="top">A page</h1><p>Plain text and <a href="other.html#part">a link</a>.</p>
<img src="dot.svg" alt="a dot"></main></body></html>"""

OTHER = """<!doctype html><html><body><main><h2 id="part">Part</h2></main></body></html>"""

BROKEN = """<!doctype html><html><head><meta name="viewport" content="width=device-width"></head>
<body><main><h1>Broken</h1>
<p>Raw math: $\\frac{a}{b}$ and \\(x^2\\).</p>
<img src="missing.png" alt="gone">
<a href="other.html#nowhere">bad anchor</a> <a href="absent.html">bad page</a>
<div style="width: 900px">a wide box</div>
<script>undefinedFunctionOfOurs();</script>
</main></body></html>"""

DOT = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><circle cx="2" cy="2" r="2"/></svg>'


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "clean.html").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "other.html").write_text(OTHER, encoding="utf-8")
    (tmp_path / "broken.html").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "dot.svg").write_text(DOT, encoding="utf-8")
    return tmp_path


def test_links_to_existing_pages_and_anchors_pass(site):
    assert broken_links(site / "clean.html", ["other.html#part", "#top", "https://example.org/x"], site) == []


def test_a_missing_page_or_anchor_is_reported(site):
    found = broken_links(site / "broken.html", ["other.html#nowhere", "absent.html"], site)
    assert len(found) == 2
    assert any("nowhere" in line for line in found) and any("absent.html" in line for line in found)


def test_launch_buttons_must_open_the_pages_own_notebook(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01_pipeline.ipynb").write_text("{}", encoding="utf-8")
    own = [
        "https://colab.research.google.com/github/xmr-book/xmr/blob/main/chapters/01_pipeline.ipynb",
        "https://mybinder.org/v2/gh/xmr-book/xmr/main?urlpath=tree/chapters/01_pipeline.ipynb",
    ]
    assert launch_problems("chapters/01_pipeline", own, root=tmp_path) == []
    other = ["https://colab.research.google.com/github/xmr-book/xmr/blob/main/chapters/02_similarity.ipynb"]
    assert "not this page's notebook" in launch_problems("chapters/01_pipeline", other, root=tmp_path)[0]
    (tmp_path / "chapters" / "01_pipeline.ipynb").unlink()
    assert "not in the repository" in launch_problems("chapters/01_pipeline", own, root=tmp_path)[0]


def test_only_our_own_console_errors_count():
    base = "http://127.0.0.1:8000/"
    assert own_console_error(f"{base}_static/x.js 3:1 Uncaught TypeError", base)
    assert own_console_error("Uncaught ReferenceError: f is not defined", base)
    assert not own_console_error("https://unpkg.com/thebe@0.8.2/lib/index.js - Failed to load resource", base)


@needs_browser
def test_a_clean_page_passes_in_the_browser(site):
    assert [str(p) for p in check(site, ["clean"])] == []


@needs_browser
def test_a_planted_broken_page_fails_in_the_browser(site):
    messages = [p.message for p in check(site, ["broken"])]
    text = "\n".join(messages)
    assert "raw LaTeX" in text
    assert "image does not load: missing.png" in text
    assert "no anchor 'nowhere'" in text and "absent.html" in text
    assert "console error" in text and "undefinedFunctionOfOurs" in text
    assert "page is" in text and "a wide box" in text
