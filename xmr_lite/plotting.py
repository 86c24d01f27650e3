"""Figure style shared by every chapter."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

STYLE_FILE = Path(__file__).with_name("book.mplstyle")


def use_book_style() -> None:
    """Apply the book's matplotlib style (colour-blind-safe palette, light grid, tight saves)."""
    plt.style.use(STYLE_FILE)


__all__ = ["STYLE_FILE", "use_book_style"]
