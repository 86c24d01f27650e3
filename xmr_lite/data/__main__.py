"""``python -m xmr_lite.data``: verify every registered file and print the table."""

from __future__ import annotations

import sys

from xmr_lite.data._registry import verify


def main() -> int:
    rows = verify()
    width = max(len(f"{r.asset}/{r.file}") for r in rows)
    for r in rows:
        print(f"{r.asset + '/' + r.file:<{width}}  {r.size:>12,}  {r.status}")
    bad = sum(r.status != "ok" for r in rows)
    print(f"{len(rows) - bad} of {len(rows)} files verified" + (f"; {bad} failed" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
