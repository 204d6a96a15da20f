"""Shard maths of a sharded Zarr v3 array: shards, inner chunks, the shard index, byte ranges. Pure.

Zarr v3's ``sharding_indexed`` codec packs many small *inner chunks* into one object, a *shard*, so
a huge array needs fewer objects. The array's chunk grid is the shard grid (its ``chunk_shape`` is
the shard shape); the codec's own ``chunk_shape`` is the inner chunk shape. Each shard carries an
*index*: one ``(offset, length)`` pair of little-endian uint64 per inner chunk (both ``2**64 - 1``
for an empty chunk, which reads as the fill value), in C order, followed by a crc32c checksum of
those bytes (4 bytes, little-endian); the index sits at the end of the shard (or at its start).

A reader gets one inner chunk with two ranged GETs (:mod:`helpers.byteranges`): the index first
(``Range: bytes=-N``, N = 16 x chunks per shard + 4), then ``bytes=offset-(offset+length-1)``.
"One chunk = one object = one URL" becomes "one chunk = one byte range of one object".

A shard is a chunk of the shard grid and an inner chunk is a chunk of the inner grid: the grid
maths is :mod:`helpers.chunks`'s. Inner chunk indices here are global (positions in the array's
inner chunk grid); ``locate`` turns one into (shard, position inside the shard).

Modules: :mod:`~helpers.shards.layout` (shards, inner chunks, keys: :class:`ShardLayout`),
:mod:`~helpers.shards.index` (decoding a shard's index, byte ranges of inner chunks),
:mod:`~helpers.shards.plan` (requests and round trips of a read). Downloading is
:mod:`helpers.fetch.shards`'s job.

Examples
--------
>>> layout = ShardLayout((4, 64, 64), (2, 64, 64), (1, 16, 16), "uint16", "c", "/")
>>> layout.chunks_per_shard, layout.nshards, layout.nchunks, layout.index_nbytes
((2, 4, 4), 2, 64, 516)
>>> layout.locate((3, 1, 2)), layout.shard_key((1, 0, 0)), layout.index_range().header()
(((1, 0, 0), (1, 1, 2)), 'c/1/0/0', 'bytes=-516')
>>> plan = plan_reads(layout, (0, slice(0, 20), slice(0, 20)))
>>> plan.requests, plan.round_trips
(5, 2)
"""

from .index import (
    EMPTY,
    ChunkRange,
    ShardIndex,
    decode_index,
    index_from_shard,
    ranges_for_chunks,
    ranges_for_region,
)
from .layout import ShardLayout, shard_layout
from .plan import ReadPlan, plan_reads

__all__ = [
    "EMPTY",
    "ChunkRange",
    "ReadPlan",
    "ShardIndex",
    "ShardLayout",
    "decode_index",
    "index_from_shard",
    "plan_reads",
    "ranges_for_chunks",
    "ranges_for_region",
    "shard_layout",
]
