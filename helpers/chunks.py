"""Which chunks, which keys, which URLs: the chunk-grid maths of a Zarr array.

A Zarr array is stored as many small objects: its metadata document plus one object per chunk.
Reading a chunk remotely is one GET of one URL, ``<array URL>/<chunk key>``, and reading a region
costs one request per chunk it touches. The maths here are pure (no I/O);
:func:`read_array_metadata` and :func:`chunk_urls` add the one request they need (the metadata).

A *region* is one step-1 ``slice`` per array axis (``start`` included, ``stop`` excluded, both
inside the array). A *chunk index* is one integer per axis: chunk ``(0, 2, 3)`` of an array chunked
``(1, 512, 512)`` covers ``[0:1, 1024:1536, 1536:2048]``. A *selection* may also hold integers,
fewer axes than the array, ``None`` bounds and negative indices, as in NumPy.

Chunk keys: Zarr v2 joins the grid position with ``dimension_separator`` (``"i.j.k"`` or ``"i/j/k"``;
``"0"`` for a 0-d array); Zarr v3's ``"default"`` key encoding puts ``"c"`` first (``"c/i/j/k"``), its
``"v2"`` encoding writes v2-style keys. In a sharded v3 array one object (a *shard*) holds many
chunks: the layout and keys here are those of the shards (the objects); :mod:`helpers.shards` has
the inner chunks and their byte ranges.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from .fetch import FetchError, check_url, fetch_sequential

__all__ = [
    "ChunkIndex",
    "ChunkLayout",
    "Region",
    "chunk_grid",
    "chunk_keys",
    "chunk_layout",
    "chunk_region",
    "chunk_urls",
    "chunks_for_region",
    "count_chunks",
    "intersect",
    "normalize_region",
    "read_array_metadata",
    "region_shape",
    "relative_region",
]

Region = tuple[slice, ...]
"""One step-1 slice per axis, with explicit bounds inside the array."""
ChunkIndex = tuple[int, ...]
"""A chunk's position in the chunk grid, one integer per axis."""
Selection = Sequence[slice | int] | slice | int | None


def _check_shape_and_chunks(shape: Sequence[int], chunks: Sequence[int]) -> None:
    if len(shape) != len(chunks):
        raise ValueError(f"shape {tuple(shape)} and chunks {tuple(chunks)} differ in length")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")
    if any(c <= 0 for c in chunks):
        raise ValueError(f"chunk sizes must be positive, got {tuple(chunks)}")


def chunk_grid(shape: Sequence[int], chunks: Sequence[int]) -> tuple[int, ...]:
    """Number of chunks along each axis: ``ceil(shape / chunks)``.

    Examples
    --------
    >>> chunk_grid((10, 7), (4, 3))
    (3, 3)
    """
    _check_shape_and_chunks(shape, chunks)
    return tuple(math.ceil(s / c) for s, c in zip(shape, chunks, strict=True))


def count_chunks(shape: Sequence[int], chunks: Sequence[int]) -> int:
    """Number of chunks (= objects = GET requests) that hold a whole array.

    Examples
    --------
    >>> count_chunks((2, 236, 275, 271), (1, 1, 275, 271))
    472
    """
    return math.prod(chunk_grid(shape, chunks))


