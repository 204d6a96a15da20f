"""A shard's index: decoding and checking it, and the byte ranges of inner chunks it gives. Pure.

Each shard ends (or starts) with one ``(offset, length)`` pair of little-endian uint64 per inner
chunk, in C order (both :data:`EMPTY` for an empty chunk), then a crc32c checksum of those bytes.
:func:`decode_index` turns the raw bytes into a :class:`ShardIndex`, checking length, checksum and
entries (:func:`index_from_shard` for a whole shard); :func:`ranges_for_chunks` and
:func:`ranges_for_region` list the ranged GETs that read some chunks, or a region.

Examples
--------
>>> from helpers.shards import ShardLayout
>>> layout = ShardLayout((2,), (2,), (1,), "uint8", "c", "/")
>>> payload = np.array([0, 5, EMPTY, EMPTY], "<u8").tobytes()
>>> raw = payload + google_crc32c.value(payload).to_bytes(4, "little")
>>> index = decode_index(raw, layout)
>>> index.range((0,)), index.range((1,)), index.nchunks_stored
(ByteRange(start=0, stop=5, suffix=None), None, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import google_crc32c
import numpy as np

from ..byteranges import ByteRange
from ..chunks import ChunkIndex, Selection
from .layout import CHECKSUM_NBYTES, ShardLayout

__all__ = [
    "EMPTY",
    "ChunkRange",
    "ShardIndex",
    "decode_index",
    "index_from_shard",
    "ranges_for_chunks",
    "ranges_for_region",
]

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
    >>> from helpers.shards import ShardLayout
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
    >>> from helpers.shards import ShardLayout
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
    >>> from helpers.shards import ShardLayout
    >>> layout = ShardLayout((4,), (4,), (2,), "uint8", "c", "/", index_checksum=False)
    >>> index = ShardIndex(np.array([0, EMPTY], "u8"), np.array([7, EMPTY], "u8"))
    >>> [(r.key, r.byte_range.header()) for r in ranges_for_region(layout, None, {(0,): index})]
    [('c/0', 'bytes=0-6')]
    """
    return ranges_for_chunks(layout, layout.chunks_for_region(region), indexes)
