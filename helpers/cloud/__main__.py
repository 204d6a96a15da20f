"""Command line of the local cloud: ``python -m helpers.cloud {serve,check,status,set} --help``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ..paths import samples_dir
from .client import SCRATCH_BUCKET, CloudError, cloud_status, find_cloud, start_cloud
from .conditions import NetworkConditions


def _conditions_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="per-request latency (default 100)"
    )
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="latency varies by +/- this (default 0)"
    )
    parser.add_argument(
        "--bandwidth-mbps",
        type=float,
        default=None,
        help="shared bandwidth cap in Mbit/s (default: none)",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m helpers.cloud``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m helpers.cloud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the sample data on 127.0.0.1 until Ctrl-C")
    serve.add_argument(
        "--port", type=int, default=0, help="port of the endpoint (default: any free port)"
    )
    _conditions_args(serve)
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

    check = commands.add_parser("check", help="measure latency and throughput of a cloud")
    check.add_argument(
        "--endpoint", default=None, help="cloud to measure (default: start a fresh one)"
    )
    _conditions_args(check)
    check.add_argument("--repeats", type=int, default=5)

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
        if args.command == "check":
            if args.endpoint:
                latency = cloud_status(args.endpoint)["latency_ms"]
                ok = _check(args.endpoint, latency, args.repeats)
            else:
                with start_cloud(
                    args.latency_ms, args.jitter_ms, args.bandwidth_mbps, data=_empty_dir()
                ) as fresh:
                    ok = _check(fresh.endpoint, args.latency_ms, args.repeats)
            return 0 if ok else 1
        running = find_cloud()
        if running is None:
            print(
                "No local cloud is running (start one with: python -m helpers.cloud serve)",
                file=sys.stderr,
            )
            return 1
        if args.command == "status":
            print(json.dumps(running.status(), indent=2))
        elif args.command == "set":
            changes = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
            if changes.get("bandwidth_mbps") == 0:
                changes["bandwidth_mbps"] = None
            print(json.dumps(running.set_conditions(**changes), indent=2))
        return 0
    except (CloudError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _check(endpoint: str, latency_ms: float, repeats: int) -> bool:
    from ..bench.cloud import run_check  # the check lives with the other benchmarks

    return run_check(endpoint, SCRATCH_BUCKET, latency_ms, repeats)


def _empty_dir() -> Path:
    """An empty data folder: ``check`` needs no sample data, so it starts in well under a second."""
    folder = samples_dir().parent / "empty"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


if __name__ == "__main__":
    sys.exit(main())
