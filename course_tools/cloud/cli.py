"""``python -m course_tools cloud serve|status|set|faults``: the local cloud from a shell.

``serve`` runs the server in this process (its options: ``serve --help``); the others talk to the
running cloud (the one ``make lab`` or the first notebook started) through :mod:`helpers.cloud`.
Faults are written ``KIND[:name=value,...]``, e.g. ``--fault slowdown:rate=0.5,seed=1``. Bad input
is one line, ``error: ...``, and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import NoReturn

from course_tools.cloud.faults import fault_settings
from helpers.cloud import Cloud, CloudError, Fault, find_cloud

__all__ = ["main"]

PROG = "python -m course_tools cloud"


def _non_negative(text: str) -> float:
    """An argparse ``type``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """User errors are one line, ``error: ...``, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: message`` to stderr and exit with code 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser(
        "serve", add_help=False, help="serve the sample data on 127.0.0.1 until Ctrl-C (see --help)"
    )
    commands.add_parser("status", help="the running cloud's settings and counters")
    setter = commands.add_parser("set", help="change the running cloud's network and faults")
    for name in ("--latency-ms", "--jitter-ms"):
        setter.add_argument(name, type=_non_negative)
    setter.add_argument("--bandwidth-mbps", type=_non_negative, help="0 removes the cap")
    setter.add_argument("--clear-faults", action="store_true", help="remove every fault first")
    setter.add_argument("--remove-fault", action="append", default=[], metavar="NAME")
    setter.add_argument(
        "--fault", action="append", default=[], metavar="KIND[:k=v,...]", help="add a fault"
    )
    commands.add_parser("faults", help="the running cloud's faults and how often each fired")
    return parser


def _set(cloud: Cloud, args: argparse.Namespace) -> None:
    names = ("latency_ms", "jitter_ms", "bandwidth_mbps")
    changes = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if changes.get("bandwidth_mbps") == 0:
        changes["bandwidth_mbps"] = None
    if changes:
        cloud.set_conditions(**changes)
    if args.clear_faults:
        cloud.clear_faults()
    for name in args.remove_fault:
        cloud.remove_fault(name)
    for spec in args.fault:
        cloud.add_fault(**fault_settings(spec))
    print(json.dumps(dataclasses.asdict(cloud.status()), indent=2))


def _describe(fault: Fault) -> str:
    params = " ".join(f"{k}={v}" for k, v in fault.params.items())
    state = "" if fault.active else "  (over)"
    return (
        f"{fault.name:<16} {fault.kind:<13} rate={fault.rate:g} keys={fault.keys} "
        f"seed={fault.seed} {params}  fired {fault.fired} of {fault.seen}{state}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (2 and one line for bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        from course_tools.cloud.__main__ import main as serve

        return serve(argv[1:])
    args = _parser().parse_args(argv)
    try:
        cloud = find_cloud()
        if cloud is None:
            print(f"No local cloud is running (start one: {PROG} serve)", file=sys.stderr)
            return 1
        if args.command == "status":
            print(json.dumps(dataclasses.asdict(cloud.status()), indent=2))
        elif args.command == "set":
            _set(cloud, args)
        else:
            faults = cloud.faults()
            print("\n".join(_describe(f) for f in faults) if faults else "no faults")
        return 0
    except (CloudError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