def normalize_region(selection: Selection, shape: Sequence[int], *, strict: bool = False) -> Region:
    """A selection as a :data:`Region`: one step-1 slice per axis with explicit bounds.

    Integers become one-wide slices (negative ones count from the end), missing trailing axes are
    whole, ``None`` bounds are filled in. With ``strict``, the selection must already be one slice
    per axis (what a viewer hands over). ``ValueError`` says what does not fit.

    Examples
    --------
    >>> normalize_region((1, slice(10, None)), (2, 20, 30))
    (slice(1, 2, None), slice(10, 20, None), slice(0, 30, None))
    """
    if selection is None:
        selection = ()
    elif isinstance(selection, slice | int):
        selection = (selection,)
    items = list(selection)
    if len(items) > len(shape) or (strict and len(items) != len(shape)):
        raise ValueError(f"region has {len(items)} axes but the array has {len(shape)}")
    items += [slice(None)] * (len(shape) - len(items))
    region = []
    for axis, (item, size) in enumerate(zip(items, shape, strict=True)):
        if (
            isinstance(item, bool)
            or not isinstance(item, int | slice)
            or strict
            and isinstance(item, int)
        ):
            kind = "a slice with step 1" if strict else "ints or slices"
            raise ValueError(f"axis {axis}: region items must be {kind}, got {item!r}")
        if isinstance(item, int):
            index = item + size if item < 0 else item
            if not 0 <= index < size:
                raise ValueError(f"axis {axis}: index {item} is out of range for size {size}")
            region.append(slice(index, index + 1))
            continue
        if item.step not in (None, 1):
            raise ValueError(f"axis {axis}: only step 1 is supported in a region, got {item}")
        start = 0 if item.start is None else item.start + size if item.start < 0 else item.start
        stop = size if item.stop is None else item.stop + size if item.stop < 0 else item.stop
        if not 0 <= start < stop <= size:
            raise ValueError(
                f"axis {axis}: region {start}:{stop} is empty or outside the array (size {size})"
            )
        region.append(slice(start, stop))
    return tuple(region)


