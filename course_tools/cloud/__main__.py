"""The local cloud's server process: ``python -m course_tools.cloud [--port P] [--data DIR] ...``.

Learners type ``python -m course_tools cloud serve`` (same options), which becomes this process; notebooks
start it through :func:`helpers.cloud.ensure_cloud` (the tools through
:func:`course_tools.cloud.launch.start_cloud`). It prints ``ENDPOINT``, ``BUCKET``, ``SCRATCH``, ``PRIVATE``,
``SERVING`` and ``READY`` lines, then serves until Ctrl-C, SIGTERM, or the end of the process it
belongs to (``--owner-pid``, default: the one that started it).

Faults are written ``KIND[:name=value,...]``, e.g. ``--fault slowdown:rate=0.5,seed=1,retry_after_s=0``
(kinds: latency_spike, slowdown, reset, truncate, not_found, stall, down; see ``faults.py``). Bad input
is one line, ``error: ...``, and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NoReturn

from course_tools.cloud.conditions import NetworkConditions, add_condition_arguments
from course_tools.cloud.faults import ActiveFault, parse_fault_spec
from course_tools.cloud.serve import check_port, serve
from helpers.cloud import data_dir

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose user errors are one line, ``error: ...``, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: message`` (and where to find help) to stderr and exit with code 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _fault(spec: str) -> ActiveFault:
    try:
        return parse_fault_spec(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m course_tools cloud serve",
        description="Serve the sample data as an S3 endpoint on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; others print a warning)",
    )
    add_condition_arguments(parser)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="serve the files under DIR (default: the sample data, data/samples)",
    )
    parser.add_argument(
        "--no-state-file", action="store_true", help="do not record this cloud for notebooks"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        help="inject a fault, KIND[:name=value,...] (repeatable)",
    )
    parser.add_argument(
        "--owner-pid",
        type=int,
        default=None,
        metavar="PID",
        help="stop when process PID ends (default: the process that started this command)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.host not in LOOPBACK_NAMES and not args.host.startswith("127."):
        print(
            f"warning: serving on {args.host}, not 127.0.0.1: other machines that reach this "
            "address can read the data and write to the scratch bucket",
            file=sys.stderr,
        )
    try:
        check_port(args.host, args.port)
        data = args.data if args.data is not None else data_dir() / "samples"
        if not data.is_dir():
            raise ValueError(
                f"--data {data}: no such folder"
                + (" (build the samples first: make data)" if args.data is None else "")
            )
        conditions = NetworkConditions(args.latency_ms, args.jitter_ms, args.bandwidth_mbps)
        asyncio.run(
            serve(
                conditions,
                data.resolve(),
                args.port,
                write_state=not args.no_state_file,
                host=args.host,
                faults=args.fault,
                owner=args.owner_pid,
            )
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
