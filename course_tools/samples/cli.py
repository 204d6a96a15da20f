"""Command line of the sample data: ``python -m course_tools samples build|info|manifest|microscope``.

``microscope`` writes (or finds cached) the OME-TIFF z-stack of lesson 09, which ``build`` leaves out.

A user error (an ``--out`` that is a file, a folder that cannot be written) is one ``error:`` line
and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from course_tools.cli import run_cli
from course_tools.samples.build import build_samples, print_info
from course_tools.samples.manifest import MANIFEST, write_manifest
from course_tools.samples.microscope import build_microscope, microscope_dir
from helpers.catalog import samples_dir

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Build or inspect the sample stores from the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``): ``build [--out DIR] [--force]`` or
        ``info [--out DIR]`` or ``manifest [--out DIR]`` or ``microscope [--force]``.

    Returns
    -------
    int
        The exit status: 0, or 2 after a user error (printed as one ``error:`` line by
        :func:`course_tools.cli.run_cli`; argparse exits with 2 for bad options).

    Examples
    --------
    >>> main(["build"])  # doctest: +SKIP
    sample data up to date in .../data/samples
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_tools samples",
        description="Build or inspect the synthetic sample OME-Zarr stores of the course.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate the sample stores (skipped when up to date)")
    build.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default {samples_dir()})"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    info = sub.add_parser("info", help="list the sample stores, their sizes and whether built")
    info.add_argument(
        "--out", type=Path, default=None, help=f"samples folder (default {samples_dir()})"
    )
    manifest = sub.add_parser(
        "manifest",
        help=f"build, then record every file's SHA-256 in {MANIFEST.name} (after changing a generator)",
    )
    manifest.add_argument(
        "--out", type=Path, default=None, help=f"samples folder (default {samples_dir()})"
    )
    microscope = sub.add_parser(
        "microscope",
        help=f"write the OME-TIFF z-stack of lesson 09 to {microscope_dir()} (cached; not in build)",
    )
    microscope.add_argument("--force", action="store_true", help="rewrite it even if cached")
    args = parser.parse_args(argv)

    def run(_: object) -> int:
        out = getattr(args, "out", None)
        if out is not None and out.exists() and not out.is_dir():
            raise NotADirectoryError(f"--out {args.out} is a file: give a folder for the samples")
        if args.command == "build":
            build_samples(args.out, force=args.force)
        elif args.command == "microscope":
            print(build_microscope(force=args.force, progress=print))
        elif args.command == "manifest":
            print(f"wrote {write_manifest(args.out)}")
        else:
            print_info(args.out)
        return 0

    return run_cli(run, [])
