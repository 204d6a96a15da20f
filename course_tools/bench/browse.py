"""``python -m course_tools bench browse``: the viewer's reads on a local cloud, checked and printed.

Runs the scripted tour of :mod:`course_tools.bench.tour` on the tissue pyramid (a private cloud at
100 ms, or ``--endpoint URL``) and prints, for every view, the chunks the maths says are new
(intersecting the view and not fetched before), the requests counted at the store, the bytes and
the milliseconds (the fetch alone and the whole update in the
:class:`~course_tools.viewers.browser.Browser`, drawing included). It checks that

- the requests counted equal the new chunks (a view fetches exactly what it needs, 0 on a revisit),
  and on a private cloud that the cloud served exactly the requests the store counted,
- a revisited view costs 0 requests,
- every view completes in at most ``2 x latency + BROWSE_SLACK_S`` (:mod:`course_tools.bench.targets`).

Examples
--------
>>> from course_tools.bench.browse import measure_browse
>>> run = measure_browse(latency_ms=100)  # doctest: +SKIP
>>> run.failures  # doctest: +SKIP
[]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from course_tools.bench.targets import BROWSE_SLACK_S
from course_tools.bench.tour import (
    BrowseStep,
    check_steps,
    format_tour,
    run_tour,
    time_viewer,
    tour,
)
from course_tools.cli import count_arg, non_negative_arg
from course_tools.viewers.browser import MAX_SCREEN_PX, MIN_SCREEN_PX
from helpers.browse import ViewReader
from helpers.cloud import DEFAULT_LATENCY_MS, Cloud
from helpers.image import OmeImage

__all__ = [
    "BrowseRun",
    "BrowseStep",
    "check_steps",
    "format_tour",
    "main",
    "measure_browse",
    "run_bench",
    "run_tour",
    "time_viewer",
    "tour",
]


@dataclass(frozen=True)
class BrowseRun:
    """A whole tour: its steps, the request counts and the checks.

    Attributes
    ----------
    url, where : str
        The image read, and where it was served (an endpoint or the private cloud).
    screen : int
        View size in pixels (square).
    latency_s : float
        The cloud's latency.
    steps : tuple of BrowseStep
        One per view of the tour.
    served : int or None
        Requests the private cloud served during the tour (``None`` on an ``--endpoint`` cloud,
        whose counters other clients share).
    max_in_flight : int
        The most requests the store had in flight at once.
    """

    url: str
    where: str
    screen: int
    latency_s: float
    steps: tuple[BrowseStep, ...]
    served: int | None
    max_in_flight: int

    @property
    def counted(self) -> int:
        """Requests counted by the store over the tour."""
        return sum(s.cost.requests for s in self.steps)

    @property
    def failures(self) -> list[str]:
        """The failed checks, as sentences (empty: all passed)."""
        failures = check_steps(list(self.steps), self.latency_s)
        if self.served is not None and self.served != self.counted:
            failures.append(
                f"the cloud served {self.served} requests, the store counted {self.counted}"
            )
        return failures


@contextlib.contextmanager
def _bench_image(
    endpoint: str | None, latency_ms: float, dataset: str
) -> Iterator[tuple[OmeImage, float, Cloud | None]]:
    """``(image, latency_s, private_cloud_or_None)``: on ``endpoint``, or on a private cloud."""
    from course_tools.cloud.launch import start_cloud
    from helpers.catalog import lookup, open_image
    from helpers.cloud import PUBLIC_BUCKET, cloud_status

    entry = lookup(dataset)
    if entry.local_path is None:
        raise ValueError(f"dataset {dataset!r} has no local copy to benchmark")
    url = f"s3://{PUBLIC_BUCKET}/{entry.local_path}"
    if endpoint:
        latency_s = cloud_status(endpoint).latency_ms / 1000
        yield open_image(url, endpoint=endpoint), latency_s, None
        return
    from course_tools.samples import build_samples

    with start_cloud(latency_ms=latency_ms, data=build_samples(progress=False)) as cloud:
        yield open_image(url, endpoint=cloud.endpoint), latency_ms / 1000, cloud


def measure_browse(
    endpoint: str | None = None,
    latency_ms: float = DEFAULT_LATENCY_MS,
    screen: int = 512,
    dataset: str = "tissue",
) -> BrowseRun:
    """Read the tour with a :class:`ViewReader`, then time it in a :class:`Browser`.

    Parameters
    ----------
    endpoint : str or None, optional
        A running course cloud (its latency is used); ``None`` starts a private one.
    latency_ms : float, optional
        Latency of the private cloud.
    screen : int, optional
        View size in pixels (square).
    dataset : str, optional
        Catalog dataset with a local copy.

    Returns
    -------
    BrowseRun
        The steps and the counts (see :attr:`BrowseRun.failures`).

    Raises
    ------
    ValueError
        The dataset has no local copy, or the tour does not fit the image.
    """
    with _bench_image(endpoint, latency_ms, dataset) as (image, latency_s, cloud):
        reader = ViewReader(image)
        before = cloud.status().requests if cloud is not None else 0
        views = tour(image, (screen, screen))
        steps = run_tour(reader, views)
        served = cloud.status().requests - before if cloud is not None else None
        times = time_viewer(image, views, (screen, screen))
        steps = [dataclasses.replace(s, viewer_s=t) for s, t in zip(steps, times, strict=True)]
        where = f"private cloud at {latency_s * 1000:.0f} ms" if cloud else str(endpoint)
        return BrowseRun(
            image.url,
            where,
            screen,
            latency_s,
            tuple(steps),
            served,
            reader.store.max_in_flight,
        )


def run_bench(
    endpoint: str | None = None,
    latency_ms: float = DEFAULT_LATENCY_MS,
    screen: int = 512,
    dataset: str = "tissue",
) -> bool:
    """Run the tour (:func:`measure_browse`), print the table and the checks.

    Parameters
    ----------
    endpoint, latency_ms, screen, dataset
        As for :func:`measure_browse`.

    Returns
    -------
    bool
        True when every check passed.
    """
    run = measure_browse(endpoint, latency_ms, screen, dataset)
    print(f"Browsing {run.url} ({run.where}), views of {screen} x {screen} pixels")
    print(format_tour(list(run.steps), run.latency_s))
    if run.served is not None:
        print(f"requests counted by the store: {run.counted}; served by the cloud: {run.served}")
    print(f"max requests in flight: {run.max_in_flight}")
    failures = run.failures
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return False
    print(
        "OK: every view fetched exactly its new chunks, revisits cost 0 requests, every view "
        f"took <= 2 x latency + {BROWSE_SLACK_S * 1000:.0f} ms (fetch alone and in the viewer, "
        "drawn)"
    )
    return True


def parser(prog: str = "python -m course_tools bench browse") -> argparse.ArgumentParser:
    """The command line of the browsing benchmark.

    Parameters
    ----------
    prog : str, optional
        The command shown in the usage line.

    Returns
    -------
    argparse.ArgumentParser
        Flags ``--endpoint --latency-ms --screen --dataset``.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Read a scripted tour of views (overview, zoom, pans, revisits) and check that each "
            "fetches exactly the chunks it needs, revisits cost 0 requests and every view takes "
            f"<= 2 x latency + {BROWSE_SLACK_S * 1000:.0f} ms."
        ),
    )
    p.add_argument(
        "--endpoint",
        help="use the cloud at this endpoint (default: start a private one; its latency is used)",
    )
    p.add_argument(
        "--latency-ms",
        type=non_negative_arg,
        default=DEFAULT_LATENCY_MS,
        help="latency of the private cloud (default 100)",
    )
    p.add_argument(
        "--screen",
        type=count_arg(MIN_SCREEN_PX, MAX_SCREEN_PX),
        default=512,
        help=f"view size in pixels, {MIN_SCREEN_PX} to {MAX_SCREEN_PX} (default 512)",
    )
    p.add_argument("--dataset", default="tissue", help="catalog dataset (default tissue)")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m course_tools bench browse") -> int:
    """``python -m course_tools bench browse``: run the tour and print the checks.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line).
    prog : str, optional
        The command shown in the usage line and errors.

    Returns
    -------
    int
        0 when every check passed, 1 otherwise (2 for bad arguments, via ``SystemExit``).

    Raises
    ------
    KeyError
        Unknown dataset (checked before a cloud starts).
    ValueError
        A dataset without a local copy.
    """
    p = parser(prog)
    args = p.parse_args(argv)  # numbers are checked here (see course_tools.cli)
    return 0 if run_bench(args.endpoint, args.latency_ms, args.screen, args.dataset) else 1
