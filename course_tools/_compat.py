"""The one module of the course's tools that touches a library's internals: moto's.

The local cloud's object store (``cloud/backend.py``) creates its two buckets and their policies
straight in moto's in-memory S3 backend, before its server answers any request; moto's public API is
its HTTP server, which would need signed requests for the same. When a moto upgrade moves the
backend, this is the only file to fix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["moto_s3_backend"]


def moto_s3_backend() -> Any:
    """Moto's in-memory S3 backend of its default account and partition (``create_bucket``...)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
