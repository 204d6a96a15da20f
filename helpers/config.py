"""Every timeout, pool size and unit constant of the helpers, once.

Each number has one name and one value here; modules import it instead of keeping their own copy,
so "how long before a silent server fails?" has one answer.

Examples
--------
>>> from helpers import config
>>> config.READ_TIMEOUT_S
20.0
"""

from __future__ import annotations

__all__ = [
    "BACKEND_START_TIMEOUT_S",
    "BYTES_PER_MBIT",
    "CLOUD_CONTROL_TIMEOUT_S",
    "CORS_MAX_AGE_S",
    "CLOUD_START_TIMEOUT_S",
    "CLUSTER_CONNECT_TIMEOUT_S",
    "CONNECT_TIMEOUT_S",
    "DEADLINE_MARGIN_S",
    "DEFAULT_LATENCY_MS",
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
    "MAX_CONCURRENCY",
    "MAX_CONNECTIONS",
    "MAX_SCREEN_PX",
    "MAX_WORKERS",
    "ONLINE_PROBE_TIMEOUT_S",
    "PROBE_TIMEOUT_S",
    "READ_BUFFER",
    "READ_TIMEOUT_S",
    "TILE_CACHE_BYTES",
    "TOTAL_DEADLINE_S",
    "UPSTREAM_READ_TIMEOUT_S",
    "VIEW_CONCURRENCY",
    "VIEW_TIMEOUT_S",
    "NEUROGLANCER_FIT_PX",
    "OWNER_POLL_S",
]

# --- network clients ------------------------------------------------------------------------------
MAX_CONNECTIONS = 64
"""Keep-alive connections one client keeps per host (s3fs/botocore pool, ``fetch_async`` pool)."""
CONNECT_TIMEOUT_S = 5.0
"""Longest wait for a TCP connection: an endpoint that does not answer fails fast."""
READ_TIMEOUT_S = 20.0
"""Longest silence between two reads of one answer: a stalled transfer fails instead of hanging."""
PROBE_TIMEOUT_S = 10.0
""":func:`helpers.open_image` first opens a TCP connection to the host, for at most this long."""
ONLINE_PROBE_TIMEOUT_S = 3.0
"""How long :func:`helpers.catalog.remote_available` waits for the public host."""

# --- browsing -------------------------------------------------------------------------------------
VIEW_CONCURRENCY = 64
"""Chunk requests one view read keeps in flight (at most)."""
VIEW_TIMEOUT_S = 60.0
"""A whole view read (all its chunks) that takes longer fails with ``TimeoutError``."""
TILE_CACHE_BYTES = 256 * 2**20
"""Memory for decoded tiles in a viewer's cache (256 MiB)."""

# --- the local cloud ------------------------------------------------------------------------------
DEFAULT_LATENCY_MS = 100.0
"""Latency the local cloud adds to every request: a typical round trip to a remote object store."""
CLOUD_START_TIMEOUT_S = 180.0
"""Longest wait for ``python -m helpers.cloud serve`` to be ready (may include building the data)."""
BACKEND_START_TIMEOUT_S = 60.0
"""Longest wait for the moto server behind the proxy to load the buckets and say READY."""
CLOUD_CONTROL_TIMEOUT_S = 5.0
"""Timeout of one request to the cloud's ``/_cloud/...`` control paths."""
UPSTREAM_READ_TIMEOUT_S = 30.0
"""The proxy gives up on a silent moto answer after this long."""
OWNER_POLL_S = 0.5
"""How often a local cloud checks that the process it belongs to still runs (it ends when not)."""

# --- clusters -------------------------------------------------------------------------------------
CLUSTER_CONNECT_TIMEOUT_S = 30.0
"""Longest wait for a Dask client to reach its scheduler."""

# --- units ----------------------------------------------------------------------------------------
BYTES_PER_MBIT = 125_000
"""Bytes in one megabit (10**6 bits / 8): bandwidths are given in Mbit/s, like network links."""

# --- chunk downloads ------------------------------------------------------------------------------
READ_BUFFER = 2 * 2**20
"""Bytes of an answer one ``fetch_async`` connection buffers (2 MiB: typical chunks arrive at once)."""

# --- reliability ----------------------------------------------------------------------------------
TOTAL_DEADLINE_S = 30.0
"""Longest time one URL or chunk may take, all its attempts and waits included: a stalled read
fails within this long (the last attempt's timeout is cut to the time left)."""
MAX_CONCURRENCY = 1024
"""Most requests a fetch helper accepts to keep in flight: more is a typo, not a speed-up."""

# --- limits of user input -------------------------------------------------------------------------
MAX_WORKERS = 64
"""Most worker processes a local Dask cluster accepts: more is a typo that would swamp the machine."""
MAX_SCREEN_PX = 8192
"""Largest view (pixels along y or x) a viewer or the browsing benchmark accepts."""

# --- faults of the local cloud --------------------------------------------------------------------
FAULT_STALL_MAX_S = 60.0
"""A ``stall`` fault of the local cloud keeps a connection silent at most this long, then drops it."""

# --- the fault suite: python -m course_tools faults ---------------------------------------------------
FAULT_SUITE_DEADLINE_S = 2.0
"""The fault suite's deadline per chunk (short, so a permanent fault fails fast and the suite is quick)."""
FAULT_SUITE_ATTEMPT_TIMEOUT_S = 0.5
"""The fault suite's timeout of one attempt: a stalled or spiked answer is cut and retried after this."""
FAULT_SUITE_SLACK_S = 2.0
"""A fault-suite read that has not finished ``deadline + this`` seconds after it started is a hang."""

DEADLINE_MARGIN_S = 0.05
"""A read's last timeout ends this long before its deadline, so the error is raised within it."""

CORS_MAX_AGE_S = 3600
"""How long a browser may reuse the local cloud's answer to a CORS preflight (Chromium caps it at 2 h)."""

NEUROGLANCER_FIT_PX = 600
"""Neuroglancer's first view fits the image's larger side in about this many screen pixels."""

# --- the formats benchmark: python -m course_tools bench formats (issue 11) ------------------------------
FORMATS_BLOCK_SIZE = 5 * 2**20
"""Read-ahead of the fsspec file objects TIFF and HDF5 are read through (5 MiB): the OME-NGFF paper's,
which kept the defaults of its fsspec HTTP files and of s3fs 0.6 (today's s3fs reads ahead 50 MiB)."""
FORMATS_CACHE_TYPE = "bytes"
"""fsspec's cache for those file objects: the paper's default, one block read ahead from each miss."""
FORMATS_LINK_ROUNDS = 7
"""GETs of the one-byte object per latency that give the request time (3 GETs of the probe: bandwidth)."""
FORMATS_PROBE_BYTES = 4 * 2**20
"""Size of the bandwidth probe object (4 MiB, below the size at which the store behind the cloud spills
to disk)."""
FORMATS_MAX_LATENCY_MS = 10_000.0
"""The largest latency the formats benchmark accepts (ten seconds per request is a typo, not a network)."""
FORMATS_ZARR_WRITE_CONCURRENCY = 64
"""Chunks zarr writes at once while building the benchmark's OME-Zarr copy (thousands of small files)."""
