"""Read the built book in headless Chromium, as a reader would, at desktop and phone widths.

``python -m tools.check_browser [--html _build/html] [pages...]`` serves the built HTML on
``127.0.0.1`` with ``http.server``, opens every page of the table of contents (plus the
index) in Debian's ``chromium`` through Selenium and ``chromium-driver``, at 1280 px and at
390 px, and prints ``page: problem`` for each of:

* a console error that comes from the book's own assets (a CDN that is unreachable offline
  is not ours; a script of ours that throws is);
* an image that does not load;
* raw LaTeX where math is expected: a math element that MathJax left untypeset, or
  ``\\(``, ``\\[``, ``$$`` or ``$...\\command...$`` left in the text;
* an internal link to a missing page, or to an anchor that the target page lacks;
* a launch button (Colab, Binder) that does not open the page's own notebook, or whose
  notebook is not in the repository;
* at 390 px, a page wider than the viewport (the widest culprits are named).

It exits 1 if anything was found. ``make build-book`` runs it after ``tools.check_build``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from tools.bookconfig import BUILD, ROOT

WIDTHS = (1280, 390)
PHONE = 390
MATH_TIMEOUT_S = 20

#: Console messages that are about the browser, not the book.
IGNORED_CONSOLE = (re.compile(r"favicon\.ico"),)

#: JavaScript run in the page once MathJax is done: everything the checks need, in one call.
PAGE_SCRIPT = r"""
const done = arguments[arguments.length - 1];
const mathReady = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
const timeout = new Promise(resolve => setTimeout(() => resolve("timeout"), MATH_TIMEOUT_MS));
Promise.race([mathReady.then(() => "ok", () => "error"), timeout]).then(mathState => {
  const skip = el => el.closest("pre, code, script, style, mjx-container, textarea, .highlight, .cell_output");
  const rawLatex = [];
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  const pattern = /\\\(|\\\[|\$\$|\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$/;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement && !skip(node.parentElement) && pattern.test(node.textContent)) {
      rawLatex.push(node.textContent.trim().slice(0, 80));
    }
  }
  const untypeset = Array.from(document.querySelectorAll(".math"))
    .filter(el => !el.querySelector("mjx-container") && !el.closest("mjx-container"))
    .map(el => el.textContent.trim().slice(0, 80));
  const images = Array.from(document.images)
    .filter(img => img.complete && img.naturalWidth === 0)
    .map(img => img.getAttribute("src"));
  const width = window.innerWidth;
  const wide = Array.from(document.querySelectorAll("body *"))
    .filter(el => {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.right <= width + 1) return false;
      if (getComputedStyle(el).position === "fixed") return false;  // a drawer does not widen the page
      for (let p = el.parentElement; p; p = p.parentElement) {
        const style = getComputedStyle(p);
        if (["auto", "scroll", "hidden"].includes(style.overflowX) || style.position === "fixed") return false;
      }
      return true;
    })
    .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right)
    .slice(0, 3)
    .map(el => `${el.tagName.toLowerCase()}.${(el.className || "").toString().split(" ")[0]} ` +
               `"${(el.textContent || "").trim().slice(0, 40)}" (${Math.round(el.getBoundingClientRect().right)} px)`);
  done({
    mathState: mathState,
    rawLatex: rawLatex,
    untypeset: untypeset,
    brokenImages: images,
    imageSources: Array.from(document.images).map(img => img.getAttribute("src")),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.getAttribute("href")),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    wide: wide,
  });
});
""".replace("MATH_TIMEOUT_MS", str(MATH_TIMEOUT_S * 1000))


@dataclass(frozen=True)
class Problem:
    """One thing a reader would notice on one page."""

    page: str
    message: str

    def __str__(self) -> str:
        return f"{self.page}: {self.message}"


# ---------------------------------------------------------------- checks without a browser


class _Anchors(HTMLParser):
    """Every ``id`` and ``name`` attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.anchors.add(value)


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    """The anchors a page defines (cached: pages are read once per run)."""
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.anchors)


