"""Rebuild the text corpora: copies of two files from gensim's bundled test data.

Run from the repository root::

    python data/text/build.py        # writes data/text/ and updates data/SHA256SUMS

What it writes (byte-for-byte copies)
-------------------------------------
lee_background.cor
    The Lee background corpus: 300 short news articles, one per line, plain ASCII, used to
    train word vectors. From Lee, Pincombe and Welsh (2005).
wordsim353.tsv
    WordSim353: 353 English word pairs with the mean of human similarity ratings (0 to 10),
    tab-separated after two comment lines. From Finkelstein et al. (2002).

They are frozen here so that the book does not depend on where a gensim version keeps its
test data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _buildlib import update_sha256sums, versions, write_json

HERE = Path(__file__).resolve().parent
FILES = ("lee_background.cor", "wordsim353.tsv")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    from gensim.test.utils import datapath

    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        shutil.copyfile(datapath(name), args.out / name)
        written.append(args.out / name)
    write_json(args.out / "build_info.json", {"source": "gensim.test.utils.datapath", "versions": versions("gensim")})
    if args.out.resolve() == HERE:
        update_sha256sums(written)


if __name__ == "__main__":
    main()
