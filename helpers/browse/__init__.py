"""Multiscale browsing: the view maths, a counting and caching reader, and an ipywidgets browser.

- :mod:`helpers.browse.views` -- plain functions: which chunks a view needs, which level fits a
  screen, physical extents, a latency model (no I/O, unit-tested without a browser)
- :mod:`helpers.browse.reader` -- :class:`ViewReader`: reads views through a :class:`CountingStore`
  (real request and byte counts) and a :class:`TileCache` (a revisited view costs 0 requests)
- :mod:`helpers.browse.widget` -- :class:`Browser` / :func:`browse`: the interactive viewer
- ``python -m helpers.browse --bench`` -- the benchmark tour (see :mod:`helpers.browse.bench`)
"""

from .reader import CountingStore, TileCache, ViewCost, ViewReader, ViewResult, format_bytes
from .views import (
    View,
    chunk_grid,
    chunk_region,
    chunks_for_region,
    count_chunks,
    downsampling_factors,
    level_for_screen,
    physical_extent,
    view_region,
    window,
)
from .widget import Browser, browse

__all__ = [
    "Browser",
    "CountingStore",
    "TileCache",
    "View",
    "ViewCost",
    "ViewReader",
    "ViewResult",
    "browse",
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
