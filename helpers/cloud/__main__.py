"""Command line of the local cloud: ``python -m helpers.cloud {serve,check,status,set} --help``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .client import CloudError, find_cloud
from .conditions import NetworkConditions, add_condition_arguments


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m helpers.cloud``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:  # the same command as python -m helpers.bench cloud
        from ..bench.cloud import main as check_main

        return check_main(argv[1:], prog="python -m helpers.cloud check")
    parser = argparse.ArgumentParser(prog="python -m helpers.cloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the sample data on 127.0.0.1 until Ctrl-C")
    serve.add_argument(
        "--port", type=int, default=0, help="port of the endpoint (default: any free port)"
    )
    add_condition_arguments(serve)
    serve.add_argument(
        "--data",
        type=Path,
        default=None,
        help="serve the *.zarr stores under DIR instead of the samples",
    )
    serve.add_argument(
        "--no-state-file",
        action="store_true",
        help="do not record this cloud for notebooks to find",
    )

    commands.add_parser(
        "check",
        help="measure latency and throughput of a cloud (= python -m helpers.bench cloud)",
        add_help=False,
    )

    commands.add_parser("status", help="print the running cloud's settings and counters")

    setter = commands.add_parser("set", help="change the running cloud's conditions")
    setter.add_argument("--latency-ms", type=float)
    setter.add_argument("--jitter-ms", type=float)
    setter.add_argument("--bandwidth-mbps", type=float, help="0 removes the cap")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            conditions = NetworkConditions(args.latency_ms, args.jitter_ms, args.bandwidth_mbps)
            data = args.data
            if data is None:
                from ..samples import build_samples

                data = build_samples()
            elif not data.is_dir():
                parser.error(f"--data {data}: no such folder")
            from .serve import serve as run_server

            asyncio.run(
                run_server(
                    conditions, data.resolve(), args.port, write_state=not args.no_state_file
                )
            )
            return 0
        running = find_cloud()
        if running is None:
            print(
                "No local cloud is running (start one with: python -m helpers.cloud serve)",
                file=sys.stderr,
            )
            return 1
        if args.command == "status":
            print(json.dumps(running.status().as_dict(), indent=2))
        elif args.command == "set":
            changes = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
            if changes.get("bandwidth_mbps") == 0:
                changes["bandwidth_mbps"] = None
            print(json.dumps(running.set_conditions(**changes).as_dict(), indent=2))
        return 0
    except (CloudError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
