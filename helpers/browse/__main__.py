"""``python -m helpers.browse --bench``: the browsing benchmark (``python -m helpers.bench browse``)."""

from __future__ import annotations

import argparse
import sys

from ..cli import run_cli

__all__ = ["main"]

PROG = "python -m helpers.browse"


def main(argv: list[str] | None = None) -> int:
    """Forward ``--bench`` and the other arguments to :func:`helpers.bench.browse.main`.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line).

    Returns
    -------
    int
        The benchmark's exit code; 2 (after printing the help) without ``--bench``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--bench" in argv:
        from ..bench.browse import main as bench_main  # lazy: the viewer does not need the bench

        return bench_main([a for a in argv if a != "--bench"], prog=f"{PROG} --bench")
    from ..bench.targets import BROWSE_SLACK_S

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Multiscale browsing helpers. --bench reads a scripted tour of views (overview, zoom, "
            "pans, revisits) and checks that each fetches exactly the chunks it needs, revisits "
            f"cost 0 requests and every view takes <= 2 x latency + {BROWSE_SLACK_S * 1000:.0f} ms "
            "(the same as python -m helpers.bench browse; see --bench --help for its options)."
        ),
    )
    parser.add_argument("--bench", action="store_true", help="run the benchmark tour")
    parser.parse_known_args(argv)  # --help prints the help and exits
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(run_cli(main))
