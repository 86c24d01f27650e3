"""Simulate XMR-Shop's interaction log: which shopper clicked which item, and when.

Run from the repository root (a few seconds; reads only ``data/xmr_shop``)::

    python data/xmr_shop_interactions/build.py   # writes interactions.tsv, build_info.json

then copy the printed digest into the registry in ``xmr_lite/data/_interactions.py`` and
into ``data/SHA256SUMS``.

Why simulated
-------------
No redistributable interaction log fits the catalogue. The registries hold MovieLens
*API clients* (they call a web service; the MovieLens licence forbids redistributing the
ratings) and generators of fake click streams, but no log of users over items that have
pictures, names and sounds. So the log is drawn from a documented generative model over the
XMR-Shop items, and chapter 13 says so.

The generative model (every constant is in ``PARAMS``)
--------------------------------------------------------
Items. Item ``i`` has its subgroup ``s_i`` (42), its synthetic popularity ``p_i``
(lognormal, from ``items.tsv``) and a colour: the mean hue ``c_i`` (a unit 2-vector) and
saturation ``σ_i`` of the non-white pixels of its catalogue picture. A share of every
subgroup are *new arrivals*, launched on the first day of the test window; the rest are on
sale from day 0.

Users. User ``u`` has a taste over subgroups ``θ_u ~ Dirichlet(α·1)`` (small α: a few
favourite subgroups), a favourite hue ``h_u`` (uniform on the circle) held with strength
``κ_u ~ Exponential`` (some shoppers care about colour, most a little), and an activity
``λ_u ~ LogNormal`` (a long tail of heavy users).

Clicks. The appeal of item ``i`` to user ``u`` is
``log θ_u[s_i] + κ_u σ_i (h_u · c_i) + β (log(1 + p_i) − its mean)``: taste, colour and a shared
popularity that gives the catalogue its head and long tail. User ``u`` has ``1 + Poisson(λ_u)``
sessions on days drawn uniformly over the log's span; a session has ``1 + Poisson(μ)``
clicks, each drawn from the softmax of the appeal over the items on sale that the user has
not clicked yet, with a bonus ``γ`` for the subgroup of the session's first click (a session
stays on one kind of thing). Clicks in a session are a minute apart.

What it writes
--------------
interactions.tsv
    One row per click, in time order: ``user``, ``item`` (row of XMR-Shop), ``day`` (float,
    days since the start of the log), ``session`` (a global session id).
build_info.json
    The parameters, seed and versions.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

PARAMS = {
    "seed": 20261313,
    "n_users": 1000,
    "days": 180.0,
    "test_start_day": 150.0,
    "new_arrival_share": 0.15,
    "taste_alpha": 0.15,
    "colour_strength_mean": 1.5,
    "popularity_beta": 0.8,
    "activity_median": 3.0,
    "activity_sigma": 0.7,
    "session_extra_clicks": 2.0,
    "session_subgroup_bonus": 2.0,
    "white_threshold": 240,
}


def item_colours(catalogue: np.ndarray, white: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean hue (as a unit 2-vector) and saturation of the non-white pixels of each picture."""
    rgb = catalogue.astype(np.float64) / 255.0  # (N, 64, 64, 3)
    hues, sats = [], []
    for picture, raw in zip(rgb, catalogue, strict=True):
        ink = picture[(raw < white).any(-1)]
        if len(ink) == 0:
            ink = picture.reshape(-1, 3)
        r, g, b = ink.mean(0)
        # hue as an angle: the chroma plane of the RGB cube
        x = r - (g + b) / 2
        y = np.sqrt(3) / 2 * (g - b)
        chroma = np.hypot(x, y)
        hues.append((x / chroma, y / chroma) if chroma > 1e-9 else (1.0, 0.0))
        sats.append(min(1.0, chroma / max(r, g, b, 1e-9)))
    return np.array(hues), np.array(sats)


def launch_days(subgroups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Day each item goes on sale: 0, or the test window's first day for the new arrivals."""
    launch = np.zeros(len(subgroups))
    for s in np.unique(subgroups):
        members = np.flatnonzero(subgroups == s)
        n_new = round(PARAMS["new_arrival_share"] * len(members))
        launch[rng.choice(members, size=n_new, replace=False)] = PARAMS["test_start_day"]
    return launch


def simulate(items: list[dict[str, str]], catalogue: np.ndarray) -> list[tuple[int, int, float, int]]:
    """Draw the click log: a list of (user, item, day, session), in time order."""
    rng = np.random.default_rng(PARAMS["seed"])
    subgroups = np.array([r["category"] for r in items])
    subgroup_ids = np.unique(subgroups, return_inverse=True)[1]
    log_pop = np.log1p(np.array([float(r["synthetic_popularity"]) for r in items]))
    hue, sat = item_colours(catalogue, PARAMS["white_threshold"])
    launch = launch_days(subgroups, rng)
    n_items, n_sub = len(items), int(subgroup_ids.max()) + 1

    rows = []
    session = 0
    for u in range(PARAMS["n_users"]):
        taste = rng.dirichlet(np.full(n_sub, PARAMS["taste_alpha"])) + 1e-6
        angle = rng.uniform(0, 2 * np.pi)
        favourite = np.array([np.cos(angle), np.sin(angle)])
        strength = rng.exponential(PARAMS["colour_strength_mean"])
        appeal = (
            np.log(taste[subgroup_ids])
            + strength * sat * (hue @ favourite)
            + PARAMS["popularity_beta"] * (log_pop - log_pop.mean())
        )
        activity = rng.lognormal(np.log(PARAMS["activity_median"]), PARAMS["activity_sigma"])
        days = np.sort(rng.uniform(0, PARAMS["days"], size=1 + rng.poisson(activity)))
        seen = np.zeros(n_items, dtype=bool)
        for day in days:
            first_subgroup = -1
            for click in range(1 + rng.poisson(PARAMS["session_extra_clicks"])):
                logits = appeal + PARAMS["session_subgroup_bonus"] * (subgroup_ids == first_subgroup)
                allowed = (launch <= day) & ~seen
                if not allowed.any():
                    break
                logits = np.where(allowed, logits, -np.inf)
                p = np.exp(logits - logits.max())
                item = int(rng.choice(n_items, p=p / p.sum()))
                seen[item] = True
                if click == 0:
                    first_subgroup = subgroup_ids[item]
                rows.append((u, item, float(day) + click / (24 * 60), session))
            session += 1
    rows.sort(key=lambda r: (r[2], r[0]))
    return rows


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from xmr_lite.data import load_xmr_shop  # checks the catalogue's digests first

    shop = load_xmr_shop()
    items = [
        {"category": c, "synthetic_popularity": str(p)}
        for c, p in zip(shop.categories, shop.synthetic_popularity, strict=True)
    ]
    rows = simulate(items, shop.catalogue)
    lines = ["user\titem\tday\tsession"] + [f"{u}\t{i}\t{d:.6f}\t{s}" for u, i, d, s in rows]
    out = HERE / "interactions.tsv"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = {
        "params": PARAMS,
        "n_interactions": len(rows),
        "versions": {"numpy": np.__version__, "python": platform.python_version()},
    }
    (HERE / "build_info.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{digest}  xmr_shop_interactions/interactions.tsv  ({out.stat().st_size} bytes, {len(rows)} clicks)")


if __name__ == "__main__":
    main()
