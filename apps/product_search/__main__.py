"""``python -m apps.product_search [--host H] [--port P] [--dir D]``: build the index if missing, then serve."""

from __future__ import annotations

import argparse
import os

from apps.product_search import engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dir", default=os.environ.get("XMR_SHOP_INDEX", str(engine.DEFAULT_DIR)))
    parser.add_argument("--uri", default=os.environ.get("XMR_MILVUS_URI"), help="a Milvus server's URI")
    parser.add_argument("--build-only", action="store_true", help="build the index and exit")
    args = parser.parse_args()
    if args.build_only or not engine.is_built(args.dir):
        print(f"Building the product index in {args.dir} (about a minute) ...", flush=True)
        engine.build(args.dir, args.uri)
    if args.build_only:
        return
    import uvicorn

    from apps.product_search.service import create_app

    app = create_app(args.dir, args.uri)
    print(f"XMR-Shop product search: http://{args.host}:{args.port}/  (Ctrl+C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
