"""The one module that touches zarr's, fsspec's and s3fs's internals.

Everything else in :mod:`helpers` uses the libraries' public APIs and, where it needs more, the small
functions below. When a zarr, fsspec or s3fs upgrade moves something, this is the only file to fix.

What the public APIs do not cover: running a coroutine on zarr's event loop and zarr's buffer
types (``zarr.core.sync``, ``zarr.core.buffer``), the same array read through another store and
metadata made without a request (``AsyncArray``, ``StorePath``, ``GroupMetadata``), closing s3fs's
and fsspec's aiohttp sessions at once (private ``_s3creator`` and ``_session``: the libraries only
do it from a finaliser), making s3fs try each call once (``S3FileSystem.retries``), and decoding a
shard's inner chunks with the sharding codec's own pipeline (``zarr.core.metadata``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import fsspec
import numpy as np
import zarr
from zarr.abc.store import ByteRequest, Store
from zarr.core.array import AsyncArray
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.sync import sync as _zarr_sync
from zarr.storage import StorePath, WrapperStore

__all__ = [
    "Buffer",
    "BufferPrototype",
    "ByteRequest",
    "Store",
    "WrapperStore",
    "array_from_metadata",
    "array_metadata_dict",
    "array_on_store",
    "array_store",
    "buffer_prototype",
    "byte_request",
    "cached_async_filesystems",
    "close_filesystem_sessions",
    "decode_inner_chunks",
    "delete_prefix",
    "group_metadata",
    "metadata_documents",
    "run_sync",
    "set_keys",
    "single_try_filesystem",
]

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on zarr's event loop thread and return its result.

    Raises ``TimeoutError`` when it takes longer than ``timeout`` seconds.
    """
    return _zarr_sync(coroutine, timeout=timeout)


def buffer_prototype() -> BufferPrototype:
    """Zarr's default buffer prototype (CPU memory), for direct store calls."""
    return default_buffer_prototype()


def byte_request(byte_range: Any) -> ByteRequest | None:
    """Zarr's store request for a :class:`helpers.fetch.ByteRange` (``None``: the whole object)."""
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest

    if byte_range is None:
        return None
    if byte_range.suffix is not None:
        return SuffixByteRequest(byte_range.suffix)
    return RangeByteRequest(byte_range.start, byte_range.stop)


def array_store(array: zarr.Array) -> Store:
    """The store an opened array reads from."""
    return array.store_path.store


def array_metadata_dict(array: zarr.Array) -> dict[str, Any]:
    """An opened array's metadata document as a plain dict (``.zarray`` or ``zarr.json`` form)."""
    return dict(array.metadata.to_dict())


def array_on_store(array: zarr.Array, store: Store) -> AsyncArray[Any]:
    """The same array (metadata as already read, same path) read through ``store`` instead."""
    return AsyncArray(
        metadata=array.metadata,
        store_path=StorePath(store, array.store_path.path),
        config=array.async_array.config,
    )


def array_from_metadata(metadata: Any, store: Store, path: str) -> zarr.Array:
    """An array at ``path`` of ``store`` with ``metadata`` made elsewhere (no request is sent)."""
    return zarr.Array(AsyncArray(metadata, StorePath(store, path)))


def group_metadata(attributes: dict[str, Any]) -> GroupMetadata:
    """Zarr v3 group metadata holding ``attributes`` (made in memory, nothing written)."""
    return GroupMetadata(attributes=attributes, zarr_format=3)


def metadata_documents(nodes: dict[str, Any]) -> dict[str, Buffer]:
    """The metadata documents (``zarr.json``...) of ``{path: metadata}`` nodes, keyed by store key."""
    prototype = buffer_prototype()
    return {
        f"{path}/{key}".lstrip("/"): buffer
        for path, metadata in nodes.items()
        for key, buffer in metadata.to_buffer_dict(prototype).items()
    }


