"""Zarr v3 sharding: many chunks in one object, read by byte ranges.

A sharded array stores a *shard* (a block of inner chunks) as one object, with an *index* at its
end (or start): one ``(offset, length)`` pair of uint64 per inner chunk, then a crc32c checksum. A
reader gets an inner chunk without the whole shard: it reads the index with a suffix range
(``Range: bytes=-N``), then the chunk's bytes with a second range. The maths (:class:`ShardLayout`,
:func:`decode_index`, :func:`plan_reads`) send no request; :func:`fetch_chunks_from_shards` reads
over HTTP in two rounds of parallel requests (indexes, then chunks).

A *region* is ints and step-1 slices in array coordinates (``None``: the whole array); ``metadata``
is the array's ``zarr.json``, downloaded from the array's URL when not given.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import google_crc32c
import numpy as np

from .chunks import (
    ChunkIndex,
    ChunkLayout,
    Region,
    Selection,
    chunk_grid,
    chunk_layout,
    chunk_region,
    read_array_metadata,
)
from .fetch import ByteRange, FetchResult, RetryPolicy, fetch_async

__all__ = [
    "CHECKSUM_NBYTES",
    "EMPTY",
    "ENTRY_NBYTES",
    "ChunkRange",
    "ReadPlan",
    "ShardIndex",
    "ShardLayout",
    "ShardedRead",
    "decode_chunk",
    "decode_index",
    "fetch_chunks_from_shards",
    "plan_reads",
    "ranges_for_chunks",
    "shard_layout",
]

CONCURRENCY = 64
"""Requests in flight at most in each round of a read."""
ENTRY_NBYTES = 16
"""Bytes of one index entry: an (offset, length) pair of uint64."""
CHECKSUM_NBYTES = 4
"""Bytes of the index's crc32c checksum."""
EMPTY = 2**64 - 1
"""Offset and length of an empty inner chunk in a shard index (it reads as the fill value)."""


def _inside(index: Sequence[int], grid: Sequence[int]) -> bool:
    """True if ``index`` is a cell of a grid of ``grid`` cells along each axis."""
    return len(index) == len(grid) and all(0 <= i < n for i, n in zip(index, grid, strict=True))


