"""``python -m course_tools bench formats``: OME-Zarr, tiled TIFF and HDF5 read one tile at a time (issue 11).

Reproduces the OME-NGFF paper's latency benchmark (Moore et al. 2021; :mod:`course_tools.formats`) against
the local cloud: one random tile per timed read, the reader reopened for every read, ``--rounds``
reads one after another, the median; from the local files and from the cloud at each
``--latency-ms``. The cloud counts the requests and bytes each read costs. The table sets our medians
beside the paper's, the ratios TIFF/Zarr and HDF5/Zarr beside theirs, and the cost of downloading
each whole file first at a stated bandwidth; then the targets (:mod:`course_tools.bench.targets`) are
checked. Without ``--endpoint`` a private cloud serves the files (its latency changes disturb nobody).

Examples
--------
>>> from course_tools.bench.formats import main
>>> main(["--quick", "--latency-ms", "10", "--json", "rows.json"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from course_tools.bench.download import TargetCheck, format_checks
from course_tools.bench.targets import (
    FORMATS_CHECKED_LATENCIES_MS,
    FORMATS_LOCAL_ORDER,
    FORMATS_MODEL_TOLERANCE,
    FORMATS_ORDER,
)
from course_tools.cli import positive_arg, positive_number_arg
from course_tools.formats import (
    FORMATS,
    FULL,
    SMALL,
    FormatsRun,
    ReadFigure,
    build_formats,
    check_formats,
    check_latencies,
    download_estimates,
    format_downloads,
    format_figures,
    format_ratios,
    measure_formats,
    ratios,
    serve_formats,
)
from course_tools.formats.paper import PAPER

__all__ = [
    "PROG",
    "check_format_targets",
    "latency_list_arg",
    "main",
    "order_miss_reason",
    "parser",
]

PROG = "python -m course_tools bench formats"
DEFAULT_ROUNDS = 100
"""Reads per format and condition, as in the paper."""
QUICK_ROUNDS = 3
"""Reads per format and condition with ``--quick`` (unless ``--rounds`` says otherwise)."""
DOWNLOAD_MBPS = 100.0
"""The stated link for "download the whole file first": 100 Mbit/s."""


def latency_list_arg(text: str) -> list[float]:
    """An argparse ``type``: comma-separated latencies in ms, each from 0 to 10,000.

    Examples
    --------
    >>> latency_list_arg("0,10,100")
    [0.0, 10.0, 100.0]
    """
    values: list[object] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(float(part))
        except ValueError:
            values.append(part)
    try:
        return list(check_latencies(values))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err} (e.g. 0,10,100)") from None


def _format_list(text: str) -> list[str]:
    try:
        return list(check_formats([p.strip() for p in text.split(",") if p.strip()]))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser() -> argparse.ArgumentParser:
    """The command line of ``formats``.

    Returns
    -------
    argparse.ArgumentParser
        Flags ``--latency-ms --rounds --formats --endpoint --quick --download-mbps --json --plot``.
    """
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Read random tiles of the same image stored as OME-Zarr, tiled OME-TIFF and HDF5 (plus a "
            "one-byte object), locally and from the local cloud at each latency, the OME-NGFF paper's "
            f"way; count requests and bytes per read; compare with the paper ({PAPER}). The full run "
            f"({FULL.n_tiles} tiles of {FULL.tile} x {FULL.tile}, {DEFAULT_ROUNDS} rounds) takes about "
            "5 minutes on 2 cores; the first run also builds the files (~10 s)."
        ),
    )
    p.add_argument(
        "--latency-ms",
        type=latency_list_arg,
        default=[0.0, 10.0, 100.0],
        help="comma-separated latencies to inject, in ms (default 0,10,100)",
    )
    p.add_argument(
        "--rounds",
        type=positive_arg,
        default=None,
        help=f"random tiles read per format and condition (default {DEFAULT_ROUNDS}, "
        f"{QUICK_ROUNDS} with --quick)",
    )
    p.add_argument(
        "--formats",
        type=_format_list,
        default=list(FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )
    p.add_argument(
        "--endpoint",
        help="a running course cloud: upload the files to its scratch bucket (the first time takes "
        "~40 s) and change its latency for the run (restored after); default: a private cloud",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a tiny image ({SMALL.n_tiles} tiles) and {QUICK_ROUNDS} rounds: checks that everything "
        "runs (for tests); its numbers are not the benchmark's and no target applies",
    )
    p.add_argument(
        "--download-mbps",
        type=positive_number_arg,
        default=DOWNLOAD_MBPS,
        help=f"stated bandwidth for 'download the whole file first' (default {DOWNLOAD_MBPS:g} Mbit/s)",
    )
    p.add_argument("--json", type=Path, help="write one JSON row per format, source and latency")
    p.add_argument(
        "--plot", type=Path, help="save the figure to this image file (e.g. formats.png)"
    )
    return p


def order_miss_reason(figures: Sequence[ReadFigure]) -> str:
    """One line on why the medians of ``figures`` (fastest expected first) are out of order.

    The model explains each median by its requests and bytes, so the line names the pair out of order
    with what each read of theirs cost.

    Examples
    --------
    >>> a = ReadFigure("tiff", "cloud", 10.0, 3, 170.0, 7.5, 34.4e6)
    >>> b = ReadFigure("hdf5", "cloud", 10.0, 3, 47.0, 2.1, 10.8e6)
    >>> print(order_miss_reason([a, b]))  # doctest: +ELLIPSIS
    missed: tiff needs 7.5 requests and 34.4 MB per read, hdf5 2.1 and 10.8 MB (the files' layouts, ...)
    """
    for fast, slow in zip(figures, figures[1:], strict=False):
        if fast.median_ms >= slow.median_ms:
            return (
                f"missed: {fast.format} needs {fast.requests_per_read or 0:.1f} requests and "
                f"{(fast.bytes_per_read or 0) / 1e6:.1f} MB per read, {slow.format} "
                f"{slow.requests_per_read or 0:.1f} and {(slow.bytes_per_read or 0) / 1e6:.1f} MB "
                "(the files' layouts, not their formats, set these counts)"
            )
    return ""


def _order_check(run: FormatsRun, latency: float) -> TargetCheck | None:
    figures = [run.figure(fmt, "cloud", latency) for fmt in FORMATS_ORDER]
    found = [f for f in figures if f is not None]
    if len(found) < len(figures):
        return None
    measured = ", ".join(f"{f.format} {f.median_ms:.1f} ms" for f in found)
    met = all(a.median_ms < b.median_ms for a, b in zip(found, found[1:], strict=False))
    if not met:
        measured += f"; {order_miss_reason(found)}"
    return TargetCheck(f"cloud {latency:g} ms: {' < '.join(FORMATS_ORDER)}", measured, met)


def check_format_targets(run: FormatsRun) -> list[TargetCheck]:
    """The formats targets that this run measured (see :mod:`course_tools.bench.targets`).

    Parameters
    ----------
    run : FormatsRun
        What :func:`course_tools.formats.measure_formats` returned.

    Returns
    -------
    list of TargetCheck
        At 10 and 100 ms: the order Zarr < TIFF < HDF5 and each format within 25 % of its model;
        from the local disk: HDF5 faster than TIFF.
    """
    checks = []
    for latency in FORMATS_CHECKED_LATENCIES_MS:
        if latency not in run.latencies:
            continue
        order = _order_check(run, latency)
        if order is not None:
            checks.append(order)
        for fmt in FORMATS_ORDER:
            fig = run.figure(fmt, "cloud", latency)
            if fig is None or fig.model_ratio is None:
                continue
            ratio = fig.model_ratio
            checks.append(
                TargetCheck(
                    f"cloud {latency:g} ms: {fmt} within {FORMATS_MODEL_TOLERANCE:.0%} of its model",
                    f"{fig.median_ms:.1f} ms measured, {fig.model_ms:.1f} ms model "
                    f"({fig.requests_per_read:.1f} requests, {(fig.bytes_per_read or 0) / 1e3:.0f} kB)"
                    f" = {ratio:.2f} x",
                    abs(ratio - 1) <= FORMATS_MODEL_TOLERANCE,
                )
            )
    fast, slow = (run.figure(fmt, "local") for fmt in FORMATS_LOCAL_ORDER)
    if fast is not None and slow is not None:
        checks.append(
            TargetCheck(
                f"local disk: {FORMATS_LOCAL_ORDER[0]} faster than {FORMATS_LOCAL_ORDER[1]}",
                f"{fast.median_ms:.2f} ms vs {slow.median_ms:.2f} ms",
                fast.median_ms < slow.median_ms,
            )
        )
    return checks


def _downloads(run: FormatsRun, sizes: dict[str, int], objects: dict[str, int], mbps: float) -> str:
    latency = max(run.latencies)
    rows = download_estimates(sizes, objects, mbps, latency)
    lines = [format_downloads(rows)]
    zarr = run.figure("zarr", "cloud", latency)
    if zarr is not None:
        for row in rows:
            if row.format != "zarr":
                lines.append(
                    f"downloading the whole {row.format} file first takes as long as "
                    f"{row.seconds * 1000 / zarr.median_ms:.0f} random Zarr tile reads at {latency:g} ms"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_tools bench formats``: run the benchmark, print the tables, check the targets.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: the command line).

    Returns
    -------
    int
        0; 1 when a target is missed in a full run; 2 on bad input (argparse exits with 2).
    """
    args = parser().parse_args(None if argv is None else list(argv))
    spec = SMALL if args.quick else FULL
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    files = build_formats(spec, progress=print)
    with serve_formats(files, args.endpoint, progress=print) as served:
        run = measure_formats(files, served, args.latency_ms, rounds, args.formats, progress=print)
    print(f"\nMedian time to read one random tile, {rounds} reads each; paper: {PAPER}")
    print(format_figures(run))
    print("\nHow many times longer than Zarr (median / Zarr's median):")
    print(format_ratios(ratios(run)))
    sizes = {fmt: files.size(fmt) for fmt in ("zarr", "tiff", "hdf5")}
    print(f"\nDownload the whole file first, at a stated {args.download_mbps:g} Mbit/s:")
    print(_downloads(run, sizes, {"zarr": files.objects("zarr")}, args.download_mbps))
    if args.json:
        args.json.write_text(json.dumps(run.rows(), indent=1))
        print(f"\nrows written to {args.json}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from course_tools.formats import plot_read_times

        plot_read_times(run).savefig(args.plot, dpi=120)
        print(f"figure saved to {args.plot}")
    checks = check_format_targets(run)
    print("\nTargets" + (" (not applied to --quick runs):" if args.quick else ":"))
    print(format_checks(checks) if checks else "(no target applies to these latencies)")
    missed = not all(c.met for c in checks)
    return 1 if missed and not args.quick else 0