def set_keys(store: Store, documents: dict[str, Buffer]) -> None:
    """Write every ``{key: buffer}`` of ``documents`` to ``store`` concurrently (one round trip)."""

    async def set_all() -> None:
        await asyncio.gather(*(store.set(key, value) for key, value in documents.items()))

    run_sync(set_all())


def delete_prefix(store: Store, prefix: str = "") -> int:
    """Delete every key below ``prefix`` in ``store`` (concurrently); return how many there were."""

    async def delete_all() -> int:
        keys = [key async for key in store.list_prefix(prefix)]
        await asyncio.gather(*(store.delete(key) for key in keys))
        return len(keys)

    return run_sync(delete_all())


async def _close_sessions(fs: fsspec.AbstractFileSystem) -> None:
    creator = getattr(fs, "_s3creator", None)
    if creator is not None:  # s3fs keeps its aiobotocore client here
        fs._s3 = fs._s3creator = None
        await creator.__aexit__(None, None, None)
    session = getattr(fs, "_session", None)
    if session is not None:  # fsspec's HTTP filesystem keeps its aiohttp session here
        fs._session = None
        await session.close()


def close_filesystem_sessions(fs: fsspec.AbstractFileSystem, timeout: float = 2.0) -> None:
    """Close an asynchronous s3fs/fsspec HTTP filesystem's sessions now; errors are ignored."""
    with contextlib.suppress(Exception):
        run_sync(_close_sessions(fs), timeout=timeout)


def cached_async_filesystems() -> list[fsspec.AbstractFileSystem]:
    """Fsspec's cached asynchronous S3 and HTTP filesystem instances in this process."""
    import s3fs

    found = []
    for cls in (s3fs.S3FileSystem, fsspec.get_filesystem_class("http")):
        for fs in list(getattr(cls, "_cache", {}).values()):
            if getattr(fs, "asynchronous", False):
                found.append(fs)
    return found


def single_try_filesystem(fs: Any) -> None:
    """Make an s3fs filesystem try each call once: the caller's retry loop does the retrying.

    s3fs retries some errors itself (``S3FileSystem.retries``, default 5) on top of botocore's;
    :class:`helpers.reliable.ReliableStore` counts attempts and the deadline itself. No-op for any
    other filesystem (or ``None``).
    """
    import s3fs

    if isinstance(fs, s3fs.S3FileSystem):
        fs.retries = 1


def decode_inner_chunks(metadata: dict[str, Any], raws: Sequence[bytes | None]) -> list[np.ndarray]:
    """Decode inner chunks of a sharded array (bytes read by range) as zarr does; ``None``: empty.

    ``metadata`` is the array's ``zarr.json``. Every result has the inner chunk shape (an edge chunk
    is padded, as stored); an empty chunk is the array's fill value.
    """
    from zarr.codecs.sharding import ShardingCodec
    from zarr.core.array_spec import ArrayConfig, ArraySpec
    from zarr.core.metadata.v3 import ArrayV3Metadata

    parsed = ArrayV3Metadata.from_dict(dict(metadata))
    sharding = next((c for c in parsed.codecs if isinstance(c, ShardingCodec)), None)
    if sharding is None:
        raise ValueError("not a sharded array: its chunks are whole objects (see helpers.fetch)")
    prototype = buffer_prototype()
    shard_spec = parsed.get_chunk_spec((0,) * parsed.ndim, ArrayConfig.from_dict({}), prototype)
    spec = ArraySpec(
        sharding.chunk_shape, shard_spec.dtype, shard_spec.fill_value, shard_spec.config, prototype
    )
    buffers = [None if raw is None else prototype.buffer.from_bytes(raw) for raw in raws]
    decoded = run_sync(sharding.codec_pipeline.decode([(b, spec) for b in buffers]))
    dtype = spec.dtype.to_native_dtype()
    return [
        np.full(spec.shape, spec.fill_value, dtype=dtype) if d is None else d.as_numpy_array()
        for d in decoded
    ]
