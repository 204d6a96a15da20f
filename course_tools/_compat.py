"""The one module of the course's tools that touches a library's internals: moto's and zarr's.

The local cloud's object store (``cloud/backend.py``) creates its buckets and their policies
straight in moto's in-memory S3 backend, before its server answers any request; moto's public API is
its HTTP server, which would need signed requests for the same. The fault suite cancels the chunk
reads a failed zarr read leaves running on zarr's event loop (zarr does not cancel them). When a
moto or zarr upgrade moves these, this is the only file to fix.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["cancel_leftover_tasks", "moto_s3_backend"]

logger = logging.getLogger(__name__)


def moto_s3_backend() -> Any:
    """Moto's in-memory S3 backend of its default account and partition (``create_bucket``...)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


async def _cancel_others() -> int:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    return len(others)


def cancel_leftover_tasks(timeout_s: float = 5.0) -> int:
    """Cancel the tasks still running on zarr's and fsspec's event loops; how many there were.

    When one chunk of a zarr read fails, zarr raises at once and leaves the other chunks' reads
    running (retrying, sleeping) on its event loop thread: they would count in the next read's
    requests, and end as "Task was destroyed but it is pending!" at exit.
    """
    import fsspec.asyn
    from zarr.core.sync import sync as zarr_sync

    cancelled = zarr_sync(_cancel_others(), timeout=timeout_s)
    cancelled += fsspec.asyn.sync(fsspec.asyn.get_loop(), _cancel_others, timeout=timeout_s) or 0
    logger.debug("cancelled %d leftover tasks", cancelled)
    return cancelled
