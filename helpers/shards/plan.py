"""How many requests and round trips read a region of a sharded array: :func:`plan_reads`. Pure.

A reader that knows nothing about a shard first reads its index (one request), then the inner
chunks it needs (one ranged request each, all in parallel: two round trips); with the index
cached, one round trip. zarr 3.1.6 itself never caches indexes, reads a shard whole when every
chunk of it is needed, and reads the chunks of one shard one after another.

Examples
--------
>>> from helpers.shards import ShardLayout
>>> layout = ShardLayout((4, 64, 64), (2, 64, 64), (1, 16, 16), "uint16", "c", "/")
>>> plan = plan_reads(layout, (0, slice(0, 40), 0))
>>> plan.requests, plan.round_trips, plan.round_trips_one_by_one
(4, 2, 4)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from ..chunks import ChunkIndex, Selection
from .layout import ShardLayout

__all__ = ["ReadPlan", "plan_reads"]


@dataclass(frozen=True)
class ReadPlan:
    """The requests that read a region of a sharded array (:func:`plan_reads`).

    Attributes
    ----------
    shards : tuple of ChunkIndex
        The shards the region touches.
    index_reads : tuple of ChunkIndex
        Shards whose index must be read first (one suffix-range GET each; not the cached ones).
    chunk_reads : tuple of ChunkIndex
        Inner chunks read by range (global indices). An upper bound: an empty chunk, known from
        the index, needs no request.
    whole_shard_reads : tuple of ChunkIndex
        Shards read whole in one GET, index included (every chunk of them is needed).
    round_trips_one_by_one : int
        Round trips when the chunks of one shard are read one after another (what zarr 3.1.6
        does; shards in parallel): 1 per index read plus 1 per chunk, for the busiest shard.
    """

    shards: tuple[ChunkIndex, ...]
    index_reads: tuple[ChunkIndex, ...]
    chunk_reads: tuple[ChunkIndex, ...]
    whole_shard_reads: tuple[ChunkIndex, ...]
    round_trips_one_by_one: int

    @property
    def requests(self) -> int:
        """GET requests: index reads, chunk reads and whole-shard reads."""
        return len(self.index_reads) + len(self.chunk_reads) + len(self.whole_shard_reads)

    @property
    def round_trips(self) -> int:
        """Round trips of a parallel reader: 2 if some index must be read first, else 1."""
        return 2 if self.index_reads else 1


def plan_reads(
    layout: ShardLayout,
    region: Selection = None,
    cached_shards: Collection[ChunkIndex] = frozenset(),
    *,
    whole_shards: bool = False,
) -> ReadPlan:
    """The requests a reader sends to read ``region``: index reads, then chunk reads.

    Parameters
    ----------
    layout : ShardLayout
        The array's layout.
    region : selection, optional
        Ints and step-1 slices in array coordinates; ``None`` for the whole array.
    cached_shards : collection of ChunkIndex
        Shards whose index the reader already holds (no index read for them).
    whole_shards : bool
        Read a shard all of whose inner chunks are needed in one GET (what zarr does) instead
        of its index and every chunk.

    Examples
    --------
    >>> layout = ShardLayout((4, 64, 64), (2, 64, 64), (1, 16, 16), "uint16", "c", "/")
    >>> plan = plan_reads(layout, (slice(0, 2), 0, slice(0, 32)))
    >>> plan.shards, plan.index_reads, len(plan.chunk_reads), plan.requests, plan.round_trips
    (((0, 0, 0),), ((0, 0, 0),), 4, 5, 2)
    >>> plan_reads(layout, (slice(0, 2), 0, slice(0, 32)), {(0, 0, 0)}).round_trips
    1
    >>> plan_reads(layout, (slice(0, 2),), whole_shards=True).whole_shard_reads
    ((0, 0, 0),)
    """
    chunks = layout.chunks_for_region(region)
    shard_of = {chunk: layout.locate(chunk)[0] for chunk in chunks}
    counts = Counter(shard_of.values())
    shards = sorted(counts)
    per_shard = math.prod(layout.chunks_per_shard)
    whole = [s for s in shards if whole_shards and counts[s] == per_shard]
    partial = [s for s in shards if s not in whole]
    index_reads = [s for s in partial if s not in cached_shards]
    one_by_one = max(
        [1 for _ in whole] + [counts[s] + (s in index_reads) for s in partial], default=0
    )
    return ReadPlan(
        tuple(shards),
        tuple(index_reads),
        tuple(c for c in chunks if shard_of[c] not in whole),
        tuple(whole),
        one_by_one,
    )
