"""Read inner chunks of a sharded Zarr array over plain HTTP: index reads, then byte ranges.

One inner chunk is one byte range of one shard object (:mod:`helpers.shards`). To read a region,
:func:`fetch_chunks_from_shards` first GETs the index of every shard it touches (one suffix-range
request each, all in parallel), then every inner chunk it needs (one ranged request each, all in
parallel): two round trips, whatever the number of chunks. Indexes kept in a dict between calls
save the first round trip; a shard all of whose chunks are needed is read whole, in one GET.
(zarr 3.1.6 itself reads the index again for every read and the chunks of one shard one after
another: :func:`helpers.shards.plan_reads` counts both ways.) Turning the bytes into pixels is
:mod:`~helpers.fetch.decode`'s job.

Examples
--------
>>> from helpers.fetch import fetch_chunks_from_shards
>>> read = fetch_chunks_from_shards(level_url, (0, slice(0, 32)))  # doctest: +SKIP
>>> read.plan.requests, read.round_trips  # doctest: +SKIP
(3, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..chunks import ChunkIndex, Selection
from ..config import READ_TIMEOUT_S, VIEW_CONCURRENCY
from ..shards import (
    ReadPlan,
    ShardIndex,
    ShardLayout,
    decode_index,
    index_from_shard,
    plan_reads,
    ranges_for_chunks,
    shard_layout,
)
from .aio import fetch_async
from .metadata import read_array_metadata
from .results import FetchResult
from .retry import RetryPolicy
from .urls import check_url

__all__ = ["ShardedRead", "fetch_chunks_from_shards", "read_shard_index", "read_shard_indexes"]


@dataclass(frozen=True)
class ShardedRead:
    """What :func:`fetch_chunks_from_shards` fetched: inner chunks' bytes and the requests sent.

    Attributes
    ----------
    plan : ReadPlan
        The requests the region needed (index reads, chunk reads).
    chunks : dict
        ``{inner chunk index: bytes}`` for every chunk of the region, C order; ``None`` for an
        empty chunk (no bytes in the shard: it reads as the fill value, no request was sent).
    index_fetch : FetchResult or None
        Round 1, the index reads (``None``: every index needed was cached).
    chunk_fetch : FetchResult or None
        Round 2, the ranged chunk reads and the whole-shard reads (``None``: nothing to read).
    """

    plan: ReadPlan
    chunks: dict[ChunkIndex, bytes | None]
    index_fetch: FetchResult | None
    chunk_fetch: FetchResult | None

    @property
    def fetches(self) -> list[FetchResult]:
        """The rounds of requests actually sent (0, 1 or 2)."""
        return [f for f in (self.index_fetch, self.chunk_fetch) if f is not None]

    @property
    def round_trips(self) -> int:
        """Rounds of parallel requests sent: 2 with index reads, 1 with cached indexes."""
        return len(self.fetches)

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included."""
        return sum(f.stats.requests for f in self.fetches)

    @property
    def bytes(self) -> int:
        """Bytes received (indexes and chunks)."""
        return sum(f.stats.bytes for f in self.fetches)

    @property
    def wall_s(self) -> float:
        """Seconds spent fetching (both rounds)."""
        return sum(f.wall_s for f in self.fetches)


def _layout(base: str, metadata: dict[str, Any] | ShardLayout | None) -> ShardLayout:
    if isinstance(metadata, ShardLayout):
        return metadata
    return shard_layout(read_array_metadata(base) if metadata is None else metadata)


def _read_indexes(
    base: str,
    shards: Sequence[ChunkIndex],
    layout: ShardLayout,
    concurrency: int,
    retry: RetryPolicy | None,
    timeout_s: float,
) -> tuple[dict[ChunkIndex, ShardIndex], FetchResult]:
    urls = [f"{base}/{layout.shard_key(shard)}" for shard in shards]
    result = fetch_async(
        urls, concurrency, retry, timeout_s, ranges=[layout.index_range()] * len(urls)
    )
    indexes = {}
    for shard, url, raw in zip(shards, urls, result.data, strict=True):
        try:
            indexes[shard] = decode_index(raw, layout)
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
    return indexes, result