def broken_links(page: Path, hrefs: Iterable[str], html: Path) -> list[str]:
    """The internal links of ``page`` whose target file or anchor does not exist.

    Parameters
    ----------
    page : Path
        The page file under ``html``.
    hrefs : iterable of str
        The ``href`` attributes as written in the page.
    html : Path
        The root of the built site.
    """
    problems = []
    for href in sorted(set(hrefs)):
        parsed = urlparse(href)
        if parsed.scheme or parsed.netloc or href.startswith(("mailto:", "javascript:")):
            continue
        target = page if not parsed.path else (page.parent / unquote(parsed.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or html.resolve() not in target.resolve().parents:
            problems.append(f"broken link {href!r}: no such page")
            continue
        fragment = unquote(parsed.fragment)
        if fragment and target.suffix == ".html" and fragment not in anchors_of(target):
            problems.append(f"broken link {href!r}: {target.name} has no anchor {fragment!r}")
    return problems


LAUNCH = re.compile(
    r"(colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/|mybinder\.org/v2/gh/.*?urlpath=tree/)(.+)$"
)


def launch_problems(page_name: str, hrefs: Iterable[str], root: Path = ROOT) -> list[str]:
    """Launch buttons of ``page_name`` (``chapters/01_pipeline``) that open another notebook."""
    expected = f"{page_name}.ipynb"
    problems = []
    for href in sorted(set(hrefs)):
        match = LAUNCH.search(href)
        if not match:
            continue
        opened = unquote(match.group(2))
        if opened != expected:
            problems.append(f"launch button opens {opened!r}, not this page's notebook {expected!r}")
        elif not (root / opened).is_file():
            problems.append(f"launch button opens {opened!r}, which is not in the repository")
    return problems


def own_console_error(message: str, base_url: str) -> bool:
    """Whether a SEVERE console message comes from the book itself rather than the network."""
    if any(pattern.search(message) for pattern in IGNORED_CONSOLE):
        return False
    urls = re.findall(r"(?:https?|file)://\S+", message)
    if not urls:
        return True  # a script error without a source URL: an inline script of the page
    return urls[0].startswith(base_url)


# ---------------------------------------------------------------- the server and the browser


@contextmanager
def serve(html: Path) -> Iterator[str]:
    """Serve ``html`` on a free port of 127.0.0.1; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def find_browser() -> tuple[str, str]:
    """The paths of Debian's ``chromium`` and ``chromedriver``; an error says what to install."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise RuntimeError(
            "tools.check_browser needs Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver; see .ci/apt-packages.txt)"
        )
    return browser, driver


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium driven by Selenium, which keeps the browser console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(MATH_TIMEOUT_S + 10)
    try:
        yield driver
    finally:
        driver.quit()


def read_page(driver: object, url: str, width: int) -> tuple[dict, list[str]]:
    """Open ``url`` at ``width`` px; return what the page script found and the console errors."""
    driver.set_window_size(width, 900)
    driver.get(url)
    found = driver.execute_async_script(PAGE_SCRIPT)
    console = [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    return found, console


def check_page(driver: object, base_url: str, html: Path, name: str) -> list[Problem]:
    """Every problem of one page at every width."""
    page = html / f"{name}.html"
    problems: list[Problem] = []
    for width in WIDTHS:
        found, console = read_page(driver, urljoin(base_url, f"{name}.html"), width)
        at = f"{name} @{width}px"
        problems += [Problem(at, f"console error: {m}") for m in console if own_console_error(m, base_url)]
        if width != WIDTHS[0]:
            if found["scrollWidth"] > found["innerWidth"] + 1:
                culprits = "; ".join(found["wide"]) or "no single element found"
                size = f"{found['scrollWidth']} px wide in a {found['innerWidth']} px window"
                problems.append(Problem(at, f"page is {size}: {culprits}"))
            continue
        if found["mathState"] != "ok":
            problems.append(Problem(at, f"MathJax did not finish ({found['mathState']})"))
        problems += [Problem(at, f"math left untypeset: {text!r}") for text in found["untypeset"]]
        problems += [Problem(at, f"raw LaTeX in the text: {text!r}") for text in found["rawLatex"]]
        problems += [Problem(at, f"image does not load: {src}") for src in found["brokenImages"]]
        problems += [Problem(at, message) for message in broken_links(page, found["links"], html)]
        problems += [Problem(at, message) for message in launch_problems(name, found["links"])]
    return problems


def pages_of(html: Path) -> list[str]:
    """The pages to read: every table-of-contents page that was built, and the index."""
    from tools.check_build import toc_files

    names = [name for name in toc_files() if (html / f"{name}.html").is_file()]
    return names + (["genindex"] if (html / "genindex.html").is_file() else [])


def check(html: Path, names: list[str]) -> list[Problem]:
    """Read every page in one browser session."""
    problems: list[Problem] = []
    with serve(html) as base_url, browser() as driver:
        for name in names:
            problems += check_page(driver, base_url, html, name)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=BUILD / "html", help="the built site (default _build/html)")
    parser.add_argument("pages", nargs="*", help="page names such as chapters/01_pipeline (default: all)")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"no built book at {args.html}: run `make book` first")
        return 1
    names = args.pages or pages_of(args.html)
    problems = check(args.html, names)
    for problem in problems:
        print(problem)
    if problems:
        print(f"\n{len(problems)} problems on {len({p.page.split(' @')[0] for p in problems})} of {len(names)} pages")
        return 1
    print(f"browser check: {len(names)} pages clean at {' and '.join(f'{w} px' for w in WIDTHS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
