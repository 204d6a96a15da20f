"""``python -m course_tools faults [--json FILE]``: every fault of the local cloud against every read path.

Prints the settings, one line per cell as it finishes, the table fault x path -> outcome and the
targets (MET / MISSED). Exit code 0 when every target is met, 1 when one is missed, 2 on a user
error (a bad option).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from course_tools.cli import non_negative_arg, positive_arg, positive_number_arg
from course_tools.faults.cases import SuiteSettings, fault_cases
from course_tools.faults.readers import PATH_NAMES
from course_tools.faults.report import (
    check_targets,
    format_cell,
    format_checks,
    format_faults,
    format_matrix,
    json_rows,
)
from course_tools.faults.suite import OUTCOMES, Cell, run_suite

__all__ = ["main", "parser"]


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parser() -> argparse.ArgumentParser:
    """The command line.

    Returns
    -------
    argparse.ArgumentParser
        Flags ``--json --faults --paths --deadline-s --attempt-timeout-s --attempts --latency-ms
        --quiet``.
    """
    defaults = SuiteSettings()
    faults = "\n".join(
        f"  {c.name:<14s} {'transient' if c.transient else 'permanent'}: {c.what}"
        for c in fault_cases(defaults)
    )
    epilog = (
        f"faults (rows):\n{faults}\n\nread paths (columns): {', '.join(PATH_NAMES)}\n"
        "  sequential/threads/async: the fetch helpers over the chunks' http:// URLs;\n"
        "  zarr s3/zarr http: helpers.open_image(strict=True) over s3:// and over http://\n\n"
        f"outcomes: {', '.join(OUTCOMES)}\n"
        "  recovered = byte-identical to the fault-free read; clear error = one line naming the\n"
        "  chunk, the fault and the attempts; hang = not finished after deadline + slack.\n"
        "targets (course_tools/bench/targets.py): 0 hangs, 0 wrong data, every transient fault\n"
        "recovered, every permanent fault a clear error, every fault struck at least once.\n"
        "Runs on a private local cloud (its own port), never on the shared one."
    )
    p = argparse.ArgumentParser(
        prog="python -m course_tools faults",
        description="Run every fault kind of the local cloud against every read path of the\n"
        "course: nothing may hang or return wrong data, transient faults must be recovered\n"
        "(byte-identical) and permanent ones must end in one clear error.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write one row per cell as JSON")
    p.add_argument("--faults", type=_names, help="comma-separated faults to run (default: all)")
    p.add_argument("--paths", type=_names, help="comma-separated read paths (default: all)")
    p.add_argument(
        "--deadline-s",
        type=positive_number_arg,
        default=defaults.deadline_s,
        help="deadline per chunk, all attempts included (default %(default)s)",
    )
    p.add_argument(
        "--attempt-timeout-s",
        type=positive_number_arg,
        default=defaults.attempt_timeout_s,
        help="longest time of one attempt (default %(default)s)",
    )
    p.add_argument(
        "--attempts",
        type=positive_arg,
        default=defaults.attempts,
        help="attempts per chunk (default %(default)s)",
    )
    p.add_argument(
        "--latency-ms",
        type=non_negative_arg,
        default=defaults.latency_ms,
        help="latency of the private cloud (default %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="print no line per cell")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the table and the targets.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line).

    Returns
    -------
    int
        0 when every target is met, 1 when one is missed.
    """
    args = parser().parse_args(argv)
    settings = SuiteSettings(
        deadline_s=args.deadline_s,
        attempt_timeout_s=args.attempt_timeout_s,
        attempts=args.attempts,
        latency_ms=args.latency_ms,
    )
    print(f"fault suite: {settings.describe()}", flush=True)

    def progress(cell: Cell) -> None:
        if not args.quiet:
            print(f"  {cell.fault:<14s} x {cell.path:<10s} {format_cell(cell)}", flush=True)

    result = run_suite(settings, args.faults, args.paths, on_cell=progress)
    print(f"\nfaults:\n{format_faults(result)}\n")
    print(format_matrix(result))
    checks = check_targets(result)
    print(f"\n{format_checks(checks)}")
    print(f"{len(result.cells)} cells in {result.wall_s:.1f} s")
    for cell in result.cells:
        if not cell.ok:
            print(f"  {cell.fault} x {cell.path}: {cell.outcome}: {cell.message}")
    if args.json is not None:
        args.json.write_text(json.dumps(json_rows(result), indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(check.met for check in checks) else 1
