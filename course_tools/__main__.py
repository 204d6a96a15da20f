"""``python -m course_tools COMMAND [...]``: the course's tools, behind one command.

Each command has its own ``--help``; bad input is one line, ``error: ...``, and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

from course_tools.cli import run_cli

COMMANDS = {
    "cloud": (
        "course_tools.cloud.cli",
        "the local cloud: serve it, its status, its network, faults",
    ),
    "samples": ("course_tools.samples.cli", "build, check or list the synthetic sample data"),
    "bench": ("course_tools.bench.cli", "the speed figures and their targets"),
    "faults": ("course_tools.faults.cli", "every fault of the local cloud against every read path"),
    "viewers": (
        "course_tools.viewers.cli",
        "open an image in Neuroglancer, served from this machine",
    ),
    "figure": ("course_tools.figure", "draw the module page's figure"),
    "quiz": ("course_tools.quiz.cli", "the assessment: write its page, check an answer"),
    "site": ("course_tools.site", "build the course as a static site"),
    "binder": ("course_tools.binder", "run every notebook as one Binder-shaped session, measured"),
    "outdated": (
        "course_tools.outdated",
        "the locked packages with a newer release on PyPI for Python 3.11 (needs the network)",
    ),
}
USAGE = "usage: python -m course_tools COMMAND [--help]\n\ncommands:\n" + "\n".join(
    f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()
)


def main(argv: list[str] | None = None) -> int:
    """Run ``COMMAND`` with the rest of the arguments; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] not in COMMANDS:
        print(
            f"error: unknown command {argv[0]!r} (see python -m course_tools --help)",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(run_cli(module.main, argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
