"""``python -m helpers.browse --bench``: benchmark the browser's reads (see :mod:`.bench`)."""

from __future__ import annotations

import argparse
import sys

from .bench import run_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.browse",
        description=(
            "Multiscale browsing helpers. --bench reads a scripted tour of views (overview, zoom, "
            "pans, revisits) and checks that each fetches exactly the chunks it needs, revisits "
            "cost 0 requests and every view takes <= 2 x latency + 150 ms."
        ),
    )
    parser.add_argument("--bench", action="store_true", help="run the benchmark tour")
    parser.add_argument(
        "--endpoint",
        help="use the cloud at this endpoint (default: start a private one; its latency is used)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="latency of the private cloud (default 100)"
    )
    parser.add_argument("--screen", type=int, default=512, help="view size in pixels (default 512)")
    parser.add_argument("--dataset", default="tissue", help="catalog dataset (default tissue)")
    args = parser.parse_args(argv)
    if not args.bench:
        parser.print_help()
        return 2
    if args.latency_ms < 0 or args.screen < 16:
        parser.error("--latency-ms must be >= 0 and --screen >= 16")
    ok = run_bench(args.endpoint, args.latency_ms, args.screen, args.dataset)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
