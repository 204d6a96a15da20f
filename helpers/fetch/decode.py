"""Pixels of a sharded array read by byte ranges: decoding inner chunks and assembling a region.

:func:`decode_chunk` turns one inner chunk's bytes (from :func:`~helpers.fetch.fetch_chunks_from_shards`)
into pixels with zarr's own codecs; :func:`read_sharded_region` fetches a region's inner chunks and
puts their pixels together, as ``array[region]`` would.

Examples
--------
>>> from helpers.fetch import read_sharded_region
>>> pixels = read_sharded_region(level_url, (0, slice(0, 32)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np

from ..chunks import (
    ChunkIndex,
    Selection,
    intersect,
    normalize_region,
    region_shape,
    relative_region,
)
from ..config import READ_TIMEOUT_S, VIEW_CONCURRENCY
from ..shards import ShardIndex, shard_layout
from .metadata import read_array_metadata
from .retry import RetryPolicy
from .shards import fetch_chunks_from_shards
from .urls import check_url

__all__ = ["decode_chunk", "read_sharded_region"]


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
    >>> from helpers.fetch import decode_chunk
    >>> read = fetch_chunks_from_shards(level_url, (0, 0, 0))  # doctest: +SKIP
    >>> decode_chunk(read.chunks[(0, 0, 0)], metadata).shape  # doctest: +SKIP
    (1, 256, 256)
    """
    from .._compat import decode_inner_chunks  # loads zarr: only when decoding

    return decode_inner_chunks(_metadata_dict(metadata), [raw])[0]


def read_sharded_region(
    array_url: str,
    region: Selection = None,
    metadata: dict[str, Any] | Any = None,
    concurrency: int = VIEW_CONCURRENCY,
    *,
    indexes: MutableMapping[ChunkIndex, ShardIndex] | None = None,
    whole_shards: bool = True,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> np.ndarray:
    """The pixels of ``region`` of a sharded array, read by byte ranges (two round trips at most).

    Arguments as :func:`fetch_chunks_from_shards`, except ``metadata`` (the ``zarr.json`` dict or
    a ``zarr.Array``, needed to decode). An integer in ``region`` keeps its axis (length 1): the
    result has one axis per array axis.

    Examples
    --------
    >>> from helpers.fetch import read_sharded_region
    >>> read_sharded_region(level_url, (0, slice(0, 10), slice(0, 20))).shape  # doctest: +SKIP
    (1, 10, 20)
    """
    from .._compat import decode_inner_chunks  # loads zarr: only when decoding

    base = check_url(array_url).rstrip("/")
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
        timeout_s=timeout_s,
    )
    pixels = decode_inner_chunks(meta, list(read.chunks.values()))
    out = np.empty(region_shape(full), dtype=pixels[0].dtype)
    for chunk, values in zip(read.chunks, pixels, strict=True):
        where = layout.chunk_region(chunk)
        part = intersect(where, full)
        assert part is not None  # the chunk was chosen because it overlaps the region
        out[relative_region(part, full)] = values[relative_region(part, where)]
    return out
