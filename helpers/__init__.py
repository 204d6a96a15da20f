"""The course's helper library: what the notebooks import, one idea per module.

Each lesson shows an idea in a few cells, then calls the reusable version from here. Read the module a
lesson points to: it reads like the lesson.

- :mod:`helpers.catalog` -- every dataset URL, the local/remote switch, :func:`open_image`
- :mod:`helpers.image` -- an opened OME-Zarr image (OME-NGFF 0.4 or 0.5), lazy
- :mod:`helpers.chunks` -- which chunks, which keys, which URLs a region needs
- :mod:`helpers.fetch` -- downloading chunks: a loop, threads, asyncio; retries and deadlines
- :mod:`helpers.model` -- the latency model ``ceil(N / C) x latency``
- :mod:`helpers.browse` -- views of a pyramid, read chunk by chunk, counted and cached
- :mod:`helpers.segment` -- thresholding and labelling a remote image, writing labels back
- :mod:`helpers.shards` -- Zarr v3 shards: inner chunks read by byte range
- :mod:`helpers.share` -- share your own image: OME-TIFF to OME-Zarr, validate, upload
- :mod:`helpers.reliable` -- reading a store reliably; no chunk silently read as zeros
- :mod:`helpers.storage` -- URLs, the stores and filesystems that read them
- :mod:`helpers.cloud` -- the local cloud: find it, start it, change its network
- :mod:`helpers._compat` -- the one module that touches zarr's, fsspec's and s3fs's internals

The names below load on first use (``lazy_loader``, as in scikit-image), so ``import helpers`` is
quick and loads neither aiohttp nor dask.

Examples
--------
>>> import helpers
>>> helpers.model_time_s(64, 16, 0.1)
0.4
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=[
        "browse",
        "catalog",
        "chunks",
        "cloud",
        "fetch",
        "image",
        "model",
        "reliable",
        "segment",
        "shards",
        "share",
        "storage",
    ],
    submod_attrs={
        "catalog": ["CATALOG", "current_source", "dataset_url", "list_datasets", "open_image"],
        "image": ["NotOmeZarrError", "OmeImage"],
        "model": ["ideal_speedup", "model_time_s"],
        "reliable": ["MissingChunkError", "missing_chunks"],
        "browse": ["ViewReader"],
        "share": ["read_ome_tiff", "to_ome_zarr", "upload", "validate"],
        "chunks": ["chunk_keys", "chunk_layout", "chunk_urls"],
        "cloud": ["ensure_cloud"],
        "fetch": ["FetchError", "fetch_async", "fetch_sequential", "fetch_threads"],
    },
)
