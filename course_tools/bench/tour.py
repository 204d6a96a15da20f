"""The browsing benchmark's tour: scripted views, read once each, checked against the chunk maths.

:func:`tour` lists the views (overview, zooms, pans, a channel switch, revisits); :func:`run_tour`
reads them with a :class:`~helpers.browse.ViewReader` and records a :class:`BrowseStep` each;
:func:`check_steps` says which checks fail: the requests counted must equal the new chunks (0 on a
revisit) and every view must take at most ``2 x latency + BROWSE_SLACK_S``
(:mod:`course_tools.bench.targets`), the fetch alone and the viewer's whole update
(:func:`time_viewer`).

Examples
--------
>>> from course_tools.bench.tour import check_steps, run_tour, tour
>>> steps = run_tour(ViewReader(image), tour(image))  # doctest: +SKIP
>>> check_steps(steps, latency_s=0.1)  # doctest: +SKIP
[]
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from course_tools.bench.targets import BROWSE_SLACK_S
from helpers.browse import (
    View,
    ViewCost,
    ViewReader,
    downsampling_factors,
    format_bytes,
    level_for_screen,
)
from helpers.chunks import chunks_for_region
from helpers.image import OmeImage

__all__ = ["BrowseStep", "check_steps", "format_tour", "run_tour", "time_viewer", "tour"]


@dataclass(frozen=True)
class BrowseStep:
    """One view of the tour and what it cost.

    Attributes
    ----------
    name : str
        What the step does, e.g. ``"pan right"``.
    view : View
        The view read.
    chunks_in_view, chunks_new : int
        Chunks the view needs, and those of them not read before (by the view maths).
    revisit : bool
        The same view was read earlier in the tour.
    cost : ViewCost
        What the reader measured.
    viewer_s : float or None
        Time of the same view update in the widget (fetch + drawing), when measured.
    """

    name: str
    view: View
    chunks_in_view: int
    chunks_new: int
    revisit: bool
    cost: ViewCost
    viewer_s: float | None = None


def tour(image: OmeImage, screen: tuple[int, int] = (512, 512)) -> list[tuple[str, View]]:
    """The scripted views: overview, zoom in, pans, a channel switch, deeper zoom, then revisits.

    Parameters
    ----------
    image : OmeImage
        A multiscale image with y, x and at least two channels.
    screen : tuple of int, optional
        View size in pixels.

    Returns
    -------
    list of (str, View)
        The step names and views, starting at the overview a :class:`Browser` opens on.
    """
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


def run_tour(reader: ViewReader, views: list[tuple[str, View]]) -> list[BrowseStep]:
    """Read every view once with ``reader``; the maths (not the reader) decides what is new.

    Parameters
    ----------
    reader : ViewReader
        The reader (its cache carries over from view to view).
    views : list of (str, View)
        What :func:`tour` returned.

    Returns
    -------
    list of BrowseStep
        One per view, in order.
    """
    seen: set[tuple[int, tuple[int, ...]]] = set()
    visited: set[View] = set()
    steps = []
    for name, view in views:
        level = reader.image.levels[view.level]
        indices = chunks_for_region(reader.region_of(view), level.shape, level.chunks)
        keys = {(view.level, i) for i in indices}
        new = keys - seen
        result = reader.read(view)
        steps.append(BrowseStep(name, view, len(keys), len(new), view in visited, result.cost))
        seen |= keys
        visited.add(view)
    return steps


def time_viewer(
    image: OmeImage, views: list[tuple[str, View]], screen: tuple[int, int]
) -> list[float]:
    """Seconds each view update takes in a :class:`Browser` (fresh cache): fetch + draw, no display.

    This is how long one update keeps the kernel busy.

    Parameters
    ----------
    image : OmeImage
        The image of the tour.
    views : list of (str, View)
        What :func:`tour` returned; the first must be the view the browser opens on.
    screen : tuple of int
        View size in pixels.

    Returns
    -------
    list of float
        One time per view.

    Raises
    ------
    ValueError
        The tour does not start where the browser opens.
    """
    from course_tools.viewers.browser import Browser

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


def check_steps(steps: list[BrowseStep], latency_s: float) -> list[str]:
    """The failed checks of a tour, as sentences (empty: all passed).

    Parameters
    ----------
    steps : list of BrowseStep
        What :func:`run_tour` returned (with ``viewer_s`` when measured).
    latency_s : float
        The cloud's latency; each view may take ``2 x latency + BROWSE_SLACK_S``.

    Returns
    -------
    list of str
        One sentence per failed check.
    """
    limit = 2 * latency_s + BROWSE_SLACK_S
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


def format_tour(steps: list[BrowseStep], latency_s: float) -> str:
    """The tour as a text table, one line per view.

    Parameters
    ----------
    steps : list of BrowseStep
        What :func:`run_tour` returned.
    latency_s : float
        The cloud's latency (the header shows the time limit).

    Returns
    -------
    str
        The table.
    """
    limit_ms = (2 * latency_s + BROWSE_SLACK_S) * 1000
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
