"""Benchmark of the browser's reads: a scripted tour of views, each checked against the view maths.

For every view it prints the chunks the maths says are new (intersecting the view and not fetched
before), the requests counted at the store, the bytes and the milliseconds, and checks that

- the requests counted equal the new chunks (a view fetches exactly what it needs, 0 on a revisit),
- a revisited view costs 0 requests,
- every view completes in at most ``2 x latency + 150 ms``, both the fetch alone and the whole
  update in the :class:`~helpers.browse.widget.Browser` (fetch + drawing: how long one update keeps
  the kernel busy).

Run it with ``python -m helpers.browse --bench`` (private cloud at 100 ms) or ``--endpoint URL``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..omezarr import OmeImage
from .reader import ViewCost, ViewReader, format_bytes
from .views import View, chunks_for_region, downsampling_factors, level_for_screen

SLACK_S = 0.150


@dataclass(frozen=True)
class BenchStep:
    """One view of the tour and what it cost."""

    name: str
    view: View
    chunks_in_view: int
    chunks_new: int
    revisit: bool
    cost: ViewCost
    viewer_s: float | None = None
    """Time of the same view update in the widget (fetch + drawing), when measured."""


def tour(image: OmeImage, screen: tuple[int, int] = (512, 512)) -> list[tuple[str, View]]:
    """The scripted views: overview, zoom in, pans, a channel switch, deeper zoom, then revisits."""
    y, x = image.axis("y"), image.axis("x")
    factors = downsampling_factors(image.scales, x)
    overview = level_for_screen(factors, (image.shape[y], image.shape[x]), screen)
    height = image.shape[y] * image.scales[0][y]
    width = image.shape[x] * image.scales[0][x]
    cy, cx = height / 2, width / 2
    mid = max(overview - 2, 0)
    step = screen[1] * image.scales[mid][x]  # one screen width at the middle level
    fine = screen[1] * image.scales[0][x] / 2  # half a screen at level 0
    return [
        ("overview", View(overview, (cy, cx), screen)),
        ("zoom in", View(max(overview - 1, 0), (cy, cx), screen)),
        ("zoom in", View(mid, (cy, cx), screen)),
        ("pan right", View(mid, (cy, cx + step), screen)),
        ("pan down", View(mid, (cy + step, cx + step), screen)),
        ("pan left x2", View(mid, (cy + step, cx - step), screen)),
        ("pan right (half)", View(mid, (cy + step, cx - step / 2), screen)),
        ("other channel", View(mid, (cy + step, cx - step / 2), screen, channel=1)),
        ("zoom to level 0", View(0, (cy, cx), screen)),
        ("pan up", View(0, (cy - fine * 2, cx), screen)),
        ("revisit zoom", View(mid, (cy, cx), screen)),
        ("revisit overview", View(overview, (cy, cx), screen)),
    ]


def run_tour(reader: ViewReader, views: list[tuple[str, View]]) -> list[BenchStep]:
    """Read every view once with ``reader``; the maths (not the reader) decides what is new."""
    seen: set[tuple[int, tuple[int, ...]]] = set()
    visited: set[View] = set()
    steps = []
    for name, view in views:
        level = reader.image.levels[view.level]
        indices = chunks_for_region(reader.region_of(view), level.shape, level.chunks)
        keys = {(view.level, i) for i in indices}
        new = keys - seen
        result = reader.read(view)
        steps.append(
            BenchStep(name, view, len(keys), len(new), view in visited, result.cost),
        )
        seen |= keys
        visited.add(view)
    return steps


def time_viewer(
    image: OmeImage, views: list[tuple[str, View]], screen: tuple[int, int]
) -> list[float]:
    """Seconds each view update takes in a :class:`Browser` (fresh cache): fetch + draw, no display.

    This is how long one update keeps the kernel busy. The first view is the browser's initial one,
    so the tour must start with the overview the browser opens on.
    """
    from .widget import Browser

    start = time.perf_counter()
    browser = Browser(image, screen=screen, reader=ViewReader(image))
    times = [time.perf_counter() - start]
    if browser.view != views[0][1]:
        raise ValueError(f"the tour starts at {views[0][1]}, the browser at {browser.view}")
    for _, view in views[1:]:
        start = time.perf_counter()
        browser.show(level=view.level, center_yx=view.center_yx, channel=view.channel, z=view.z)
        times.append(time.perf_counter() - start)
    return times


def check_steps(steps: list[BenchStep], latency_s: float) -> list[str]:
    """The failed checks, as sentences (empty: all passed)."""
    limit = 2 * latency_s + SLACK_S
    failures = []
    for i, s in enumerate(steps, 1):
        if s.cost.requests != s.chunks_new:
            failures.append(f"view {i} ({s.name}): {s.cost.requests} requests, {s.chunks_new} new")
        if s.revisit and s.cost.requests != 0:
            failures.append(f"view {i} ({s.name}) is a revisit but cost {s.cost.requests} requests")
        if s.cost.seconds > limit:
            failures.append(
                f"view {i} ({s.name}) took {s.cost.seconds * 1000:.0f} ms > {limit * 1000:.0f} ms"
            )
        if s.viewer_s is not None and s.viewer_s > limit:
            failures.append(
                f"view {i} ({s.name}) took {s.viewer_s * 1000:.0f} ms in the viewer "
                f"> {limit * 1000:.0f} ms"
            )
    return failures


def format_table(steps: list[BenchStep], latency_s: float) -> str:
    """The tour as a text table."""
    limit_ms = (2 * latency_s + SLACK_S) * 1000
    lines = [
        f"{'#':>2}  {'view':<18} {'level':>5} {'ch':>3} {'in view':>7} {'new':>4} "
        f"{'requests':>8} {'bytes':>9} {'ms':>6} {'viewer ms':>9}  (limit {limit_ms:.0f} ms)"
    ]
    for i, s in enumerate(steps, 1):
        note = "  served from cache" if s.cost.from_cache else ""
        viewer = "-" if s.viewer_s is None else f"{s.viewer_s * 1000:.0f}"
        lines.append(
            f"{i:>2}  {s.name:<18} {s.view.level:>5} {s.view.channel:>3} {s.chunks_in_view:>7} "
            f"{s.chunks_new:>4} {s.cost.requests:>8} {format_bytes(s.cost.bytes):>9} "
            f"{s.cost.seconds * 1000:>6.0f} {viewer:>9}{note}"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def bench_image(
    endpoint: str | None, latency_ms: float, dataset: str = "tissue"
) -> Iterator[tuple[OmeImage, float, object | None]]:
    """``(image, latency_s, private_cloud_or_None)``: on ``endpoint``, or on a private cloud."""
    from ..catalog import lookup, open_image
    from ..cloud import PUBLIC_BUCKET, cloud_status, start_cloud

    entry = lookup(dataset)
    if entry.local_path is None:
        raise ValueError(f"dataset {dataset!r} has no local copy to benchmark")
    url = f"s3://{PUBLIC_BUCKET}/{entry.local_path}"
    if endpoint:
        latency_s = cloud_status(endpoint)["latency_ms"] / 1000
        yield open_image(url, endpoint=endpoint), latency_s, None
        return
    from ..data import build_samples

    with start_cloud(latency_ms=latency_ms, data=build_samples(progress=False)) as cloud:
        yield open_image(url, endpoint=cloud.endpoint), latency_ms / 1000, cloud


def run_bench(
    endpoint: str | None = None,
    latency_ms: float = 100.0,
    screen: int = 512,
    dataset: str = "tissue",
) -> bool:
    """Run the tour, print the table and the checks; True when every check passed."""
    with bench_image(endpoint, latency_ms, dataset) as (image, latency_s, cloud):
        reader = ViewReader(image)
        before = cloud.status()["requests"] if cloud is not None else None
        views = tour(image, (screen, screen))
        steps = run_tour(reader, views)
        counted_first = cloud.status()["requests"] - before if cloud is not None else None
        times = time_viewer(image, views, (screen, screen))
        steps = [dataclasses.replace(s, viewer_s=t) for s, t in zip(steps, times, strict=True)]
        where = f"private cloud at {latency_s * 1000:.0f} ms" if cloud else endpoint
        print(f"Browsing {image.url} ({where}), views of {screen} x {screen} pixels")
        print(format_table(steps, latency_s))
        failures = check_steps(steps, latency_s)
        counted = sum(s.cost.requests for s in steps)
        if cloud is not None:
            served = counted_first
            print(f"requests counted by the store: {counted}; served by the cloud: {served}")
            if served != counted:
                failures.append(f"the cloud served {served} requests, the store counted {counted}")
    print(f"max requests in flight: {reader.store.max_in_flight}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return False
    print(
        "OK: every view fetched exactly its new chunks, revisits cost 0 requests, every view "
        f"took <= 2 x latency + {SLACK_S * 1000:.0f} ms (fetch alone and in the viewer, drawn)"
    )
    return True


__all__ = [
    "BenchStep",
    "check_steps",
    "format_table",
    "run_bench",
    "run_tour",
    "time_viewer",
    "tour",
]
