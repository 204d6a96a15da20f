"""Command line of the local cloud: ``python -m helpers.cloud {serve,check,status,set,faults} --help``.

Faults are written ``KIND[:name=value,...]``, e.g. ``--fault slowdown:rate=0.5,seed=1,retry_after_s=0``;
kinds: latency_spike, slowdown, reset, truncate, not_found, stall, down (see helpers/cloud/faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import NoReturn

from ..cli import non_negative_arg
from .client import Cloud, CloudError, find_cloud
from .conditions import NetworkConditions, add_condition_arguments
from .faults import Fault, parse_fault_spec

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose user errors are one line, ``error: ...``, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: message`` (and where to find help) to stderr and exit with code 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _fault(spec: str) -> Fault:
    try:
        return parse_fault_spec(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m helpers.cloud", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fault_help = "inject a fault, KIND[:name=value,...] (repeatable)"

    serve = commands.add_parser("serve", help="serve the sample data on 127.0.0.1 until Ctrl-C")
    serve.add_argument(
        "--port", type=int, default=0, help="port of the endpoint (default: any free port)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; others print a warning)",
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
    serve.add_argument("--fault", type=_fault, action="append", default=[], help=fault_help)
    serve.add_argument(
        "--owner-pid",
        type=int,
        default=None,
        metavar="PID",
        help="stop when process PID ends (default: the process that started this command)",
    )

    commands.add_parser(
        "check",
        help="measure latency and throughput of a cloud (= python -m helpers.bench cloud)",
        add_help=False,
    )

    commands.add_parser("status", help="print the running cloud's settings and counters")

    setter = commands.add_parser("set", help="change the running cloud's conditions and faults")
    setter.add_argument("--latency-ms", type=non_negative_arg)
    setter.add_argument("--jitter-ms", type=non_negative_arg)
    setter.add_argument("--bandwidth-mbps", type=non_negative_arg, help="0 removes the cap")
    setter.add_argument(
        "--clear-faults", action="store_true", help="remove every fault (before adding new ones)"
    )
    setter.add_argument(
        "--remove-fault", action="append", default=[], metavar="NAME", help="remove a fault"
    )
    setter.add_argument("--fault", type=_fault, action="append", default=[], help=fault_help)

    commands.add_parser("faults", help="list the running cloud's faults and how often each fired")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .serve import check_port
    from .serve import serve as run_server

    conditions = NetworkConditions(args.latency_ms, args.jitter_ms, args.bandwidth_mbps)
    if args.host not in LOOPBACK_NAMES and not args.host.startswith("127."):
        print(
            f"warning: serving on {args.host}, not 127.0.0.1: other machines that reach this "
            "address can read the data and write to the scratch bucket",
            file=sys.stderr,
        )
    check_port(args.host, args.port)
    data = args.data
    if data is not None and not data.is_dir():
        raise ValueError(f"--data {data}: no such folder (give a folder holding *.zarr stores)")
    if data is None:
        from ..samples import build_samples

        data = build_samples()
    asyncio.run(
        run_server(
            conditions,
            data.resolve(),
            args.port,
            write_state=not args.no_state_file,
            host=args.host,
            faults=args.fault,
            owner=args.owner_pid,
        )
    )
    return 0


def _set(running: Cloud, args: argparse.Namespace) -> None:
    names = ("latency_ms", "jitter_ms", "bandwidth_mbps")
    changes = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if changes.get("bandwidth_mbps") == 0:
        changes["bandwidth_mbps"] = None
    if changes:
        running.set_conditions(**changes)
    if args.clear_faults:
        running.clear_faults()
    for name in args.remove_fault:
        running.remove_fault(name)
    for fault in args.fault:
        running.add_fault(
            fault.kind, fault.name, fault.rate, fault.keys, fault.seed, **fault.params
        )
    print(json.dumps(running.status().as_dict(), indent=2))


def _describe(fault: Fault) -> str:
    params = " ".join(f"{k}={v}" for k, v in fault.params.items())
    state = "" if fault.active else "  (over)"
    return (
        f"{fault.name:<16} {fault.kind:<13} rate={fault.rate:g} keys={fault.keys} "
        f"seed={fault.seed} {params}  fired {fault.fired} of {fault.seen}{state}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m helpers.cloud``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:  # the same command as python -m helpers.bench cloud
        from ..bench.cloud import main as check_main

        return check_main(argv[1:], prog="python -m helpers.cloud check")
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
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
            _set(running, args)
        elif args.command == "faults":
            faults = running.faults()
            print("\n".join(_describe(f) for f in faults) if faults else "no faults")
        return 0
    except (CloudError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
