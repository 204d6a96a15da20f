"""Open a course image in a browser viewer: ``python -m course_tools viewers neuroglancer DATASET``.

Prints the viewer's URL (open it in a browser on this machine) and serves it until Ctrl-C. The
image is read by the browser straight from the local cloud (started if none runs) or, with
``--source remote``, from the public copy.
"""

from __future__ import annotations

import argparse
import time
from typing import NoReturn

from course_tools.cli import count_arg
from course_tools.viewers.ngviewer import LAYOUTS, open_in_neuroglancer
from helpers.catalog import CATALOG

__all__ = ["main"]

SLEEP_S = 3600.0
"""The command sleeps in steps this long while it serves (Ctrl-C wakes it at once)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose user errors are one line, ``error: ...``, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: message`` (and where to find help) to stderr and exit with code 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m course_tools viewers", description=__doc__.splitlines()[0])
    viewers = parser.add_subparsers(dest="viewer", required=True, parser_class=_Parser)
    ng = viewers.add_parser(
        "neuroglancer",
        help="open an image in Neuroglancer (served locally, works offline)",
        description="Open an OME-Zarr image in Neuroglancer, served from this machine; print its "
        "URL and serve until Ctrl-C.",
    )
    ng.add_argument(
        "dataset",
        help=f"a catalog name ({', '.join(CATALOG)}) or an image's http(s):// or s3:// URL",
    )
    ng.add_argument(
        "--source",
        choices=("local", "remote"),
        default=None,
        help="for catalog names: the local cloud (default, or $COURSE_SOURCE) or the public copy",
    )
    ng.add_argument("--endpoint", default=None, help="S3 endpoint of an s3:// URL")
    ng.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="xy",
        help="panels: xy (one plane, default), 4panel (three sections and 3D), ...",
    )
    ng.add_argument(
        "--port",
        type=count_arg(0, 65535),
        default=0,
        help="port of Neuroglancer's web server (default: any free port)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (Ctrl-C while serving ends it with 0)."""
    args = _parser().parse_args(argv)
    view = open_in_neuroglancer(
        args.dataset, args.source, args.endpoint, layout=args.layout, port=args.port
    )
    try:  # from the first line printed on, Ctrl-C ends the command cleanly
        print(f"IMAGE {view.image_url}", flush=True)
        print(f"SOURCE {view.source}", flush=True)
        print(f"URL {view.url}", flush=True)
        print("Open the URL in a browser on this machine. Serving until Ctrl-C.", flush=True)
        while True:
            time.sleep(SLEEP_S)
    except KeyboardInterrupt:
        print("stopped", flush=True)
    return 0
