"""XMR-Shop's interaction log: simulated shoppers clicking XMR-Shop items over 180 days.

The log is **simulated** by ``data/xmr_shop_interactions/build.py`` from a documented
generative model (tastes over subgroups and colours, a long-tailed popularity, sessions over
time, new arrivals in the last month); no real, redistributable log fits the catalogue.
Chapter 13 trains recommenders on it. The file is checked against its sha256 digest in the
registry before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmr_lite.data._datasets import _read_tsv, _readonly
from xmr_lite.data._registry import _DATA_REBUILD, Asset, DataIntegrityError, _register, _repo_file, asset_path

INTERACTIONS_TEST_START_DAY = 150.0
"""First day of the test window: clicks before it train, clicks from it on test."""

_N_SHOP_ITEMS = 716

_register(
    Asset(
        name="xmr_shop_interactions",
        title="XMR-Shop interactions: 14,605 simulated clicks of 1,000 shoppers over 180 days",
        files=(
            _repo_file("interactions.tsv", "1a28f5e4d087cf46724f21b30a74a23fb953349932b353b186993cb212b3bfbf", 335221),
        ),
        source="simulated by data/xmr_shop_interactions/build.py (seed 20261313) over the XMR-Shop items",
        licence="CC0-1.0 (simulated)",
        citation="",
        subdir="xmr_shop_interactions",
        rebuild=_DATA_REBUILD.format(subdir="xmr_shop_interactions"),
    )
)


@dataclass(frozen=True)
class ShopInteractions:
    """A time-ordered click log over the XMR-Shop items (all arrays read-only, length M).

    Attributes
    ----------
    user : (M,) int64 array
        The shopper, ``0 .. n_users - 1``.
    item : (M,) int64 array
        The item clicked: a row of :func:`xmr_lite.data.load_xmr_shop`'s arrays.
    day : (M,) float64 array
        When, in days since the start of the log; non-decreasing.
    session : (M,) int64 array
        A session id; a session's clicks are a minute apart.
    split : (M,) str array
        ``"train"`` before :data:`INTERACTIONS_TEST_START_DAY`, ``"test"`` from it on.
    n_users, n_items : int
        1,000 shoppers, 716 items (some never clicked).
    """

    user: np.ndarray
    item: np.ndarray
    day: np.ndarray
    session: np.ndarray
    split: np.ndarray
    n_users: int
    n_items: int

    @property
    def cold_items(self) -> np.ndarray:
        """Sorted (C,) int64 ids of the items clicked in the test window but never in training."""
        train = np.unique(self.item[self.split == "train"])
        test = np.unique(self.item[self.split == "test"])
        return np.setdiff1d(test, train).astype(np.int64)


def _check_log(user: np.ndarray, item: np.ndarray, day: np.ndarray) -> None:
    if len(user) == 0:
        raise DataIntegrityError("interactions.tsv has no rows")
    if user.min() < 0 or item.min() < 0 or item.max() >= _N_SHOP_ITEMS:
        raise DataIntegrityError(f"interactions.tsv: item ids must lie in [0, {_N_SHOP_ITEMS})")
    if np.any(np.diff(day) < 0) or not np.all(np.isfinite(day)):
        raise DataIntegrityError("interactions.tsv: days must be finite and in time order")


def load_xmr_shop_interactions() -> ShopInteractions:
    """Load the simulated XMR-Shop click log (chapter 13).

    Returns
    -------
    ShopInteractions
        14,605 clicks of 1,000 users on the 716 XMR-Shop items, with a time-ordered split:
        days 0-150 train, days 150-180 test. The items launched in the test window are the
        cold-start items (:attr:`ShopInteractions.cold_items`).

    Raises
    ------
    DataIntegrityError
        If ``data/xmr_shop_interactions/interactions.tsv`` is missing, altered or inconsistent.
    """
    rows = _read_tsv(asset_path("xmr_shop_interactions", "interactions.tsv"))
    user = np.array([int(r["user"]) for r in rows], dtype=np.int64)
    item = np.array([int(r["item"]) for r in rows], dtype=np.int64)
    day = np.array([float(r["day"]) for r in rows], dtype=np.float64)
    session = np.array([int(r["session"]) for r in rows], dtype=np.int64)
    _check_log(user, item, day)
    split = np.where(day < INTERACTIONS_TEST_START_DAY, "train", "test")
    _readonly(user, item, day, session, split)
    return ShopInteractions(user, item, day, session, split, n_users=int(user.max()) + 1, n_items=_N_SHOP_ITEMS)