def read_shard_indexes(
    array_url: str,
    shards: Iterable[Sequence[int]],
    metadata: dict[str, Any] | ShardLayout | None = None,
    concurrency: int = VIEW_CONCURRENCY,
    *,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> dict[ChunkIndex, ShardIndex]:
    """The decoded indexes of ``shards``: one suffix-range GET each, all in parallel.

    Parameters
    ----------
    array_url : str
        http(s) URL of the array.
    shards : iterable of shard indices
        E.g. ``layout.shards_for_region(region)``.
    metadata : dict or ShardLayout, optional
        The array's ``zarr.json`` or layout; downloaded if not given.
    concurrency : int
        Requests in flight at most (default :data:`~helpers.config.VIEW_CONCURRENCY`).
    retry : RetryPolicy, optional
        Attempts and waits per request.
    timeout_s : float
        Longest silence between two reads of an answer.

    Raises
    ------
    ValueError
        Not a sharded array, a shard outside the grid, or an index that fails its checks
        (the message names the URL).
    FetchError
        A shard could not be read (a missing shard is a 404).

    Examples
    --------
    >>> from helpers.fetch import read_shard_indexes
    >>> read_shard_indexes(level_url, [(0, 0, 0)])[(0, 0, 0)].nchunks_stored  # doctest: +SKIP
    32
    """
    base = check_url(array_url).rstrip("/")
    layout = _layout(base, metadata)
    wanted = [tuple(int(i) for i in shard) for shard in shards]
    for shard in wanted:
        layout.shard_key(shard)  # checks it is in the grid
    return _read_indexes(base, wanted, layout, concurrency, retry, timeout_s)[0] if wanted else {}


def read_shard_index(
    array_url: str,
    shard_index: Sequence[int],
    metadata: dict[str, Any] | ShardLayout | None = None,
    *,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> ShardIndex:
    """The decoded index of one shard (one GET of its last, or first, bytes).

    Examples
    --------
    >>> from helpers.fetch import read_shard_index
    >>> index = read_shard_index(level_url, (0, 0, 0))  # doctest: +SKIP
    >>> index.range((0, 0, 1))  # doctest: +SKIP
    ByteRange(start=1303, stop=2578, suffix=None)
    """
    found = read_shard_indexes(
        array_url, [shard_index], metadata, 1, retry=retry, timeout_s=timeout_s
    )
    return found[tuple(int(i) for i in shard_index)]


def fetch_chunks_from_shards(
    array_url: str,
    region: Selection = None,
    metadata: dict[str, Any] | ShardLayout | None = None,
    concurrency: int = VIEW_CONCURRENCY,
    *,
    indexes: MutableMapping[ChunkIndex, ShardIndex] | None = None,
    whole_shards: bool = True,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> ShardedRead:
    """The raw bytes of the inner chunks ``region`` touches: index reads, then ranged reads.

    Round 1 reads the index of every shard touched (unless cached); round 2 reads every
    non-empty inner chunk needed by range, and every shard all of whose chunks are needed in
    one GET (its index comes with it). Each round is one :func:`~helpers.fetch.fetch_async`.

    Parameters
    ----------
    array_url : str
        http(s) URL of the array.
    region : selection, optional
        Ints and step-1 slices in array coordinates; ``None`` for the whole array.
    metadata : dict or ShardLayout, optional
        The array's ``zarr.json`` or layout; downloaded if not given.
    concurrency : int
        Requests in flight at most in each round (default
        :data:`~helpers.config.VIEW_CONCURRENCY`).
    indexes : dict, optional
        A cache of decoded indexes, ``{shard index: ShardIndex}``: shards found there are not
        read again, and the indexes read are added to it.
    whole_shards : bool
        GET a shard whole when every chunk of it is needed (one request instead of one per
        chunk, as zarr does); ``False``: always by range.
    retry : RetryPolicy, optional
        Attempts and waits per request.
    timeout_s : float
        Longest silence between two reads of an answer.

    Returns
    -------
    ShardedRead
        The chunks' bytes (``None`` for empty chunks), the plan and both rounds' results.

    Raises
    ------
    ValueError
        Not a sharded array, a bad region, or a shard index that fails its checks.
    FetchError
        A request failed after its retries (e.g. a missing shard: 404).

    Examples
    --------
    >>> from helpers.fetch import fetch_chunks_from_shards
    >>> cache = {}
    >>> fetch_chunks_from_shards(level_url, (0, 5), indexes=cache).round_trips  # doctest: +SKIP
    2
    >>> fetch_chunks_from_shards(level_url, (0, 5), indexes=cache).round_trips  # doctest: +SKIP
    1
    """
    base = check_url(array_url).rstrip("/")
    layout = _layout(base, metadata)
    cache: MutableMapping[ChunkIndex, ShardIndex] = {} if indexes is None else indexes
    plan = plan_reads(layout, region, set(cache), whole_shards=whole_shards)
    index_fetch = chunk_fetch = None
    if plan.index_reads:
        found, index_fetch = _read_indexes(
            base, plan.index_reads, layout, concurrency, retry, timeout_s
        )
        cache.update(found)
    chunks: dict[ChunkIndex, bytes | None] = dict.fromkeys(layout.chunks_for_region(region))
    reads = ranges_for_chunks(layout, plan.chunk_reads, cache)
    urls = [f"{base}/{read.key}" for read in reads]
    urls += [f"{base}/{layout.shard_key(shard)}" for shard in plan.whole_shard_reads]
    if urls:
        ranges = [read.byte_range for read in reads] + [None] * len(plan.whole_shard_reads)
        chunk_fetch = fetch_async(urls, concurrency, retry, timeout_s, ranges=ranges)
        chunks.update(zip((read.chunk for read in reads), chunk_fetch.data, strict=False))
        for shard, raw in zip(plan.whole_shard_reads, chunk_fetch.data[len(reads) :], strict=True):
            cache[shard] = index = _checked(f"{base}/{layout.shard_key(shard)}", raw, layout)
            for local in np.ndindex(*layout.chunks_per_shard):
                part = index.range(local)
                chunk = layout.chunk_at(shard, local)
                chunks[chunk] = None if part is None else raw[part.start : part.stop]
    return ShardedRead(plan, chunks, index_fetch, chunk_fetch)


def _checked(url: str, shard: bytes, layout: ShardLayout) -> ShardIndex:
    try:
        return index_from_shard(shard, layout)
    except ValueError as err:
        raise ValueError(f"{url}: {err}") from None
