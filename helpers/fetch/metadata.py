"""An array's metadata and chunk URLs over plain HTTP: what to GET to read a region.

:func:`read_array_metadata` downloads an array's ``zarr.json`` (Zarr v3) or ``.zarray`` (Zarr v2);
:func:`chunk_urls` turns it into the URLs of the chunks a region touches, ``<array URL>/<chunk
key>``, using the pure key maths of :func:`helpers.chunks.chunk_keys`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..chunks import ChunkLayout, chunk_keys
from ..config import READ_TIMEOUT_S
from .blocking import fetch_sequential
from .retry import FetchError
from .urls import check_url

__all__ = ["chunk_urls", "read_array_metadata"]


def read_array_metadata(array_url: str, timeout_s: float = READ_TIMEOUT_S) -> dict[str, Any]:
    """Download and parse an array's metadata: ``zarr.json`` (v3) or else ``.zarray`` (v2).

    Parameters
    ----------
    array_url : str
        http(s) URL of the array (e.g. a level of an OME-Zarr image: ``.../image.zarr/0``).
    timeout_s : float
        Longest wait for a connection or between two reads of an answer.

    Returns
    -------
    dict
        The parsed metadata document (give it to :func:`helpers.chunks.chunk_layout`).

    Raises
    ------
    ValueError
        Not an http(s) URL, or neither document exists at ``array_url`` (the message names both
        URLs).
    FetchError
        The server failed in another way.

    Examples
    --------
    >>> from helpers.fetch import read_array_metadata
    >>> metadata = read_array_metadata(level_url)  # doctest: +SKIP
    >>> metadata["zarr_format"], metadata["shape"]  # doctest: +SKIP
    (3, [2, 236, 275, 271])
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
        metadata: dict[str, Any] = json.loads(body)
        return metadata
    raise ValueError(f"no Zarr array at {base}: neither {tried[0]} nor {tried[1]} exists")


def chunk_urls(
    array_url: str,
    region: Sequence[slice | int] | slice | int | None = None,
    metadata: dict[str, Any] | ChunkLayout | None = None,
) -> list[str]:
    """Full URLs of the chunks ``region`` touches: one GET each reads the region.

    Parameters
    ----------
    array_url : str
        http(s) URL of the array.
    region : selection, optional
        Ints and step-1 slices in array coordinates, e.g. ``(1, slice(0, 10))``; ``None`` (the
        default) for every chunk.
    metadata : dict or ChunkLayout, optional
        The array's metadata, if already known; otherwise it is downloaded from ``array_url``
        (:func:`read_array_metadata`).

    Returns
    -------
    list of str
        ``<array_url>/<chunk key>`` for each chunk, in C order of the chunk grid.

    Raises
    ------
    ValueError
        Not an http(s) URL, no array there, or a region that is invalid, empty or outside the
        array.
    FetchError
        The metadata could not be downloaded.

    Examples
    --------
    >>> from helpers.fetch import chunk_urls
    >>> meta = {"zarr_format": 2, "shape": [3, 10], "chunks": [1, 10], "dtype": "<u2"}
    >>> chunk_urls("http://127.0.0.1:9000/course-data/a.zarr/0", (slice(1, 3),), meta)
    ['http://127.0.0.1:9000/course-data/a.zarr/0/1.0', 'http://127.0.0.1:9000/course-data/a.zarr/0/2.0']
    >>> chunk_urls(level_url, (0, 12))  # doctest: +SKIP
    ['http://127.0.0.1:9000/course-data/v0.5/nuclei.zarr/0/c/0/12/0/0']
    """
    base = check_url(array_url).rstrip("/")
    source = read_array_metadata(base) if metadata is None else metadata
    return [f"{base}/{key}" for key in chunk_keys(source, region)]
