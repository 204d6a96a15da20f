"""The local cloud: a real S3-compatible endpoint on 127.0.0.1 that behaves like a remote object store.

moto's S3 server holds an anonymous read-only bucket with the sample OME-Zarr data and a writable scratch
bucket; an asyncio proxy in front adds latency, an optional bandwidth cap, keep-alive and counters, is
the only door to moto (``guard.py``: path-style paths of the two buckets only, the public one read-only),
and injects faults on demand (``faults.py``: 503 SlowDown, resets, stalls, the endpoint going down...).

From Python::

    from helpers.cloud import ensure_cloud
    cloud = ensure_cloud()          # the shared running cloud, started if needed
    cloud.endpoint                  # 'http://127.0.0.1:PORT'
    cloud.set_conditions(latency_ms=50)
    with cloud.fault("slowdown", rate=0.5, seed=1):   # half the chunk GETs answer 503 SlowDown
        ...

From a shell: ``python -m helpers.cloud serve|check|status|set|faults --help``.
"""

from .client import (
    PUBLIC_BUCKET,
    SCRATCH_BUCKET,
    Cloud,
    CloudError,
    CloudStatus,
    cloud_status,
    ensure_cloud,
    find_cloud,
    start_cloud,
)
from .conditions import NetworkConditions
from .faults import KINDS as FAULT_KINDS
from .faults import Fault

__all__ = [
    "PUBLIC_BUCKET",
    "SCRATCH_BUCKET",
    "Cloud",
    "CloudError",
    "CloudStatus",
    "FAULT_KINDS",
    "Fault",
    "NetworkConditions",
    "cloud_status",
    "ensure_cloud",
    "find_cloud",
    "start_cloud",
]
