"""Every timeout, size and limit of the course's tools, once.

The learner's constants live in their own ``helpers`` modules, next to the code that uses them.

Examples
--------
>>> from course_tools import config
>>> config.CORS_MAX_AGE_S
3600
"""

from __future__ import annotations

__all__ = [
    "BACKEND_START_TIMEOUT_S",
    "CLUSTER_CONNECT_TIMEOUT_S",
    "CORS_MAX_AGE_S",
    "FAULT_STALL_MAX_S",
    "FAULT_SUITE_ATTEMPT_TIMEOUT_S",
    "FAULT_SUITE_DEADLINE_S",
    "FAULT_SUITE_SLACK_S",
    "FORMATS_BLOCK_SIZE",
    "FORMATS_CACHE_TYPE",
    "FORMATS_LINK_ROUNDS",
    "FORMATS_MAX_LATENCY_MS",
    "FORMATS_PROBE_BYTES",
    "FORMATS_ZARR_WRITE_CONCURRENCY",
    "MAX_WORKERS",
    "NEUROGLANCER_FIT_PX",
    "OWNER_POLL_S",
    "UPSTREAM_READ_TIMEOUT_S",
]

CORS_MAX_AGE_S = 3600
"""How long a browser may reuse the local cloud's answer to a CORS preflight (Chromium caps it at 2 h)."""

FAULT_STALL_MAX_S = 60.0
"""A ``stall`` fault of the local cloud keeps a connection silent at most this long, then drops it."""

FAULT_SUITE_ATTEMPT_TIMEOUT_S = 0.5
"""The fault suite's timeout of one attempt: a stalled or spiked answer is cut and retried after this."""

FAULT_SUITE_DEADLINE_S = 2.0
"""The fault suite's deadline per chunk (short, so a permanent fault fails fast and the suite is quick)."""

FAULT_SUITE_SLACK_S = 2.0
"""A fault-suite read that has not finished ``deadline + this`` seconds after it started is a hang."""

FORMATS_BLOCK_SIZE = 5 * 2**20
"""Read-ahead of the fsspec file objects TIFF and HDF5 are read through (5 MiB): the OME-NGFF paper's,
which kept the defaults of its fsspec HTTP files and of s3fs 0.6 (today's s3fs reads ahead 50 MiB)."""

FORMATS_CACHE_TYPE = "bytes"
"""fsspec's cache for those file objects: the paper's default, one block read ahead from each miss."""

FORMATS_LINK_ROUNDS = 7
"""GETs of the one-byte object per latency that give the request time (3 GETs of the probe: bandwidth)."""

FORMATS_MAX_LATENCY_MS = 10_000.0
"""The largest latency the formats benchmark accepts (ten seconds per request is a typo, not a network)."""

FORMATS_PROBE_BYTES = 4 * 2**20
"""Size of the bandwidth probe object (4 MiB, below the size at which the store behind the cloud spills
to disk)."""

FORMATS_ZARR_WRITE_CONCURRENCY = 64
"""Chunks zarr writes at once while building the benchmark's OME-Zarr copy (thousands of small files)."""

NEUROGLANCER_FIT_PX = 600
"""Neuroglancer's first view fits the image's larger side in about this many screen pixels."""

BACKEND_START_TIMEOUT_S = 60.0
"""Longest wait for the moto server behind the proxy to load the buckets and say READY."""

OWNER_POLL_S = 0.5
"""How often a local cloud checks that the process it belongs to still runs (it ends when not)."""

UPSTREAM_READ_TIMEOUT_S = 30.0
"""The proxy gives up on a silent moto answer after this long."""

CLUSTER_CONNECT_TIMEOUT_S = 30.0
"""Longest wait for a Dask client to reach its scheduler."""

MAX_WORKERS = 64
"""Most worker processes a local Dask cluster accepts: more is a typo that would swamp the machine."""
