"""Exact search in torch against faiss's flat indexes, on the same data, in one run.

Usage::

    python benchmarks/search.py [--n 100000] [--dim 128] [--queries 1000] [--k 10]

Prints queries per second for ``ExactIndex`` and ``faiss.IndexFlatIP`` / ``IndexFlatL2``,
their ratio, and checks that both return the same ids.
"""

from __future__ import annotations

import argparse

import faiss
import numpy as np
from _timing import best_of

import xmr_lite as xmr
from xmr_lite.search import ExactIndex


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    device = xmr.get_device()
    print(f"gallery {gallery.shape}, queries {queries.shape}, k={args.k}, torch on {device}")
    print(f"faiss {faiss.__version__} with {faiss.omp_get_max_threads()} threads")
    print(f"{'metric':<6} {'ExactIndex q/s':>15} {'faiss q/s':>12} {'exact/faiss':>12} {'same ids':>9}")
    all_same = True
    for metric, flat in [("dot", faiss.IndexFlatIP(args.dim)), ("sqeuclidean", faiss.IndexFlatL2(args.dim))]:
        exact = ExactIndex(args.dim, metric, device=device)
        exact.add(gallery)
        flat.add(gallery)
        exact.search(queries[:10], args.k)  # warm up
        t_exact, (_, ids_exact) = best_of(args.repeats, lambda: exact.search(queries, args.k))  # noqa: B023
        t_faiss, (_, ids_faiss) = best_of(args.repeats, lambda: flat.search(queries, args.k))  # noqa: B023
        same = np.array_equal(ids_exact, ids_faiss)
        all_same &= same
        qps_exact, qps_faiss = args.queries / t_exact, args.queries / t_faiss
        print(f"{metric:<6} {qps_exact:15.0f} {qps_faiss:12.0f} {qps_exact / qps_faiss:12.2f} {same!s:>9}")
    return 0 if all_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
