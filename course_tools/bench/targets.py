"""Every speed target of the course's benchmarks, in one place.

A benchmark prints its figures next to these numbers and exits non-zero when one is missed. The
lessons never import this module: targets are development checks, not course content.
"""

from __future__ import annotations

__all__ = [
    "BROWSE_SLACK_S",
    "CLOUD_BIG_GET_ROUNDS",
    "CLOUD_LATENCY_RATIO",
    "DOWNLOAD_CONDITIONS",
    "DOWNLOAD_PEER_TOLERANCE",
    "DOWNLOAD_RATIO_AT_16",
    "DOWNLOAD_RATIO_AT_64",
    "DOWNLOAD_SPEEDUP_AT_16",
    "FAULT_MAX_HANGS",
    "FAULT_MAX_WRONG_DATA",
    "FAULT_PERMANENT_OUTCOME",
    "FAULT_TRANSIENT_OUTCOME",
    "FORMATS_CHECKED_LATENCIES_MS",
    "FORMATS_LOCAL_ORDER",
    "FORMATS_MODEL_TOLERANCE",
    "FORMATS_ORDER",
    "SEGMENT_RATIO",
    "SHARDS_OBJECT_RATIO",
    "SHARDS_SLACK_S",
    "cloud_latency_range",
]

# --- download: python -m course_tools bench [download] -------------------------------------------------
DOWNLOAD_CONDITIONS = {"chunks": 64, "latency_ms": 100.0, "bandwidth_mbps": None}
"""The conditions the download targets are set for (64 chunks of 512 KiB, 100 ms, no cap)."""
DOWNLOAD_RATIO_AT_16 = 1.2
"""fetch_async with 16 in flight takes at most this many times the model's ideal time."""
DOWNLOAD_SPEEDUP_AT_16 = 14.0
"""... and is at least this many times faster than one request after another."""
DOWNLOAD_RATIO_AT_64 = 2.5
"""fetch_async with 64 in flight takes at most this many times the ideal time."""
DOWNLOAD_PEER_TOLERANCE = 0.03
"""Medians closer than 3 % are a tie: the run-to-run noise of one measurement on 2 shared cores."""

# --- browsing: python -m course_tools bench browse ------------------------------------------------------
BROWSE_SLACK_S = 0.150
"""Every view (fetch alone, and the viewer's whole update) takes at most 2 x latency + this."""

# --- the local cloud: python -m course_tools bench cloud (= python -m course_tools bench cloud) --------------
CLOUD_LATENCY_RATIO = {1: (0.95, 1.05), 16: (0.95, 1.05), 64: (1.0, 1.25)}
"""Median request time / latency setting, allowed range, by requests in flight."""
CLOUD_BIG_GET_ROUNDS = 3
"""64 concurrent GETs of 1 MB each finish within this many latencies."""

# --- distributed segmentation: python -m course_tools bench segment ------------------------------------
SEGMENT_RATIO = 1.5
"""A cluster run takes at most this many times its largest limit (request, bandwidth, compute)."""

# --- formats: python -m course_tools bench formats (OME-Zarr vs TIFF vs HDF5, issue 11) ------------------
FORMATS_CHECKED_LATENCIES_MS = (10.0, 100.0)
"""The injected latencies at which the order and the model are checked (full image only)."""
FORMATS_ORDER = ("zarr", "tiff", "hdf5")
"""Over the cloud, median time per random tile from fastest to slowest (the paper's order)."""
FORMATS_MODEL_TOLERANCE = 0.25
"""Each format's median within 25 % of requests x request time + bytes / bandwidth (same run)."""
FORMATS_LOCAL_ORDER = ("hdf5", "tiff")
"""From the local disk: HDF5 reads a tile faster than TIFF."""

# --- reliability: python -m course_tools faults --------------------------------------------------------
FAULT_MAX_HANGS = 0
"""Reads of the fault suite that may still run after their deadline + slack: none."""
FAULT_MAX_WRONG_DATA = 0
"""Reads of the fault suite that may finish with bytes different from the fault-free read: none."""
FAULT_TRANSIENT_OUTCOME = "recovered"
"""What every read under a transient fault must end with: the fault-free bytes, exactly."""
FAULT_PERMANENT_OUTCOME = "clear error"
"""What every read under a permanent fault must end with: one error naming key, fault and attempts."""


def cloud_latency_range(in_flight: int) -> tuple[float, float]:
    """The allowed median/latency range at ``in_flight`` requests (the nearest level below)."""
    level = max(k for k in CLOUD_LATENCY_RATIO if k <= max(in_flight, 1))
    return CLOUD_LATENCY_RATIO[level]


# --- shards: python -m course_tools bench shards ---------------------------------------------------------
SHARDS_SLACK_S = 0.15
"""A view of the shard tour takes at most (round trips x latency) + this (decoding, assembly)."""
SHARDS_OBJECT_RATIO = 100
"""The sharded light-sheet store holds at least this many times fewer objects than its copy."""
