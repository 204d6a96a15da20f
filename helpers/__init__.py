"""Helpers for the course "Remote access to big image data".

The notebooks show each idea in a few cells, then call these helpers for the reusable version. The
names below are the learner-facing API (``from helpers import open_image``); heavier ones load on
first use, so ``import helpers`` stays quick.

The package, one idea per module:

- :mod:`helpers.catalog` -- every dataset URL, the local/remote switch, :func:`open_image`
- :mod:`helpers.image` -- an opened OME-Zarr image, lazy (:class:`OmeImage`)
- :mod:`helpers.ngff` -- OME-NGFF 0.4/0.5 metadata: read and build (pure)
- :mod:`helpers.chunks` -- chunk-grid maths: grids, regions, chunk keys (pure)
- :mod:`helpers.shards` -- shard maths: inner chunks, the shard index, request plans (pure)
- :mod:`helpers.byteranges` -- HTTP byte ranges: ``Range`` headers, ``Content-Range`` checks (pure)
- :mod:`helpers.model` -- the latency model ``ceil(N / C) x latency`` and its plot (pure)
- :mod:`helpers.storage` -- URLs, tuned anonymous stores, closing them
- :mod:`helpers.reliable` -- the store layer every zarr read goes through: retries, deadline, strict mode
- :mod:`helpers.completeness` -- which chunks of a level or region are absent from the store
- :mod:`helpers.fetch` -- sequential, threaded and asyncio chunk downloads with one retry loop
- :mod:`helpers.browse` -- views of a multiscale image: counted, cached reads and a viewer widget
- :mod:`helpers.segment` -- threshold, blockwise labels, an OME-Zarr label writer, Dask clusters
- :mod:`course_tools.samples` -- the deterministic synthetic sample datasets
- :mod:`helpers.cloud` -- the local cloud: an S3 endpoint on 127.0.0.1 with latency and bandwidth
- :mod:`course_tools.bench` -- every speed figure: ``python -m course_tools bench [download|browse|...|shards]``
- :mod:`course_tools.formats` -- the same image as OME-Zarr, tiled TIFF and HDF5, read one tile at a time
- :mod:`course_tools.viewers` -- Neuroglancer in the browser, served from this machine
- :mod:`helpers.answers` -- exercise answers that stay folded until the learner opens them
- :mod:`course_tools.figure` -- the module page's overview figure (``python -m course_tools figure build``)
- :mod:`course_tools.quiz` -- the assessment: questions as data, grading, a notebook form, the Markdown page
- :mod:`helpers.config` -- every timeout, pool size and unit constant, once
- :mod:`course_tools.cli` -- what every command does with bad input: one line, exit code 2
- :mod:`course_tools.environment`, :mod:`helpers.paths` -- installed versions; where files live
- :mod:`helpers._compat` -- the one module that touches zarr's, fsspec's and s3fs's internals

Examples
--------
>>> from helpers import open_image, model_time_s
>>> image = open_image("nuclei")  # doctest: +SKIP
>>> model_time_s(64, 16, 0.1)
0.4
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .catalog import CATALOG, current_source, dataset_url, list_datasets, open_image
from .image import NotOmeZarrError, OmeImage
from .model import ideal_speedup, model_time_s
from .reliable import MissingChunkError

if TYPE_CHECKING:  # loaded on first use (see __getattr__)
    from .browse import ViewReader
    from .chunks import chunk_keys, chunk_layout
    from .cloud import ensure_cloud
    from .completeness import missing_chunks
    from .fetch import FetchError, chunk_urls, fetch_async, fetch_sequential, fetch_threads

__all__ = [
    "CATALOG",
    "FetchError",
    "MissingChunkError",
    "NotOmeZarrError",
    "OmeImage",
    "ViewReader",
    "chunk_keys",
    "chunk_layout",
    "chunk_urls",
    "current_source",
    "dataset_url",
    "ensure_cloud",
    "fetch_async",
    "fetch_sequential",
    "fetch_threads",
    "ideal_speedup",
    "list_datasets",
    "missing_chunks",
    "model_time_s",
    "open_image",
]

_LAZY = {
    "ViewReader": "browse",
    "chunk_keys": "chunks",
    "chunk_layout": "chunks",
    "chunk_urls": "fetch",
    "ensure_cloud": "cloud",
    "missing_chunks": "completeness",
    "FetchError": "fetch",
    "fetch_async": "fetch",
    "fetch_sequential": "fetch",
    "fetch_threads": "fetch",
}


def __getattr__(name: str) -> Any:
    """Load the heavier learner-facing names (viewer, downloaders, cloud) on first use."""
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