@dataclass(frozen=True)
class ShardLayout:
    """Where a sharded array's shards, inner chunks and indexes are (see :func:`shard_layout`).

    ``shard_shape`` is the array's chunk grid (one object per shard); ``chunk_shape`` divides it.
    ``prefix`` and ``separator`` make the keys (see :class:`helpers.chunks.ChunkLayout`). The index
    is at each shard's ``"end"`` (or ``"start"``), with a crc32c checksum if ``index_checksum``.

    Examples
    --------
    >>> layout = ShardLayout((100, 100), (64, 64), (16, 16), "uint8", "c", "/")
    >>> layout.shard_grid, layout.chunks_per_shard, layout.index_nbytes
    ((2, 2), (4, 4), 260)
    >>> layout.locate((5, 0)), layout.chunks_for_region((slice(60, 70), 0))
    (((1, 0), (1, 0)), [(3, 0), (4, 0)])
    """

    shape: tuple[int, ...]
    shard_shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    dtype: str
    prefix: str
    separator: str
    index_location: str = "end"
    index_checksum: bool = True

    def __post_init__(self) -> None:
        if not len(self.shape) == len(self.shard_shape) == len(self.chunk_shape):
            raise ValueError(
                f"shape {self.shape}, shard shape {self.shard_shape} and chunk shape "
                f"{self.chunk_shape} differ in length"
            )
        chunk_grid(self.shape, self.shard_shape)  # checks sizes
        chunk_grid(self.shard_shape, self.chunk_shape)
        if any(s % c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True)):
            raise ValueError(
                f"the shard shape {self.shard_shape} is not a multiple of the inner chunk shape "
                f"{self.chunk_shape}"
            )
        if self.index_location not in ("end", "start"):
            raise ValueError(
                f"index_location must be 'end' or 'start', got {self.index_location!r}"
            )

    @property
    def objects(self) -> ChunkLayout:
        """The layout of the objects (the shards), as :func:`helpers.chunks.chunk_layout` has it."""
        return ChunkLayout(
            self.shape, self.shard_shape, self.dtype, 3, self.prefix, self.separator, True
        )

    @property
    def chunks_per_shard(self) -> tuple[int, ...]:
        """Inner chunks along each axis of one shard."""
        return tuple(s // c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True))

    @property
    def shard_grid(self) -> tuple[int, ...]:
        """Number of shards along each axis."""
        return chunk_grid(self.shape, self.shard_shape)

    @property
    def chunk_grid(self) -> tuple[int, ...]:
        """Number of inner chunks along each axis of the array."""
        return chunk_grid(self.shape, self.chunk_shape)

    @property
    def nshards(self) -> int:
        """Number of shards (= objects)."""
        return math.prod(self.shard_grid)

    @property
    def nchunks(self) -> int:
        """Number of inner chunks in the array."""
        return math.prod(self.chunk_grid)

    @property
    def index_nbytes(self) -> int:
        """Size of one shard's index: 16 bytes per inner chunk, plus 4 for the checksum."""
        checksum = CHECKSUM_NBYTES if self.index_checksum else 0
        return ENTRY_NBYTES * math.prod(self.chunks_per_shard) + checksum

    def index_range(self) -> ByteRange:
        """The bytes of a shard holding its index: the last (or first) :attr:`index_nbytes`."""
        n = self.index_nbytes
        return ByteRange.suffix_of(n) if self.index_location == "end" else ByteRange.span(0, n)

    def shard_key(self, shard_index: Sequence[int]) -> str:
        """The object key (relative to the array) of the shard at ``shard_index``."""
        return self.objects.key(shard_index)

    def shards_for_region(self, region: Selection = None) -> list[ChunkIndex]:
        """The shards ``region`` touches (all of them for ``None``), C order."""
        return self.objects.indices(region)

    def chunks_for_region(self, region: Selection = None) -> list[ChunkIndex]:
        """The inner chunks ``region`` touches (all for ``None``), global indices, C order."""
        inner = ChunkLayout(self.shape, self.chunk_shape, self.dtype, 3, "", "/")
        return inner.indices(region)

    def locate(self, chunk_index: Sequence[int]) -> tuple[ChunkIndex, ChunkIndex]:
        """``(shard index, position inside the shard)`` of the inner chunk ``chunk_index``."""
        if not _inside(chunk_index, self.chunk_grid):
            grid = self.chunk_grid
            raise ValueError(f"inner chunk {tuple(chunk_index)} is outside the chunk grid {grid}")
        per = self.chunks_per_shard
        shard = tuple(i // p for i, p in zip(chunk_index, per, strict=True))
        return shard, tuple(i % p for i, p in zip(chunk_index, per, strict=True))

    def chunk_at(self, shard_index: Sequence[int], local_index: Sequence[int]) -> ChunkIndex:
        """The global index of the inner chunk at ``local_index`` inside shard ``shard_index``."""
        per = self.chunks_per_shard
        if not _inside(local_index, per):
            raise ValueError(f"position {tuple(local_index)} is outside a shard of {per} chunks")
        return tuple(s * p + i for s, p, i in zip(shard_index, per, local_index, strict=True))

    def chunk_region(self, chunk_index: Sequence[int]) -> Region:
        """The pixels the inner chunk ``chunk_index`` covers (cut at the array's border)."""
        return chunk_region(tuple(chunk_index), self.shape, self.chunk_shape)


def _codec_name(codec: Any) -> Any:
    return codec.get("name") if isinstance(codec, dict) else codec


def _metadata_dict(metadata: Any) -> dict[str, Any]:
    """``metadata`` as a ``zarr.json`` dict (given as one, or as an opened ``zarr.Array``)."""
    if isinstance(metadata, dict):
        return metadata
    if hasattr(metadata, "metadata") and hasattr(metadata.metadata, "to_dict"):
        return dict(metadata.metadata.to_dict())  # an opened zarr.Array
    raise ValueError(
        f"decoding needs the array's zarr.json (a dict) or a zarr.Array, got {type(metadata).__name__}"
    )


def _sharding_config(metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The ``sharding_indexed`` codec's configuration, checked; whether the index has a crc32c."""
    codecs = list(metadata.get("codecs", []))
    names = [_codec_name(c) for c in codecs]
    if names != ["sharding_indexed"] or not isinstance(codecs[0], dict):
        raise ValueError(
            f"unsupported codecs {names}: only arrays whose one codec is 'sharding_indexed' "
            "can be read by byte ranges"
        )
    config = codecs[0].get("configuration") or {}
    if not isinstance(config, dict) or "chunk_shape" not in config:
        raise ValueError("the sharding_indexed codec has no inner 'chunk_shape'")
    if "sharding_indexed" in [_codec_name(c) for c in config.get("codecs", [])]:
        raise ValueError("nested sharding (shards inside shards) is not supported")
    index_codecs = list(config.get("index_codecs", [{"name": "bytes"}, {"name": "crc32c"}]))
    names = [_codec_name(c) for c in index_codecs]
    first = index_codecs[0] if index_codecs and isinstance(index_codecs[0], dict) else {}
    if (
        names not in (["bytes"], ["bytes", "crc32c"])
        or (first.get("configuration") or {}).get("endian", "little") != "little"
    ):
        raise ValueError(
            f"unsupported shard index codecs {index_codecs}: only little-endian 'bytes', "
            "optionally followed by 'crc32c'"
        )
    return config, names == ["bytes", "crc32c"]


def shard_layout(metadata: dict[str, Any] | Any) -> ShardLayout:
    """The :class:`ShardLayout` of a sharded Zarr v3 array, from its ``zarr.json`` or ``zarr.Array``.

    No request is sent. ``ValueError`` for an array that is not sharded, nested sharding, other
    codecs around the sharding codec, or an index not in little-endian ``bytes`` (+ ``crc32c``).

    Examples
    --------
    >>> import zarr
    >>> array = zarr.create_array({}, shape=(100, 100), shards=(64, 64), chunks=(16, 16), dtype="u1")
    >>> shard_layout(array).chunks_per_shard
    (4, 4)
    """
    shards = chunk_layout(metadata)  # checks the metadata; its chunks are the shards
    if not shards.sharded:
        raise ValueError("not sharded: use helpers.chunks.chunk_layout for this array")
    config, checksum = _sharding_config(_metadata_dict(metadata))
    try:
        inner = tuple(int(c) for c in config["chunk_shape"])
    except (TypeError, ValueError):
        raise ValueError(f"bad inner chunk shape {config['chunk_shape']!r}") from None
    if len(inner) != len(shards.shape):
        raise ValueError(
            f"inner chunk shape {inner} does not match the array's {len(shards.shape)} axes"
        )
    return ShardLayout(
        shards.shape,
        shards.chunks,
        inner,
        shards.dtype,
        shards.prefix,
        shards.separator,
        str(config.get("index_location", "end")),
        checksum,
    )


@dataclass(frozen=True, eq=False)
class ShardIndex:
    """One shard's decoded index (:func:`decode_index`): where each inner chunk's bytes are."""

    offsets: np.ndarray  # uint64, shaped like the shard's grid of inner chunks; EMPTY: empty chunk
    lengths: np.ndarray  # the same, the chunks' lengths

    @property
    def chunks_per_shard(self) -> tuple[int, ...]:
        """Inner chunks along each axis of the shard."""
        return tuple(int(n) for n in self.offsets.shape)

    @property
    def stored(self) -> np.ndarray:
        """True where an inner chunk has bytes in the shard (False: empty, the fill value)."""
        return (self.offsets != EMPTY) & (self.lengths != 0)

    @property
    def nchunks_stored(self) -> int:
        """Inner chunks with bytes in the shard."""
        return int(self.stored.sum())

    @property
    def nbytes_stored(self) -> int:
        """Bytes of all stored inner chunks (the shard's size less its index)."""
        return int(self.lengths[self.stored].sum())

    def range(self, local_index: Sequence[int]) -> ByteRange | None:
        """The bytes of the inner chunk at ``local_index`` in the shard, ``None`` if it is empty."""
        position, per = tuple(local_index), self.chunks_per_shard
        if not _inside(position, per):
            raise ValueError(f"position {position} is outside a shard of {per} chunks")
        if not self.stored[position]:
            return None
        offset = int(self.offsets[position])
        return ByteRange.span(offset, offset + int(self.lengths[position]))


def decode_index(raw: bytes, layout: ShardLayout, shard_nbytes: int | None = None) -> ShardIndex:
    """Decode (and check) the index of one shard from its ``layout.index_nbytes`` raw bytes.

    ``raw`` comes from a GET of ``layout.index_range()``; given ``shard_nbytes`` (the shard's size),
    every chunk must lie inside the shard. ``ValueError`` for a wrong length or checksum, or an
    entry half empty or outside the shard.

    Examples
    --------
    >>> layout = ShardLayout((2,), (2,), (1,), "uint8", "c", "/", index_checksum=False)
    >>> decode_index(np.array([0, 5, 5, 3], "<u8").tobytes(), layout).range((1,))
    ByteRange(start=5, stop=8, suffix=None)
    """
    data, per = bytes(raw), layout.chunks_per_shard
    if len(data) != layout.index_nbytes:
        raise ValueError(
            f"a shard index of {per} chunks has {layout.index_nbytes} bytes, got {len(data)}"
        )
    if layout.index_checksum:
        data, stored = data[:-CHECKSUM_NBYTES], int.from_bytes(data[-CHECKSUM_NBYTES:], "little")
        computed = int(google_crc32c.value(data))
        if computed != stored:
            raise ValueError(
                f"shard index checksum mismatch: expected crc32c {stored:#010x} (stored), "
                f"computed {computed:#010x}: the index is corrupt or was read from the wrong place"
            )
    pairs = np.frombuffer(data, dtype="<u8").reshape(*per, 2).astype(np.uint64)
    offsets, lengths = pairs[..., 0].copy(), pairs[..., 1].copy()
    half = (offsets == EMPTY) != (lengths == EMPTY)
    if half.any():
        where = tuple(int(i) for i in np.argwhere(half)[0])
        raise ValueError(
            f"corrupt shard index: chunk {where} has offset {offsets[where]} and length "
            f"{lengths[where]} (an empty chunk has both 2**64 - 1)"
        )
    stored = offsets != EMPTY
    starts = [int(o) for o in offsets[stored]]
    ends = [o + int(n) for o, n in zip(starts, lengths[stored], strict=True)]
    first, last = 0, EMPTY  # where chunk bytes may lie: before, after or around the index
    if shard_nbytes is not None and layout.index_location == "start":
        first, last = layout.index_nbytes, shard_nbytes
    elif shard_nbytes is not None:
        last = shard_nbytes - layout.index_nbytes
    if starts and (min(starts) < first or max(ends) > last):
        raise ValueError(
            f"corrupt shard index: chunks span bytes {min(starts)}-{max(ends)}, outside the "
            f"chunk bytes {first}-{last} of the shard"
        )
    return ShardIndex(offsets, lengths)


@dataclass(frozen=True)
class ChunkRange:
    """One ranged GET: the bytes of inner chunk ``chunk`` in shard ``shard`` (object ``key``)."""

    chunk: ChunkIndex
    shard: ChunkIndex
    key: str
    byte_range: ByteRange


def ranges_for_chunks(
    layout: ShardLayout, chunks: Iterable[Sequence[int]], indexes: Mapping[ChunkIndex, ShardIndex]
) -> list[ChunkRange]:
    """The ranged GETs that read the inner ``chunks``, given their shards' indexes (empty: none)."""
    out = []
    for chunk in chunks:
        shard, local = layout.locate(chunk)
        index = indexes.get(shard)
        if index is None:
            raise ValueError(
                f"no index for shard {shard} (key {layout.shard_key(shard)!r}): read it first"
            )
        if index.chunks_per_shard != layout.chunks_per_shard:
            raise ValueError(
                f"the index of shard {shard} has {index.chunks_per_shard} chunks, the layout "
                f"{layout.chunks_per_shard}"
            )
        byte_range = index.range(local)
        if byte_range is not None:
            out.append(ChunkRange(tuple(chunk), shard, layout.shard_key(shard), byte_range))
    return out


@dataclass(frozen=True)
class ReadPlan:
    """The requests that read a region of a sharded array (:func:`plan_reads`)."""

    shards: tuple[ChunkIndex, ...]  # the shards the region touches
    index_reads: tuple[ChunkIndex, ...]  # shards whose index is read first (not the cached ones)
    chunk_reads: tuple[ChunkIndex, ...]  # inner chunks read by range (at most: empty ones are not)
    whole_shard_reads: tuple[ChunkIndex, ...]  # shards read whole, in one GET
    round_trips_one_by_one: int  # if a shard's chunks are read one by one (zarr 3.1.6 does)

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

    No index read for the ``cached_shards``. With ``whole_shards``, a shard all of whose inner
    chunks are needed is read in one GET (as zarr does), not as its index and every chunk.

    Examples
    --------
    >>> layout = ShardLayout((4, 64, 64), (2, 64, 64), (1, 16, 16), "uint16", "c", "/")
    >>> plan = plan_reads(layout, (slice(0, 2), 0, slice(0, 32)))
    >>> plan.index_reads, len(plan.chunk_reads), plan.requests, plan.round_trips
    (((0, 0, 0),), 4, 5, 2)
    """
    chunks = layout.chunks_for_region(region)
    shard_of = {chunk: layout.locate(chunk)[0] for chunk in chunks}
    counts = Counter(shard_of.values())
    shards = sorted(counts)
    per_shard = math.prod(layout.chunks_per_shard)
    whole = [s for s in shards if whole_shards and counts[s] == per_shard]
    partial = [s for s in shards if s not in whole]
    index_reads = [s for s in partial if s not in cached_shards]
    # One by one: a whole shard is 1 round trip; a partial one, its index read and each chunk.
    one_by_one = max(
        [1 for _ in whole] + [counts[s] + (s in index_reads) for s in partial], default=0
    )
    chunk_reads = tuple(c for c in chunks if shard_of[c] not in whole)
    return ReadPlan(tuple(shards), tuple(index_reads), chunk_reads, tuple(whole), one_by_one)


@dataclass(frozen=True)
class ShardedRead:
    """What :func:`fetch_chunks_from_shards` fetched: inner chunks' bytes and the requests sent."""

    plan: ReadPlan
    chunks: dict[ChunkIndex, bytes | None]  # every chunk of the region; None: empty, not read
    index_fetch: FetchResult | None  # round 1: the index reads (None: all were cached)
    chunk_fetch: FetchResult | None  # round 2: the ranged and the whole-shard reads

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
        return sum(f.requests for f in self.fetches)

    @property
    def bytes(self) -> int:
        """Bytes received (indexes and chunks)."""
        return sum(len(b) for f in self.fetches for b in f.data)

    @property
    def wall_s(self) -> float:
        """Seconds spent fetching (both rounds)."""
        return sum(f.wall_s for f in self.fetches)


def _layout(base: str, metadata: dict[str, Any] | ShardLayout | None) -> ShardLayout:
    if isinstance(metadata, ShardLayout):
        return metadata
    return shard_layout(read_array_metadata(base) if metadata is None else metadata)


def _decode(url: str, raw: bytes, layout: ShardLayout, *, whole_shard: bool = False) -> ShardIndex:
    """The index in ``raw`` (an index, or a whole shard); a bad one is reported with its URL."""
    try:
        if not whole_shard:
            return decode_index(raw, layout)
        start, stop = layout.index_range().resolve(len(raw))
        return decode_index(raw[start:stop], layout, len(raw))
    except ValueError as err:
        raise ValueError(f"{url}: {err}") from None


def _read_indexes(
    base: str,
    shards: Sequence[ChunkIndex],
    layout: ShardLayout,
    concurrency: int,
    retry: RetryPolicy | None,
) -> tuple[dict[ChunkIndex, ShardIndex], FetchResult]:
    """The decoded indexes of ``shards`` (one suffix-range GET each, in parallel) and the fetch."""
    urls = [f"{base}/{layout.shard_key(shard)}" for shard in shards]
    result = fetch_async(urls, concurrency, retry, ranges=[layout.index_range()] * len(urls))
    found = zip(shards, urls, result.data, strict=True)
    return {shard: _decode(url, raw, layout) for shard, url, raw in found}, result


def fetch_chunks_from_shards(
    array_url: str,
    region: Selection = None,
    metadata: dict[str, Any] | ShardLayout | None = None,
    concurrency: int = CONCURRENCY,
    *,
    indexes: MutableMapping[ChunkIndex, ShardIndex] | None = None,
    whole_shards: bool = True,
    retry: RetryPolicy | None = None,
) -> ShardedRead:
    """The raw bytes of the inner chunks ``region`` touches: index reads, then ranged reads.

    Round 1 reads the indexes that are not in the cache ``indexes`` (``{shard index: ShardIndex}``;
    the indexes read are added). Round 2 reads each non-empty chunk needed by range and, with
    ``whole_shards``, each shard all of whose chunks are needed in one GET, as zarr does. Each round
    is one :func:`~helpers.fetch.fetch_async`, at most ``concurrency`` requests in flight.

    Examples
    --------
    >>> cache = {}
    >>> fetch_chunks_from_shards(level_url, (0, 5), indexes=cache).round_trips  # doctest: +SKIP
    2
    >>> fetch_chunks_from_shards(level_url, (0, 5), indexes=cache).round_trips  # doctest: +SKIP
    1
    """
    base = array_url.rstrip("/")
    layout = _layout(base, metadata)
    cache: MutableMapping[ChunkIndex, ShardIndex] = {} if indexes is None else indexes
    plan = plan_reads(layout, region, set(cache), whole_shards=whole_shards)
    index_fetch = chunk_fetch = None
    if plan.index_reads:
        found, index_fetch = _read_indexes(base, plan.index_reads, layout, concurrency, retry)
        cache.update(found)
    chunks: dict[ChunkIndex, bytes | None] = dict.fromkeys(layout.chunks_for_region(region))
    reads = ranges_for_chunks(layout, plan.chunk_reads, cache)
    whole = [f"{base}/{layout.shard_key(shard)}" for shard in plan.whole_shard_reads]
    if reads or whole:
        urls = [f"{base}/{read.key}" for read in reads] + whole
        ranges = [read.byte_range for read in reads] + [None] * len(whole)
        chunk_fetch = fetch_async(urls, concurrency, retry, ranges=ranges)
        chunks.update(zip((read.chunk for read in reads), chunk_fetch.data, strict=False))
        shards = zip(plan.whole_shard_reads, whole, chunk_fetch.data[len(reads) :], strict=True)
        for shard, url, raw in shards:  # a whole shard: its index, then each chunk's bytes
            cache[shard] = index = _decode(url, raw, layout, whole_shard=True)
            for local in np.ndindex(*layout.chunks_per_shard):
                part = index.range(local)
                chunk = layout.chunk_at(shard, local)
                chunks[chunk] = None if part is None else raw[part.start : part.stop]
    return ShardedRead(plan, chunks, index_fetch, chunk_fetch)


def decode_chunk(raw: bytes | None, metadata: dict[str, Any] | Any) -> np.ndarray:
    """The pixels of one inner chunk of a sharded array, from its bytes (zarr's own codecs).

    ``raw``: one range of a shard (``None``: empty, the fill value). ``metadata`` may be a
    ``zarr.Array``. An edge chunk comes padded to the inner chunk shape, as stored.

    Examples
    --------
    >>> read = fetch_chunks_from_shards(level_url, (0, 0, 0))  # doctest: +SKIP
    >>> decode_chunk(read.chunks[(0, 0, 0)], metadata).shape  # doctest: +SKIP
    (1, 256, 256)
    """
    from ._compat import decode_inner_chunks  # loads zarr: only when decoding

    return decode_inner_chunks(_metadata_dict(metadata), [raw])[0]
