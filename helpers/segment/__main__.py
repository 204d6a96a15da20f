"""``python -m helpers.segment``: segment a catalog image and score it, or run the benchmark.

``python -m helpers.segment --bench [...]`` is the distributed benchmark
(``python -m helpers.bench segment``): every other argument goes to it, its own ``--help`` too.
Bad input (a number out of range, an unknown dataset or channel) is one ``error:`` line and exit
code 2 (:func:`helpers.cli.run_cli`), checked before anything is read.
"""

from __future__ import annotations

import argparse
import sys
import time

import dask
import numpy as np
import zarr

from ..cli import concurrency_arg, count_arg, positive_arg, run_cli
from .pipeline import (
    DEFAULT_MIN_SIZE,
    THRESHOLD_METHODS,
    channel_volume,
    compute_threshold,
    segment,
)
from .scoring import compare_with_truth

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Segment a catalog image and print its scores, or run the benchmark with ``--bench``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``); see ``--help``.

    Returns
    -------
    int
        The exit code: 0, or the benchmark's (1 when a target is missed); 2 for bad arguments
        (argparse's ``SystemExit``).

    Raises
    ------
    KeyError
        Unknown dataset name (the message lists the known ones).
    ValueError
        Unknown channel or level, or not an OME-Zarr image (:func:`run_cli` prints these on one
        line).

    Examples
    --------
    >>> main(["--dataset", "nuclei", "--plane-step", "4"])  # doctest: +SKIP
    otsu threshold 901.3; 19 objects; 2.1 s
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--bench" in argv:  # everything else goes to the benchmark (its own --help too)
        from ..bench.segment import main as bench_main

        return bench_main([a for a in argv if a != "--bench"])
    parser = argparse.ArgumentParser(
        prog="python -m helpers.segment",
        description="Threshold + label nuclei in a remote OME-Zarr image, blockwise with dask.",
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="run the distributed benchmark instead (see --bench --help)",
    )
    parser.add_argument("--dataset", default="nuclei", help="catalog name or URL (default: nuclei)")
    parser.add_argument("--channel", default="DAPI", help="channel name or number (default: DAPI)")
    parser.add_argument("--method", default="otsu", choices=sorted(THRESHOLD_METHODS))
    parser.add_argument(
        "--threshold-level",
        type=int,
        default=-1,
        help="level for the threshold (default: coarsest)",
    )
    parser.add_argument(
        "--plane-step",
        type=positive_arg,
        default=1,
        help="threshold on every n-th plane only (default 1)",
    )
    parser.add_argument(
        "--min-size",
        type=count_arg(0),
        default=DEFAULT_MIN_SIZE,
        help="smallest object kept, voxels",
    )
    parser.add_argument(
        "--threads",
        type=concurrency_arg,
        default=8,
        help="dask threads, 1 to 1024 (mostly waiting on the network)",
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency_arg,
        default=32,
        help="zarr async.concurrency for whole-array reads, 1 to 1024",
    )
    args = parser.parse_args(argv)
    from ..catalog import open_image

    image = open_image(args.dataset)
    start = time.perf_counter()
    with (
        dask.config.set(scheduler="threads", num_workers=args.threads),
        zarr.config.set({"async.concurrency": args.concurrency}),
    ):
        threshold = compute_threshold(
            image, args.channel, args.threshold_level, args.method, args.plane_step
        )
        labels = segment(channel_volume(image, args.channel), threshold, args.min_size).compute()
        elapsed = time.perf_counter() - start
        print(
            f"{args.method} threshold {threshold:.1f}; {int(labels.max())} objects; {elapsed:.1f} s"
        )
        if image.labels:
            truth = np.asarray(image.open_labels().level(0))
            print(compare_with_truth(labels, truth))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
