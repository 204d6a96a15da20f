"""``python -m course_tools bench [download|browse|segment|cloud|formats|shards] ...``: every benchmark of the course.

Without a sub-command (or when the first argument is a flag) it runs ``download``: time the fetch
strategies against the latency model and print a table. The other sub-commands load their module
only when asked for.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from course_tools.bench.array import CHUNK_BYTES, bench_target
from course_tools.bench.download import (
    DEFAULT_CONCURRENCIES,
    check_targets,
    format_checks,
    format_table,
    run_benchmark,
)
from course_tools.bench.strategies import STRATEGIES
from course_tools.bench.targets import DOWNLOAD_CONDITIONS
from course_tools.cli import concurrency_list_arg, non_negative_arg, positive_arg

__all__ = ["COMMANDS", "download_main", "main", "parser"]

COMMANDS = {
    "download": "fetch N chunks with each strategy at each concurrency (the default)",
    "browse": "a scripted tour of views in the viewer",
    "segment": "distributed segmentation on a Dask cluster",
    "cloud": "latency and throughput of the local cloud (= python -m course_tools bench cloud)",
    "formats": "OME-Zarr vs tiled TIFF vs HDF5, one random tile per read (the OME-NGFF paper's test)",
    "shards": "views of a sharded image and its unsharded copy: index reads, byte ranges, round trips",
}
"""The sub-commands and what they measure; each but ``download`` is ``course_tools.bench.<name>.main``."""


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    """The command line of ``download``, whose help also lists the sub-commands.

    Returns
    -------
    argparse.ArgumentParser
        Flags ``--endpoint --latency-ms --bandwidth-mbps --chunks --concurrency --repeats
        --strategies --min-time --json --plot --strict``.
    """
    commands = "\n".join(f"  {name:<18s} {what}" for name, what in COMMANDS.items())
    strategies = "\n".join(
        f"  {s.name:<18s} ({s.role}) {s.description}" for s in STRATEGIES.values()
    )
    p = argparse.ArgumentParser(
        prog="python -m course_tools bench [download]",
        description=(
            f"Fetch N chunks of {CHUNK_BYTES} bytes with each strategy at each concurrency and compare "
            "with the model ceil(N/C) x latency (+ bytes/bandwidth when capped). Without --endpoint a "
            "private local cloud is started. At the defaults it takes about 4 minutes."
        ),
        epilog=(
            f"sub-commands (python -m course_tools bench COMMAND --help):\n{commands}\n\n"
            f"strategies:\n{strategies}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--endpoint", help="a running course cloud (default: start a private one)")
    p.add_argument(
        "--latency-ms",
        type=non_negative_arg,
        default=None,
        help="latency for the run (default 100 on a private cloud; an --endpoint cloud keeps its own)",
    )
    p.add_argument(
        "--bandwidth-mbps",
        type=non_negative_arg,
        default=None,
        help="bandwidth cap in Mbit/s (0: none)",
    )
    p.add_argument("--chunks", type=positive_arg, default=64, help="number of chunks (default 64)")
    p.add_argument(
        "--concurrency",
        type=concurrency_list_arg,
        default=list(DEFAULT_CONCURRENCIES),
        help="comma-separated concurrencies, each 1 to 1024 (default 1,4,16,64)",
    )
    p.add_argument(
        "--repeats",
        type=positive_arg,
        default=3,
        help="runs per measurement; the median is kept (default 3)",
    )
    p.add_argument(
        "--strategies",
        type=_names,
        default=list(STRATEGIES),
        help="comma-separated subset of the strategies below (default: all)",
    )
    p.add_argument(
        "--min-time",
        type=non_negative_arg,
        default=2.0,
        help="repeat quick measurements until each strategy ran this many seconds (default 2)",
    )
    p.add_argument("--json", type=Path, help="write the records as a JSON list to this file")
    p.add_argument("--plot", type=Path, help="save the plot to this image file (e.g. bench.png)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 1 when a speed target is missed even at other conditions than the "
        "targets' (at the targets' conditions a miss always exits with 1)",
    )
    return p


def download_main(argv: list[str] | None = None) -> int:
    """``python -m course_tools bench [download]``: run the download benchmark and print the table.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line).

    Returns
    -------
    int
        0; 1 when a speed target is missed at the targets' conditions (or at any, with
        ``--strict``); 2 on an error (bad arguments exit
        with 2 through ``SystemExit``).
    """
    args = parser().parse_args(argv)  # numbers are checked here (see course_tools.cli)
    try:
        with bench_target(
            args.endpoint, args.chunks, args.latency_ms, args.bandwidth_mbps, progress=print
        ) as target:
            records = run_benchmark(
                target,
                args.strategies,
                args.concurrency,
                args.repeats,
                args.min_time,
                progress=print,
            )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print()
    print(format_table(records))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in records], indent=2))
        print(f"\nrecords written to {args.json}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from course_tools.bench.plot import plot_benchmark

        plot_benchmark(records).savefig(args.plot, dpi=120)
        print(f"plot saved to {args.plot}")
    first = records[0]
    conditions = {
        "chunks": first.chunks,
        "latency_ms": first.latency_ms,
        "bandwidth_mbps": first.bandwidth_mbps,
    }
    checks = check_targets(records)
    print()
    if conditions != DOWNLOAD_CONDITIONS:
        print(f"(speed targets apply at {DOWNLOAD_CONDITIONS}; this run: {conditions})")
    print("Speed targets:" if checks else "No speed target applies to this run.")
    print(format_checks(checks))
    missed = not all(c.met for c in checks)
    # At the target conditions a missed target fails the run; --strict fails it at any conditions.
    return 1 if missed and (args.strict or conditions == DOWNLOAD_CONDITIONS) else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m course_tools bench [COMMAND] ...``: run one benchmark.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line). A first argument that names a sub-command
        selects it; anything else (no argument, or a flag first) runs ``download``.

    Returns
    -------
    int
        The sub-command's exit code (2 for an unknown sub-command).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-"):
        return download_main(argv)
    command, rest = argv[0], argv[1:]
    if command == "download":
        return download_main(rest)
    if command not in COMMANDS:
        print(
            f"python -m course_tools bench: error: unknown sub-command {command!r}; "
            f"choose from {', '.join(COMMANDS)} (see --help)",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f"{__package__}.{command}")  # loaded only when asked for
    return int(module.main(rest))
