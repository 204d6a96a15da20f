"""The local cloud: a real S3-compatible endpoint on 127.0.0.1 that behaves like a remote object store.

moto's S3 server holds an anonymous read-only bucket with the sample OME-Zarr data and a writable scratch
bucket; an asyncio proxy in front adds latency, an optional bandwidth cap, keep-alive and counters.

From Python::

    from helpers.cloud import ensure_cloud
    cloud = ensure_cloud()          # the shared running cloud, started if needed
    cloud.endpoint                  # 'http://127.0.0.1:PORT'
    cloud.set_conditions(latency_ms=50)

From a shell: ``python -m helpers.cloud serve|check|status --help``.
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

__all__ = [
    "PUBLIC_BUCKET",
    "SCRATCH_BUCKET",
    "Cloud",
    "CloudError",
    "CloudStatus",
    "NetworkConditions",
    "cloud_status",
    "ensure_cloud",
    "find_cloud",
    "start_cloud",
]
