"""Which chunks of a level (or region) a store does not hold: Zarr's fill-value trap, made visible.

Zarr reads a chunk that does not exist as the array's fill value, with no error. Absent chunks are
normal where they held only the fill value (zarr 3 does not write such chunks by default: label
images are mostly absent chunks) and a fault where every chunk was written (the course's images: a
lost or half-finished upload). :func:`missing_chunks` lists them; strict reading
(:class:`helpers.reliable.ReliableStore`) turns reading one into an error.

Examples
--------
>>> from helpers import open_image
>>> missing_chunks(open_image("nuclei"), level=2)  # doctest: +SKIP
[]
"""

from __future__ import annotations

import asyncio
from typing import Any

from zarr.abc.store import RangeByteRequest

from ._compat import Store, array_store, buffer_prototype, run_sync
from .chunks import chunk_keys
from .reliable import ReliableStore

__all__ = ["missing_chunks"]

_EXISTS_CONCURRENCY = 32
"""Keys :func:`missing_chunks` checks at once over HTTP."""


async def _listing(store: Store, prefix: str) -> set[str]:
    return {key async for key in store.list_prefix(prefix)}


def _lists_objects(store: Store) -> bool:
    """False for HTTP stores: a web server has no listing of its objects to trust."""
    inner = store._store if isinstance(store, ReliableStore) else store  # noqa: SLF001
    protocol = getattr(getattr(inner, "fs", None), "protocol", ())
    protocols = {protocol} if isinstance(protocol, str) else set(protocol)
    return not protocols & {"http", "https"}


def missing_chunks(image_or_array: Any, level: int = 0, region: Any = None) -> list[str]:
    """The chunk keys a level (or region) needs that its store does not hold.

    Zarr reads an absent chunk as the fill value, which is right when it was left out because it
    held only that value (zarr 3's default, e.g. in label images) and wrong when it was lost (a
    broken upload). This lists them, for you to judge: for the course's images (every chunk
    written) the answer must be ``[]``. Over s3:// and local paths it compares the keys with one
    listing of the level's prefix; over http(s):// (no listing) it reads the first byte of each key.
    For a sharded array the keys are those of its shards (the objects): a lost shard is listed, an
    inner chunk left out of a shard (only fill value) is not.

    Parameters
    ----------
    image_or_array : OmeImage or zarr.Array
        An opened image (then ``level`` picks the array) or one array.
    level : int
        Pyramid level of an image (ignored for an array).
    region : selection, optional
        Ints and slices in array coordinates, e.g. ``(1, slice(100, 110))``; default all.

    Returns
    -------
    list of str
        The absent chunks' keys (relative to the array, as in :func:`helpers.chunks.chunk_keys`),
        in C order of the chunk grid.

    Raises
    ------
    ValueError
        Bad ``level`` or ``region``.
    FetchError
        The listing could not be read (after retries).

    Examples
    --------
    >>> from helpers import open_image
    >>> missing_chunks(open_image("nuclei"), level=0, region=(1, slice(100, 110)))  # doctest: +SKIP
    []
    """
    array = image_or_array.level(level) if hasattr(image_or_array, "level") else image_or_array
    keys = chunk_keys(array, region)
    store = array_store(array)
    prefix = f"{array.path}/" if array.path else ""
    retrying = store if isinstance(store, ReliableStore) else ReliableStore(store)
    if _lists_objects(store):
        present = run_sync(retrying.retrying(prefix, lambda: _listing(store, prefix)))
        return [key for key in keys if f"{prefix}{key}" not in present]

    inner = store._store if isinstance(store, ReliableStore) else store  # noqa: SLF001
    prototype = buffer_prototype()

    async def check_all() -> list[bool]:
        bound = asyncio.Semaphore(_EXISTS_CONCURRENCY)

        async def exists(key: str) -> bool:
            async with bound:  # a 1-byte GET: 404 is "absent", a 503 is retried, not "absent"
                first = RangeByteRequest(0, 1)
                read = await retrying.retrying(key, lambda: inner.get(key, prototype, first))
                return read is not None

        return list(await asyncio.gather(*(exists(f"{prefix}{key}") for key in keys)))

    found = run_sync(check_all())
    return [key for key, there in zip(keys, found, strict=True) if not there]
