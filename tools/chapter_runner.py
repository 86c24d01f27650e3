"""Execute book chapters, time them, and hand the results to the book build.

Usage::

    python -m tools.chapter_runner                       # every chapter
    python -m tools.chapter_runner chapters/02_similarity.md

Each chapter is read with jupytext and executed with nbclient in its own folder. The runner
prints each chapter's wall time and fails when a cell raises or when a chapter runs past its
budget: ``xmr: budget_s`` in the chapter's front matter, else 120 s. Executed notebooks are
stored in the book's jupyter-cache (``_build/.jupyter_cache``), so the build that follows
re-uses them instead of executing every chapter a second time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbclient
import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from tools.bookconfig import CACHE, DEFAULT_BUDGET_S, chapter_sources
from tools.kernel_env import book_kernel
from tools.notebooks import read_chapter


@dataclass
class ChapterResult:
    """What happened when one chapter ran."""

    path: Path
    seconds: float
    budget_s: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds <= self.budget_s

    def line(self) -> str:
        status = "ok" if self.ok else ("ERROR" if self.error else "OVER BUDGET")
        return f"{self.path.name:<32} {self.seconds:7.1f} s  (budget {self.budget_s:.0f} s)  {status}"


def budget_of(nb: nbformat.NotebookNode) -> float:
    """The chapter's CPU budget in seconds, from its front matter."""
    return float(nb.metadata.get("xmr", {}).get("budget_s", DEFAULT_BUDGET_S))


@contextmanager
def inline_figures() -> Iterator[None]:
    """Let the kernel draw figures into the notebook, whatever ``MPLBACKEND`` the caller set.

    A kernel inherits the environment. With ``MPLBACKEND=Agg`` (common on headless machines)
    ``plt.show()`` draws nothing, and the book would silently lose every figure.
    """
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


def _execute_here(path: Path, timeout_s: float) -> tuple[nbformat.NotebookNode, ChapterResult]:
    """Run one chapter in the current process environment (see :func:`kernel_environment`)."""
    nb = read_chapter(path)
    budget = budget_of(nb)
    client = nbclient.NotebookClient(
        nb,
        timeout=int(timeout_s),
        kernel_name="python3",
        record_timing=False,  # cell timestamps would change the cache key the book build looks up
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except (nbclient.exceptions.CellExecutionError, nbclient.exceptions.CellTimeoutError) as err:
        error = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    seconds = time.perf_counter() - start
    return nb, ChapterResult(path, seconds, budget, error)


@contextmanager
def kernel_environment() -> Iterator[None]:
    """The environment every chapter kernel starts in: inline figures, the book's kernel set-up."""
    with inline_figures(), book_kernel():  # the same kernel environment as the book build
        yield


def execute(path: Path, timeout_s: float = 600.0) -> tuple[nbformat.NotebookNode, ChapterResult]:
    """Run one chapter top to bottom in its own folder and time it."""
    with kernel_environment():
        return _execute_here(path, timeout_s)


def default_jobs() -> int:
    """How many chapters run at once: ``XMR_CHAPTER_JOBS``, else one.

    One at a time is the default because several chapters use both cores (faiss, numpy's
    BLAS, PyTorch's intra-op threads): two of them side by side on a 2-core machine each ran
    past their budget while the total time barely dropped. On a machine with more cores,
    ``XMR_CHAPTER_JOBS=2`` (or more) shortens ``make test``.
    """
    value = os.environ.get("XMR_CHAPTER_JOBS")
    if value is None:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"XMR_CHAPTER_JOBS must be a whole number >= 1, got {value!r}")
    return int(value)


def longest_first(paths: list[Path]) -> list[Path]:
    """Order chapters by budget, largest first, so that two workers finish close together."""
    return sorted(paths, key=lambda p: (-budget_of(read_chapter(p)), p.name))


def execute_many(
    paths: list[Path], jobs: int | None = None, timeout_s: float = 600.0
) -> Iterator[tuple[nbformat.NotebookNode, ChapterResult]]:
    """Execute ``paths``, ``jobs`` at a time, yielding each result as it finishes.

    Each chapter runs in its own kernel process; the threads here only wait on them. The
    kernel environment is set once around the whole run, so no thread changes it under another.
    """
    jobs = default_jobs() if jobs is None else jobs
    with kernel_environment(), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_execute_here, path, timeout_s) for path in longest_first(paths)]
        for future in as_completed(futures):
            yield future.result()


def store_in_cache(path: Path, nb: nbformat.NotebookNode, seconds: float, cache_dir: Path = CACHE) -> None:
    """Put an executed chapter in the jupyter-cache the book build reads."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    bundle = CacheBundleIn(nb=nb, uri=str(path.resolve()), data={"execution_seconds": seconds})
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)


def run(paths: list[Path], cache_dir: Path | None = CACHE, jobs: int | None = None) -> list[ChapterResult]:
    """Execute ``paths`` (``jobs`` at a time), print a line per chapter, and cache the successes."""
    results = []
    for nb, result in execute_many(paths, jobs):
        if result.error is None and cache_dir is not None:
            store_in_cache(result.path, nb, result.seconds, cache_dir)
        print(result.line(), flush=True)
        if result.error:
            print(f"    {result.error}", flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter sources (default: all)")
    parser.add_argument("--no-cache", action="store_true", help="do not store results for the book build")
    parser.add_argument("--jobs", type=int, default=None, help="chapters run at once (default: XMR_CHAPTER_JOBS or 1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    paths = [p.resolve() for p in args.chapters] or chapter_sources()
    results = run(paths, None if args.no_cache else CACHE, args.jobs)
    total = sum(r.seconds for r in results)
    print(f"{len(results)} chapters in {total:.1f} s; {sum(not r.ok for r in results)} failed")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
