"""Multiscale browsing: the view maths, a counting and caching reader, and an ipywidgets viewer.

- :mod:`helpers.browse.views` -- plain functions: which level fits a screen, which pixels a view
  shows, physical extents (no I/O, unit-tested without a browser). Which chunks a region needs is
  :mod:`helpers.chunks`; its grid functions are re-exported here for the lessons.
- :mod:`helpers.browse.reader` -- :class:`ViewReader`: reads views through a :class:`CountingStore`
  (:mod:`~helpers.browse.counting`: real request and byte counts) and a :class:`TileCache`
  (:mod:`~helpers.browse.cache`: a revisited view costs 0 requests)
- :mod:`course_tools.viewers.browser` -- :class:`Browser` / :func:`browse`: the interactive viewer
- :mod:`helpers.browse.units` -- :func:`format_bytes` and unit symbols for the read-outs
- ``python -m course_tools bench browse`` (or ``python -m helpers.browse --bench``) -- the benchmark tour
  (:mod:`course_tools.bench.browse`)

Examples
--------
>>> from helpers.browse import View, chunks_for_region, view_region
>>> view = View(level=0, center_yx=(256.0, 256.0), screen_yx=(512, 512))
>>> region = view_region(view, ["y", "x"], (2048, 2048), (1.0, 1.0))
>>> chunks_for_region(region, (2048, 2048), (512, 512))
[(0, 0)]
"""

from ..chunks import chunk_grid, chunk_region, chunks_for_region, count_chunks
from .cache import TileCache
from .counting import CountingStore
from .reader import ViewCost, ViewReader, ViewResult
from .units import format_bytes
from .views import (
    View,
    downsampling_factors,
    level_for_screen,
    physical_extent,
    view_region,
    window,
)

__all__ = [
    "CountingStore",
    "TileCache",
    "View",
    "ViewCost",
    "ViewReader",
    "ViewResult",
    "chunk_grid",
    "chunk_region",
    "chunks_for_region",
    "count_chunks",
    "downsampling_factors",
    "format_bytes",
    "level_for_screen",
    "physical_extent",
    "view_region",
    "window",
]
