"""Read inner chunks of a sharded level for a viewer: shard indexes cached, every range at once.

A sharded Zarr v3 array stores many chunks per object (a shard) behind an index of byte ranges
(:mod:`helpers.shards`). zarr 3.1 reads the chunks of one shard one after another and re-reads the
shard's index for every read, so a view of 16 chunks costs 17 round trips. A viewer can do better,
and this module shows how:

1. the indexes of the shards a view touches are read at once (one suffix-range request each), and
   kept: a shard's index never changes while the image is open;
2. then every inner chunk the view needs is read at once, one byte-range request each.

A cold view costs two round trips, a view over shards whose indexes are cached one. The reads go
through the viewer's :class:`~helpers.browse.counting.CountingStore`, which counts them.

Examples
--------
>>> from helpers.shards import ShardLayout
>>> layout = ShardLayout((20, 512, 512), (10, 512, 512), (1, 256, 256), "uint16", "c", "/")
>>> cache = ShardIndexCache()
>>> cache.missing(0, [(0, 0, 0), (1, 0, 0)])
[(0, 0, 0), (1, 0, 0)]
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from .._compat import Store, buffer_prototype, byte_request
from ..chunks import ChunkIndex
from ..shards import ShardIndex, ShardLayout, decode_index, ranges_for_chunks

__all__ = ["ShardIndexCache", "ShardedFetch", "fetch_inner_chunks"]


class ShardIndexCache:
    """Decoded shard indexes, by ``(level, shard index)``: read once, used for every later view.

    An index is 16 bytes per inner chunk plus 4 (about 10 kB for a shard of 640 chunks), so the
    cache keeps every index it is given.
    """

    def __init__(self) -> None:
        self._indexes: dict[tuple[int, ChunkIndex], ShardIndex] = {}

    def get(self, level: int, shard: ChunkIndex) -> ShardIndex | None:
        """The cached index of ``shard`` of ``level``, or ``None``."""
        return self._indexes.get((level, shard))

    def put(self, level: int, shard: ChunkIndex, index: ShardIndex) -> None:
        """Keep the index of ``shard`` of ``level``."""
        self._indexes[(level, shard)] = index

    def missing(self, level: int, shards: Sequence[ChunkIndex]) -> list[ChunkIndex]:
        """Those of ``shards`` (of ``level``) whose index is not cached, in the given order."""
        return [s for s in shards if (level, s) not in self._indexes]

    def clear(self) -> None:
        """Forget every index."""
        self._indexes.clear()

    def __len__(self) -> int:
        return len(self._indexes)


@dataclass(frozen=True)
class ShardedFetch:
    """The raw inner chunks one read fetched, and its requests by kind.

    Attributes
    ----------
    chunks : dict
        Global inner-chunk index -> its stored bytes, or ``None`` for a chunk the shard does not
        hold (the fill value).
    index_reads : int
        Suffix-range requests for shard indexes (0 when every index was cached).
    range_reads : int
        Byte-range requests for inner chunks.
    """

    chunks: dict[ChunkIndex, bytes | None]
    index_reads: int
    range_reads: int

    @property
    def round_trips(self) -> int:
        """Rounds of requests that waited for each other: 2 with index reads, else 1 (0: none)."""
        return int(self.index_reads > 0) + int(self.range_reads > 0)


async def fetch_inner_chunks(
    store: Store,
    array_path: str,
    layout: ShardLayout,
    level: int,
    chunks: Sequence[ChunkIndex],
    indexes: ShardIndexCache,
    concurrency: int,
) -> ShardedFetch:
    """Fetch the stored bytes of inner ``chunks``: missing shard indexes first, then every range.

    Parameters
    ----------
    store : zarr Store
        The store holding the array (the viewer's counting store).
    array_path : str
        The array's path in ``store`` (``""`` at the root).
    layout : ShardLayout
        The array's shard layout.
    level : int
        The pyramid level, the cache key of the indexes.
    chunks : sequence of ChunkIndex
        Global inner-chunk indices to fetch.
    indexes : ShardIndexCache
        Cached indexes; the indexes read here are added.
    concurrency : int
        Most requests in flight at once.

    Returns
    -------
    ShardedFetch
        The bytes of each chunk and the requests made.

    Raises
    ------
    FileNotFoundError
        A shard the chunks need does not exist (a lost object is never shown as zeros).
    ValueError
        A shard index that does not decode (wrong size, checksum mismatch).
    """
    limit = asyncio.Semaphore(concurrency)
    prototype = buffer_prototype()
    prefix = f"{array_path.strip('/')}/" if array_path.strip("/") else ""

    async def get(key: str, what: object) -> bytes:
        async with limit:
            buffer = await store.get(prefix + key, prototype, byte_request(what))  # type: ignore[arg-type]
        if buffer is None:
            raise FileNotFoundError(f"shard {prefix + key} does not exist in {store}")
        return buffer.to_bytes()

    shards = list(dict.fromkeys(layout.locate(chunk)[0] for chunk in chunks))
    to_read = indexes.missing(level, shards)
    raws = await asyncio.gather(
        *(get(layout.shard_key(shard), layout.index_range()) for shard in to_read)
    )
    for shard, raw in zip(to_read, raws, strict=True):
        indexes.put(level, shard, decode_index(raw, layout))
    known = {shard: indexes.get(level, shard) for shard in shards}
    wanted = ranges_for_chunks(layout, chunks, known)  # type: ignore[arg-type]
    bodies = await asyncio.gather(*(get(r.key, r.byte_range) for r in wanted))
    out: dict[ChunkIndex, bytes | None] = dict.fromkeys(map(tuple, chunks))  # None: not stored
    out.update((r.chunk, body) for r, body in zip(wanted, bodies, strict=True))
    return ShardedFetch(out, index_reads=len(to_read), range_reads=len(wanted))
