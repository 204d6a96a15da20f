"""What every sample store shares: compressors, chunk keys, level writing, the multiscale entry.

The Zarr v2 stores use blosc/zstd like the IDR's stores, the Zarr v3 store the same settings as a
v3 codec. Every chunk is written, even an all-zero one, so the object count of each level is
predictable (the lessons count chunks): :func:`create_level` sets that up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numcodecs
import numpy as np
import zarr
import zarr.codecs

from course_tools.ngff import multiscale_metadata, pyramid_scales

__all__ = [
    "BLOSC_V2",
    "DOWNSAMPLING",
    "METHOD",
    "V2_CHUNK_KEYS",
    "blosc_v3",
    "create_level",
    "pyramid_multiscale",
    "write_levels",
]

BLOSC_V2 = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
"""Compressor of the Zarr v2 stores (the IDR stores use blosc too)."""

V2_CHUNK_KEYS: dict[str, Any] = {"name": "v2", "separator": "/"}
"""Chunk-key encoding of the Zarr v2 stores: ``0/1/2`` like the IDR's stores, not ``0.1.2``."""

DOWNSAMPLING = {"mean": "mean of 2x2 blocks in y/x", "nearest": "every 2nd pixel in y/x"}
"""How each kind of level was made, for the multiscale's ``metadata.description``."""

METHOD = "course_tools.samples"
"""The multiscale's ``metadata.method``: the code that made the levels."""


def blosc_v3() -> zarr.codecs.BloscCodec:
    """Compressor of the Zarr v3 store: the same blosc/zstd settings as the v2 stores.

    Returns
    -------
    zarr.codecs.BloscCodec
        A new codec (zstd, level 5, byte shuffle).
    """
    return zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


def pyramid_multiscale(
    name: str,
    axes: str,
    level0_scale: Sequence[float],
    levels: int,
    kind: str,
    version: str | None,
) -> dict[str, Any]:
    """One ``multiscales`` entry for a pyramid made by :mod:`course_tools.samples.pyramid`.

    Parameters
    ----------
    name : str
        The image's name.
    axes : str
        Axis names in array order, e.g. ``"czyx"``.
    level0_scale : sequence of float
        Pixel size of level 0 along each axis; each level doubles it in y and x.
    levels : int
        Number of levels (arrays ``"0"``, ``"1"``...).
    kind : {"mean", "nearest"}
        How the levels were made (:data:`DOWNSAMPLING`).
    version : str or None
        Written into the entry (OME-NGFF 0.4); ``None`` for 0.5.

    Returns
    -------
    dict
        The entry, from :func:`course_tools.ngff.multiscale_metadata`.
    """
    return multiscale_metadata(
        name,
        axes,
        pyramid_scales(level0_scale, axes, levels),
        kind,
        version,
        metadata={"description": f"downsampled by {DOWNSAMPLING[kind]}", "method": METHOD},
    )


def create_level(
    group: zarr.Group,
    name: str,
    shape: tuple[int, ...],
    dtype: Any,
    chunks: tuple[int, ...],
    **array_kwargs: Any,
) -> zarr.Array:
    """Create one level array, filled with 0, that writes every chunk (even all-zero ones).

    Parameters
    ----------
    group : zarr.Group
        The group to create it in (opened for writing).
    name : str
        The array's name, e.g. ``"0"``.
    shape, chunks : tuple of int
        Shape of the array and of its chunks.
    dtype : numpy dtype or str
        Data type.
    **array_kwargs
        Passed on to ``zarr.Group.create_array`` (compressors, chunk-key encoding...).

    Returns
    -------
    zarr.Array
        The new, empty array.
    """
    return group.create_array(
        name,
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        fill_value=0,
        config={"write_empty_chunks": True},
        **array_kwargs,
    )


def write_levels(
    group: zarr.Group,
    levels: list[np.ndarray],
    chunks_of: Callable[[tuple[int, ...]], tuple[int, ...]],
    **array_kwargs: Any,
) -> None:
    """Write ``levels`` as the arrays ``"0"``, ``"1"``... of ``group``.

    Parameters
    ----------
    group : zarr.Group
        The group to write into (opened for writing).
    levels : list of numpy.ndarray
        The pyramid, level 0 first.
    chunks_of : callable
        Gives the chunk shape of a level from its shape.
    **array_kwargs
        Passed on to ``zarr.Group.create_array`` (compressors, chunk-key encoding...).
    """
    for i, data in enumerate(levels):
        arr = create_level(
            group, str(i), data.shape, data.dtype, chunks_of(data.shape), **array_kwargs
        )
        arr[...] = data