def chunks_for_region(
    region: Selection, shape: Sequence[int], chunks: Sequence[int]
) -> list[ChunkIndex]:
    """Indices of every chunk that intersects ``region`` (any selection), in C order.

    Along each axis the region ``start:stop`` touches chunks ``start // c`` to ``(stop - 1) // c``;
    the chunks needed are all combinations (a rectangle of chunks).

    Examples
    --------
    >>> chunks_for_region((slice(0, 10), slice(4, 9)), (10, 10), (5, 5))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    _check_shape_and_chunks(shape, chunks)
    full = normalize_region(region, shape)
    ranges = [range(s.start // c, (s.stop - 1) // c + 1) for s, c in zip(full, chunks, strict=True)]
    return list(product(*ranges))


def chunk_region(index: ChunkIndex, shape: Sequence[int], chunks: Sequence[int]) -> Region:
    """The pixels chunk ``index`` covers (edge chunks are cut at the array's border).

    Examples
    --------
    >>> chunk_region((2, 2), (10, 7), (4, 3))
    (slice(8, 10, None), slice(6, 7, None))
    """
    grid = chunk_grid(shape, chunks)
    if len(index) != len(grid) or any(not 0 <= i < g for i, g in zip(index, grid, strict=True)):
        raise ValueError(f"chunk index {tuple(index)} is outside the chunk grid {grid}")
    return tuple(
        slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape, strict=True)
    )


def intersect(a: Region, b: Region) -> Region | None:
    """The overlap of two regions, or ``None`` when they do not overlap."""
    out = []
    for sa, sb in zip(a, b, strict=True):
        start, stop = max(sa.start, sb.start), min(sa.stop, sb.stop)
        if start >= stop:
            return None
        out.append(slice(start, stop))
    return tuple(out)


def region_shape(region: Region) -> tuple[int, ...]:
    """Number of pixels along each axis of a region."""
    return tuple(s.stop - s.start for s in region)


def relative_region(inner: Region, outer: Region) -> Region:
    """``inner`` (absolute pixels) as slices into an array that holds ``outer``."""
    return tuple(
        slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer, strict=True)
    )


@dataclass(frozen=True)
class ChunkLayout:
    """Where an array's chunks live, read from its metadata (see :func:`chunk_layout`).

    ``prefix`` is what comes before the indices in a key (``"c"`` for Zarr v3's default encoding,
    ``""`` for Zarr v2), ``separator`` what comes between them (``"."`` or ``"/"``). For a sharded
    array (``sharded``) the chunks here are the shards (see :mod:`helpers.shards`).

    Examples
    --------
    >>> layout = ChunkLayout((4, 4), (2, 2), "<u2", 2, "", ".")
    >>> layout.grid, layout.nchunks, layout.key((1, 0))
    ((2, 2), 4, '1.0')
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    zarr_format: int
    prefix: str
    separator: str
    sharded: bool = False

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of chunks along each axis: ``ceil(shape / chunks)``."""
        return chunk_grid(self.shape, self.chunks)

    @property
    def nchunks(self) -> int:
        """Total number of chunks (= objects = requests to read everything)."""
        return count_chunks(self.shape, self.chunks)

    def key(self, index: Sequence[int]) -> str:
        """The object key (relative to the array) of the chunk at grid position ``index``."""
        if len(index) != len(self.grid):
            raise ValueError(
                f"chunk index {tuple(index)} has {len(index)} numbers, need {len(self.grid)}"
            )
        if any(not 0 <= i < n for i, n in zip(index, self.grid, strict=True)):
            raise ValueError(f"chunk index {tuple(index)} is outside the chunk grid {self.grid}")
        parts = [str(i) for i in index] or ([] if self.prefix else ["0"])
        return self.separator.join([self.prefix, *parts] if self.prefix else parts)

    def indices(self, region: Selection = None) -> list[ChunkIndex]:
        """Grid positions of the chunks that ``region`` touches (all of them for ``None``), C order."""
        if not self.shape:  # a 0-d array has one chunk
            normalize_region(region, self.shape)
            return [()]
        if region is None and 0 in self.shape:  # an empty array has no chunk at all
            return []
        return chunks_for_region(region, self.shape, self.chunks)

    def keys(self, region: Selection = None) -> list[str]:
        """Keys of the chunks that ``region`` touches (all of them for ``None``), C order."""
        return [self.key(index) for index in self.indices(region)]


def chunk_layout(metadata: dict[str, Any] | Any) -> ChunkLayout:
    """The :class:`ChunkLayout` of an array, from its ``.zarray`` or ``zarr.json`` (or a ``zarr.Array``).

    ``ValueError`` for anything else, an irregular chunk grid or an unknown key encoding.

    Examples
    --------
    >>> chunk_layout({"zarr_format": 2, "shape": [4, 4], "chunks": [2, 2], "dtype": "<u2"}).key((1, 1))
    '1.1'
    """
    if hasattr(metadata, "metadata") and hasattr(metadata.metadata, "to_dict"):
        metadata = metadata.metadata.to_dict()  # an opened zarr.Array
    if not isinstance(metadata, dict):
        raise ValueError(
            f"expected array metadata (a dict or a zarr.Array), got {type(metadata).__name__}"
        )
    fmt = metadata.get("zarr_format")
    if fmt == 2:
        if "chunks" not in metadata or "shape" not in metadata:
            raise ValueError("Zarr v2 metadata without 'shape'/'chunks': is it a group's .zgroup?")
        separator = metadata.get("dimension_separator") or "."
        return _layout(
            metadata["shape"], metadata["chunks"], metadata.get("dtype"), 2, "", separator
        )
    if fmt == 3:
        return _v3_layout(metadata)
    raise ValueError(f"not Zarr array metadata: zarr_format is {fmt!r} (expected 2 or 3)")


def _v3_layout(metadata: dict[str, Any]) -> ChunkLayout:
    """The layout in a Zarr v3 ``zarr.json``: regular grid, key encoding, sharded or not."""
    if metadata.get("node_type") != "array":
        raise ValueError(
            f"this zarr.json describes a {metadata.get('node_type')!r}, not an array "
            "(the levels of an OME-Zarr image are arrays inside the group: .../0, .../1)"
        )
    codecs = [c.get("name") if isinstance(c, dict) else c for c in metadata.get("codecs", [])]
    grid = metadata.get("chunk_grid", {})
    if grid.get("name") != "regular":
        raise ValueError(f"unsupported chunk grid {grid.get('name')!r} (only 'regular')")
    encoding = metadata.get("chunk_key_encoding", {"name": "default"})
    name = encoding.get("name")
    if name not in ("default", "v2"):
        raise ValueError(f"unsupported chunk key encoding {name!r} (only 'default' and 'v2')")
    separator = encoding.get("configuration", {}).get(
        "separator", "/" if name == "default" else "."
    )
    return _layout(
        metadata["shape"],
        grid["configuration"]["chunk_shape"],
        str(metadata.get("data_type")),
        3,
        "c" if name == "default" else "",
        separator,
        "sharding_indexed" in codecs,
    )


def _layout(
    shape: Sequence[int],
    chunks: Sequence[int],
    dtype: object,
    fmt: int,
    prefix: str,
    separator: str,
    sharded: bool = False,
) -> ChunkLayout:
    if separator not in (".", "/"):
        raise ValueError(f"unsupported chunk key separator {separator!r} (expected '.' or '/')")
    shape, chunks = tuple(int(s) for s in shape), tuple(int(c) for c in chunks)
    if len(shape) != len(chunks) or any(c < 1 for c in chunks):
        raise ValueError(f"inconsistent metadata: shape {shape} with chunks {chunks}")
    return ChunkLayout(shape, chunks, str(dtype), fmt, prefix, separator, sharded)


def chunk_keys(source: dict[str, Any] | ChunkLayout | Any, region: Selection = None) -> list[str]:
    """Keys (relative to the array) of the chunks ``region`` touches; all chunks for ``None``.

    ``source`` is array metadata, a :class:`ChunkLayout` or an opened ``zarr.Array``.

    Examples
    --------
    >>> meta = {"zarr_format": 2, "shape": [3, 10], "chunks": [1, 10], "dtype": "<u2",
    ...         "dimension_separator": "/"}
    >>> chunk_keys(meta, (slice(1, 3),))
    ['1/0', '2/0']
    """
    layout = source if isinstance(source, ChunkLayout) else chunk_layout(source)
    return layout.keys(region)


# --- over HTTP ---------------------------------------------------------------------------------------
def read_array_metadata(array_url: str) -> dict[str, Any]:
    """Download an array's metadata: ``zarr.json`` (Zarr v3), or else ``.zarray`` (Zarr v2).

    ``ValueError`` when neither exists, :class:`helpers.fetch.FetchError` for other failures.

    Examples
    --------
    >>> read_array_metadata(level_url)["shape"]  # doctest: +SKIP
    [2, 236, 275, 271]
    """
    base = check_url(array_url).rstrip("/")
    for name in ("zarr.json", ".zarray"):
        try:
            return dict(json.loads(fetch_sequential([f"{base}/{name}"]).data[0]))
        except FetchError as err:
            if err.status != 404:
                raise
    raise ValueError(f"no Zarr array at {base}: neither {base}/zarr.json nor {base}/.zarray exists")


def chunk_urls(
    array_url: str, region: Selection = None, metadata: dict[str, Any] | ChunkLayout | None = None
) -> list[str]:
    """The URLs of the chunks ``region`` touches (all for ``None``): one GET each reads the region.

    ``metadata`` is the array's, if already known; otherwise it is downloaded.

    Examples
    --------
    >>> meta = {"zarr_format": 2, "shape": [3, 10], "chunks": [1, 10], "dtype": "<u2"}
    >>> chunk_urls("http://127.0.0.1:9000/course-data/a.zarr/0", (slice(1, 3),), meta)
    ['http://127.0.0.1:9000/course-data/a.zarr/0/1.0', 'http://127.0.0.1:9000/course-data/a.zarr/0/2.0']
    """
    base = check_url(array_url).rstrip("/")
    source = read_array_metadata(base) if metadata is None else metadata
    return [f"{base}/{key}" for key in chunk_keys(source, region)]
