"""Paths and settings of the book, read from ``_config.yml`` (the one place they are set)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"
DEFAULT_BUDGET_S = 120.0


def config() -> dict:
    """The parsed ``_config.yml``."""
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def repository() -> tuple[str, str]:
    """The repository URL and branch that the launch buttons and set-up cells use."""
    repo = config()["repository"]
    return repo["url"], repo.get("branch", "main")


def chapter_sources() -> list[Path]:
    """Every chapter source, ``chapters/NN_slug.md``, in order."""
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.md"))
