"""The viewer's read-out: where a view is and what it cost, as HTML (pure formatting, no widgets).

The CSS classes (``browse-requests``, ``browse-cached``, ``browse-where``) let a browser test find
the figures on the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from course_tools.text import plural
from helpers.browse import TileCache, ViewCost, ViewResult, format_bytes
from helpers.image import OmeImage

__all__ = ["UNIT_SYMBOLS", "error_html", "readout_html", "unit_symbol"]

UNIT_SYMBOLS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "angstrom": "Å"}
"""Symbols of the OME-NGFF space units the course's images use."""


def unit_symbol(unit: str | None) -> str:
    """The symbol of an OME-NGFF unit (``"µm"`` for ``"micrometer"``; ``"px"`` for none)."""
    return UNIT_SYMBOLS.get(unit, unit) if unit else "px"


def readout_html(
    result: ViewResult,
    image: OmeImage,
    history: Sequence[ViewCost],
    cache: TileCache,
    draw_ms: float,
) -> str:
    """The read-out next to the image: level, pixel size, place, this view's cost, the totals.

    Parameters
    ----------
    result : ViewResult
        The view just shown.
    image : OmeImage
        Its image (levels, scales, units).
    history : sequence of ViewCost
        Every view shown so far (this one included).
    cache : TileCache
        The reader's cache (its size is shown).
    draw_ms : float
        Milliseconds spent drawing the view.

    Returns
    -------
    str
        One HTML ``<div>``.
    """
    cost = result.cost
    unit = unit_symbol(image.units.get("x"))
    y, x = image.axis("y"), image.axis("x")
    scale = image.scales[cost.level]
    height = (result.region[y].stop - result.region[y].start) * scale[y]
    width = (result.region[x].stop - result.region[x].start) * scale[x]
    left, right, bottom, top = result.extent
    if cost.from_cache:
        what = "<b class='browse-cached'>served from cache: 0 requests</b>, 0 bytes"
    else:
        what = (
            f"<b class='browse-requests'>requests: {cost.requests}</b>, "
            f"bytes: {format_bytes(cost.bytes)}"
        )
    warning = (
        f"<br><b style='color:#b00'>{plural(cost.missing, 'chunk')} missing in the store "
        "(shown as fill value)</b>"
        if cost.missing
        else ""
    )
    total_requests = sum(c.requests for c in history)
    total_bytes = sum(c.bytes for c in history)
    return (
        f"<div style='line-height:1.5'>"
        f"<b>Level {cost.level}</b> of 0–{len(image.levels) - 1}: pixel "
        f"{scale[x]:g} {unit}, view {height:.0f} × {width:.0f} {unit}<br>"
        f"<span class='browse-where'>y {top:.1f}–{bottom:.1f} {unit}, "
        f"x {left:.1f}–{right:.1f} {unit}</span><br>"
        f"This view: chunks needed: {cost.chunks_needed} → {what}, "
        f"{cost.seconds * 1000:.0f} ms (+ {draw_ms:.0f} ms drawing){warning}<br>"
        f"<span style='color:#555'>Views so far: {len(history)}, "
        f"{plural(total_requests, 'request')}, {format_bytes(total_bytes)}; cache holds "
        f"{plural(len(cache), 'tile')} ({format_bytes(cache.nbytes)})</span>"
        f"</div>"
    )


def error_html(err: BaseException) -> str:
    """The read-out when a view could not be read (the error's message, escaped).

    Parameters
    ----------
    err : BaseException
        What reading the view raised.

    Returns
    -------
    str
        One line of HTML, in red.

    Examples
    --------
    >>> error_html(TimeoutError("took > 60 s"))
    "<b style='color:#b00'>Could not read this view:</b> took &gt; 60 s"
    """
    return f"<b style='color:#b00'>Could not read this view:</b> {html.escape(str(err))}"
