"""Where a sharded array's shards, inner chunks and shard indexes are: :class:`ShardLayout`. Pure.

:func:`shard_layout` reads it from a ``zarr.json`` (or an opened ``zarr.Array``) and refuses what a
byte-range reader cannot handle (no sharding, nested sharding, codecs around the sharding codec,
an unusual index encoding).

Examples
--------
>>> layout = ShardLayout((100, 100), (64, 64), (16, 16), "uint8", "c", "/")
>>> layout.shard_grid, layout.chunks_per_shard, layout.index_nbytes
((2, 2), (4, 4), 260)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..byteranges import ByteRange
from ..chunks import (
    ChunkIndex,
    ChunkLayout,
    Region,
    Selection,
    chunk_grid,
    chunk_layout,
    chunk_region,
)

__all__ = ["CHECKSUM_NBYTES", "ENTRY_NBYTES", "ShardLayout", "shard_layout"]

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
