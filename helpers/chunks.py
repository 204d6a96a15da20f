"""Chunk keys and URLs of a Zarr array: one chunk = one object = one URL.

A Zarr array is stored as many small objects: its metadata document plus one object per chunk.
Reading a chunk remotely is therefore one GET of one URL, ``<array URL>/<chunk key>``, and reading a
region costs one request per chunk it touches.

How a key is formed from the chunk's grid position ``(i, j, k)``:

- Zarr v2 (``.zarray``): the indices joined by ``dimension_separator`` (default ``"."``):
  ``"i.j.k"`` or ``"i/j/k"``; a 0-d array's single chunk is ``"0"``.
- Zarr v3 (``zarr.json``): ``chunk_key_encoding`` ``"default"`` puts ``"c"`` first and joins with
  ``"/"`` (or ``"."``): ``"c/i/j/k"``, and ``"c"`` alone for a 0-d array; the ``"v2"`` encoding
  writes v2-style keys (``"i.j.k"``).

:func:`chunk_layout` reads these rules from an array's metadata into a :class:`ChunkLayout`;
:func:`read_array_metadata` downloads that metadata; :func:`chunk_keys` / :func:`chunk_urls` list
the chunks of a whole level or of a region. Sharded v3 arrays (one object holds many chunks) are
refused. Downloading the URLs is :mod:`helpers.fetch`'s job.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .fetch import READ_TIMEOUT_S, FetchError, check_url, fetch_sequential


@dataclass(frozen=True)
class ChunkLayout:
    """Where an array's chunks live, read from its metadata (see :func:`chunk_layout`).

    Attributes:
        shape: array shape.
        chunks: chunk shape.
        dtype: data type as written in the metadata (e.g. ``"<u2"`` or ``"uint16"``).
        zarr_format: 2 or 3.
        prefix: text before the chunk indices in a key: ``"c"`` for Zarr v3's default key
            encoding, ``""`` for Zarr v2 and v3's "v2" encoding.
        separator: between the indices: ``"."`` or ``"/"``.
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    zarr_format: int
    prefix: str
    separator: str

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of chunks along each axis: ``ceil(shape / chunks)``."""
        return tuple(math.ceil(s / c) for s, c in zip(self.shape, self.chunks, strict=True))

    @property
    def nchunks(self) -> int:
        """Total number of chunks (= objects = requests to read everything)."""
        return math.prod(self.grid)

    def key(self, index: Sequence[int]) -> str:
        """The object key (relative to the array) of the chunk at grid position ``index``."""
        if len(index) != len(self.grid):
            raise ValueError(
                f"chunk index {tuple(index)} has {len(index)} numbers, need {len(self.grid)}"
            )
        for i, n in zip(index, self.grid, strict=True):
            if not 0 <= i < n:
                raise ValueError(
                    f"chunk index {tuple(index)} is outside the chunk grid {self.grid}"
                )
        parts = [str(i) for i in index] or ([] if self.prefix else ["0"])
        return self.separator.join([self.prefix, *parts] if self.prefix else parts)

    def indices(self, region: Sequence[slice | int] | None = None) -> list[tuple[int, ...]]:
        """Grid positions of the chunks that ``region`` touches (all of them for ``None``), C order."""
        ranges = []
        for axis, (sel, size, chunk) in enumerate(
            zip(_full_region(region, self.shape), self.shape, self.chunks, strict=True)
        ):
            start, stop = _bounds(sel, size, axis)
            ranges.append(
                range(start // chunk, (stop - 1) // chunk + 1) if stop > start else range(0)
            )
        return list(itertools.product(*ranges))

    def keys(self, region: Sequence[slice | int] | None = None) -> list[str]:
        """Keys of the chunks that ``region`` touches (all of them for ``None``), C order."""
        return [self.key(index) for index in self.indices(region)]


def _full_region(region: Sequence[slice | int] | None, shape: tuple[int, ...]) -> list[slice | int]:
    if region is None:
        return [slice(None)] * len(shape)
    if isinstance(region, slice | int):
        region = (region,)
    region = list(region)
    if len(region) > len(shape):
        raise ValueError(f"region has {len(region)} axes but the array has {len(shape)}")
    return region + [slice(None)] * (len(shape) - len(region))


def _bounds(sel: slice | int, size: int, axis: int) -> tuple[int, int]:
    if isinstance(sel, bool) or not isinstance(sel, int | slice):
        raise ValueError(f"axis {axis}: region items must be ints or slices, got {sel!r}")
    if isinstance(sel, int):
        index = sel + size if sel < 0 else sel
        if not 0 <= index < size:
            raise ValueError(f"axis {axis}: index {sel} is out of range for size {size}")
        return index, index + 1
    if sel.step not in (None, 1):
        raise ValueError(f"axis {axis}: only step 1 is supported in a region, got {sel}")
    start, stop, _ = sel.indices(size)
    return start, max(start, stop)


def chunk_layout(metadata: dict[str, Any] | Any) -> ChunkLayout:
    """The :class:`ChunkLayout` of an array, from its metadata.

    Args:
        metadata: the parsed ``.zarray`` (Zarr v2) or ``zarr.json`` (Zarr v3) document, or an
            opened ``zarr.Array`` (its metadata is used).

    Raises:
        ValueError: not array metadata, an irregular chunk grid, or a sharded array (one object
            then holds many chunks, so "one chunk = one key" does not hold).
    """
    if hasattr(metadata, "metadata") and hasattr(metadata.metadata, "to_dict"):
        metadata = metadata.metadata.to_dict()  # a zarr.Array
    if not isinstance(metadata, dict):
        raise ValueError(
            f"expected array metadata (a dict or a zarr.Array), got {type(metadata).__name__}"
        )
    fmt = metadata.get("zarr_format")
    if fmt == 2:
        if "chunks" not in metadata or "shape" not in metadata:
            raise ValueError(
                "Zarr v2 metadata without 'shape'/'chunks': is this a group's .zgroup?"
            )
        separator = metadata.get("dimension_separator") or "."
        return _layout(
            metadata["shape"], metadata["chunks"], metadata.get("dtype"), 2, "", separator
        )
    if fmt == 3:
        if metadata.get("node_type") != "array":
            raise ValueError(
                f"this zarr.json describes a {metadata.get('node_type')!r}, not an array "
                "(the levels of an OME-Zarr image are arrays inside the group: .../0, .../1)"
            )
        codecs = [c.get("name") if isinstance(c, dict) else c for c in metadata.get("codecs", [])]
        if "sharding_indexed" in codecs:
            raise ValueError(
                "sharded array: each object is a shard holding many chunks, so chunk keys are not "
                "object keys; listing keys of sharded arrays is not supported"
            )
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
        )
    raise ValueError(f"not Zarr array metadata: zarr_format is {fmt!r} (expected 2 or 3)")


def _layout(shape, chunks, dtype, fmt: int, prefix: str, separator: str) -> ChunkLayout:
    if separator not in (".", "/"):
        raise ValueError(f"unsupported chunk key separator {separator!r} (expected '.' or '/')")
    shape, chunks = tuple(int(s) for s in shape), tuple(int(c) for c in chunks)
    if len(shape) != len(chunks) or any(c < 1 for c in chunks):
        raise ValueError(f"inconsistent metadata: shape {shape} with chunks {chunks}")
    return ChunkLayout(shape, chunks, str(dtype), fmt, prefix, separator)


def read_array_metadata(array_url: str, timeout_s: float = READ_TIMEOUT_S) -> dict[str, Any]:
    """Download and parse an array's metadata: ``zarr.json`` (v3) or else ``.zarray`` (v2).

    Raises:
        ValueError: neither document exists at ``array_url`` (the message names both URLs).
        FetchError: the server failed in another way.
    """
    base = check_url(array_url).rstrip("/")
    tried = []
    for name in ("zarr.json", ".zarray"):
        try:
            body = fetch_sequential([f"{base}/{name}"], timeout_s=timeout_s).data[0]
        except FetchError as err:
            if err.status == 404:
                tried.append(f"{base}/{name}")
                continue
            raise
        return json.loads(body)
    raise ValueError(f"no Zarr array at {base}: neither {tried[0]} nor {tried[1]} exists")


def chunk_keys(
    source: dict[str, Any] | ChunkLayout | Any, region: Sequence[slice | int] | None = None
) -> list[str]:
    """Keys (relative to the array) of the chunks ``region`` touches; all chunks for ``None``.

    ``source`` is array metadata (dict), a :class:`ChunkLayout` or a ``zarr.Array``. ``region`` is a
    tuple of ints and step-1 slices in array coordinates, e.g. ``(1, slice(0, 10))``.
    """
    layout = source if isinstance(source, ChunkLayout) else chunk_layout(source)
    return layout.keys(region)


def chunk_urls(
    array_url: str,
    region: Sequence[slice | int] | None = None,
    metadata: dict[str, Any] | ChunkLayout | None = None,
) -> list[str]:
    """Full URLs of the chunks ``region`` touches, reading the metadata from ``array_url`` if not given."""
    base = check_url(array_url).rstrip("/")
    source = read_array_metadata(base) if metadata is None else metadata
    return [f"{base}/{key}" for key in chunk_keys(source, region)]


__all__ = [
    "ChunkLayout",
    "chunk_keys",
    "chunk_layout",
    "chunk_urls",
    "read_array_metadata",
]
