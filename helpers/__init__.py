"""Helpers for the course "Remote access to big image data".

The notebooks show each idea in a few cells, then call these helpers for the reusable version:

- :mod:`helpers.catalog` -- every dataset URL, the local/remote switch, :func:`open_image`
- :mod:`helpers.omezarr` -- read OME-NGFF 0.4 and 0.5 metadata into a lazy :class:`OmeImage`
- :mod:`helpers.storage` -- parse URLs, make fast anonymous stores (s3fs settings that matter)
- :mod:`helpers.cloud` -- the local cloud: an S3 endpoint on 127.0.0.1 with latency and bandwidth
- :mod:`helpers.data` -- build the deterministic synthetic sample datasets
- :mod:`helpers.chunks` -- chunk keys and URLs of a Zarr v2/v3 array: one chunk = one object = one URL
- :mod:`helpers.fetch` -- sequential, threaded and asyncio chunk downloads with retries
- :mod:`helpers.bench` -- benchmark download strategies against the latency model (``python -m helpers.bench``)
- :mod:`helpers.browse` -- view maths, counted and cached view reads, the ipywidgets multiscale viewer
- :mod:`helpers.segment` -- threshold on a coarse level, blockwise mask and labels, OME-Zarr label writer
- :mod:`helpers.distributed` -- start or connect to a Dask cluster, time the pipeline against its limits
- :mod:`helpers.environment` -- compare installed package versions with the tested pins
"""

from .catalog import CATALOG, current_source, dataset_url, list_datasets, open_image
from .omezarr import NotOmeZarrError, OmeImage

__all__ = [
    "CATALOG",
    "NotOmeZarrError",
    "OmeImage",
    "current_source",
    "dataset_url",
    "list_datasets",
    "open_image",
]
