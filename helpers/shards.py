"""Zarr v3 sharding: many chunks in one object, read by byte ranges.

A sharded array stores a *shard* (a block of inner chunks) as one object, with an *index* at its end
(or start): one ``(offset, length)`` pair of uint64 per inner chunk, then a crc32c checksum. A reader
gets an inner chunk without the whole shard: it reads the index with a suffix range (``Range:
bytes=-N``), then the chunk's bytes with a second range. This module has the maths, pure:
:class:`ShardLayout` (where shards, inner chunks and indexes are, from the array's metadata),
:func:`decode_index` (what an index says), :func:`plan_reads` (how many requests and round trips
read a region); and the reading, over HTTP: :func:`read_shard_index`,
:func:`fetch_chunks_from_shards` (two rounds of parallel requests: indexes, then chunks),
:func:`decode_chunk` and :func:`read_sharded_region`.

Examples
--------
>>> layout = ShardLayout((100, 100), (64, 64), (16, 16), "uint8", "c", "/")
>>> layout.shard_grid, layout.chunks_per_shard, layout.index_nbytes
((2, 2), (4, 4), 260)
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
    intersect,
    normalize_region,
    read_array_metadata,
    region_shape,
    relative_region,
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
    "index_from_shard",
    "plan_reads",
    "ranges_for_chunks",
    "ranges_for_region",
    "read_shard_index",
    "read_shard_indexes",
    "read_sharded_region",
    "shard_layout",
]

CONCURRENCY = 64
"""Requests in flight at most in each round of a read."""


ENTRY_NBYTES = 16
"""Bytes of one index entry: an (offset, length) pair of uint64."""
CHECKSUM_NBYTES = 4
"""Bytes of the index's crc32c checksum."""


@dataclass(frozen=True)
class ShardLayout:
    """Where a sharded array's inner chunks live: shards, inner chunks, the index (:func:`shard_layout`).

    Attributes
    ----------
    shape : tuple of int
        Array shape.
    shard_shape : tuple of int
        Shard shape (the array's chunk grid: one object per shard).
    chunk_shape : tuple of int
        Inner chunk shape (divides ``shard_shape``).
    dtype : str
        Data type as written in the metadata.
    prefix, separator : str
        Of the shard keys, as in :class:`helpers.chunks.ChunkLayout`.
    index_location : {"end", "start"}
        Where each shard keeps its index.
    index_checksum : bool
        Whether the index ends with a crc32c checksum.

    Examples
    --------
    >>> layout = ShardLayout((100,), (64,), (16,), "uint8", "c", "/")
    >>> layout.shard_grid, layout.chunk_grid, layout.chunks_for_region((slice(60, 70),))
    ((2,), (7,), [(3,), (4,)])
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
        """The layout of the objects (the shards), as :func:`helpers.chunks.chunk_layout` gives it."""
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
        if self.index_location == "end":
            return ByteRange.suffix_of(self.index_nbytes)
        return ByteRange.span(0, self.index_nbytes)

    def shard_key(self, shard_index: Sequence[int]) -> str:
        """The object key (relative to the array) of the shard at ``shard_index``."""
        return self.objects.key(shard_index)

    def shards_for_region(self, region: Selection = None) -> list[ChunkIndex]:
        """The shards ``region`` touches (all of them for ``None``), C order."""
        return self.objects.indices(region)

    def chunks_for_region(self, region: Selection = None) -> list[ChunkIndex]:
        """The inner chunks ``region`` touches (all of them for ``None``), global indices, C order."""
        inner = ChunkLayout(self.shape, self.chunk_shape, self.dtype, 3, "", "/")
        return inner.indices(region)

    def locate(self, chunk_index: Sequence[int]) -> tuple[ChunkIndex, ChunkIndex]:
        """``(shard index, position inside the shard)`` of the inner chunk ``chunk_index``.

        Examples
        --------
        >>> ShardLayout((100,), (64,), (16,), "uint8", "c", "/").locate((5,))
        ((1,), (1,))
        """
        grid = self.chunk_grid
        if len(chunk_index) != len(grid) or any(
            not 0 <= i < n for i, n in zip(chunk_index, grid, strict=True)
        ):
            raise ValueError(f"inner chunk {tuple(chunk_index)} is outside the chunk grid {grid}")
        per = self.chunks_per_shard
        shard = tuple(i // p for i, p in zip(chunk_index, per, strict=True))
        return shard, tuple(i % p for i, p in zip(chunk_index, per, strict=True))

    def chunk_at(self, shard_index: Sequence[int], local_index: Sequence[int]) -> ChunkIndex:
        """The global index of the inner chunk at ``local_index`` inside shard ``shard_index``."""
        per = self.chunks_per_shard
        if len(local_index) != len(per) or any(
            not 0 <= i < p for i, p in zip(local_index, per, strict=True)
        ):
            raise ValueError(f"position {tuple(local_index)} is outside a shard of {per} chunks")
        return tuple(s * p + i for s, p, i in zip(shard_index, per, local_index, strict=True))

    def chunk_region(self, chunk_index: Sequence[int]) -> Region:
        """The pixels the inner chunk ``chunk_index`` covers (cut at the array's border)."""
        return chunk_region(tuple(chunk_index), self.shape, self.chunk_shape)


def _codec_name(codec: Any) -> Any:
    return codec.get("name") if isinstance(codec, dict) else codec


def shard_layout(metadata: dict[str, Any] | Any) -> ShardLayout:
    """The :class:`ShardLayout` of a sharded Zarr v3 array, from its ``zarr.json``.

    Parameters
    ----------
    metadata : dict or zarr.Array
        The parsed ``zarr.json`` document, or an opened ``zarr.Array`` (no request is sent).

    Raises
    ------
    ValueError
        Not array metadata, an array that is not sharded, nested sharding, codecs around the
        sharding codec, or an index that is not ``bytes`` (little-endian) with optional ``crc32c``.

    Examples
    --------
    >>> sharding = {"name": "sharding_indexed", "configuration": {"chunk_shape": [16, 16],
    ...     "codecs": [{"name": "bytes"}], "index_codecs": [{"name": "bytes"}, {"name": "crc32c"}]}}
    >>> meta = {"zarr_format": 3, "node_type": "array", "shape": [100, 100], "data_type": "uint8",
    ...     "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [64, 64]}},
    ...     "codecs": [sharding]}
    >>> shard_layout(meta).chunks_per_shard
    (4, 4)
    """
    objects = chunk_layout(metadata)  # checks the metadata; its chunks are the shards
    if not objects.sharded:
        raise ValueError("not sharded: use helpers.chunks.chunk_layout for this array")
    if hasattr(metadata, "metadata") and hasattr(metadata.metadata, "to_dict"):
        metadata = metadata.metadata.to_dict()  # an opened zarr.Array
    codecs = list(metadata.get("codecs", []))
    if [_codec_name(c) for c in codecs] != ["sharding_indexed"] or not isinstance(codecs[0], dict):
        names = [_codec_name(c) for c in codecs]
        raise ValueError(
            f"unsupported codecs {names}: only arrays whose one codec is 'sharding_indexed' "
            "can be read by byte ranges"
        )
    config = codecs[0].get("configuration") or {}
    if not isinstance(config, dict) or "chunk_shape" not in config:
        raise ValueError("the sharding_indexed codec has no inner 'chunk_shape'")
    inner = [_codec_name(c) for c in config.get("codecs", [])]
    if "sharding_indexed" in inner:
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
    try:
        chunk_shape = tuple(int(c) for c in config["chunk_shape"])
    except (TypeError, ValueError):
        raise ValueError(f"bad inner chunk shape {config['chunk_shape']!r}") from None
    if len(chunk_shape) != len(objects.shape):
        raise ValueError(
            f"inner chunk shape {chunk_shape} does not match the array's {len(objects.shape)} axes"
        )
    return ShardLayout(
        objects.shape,
        objects.chunks,
        chunk_shape,
        objects.dtype,
        objects.prefix,
        objects.separator,
        str(config.get("index_location", "end")),
        names == ["bytes", "crc32c"],
    )


EMPTY = 2**64 - 1
"""Offset and length of an empty inner chunk in a shard index (it reads as the fill value)."""


@dataclass(frozen=True, eq=False)
class ShardIndex:
    """One shard's decoded index (:func:`decode_index`): where each inner chunk's bytes are.

    Attributes
    ----------
    offsets, lengths : numpy.ndarray
        uint64, shaped like the shard's chunk grid; both :data:`EMPTY` for an empty chunk.

    Examples
    --------
    >>> index = ShardIndex(np.array([0, EMPTY], "u8"), np.array([10, EMPTY], "u8"))
    >>> index.range((0,)), index.range((1,)), index.nbytes_stored
    (ByteRange(start=0, stop=10, suffix=None), None, 10)
    """

    offsets: np.ndarray
    lengths: np.ndarray

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
        per = self.chunks_per_shard
        position = tuple(local_index)
        if len(position) != len(per) or any(
            not 0 <= i < p for i, p in zip(position, per, strict=True)
        ):
            raise ValueError(f"position {position} is outside a shard of {per} chunks")
        if not self.stored[position]:
            return None
        offset = int(self.offsets[position])
        return ByteRange.span(offset, offset + int(self.lengths[position]))


def decode_index(raw: bytes, layout: ShardLayout, shard_nbytes: int | None = None) -> ShardIndex:
    """Decode (and check) the index of one shard from its ``layout.index_nbytes`` raw bytes.

    Parameters
    ----------
    raw : bytes
        The index bytes (from a GET of ``layout.index_range()``).
    layout : ShardLayout
        The array's layout.
    shard_nbytes : int, optional
        The shard's size, if known: every chunk must then lie inside it.

    Raises
    ------
    ValueError
        Wrong length, a checksum that does not match (the message gives both), or an entry
        that is half empty or points outside the shard.

    Examples
    --------
    >>> layout = ShardLayout((2,), (2,), (1,), "uint8", "c", "/", index_checksum=False)
    >>> decode_index(np.array([0, 5, 5, 3], "<u8").tobytes(), layout).range((1,))
    ByteRange(start=5, stop=8, suffix=None)
    >>> decode_index(b"abc", layout)
    Traceback (most recent call last):
    ...
    ValueError: a shard index of (2,) chunks has 32 bytes, got 3
    """
    data = bytes(raw)
    per = layout.chunks_per_shard
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
    first, last = 0, EMPTY  # where chunk bytes may lie
    if shard_nbytes is not None:
        first, last = (
            (layout.index_nbytes, shard_nbytes)
            if layout.index_location == "start"
            else (0, shard_nbytes - layout.index_nbytes)
        )
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


def index_from_shard(shard: bytes, layout: ShardLayout) -> ShardIndex:
    """The decoded index of a whole shard's bytes (e.g. a shard read in one GET).

    Examples
    --------
    >>> layout = ShardLayout((2,), (2,), (1,), "uint8", "c", "/", index_checksum=False)
    >>> shard = b"abc" + np.array([0, 3, EMPTY, EMPTY], "<u8").tobytes()
    >>> index_from_shard(shard, layout).range((0,))
    ByteRange(start=0, stop=3, suffix=None)
    """
    start, stop = layout.index_range().resolve(len(shard))
    return decode_index(shard[start:stop], layout, len(shard))


def ranges_for_chunks(
    layout: ShardLayout, chunks: Iterable[Sequence[int]], indexes: Mapping[ChunkIndex, ShardIndex]
) -> list[ChunkRange]:
    """The ranged GETs that read the inner ``chunks`` (global indices), given their shards' indexes.

    Empty inner chunks need no request (they read as the fill value) and are left out.

    Raises
    ------
    ValueError
        A chunk outside the grid, or the index of its shard is missing or of the wrong shape.

    Examples
    --------
    >>> layout = ShardLayout((4,), (4,), (2,), "uint8", "c", "/", index_checksum=False)
    >>> index = ShardIndex(np.array([0, EMPTY], "u8"), np.array([7, EMPTY], "u8"))
    >>> [(r.key, r.byte_range.header()) for r in ranges_for_chunks(layout, [(0,), (1,)], {(0,): index})]
    [('c/0', 'bytes=0-6')]
    """
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


def ranges_for_region(
    layout: ShardLayout, region: Selection, indexes: Mapping[ChunkIndex, ShardIndex]
) -> list[ChunkRange]:
    """The ranged GETs that read ``region``: :func:`ranges_for_chunks` of the chunks it touches.

    Examples
    --------
    >>> layout = ShardLayout((4,), (4,), (2,), "uint8", "c", "/", index_checksum=False)
    >>> index = ShardIndex(np.array([0, EMPTY], "u8"), np.array([7, EMPTY], "u8"))
    >>> [(r.key, r.byte_range.header()) for r in ranges_for_region(layout, None, {(0,): index})]
    [('c/0', 'bytes=0-6')]
    """
    return ranges_for_chunks(layout, layout.chunks_for_region(region), indexes)


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


def _read_indexes(
    base: str,
    shards: Sequence[ChunkIndex],
    layout: ShardLayout,
    concurrency: int,
    retry: RetryPolicy | None,
) -> tuple[dict[ChunkIndex, ShardIndex], FetchResult]:
    urls = [f"{base}/{layout.shard_key(shard)}" for shard in shards]
    result = fetch_async(urls, concurrency, retry, ranges=[layout.index_range()] * len(urls))
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
    concurrency: int = CONCURRENCY,
    *,
    retry: RetryPolicy | None = None,
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
        Requests in flight at most (default :data:`CONCURRENCY`).
    retry : RetryPolicy, optional
        Attempts and waits per request.

    Raises
    ------
    ValueError
        Not a sharded array, a shard outside the grid, or an index that fails its checks
        (the message names the URL).
    FetchError
        A shard could not be read (a missing shard is a 404).

    Examples
    --------
    >>> read_shard_indexes(level_url, [(0, 0, 0)])[(0, 0, 0)].nchunks_stored  # doctest: +SKIP
    32
    """
    base = array_url.rstrip("/")
    layout = _layout(base, metadata)
    wanted = [tuple(int(i) for i in shard) for shard in shards]
    for shard in wanted:
        layout.shard_key(shard)  # checks it is in the grid
    return _read_indexes(base, wanted, layout, concurrency, retry)[0] if wanted else {}


def read_shard_index(
    array_url: str,
    shard_index: Sequence[int],
    metadata: dict[str, Any] | ShardLayout | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> ShardIndex:
    """The decoded index of one shard (one GET of its last, or first, bytes).

    Examples
    --------
    >>> index = read_shard_index(level_url, (0, 0, 0))  # doctest: +SKIP
    >>> index.range((0, 0, 1))  # doctest: +SKIP
    ByteRange(start=1303, stop=2578, suffix=None)
    """
    found = read_shard_indexes(array_url, [shard_index], metadata, 1, retry=retry)
    return found[tuple(int(i) for i in shard_index)]


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
        :data:`CONCURRENCY`).
    indexes : dict, optional
        A cache of decoded indexes, ``{shard index: ShardIndex}``: shards found there are not
        read again, and the indexes read are added to it.
    whole_shards : bool
        GET a shard whole when every chunk of it is needed (one request instead of one per
        chunk, as zarr does); ``False``: always by range.
    retry : RetryPolicy, optional
        Attempts and waits per request.

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
    urls = [f"{base}/{read.key}" for read in reads]
    urls += [f"{base}/{layout.shard_key(shard)}" for shard in plan.whole_shard_reads]
    if urls:
        ranges = [read.byte_range for read in reads] + [None] * len(plan.whole_shard_reads)
        chunk_fetch = fetch_async(urls, concurrency, retry, ranges=ranges)
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


def _metadata_dict(metadata: Any) -> dict[str, Any]:
    if isinstance(metadata, dict):
        return metadata
    if hasattr(metadata, "metadata") and hasattr(metadata.metadata, "to_dict"):
        return dict(metadata.metadata.to_dict())  # an opened zarr.Array
    raise ValueError(
        f"decoding needs the array's zarr.json (a dict) or a zarr.Array, got {type(metadata).__name__}"
    )


def decode_chunk(raw: bytes | None, metadata: dict[str, Any] | Any) -> np.ndarray:
    """The pixels of one inner chunk of a sharded array, from its bytes (zarr's own codecs).

    Parameters
    ----------
    raw : bytes or None
        The chunk's bytes (one range of its shard); ``None`` for an empty chunk.
    metadata : dict or zarr.Array
        The array's ``zarr.json`` document, or the opened array.

    Returns
    -------
    numpy.ndarray
        Shaped like an inner chunk (an edge chunk is padded, as stored); the fill value for
        ``None``.

    Examples
    --------
    >>> read = fetch_chunks_from_shards(level_url, (0, 0, 0))  # doctest: +SKIP
    >>> decode_chunk(read.chunks[(0, 0, 0)], metadata).shape  # doctest: +SKIP
    (1, 256, 256)
    """
    from ._compat import decode_inner_chunks  # loads zarr: only when decoding

    return decode_inner_chunks(_metadata_dict(metadata), [raw])[0]


def read_sharded_region(
    array_url: str,
    region: Selection = None,
    metadata: dict[str, Any] | Any = None,
    concurrency: int = CONCURRENCY,
    *,
    indexes: MutableMapping[ChunkIndex, ShardIndex] | None = None,
    whole_shards: bool = True,
    retry: RetryPolicy | None = None,
) -> np.ndarray:
    """The pixels of ``region`` of a sharded array, read by byte ranges (two round trips at most).

    Arguments as :func:`fetch_chunks_from_shards`, except ``metadata`` (the ``zarr.json`` dict or
    a ``zarr.Array``, needed to decode). An integer in ``region`` keeps its axis (length 1): the
    result has one axis per array axis.

    Examples
    --------
    >>> read_sharded_region(level_url, (0, slice(0, 10), slice(0, 20))).shape  # doctest: +SKIP
    (1, 10, 20)
    """
    from ._compat import decode_inner_chunks  # loads zarr: only when decoding

    base = array_url.rstrip("/")
    meta = _metadata_dict(read_array_metadata(base) if metadata is None else metadata)
    layout = shard_layout(meta)
    full = normalize_region(region, layout.shape)
    read = fetch_chunks_from_shards(
        base,
        full,
        layout,
        concurrency,
        indexes=indexes,
        whole_shards=whole_shards,
        retry=retry,
    )
    pixels = decode_inner_chunks(meta, list(read.chunks.values()))
    out = np.empty(region_shape(full), dtype=pixels[0].dtype)
    for chunk, values in zip(read.chunks, pixels, strict=True):
        where = layout.chunk_region(chunk)
        part = intersect(where, full)
        assert part is not None  # the chunk was chosen because it overlaps the region
        out[relative_region(part, full)] = values[relative_region(part, where)]
    return out
