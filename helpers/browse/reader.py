"""Read views of an OME-Zarr image chunk by chunk, counting every request and caching every tile.

:class:`ViewReader` reads every level through one :class:`~helpers.browse.counting.CountingStore`
(real request and byte counts) and keeps decoded chunks in a
:class:`~helpers.browse.cache.TileCache` keyed by ``(level, chunk index)``. For a view it fetches
the chunks that are not cached, all at once (concurrently, with asyncio), and assembles the view
from the tiles; each read returns its :class:`ViewCost`.

The rebinding of the image's arrays to the counting store goes through :mod:`helpers._compat`;
which chunks a region needs is :mod:`helpers.chunks`.

Examples
--------
>>> from helpers import open_image
>>> from helpers.browse import View, ViewReader
>>> reader = ViewReader(open_image("tissue"))  # doctest: +SKIP
>>> print(reader.read(View(level=2, center_yx=(2048.0, 2048.0))).cost.summary())  # doctest: +SKIP
level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._compat import (
    array_metadata_dict,
    array_on_store,
    array_store,
    decode_inner_chunks,
    run_sync,
)
from ..chunks import (
    ChunkIndex,
    Region,
    check_region,
    chunk_layout,
    chunk_region,
    chunks_for_region,
    intersect,
    region_shape,
    relative_region,
)
from ..config import TILE_CACHE_BYTES, VIEW_CONCURRENCY, VIEW_TIMEOUT_S
from ..image import OmeImage
from ..model import check_concurrency
from ..shards import ShardLayout, shard_layout
from ..text import plural
from .cache import TileCache
from .counting import CountingStore
from .sharded import ShardIndexCache, fetch_inner_chunks
from .units import format_bytes
from .views import View, physical_extent, view_region

__all__ = ["ViewCost", "ViewReader", "ViewResult"]


@dataclass(frozen=True)
class ViewCost:
    """What reading one view cost.

    Attributes
    ----------
    level : int
        The level read.
    chunks_needed : int
        Chunks that intersect the view (computed by the chunk maths).
    chunks_cached : int
        How many of those were already in the cache.
    requests : int
        Requests counted at the store while reading the view.
    bytes : int
        Bytes those requests returned (compressed, as stored).
    seconds : float
        Wall time of the read (fetch + decode + assembly).
    missing : int
        Requests that found no object (shown as the fill value by zarr).
    index_reads : int
        Of the requests, reads of shard indexes (sharded levels only; 0 when all were cached).
    range_reads : int
        Of the requests, byte-range reads of inner chunks (sharded levels only).
    """

    level: int
    chunks_needed: int
    chunks_cached: int
    requests: int
    bytes: int
    seconds: float
    missing: int = 0
    index_reads: int = 0
    range_reads: int = 0

    @property
    def from_cache(self) -> bool:
        """True when the view was served from the cache alone (no request)."""
        return self.requests == 0

    def summary(self) -> str:
        """One line, e.g. ``level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms``."""
        kinds = (
            f" ({self.index_reads} index + {self.range_reads} ranges)"
            if self.index_reads or self.range_reads
            else ""
        )
        what = (
            "served from cache: 0 requests"
            if self.from_cache
            else f"{plural(self.requests, 'request')}{kinds}, {format_bytes(self.bytes)}"
        )
        return (
            f"level {self.level}: {plural(self.chunks_needed, 'chunk')} needed, {what}, "
            f"{self.seconds * 1000:.0f} ms"
        )


@dataclass(frozen=True)
class ViewResult:
    """A view's pixels, where they sit, and what reading them cost.

    Attributes
    ----------
    view : View
        The view read.
    data : numpy.ndarray
        Its pixels, y by x.
    region : Region
        The pixels of the level read.
    extent : tuple of float
        ``(left, right, bottom, top)`` in physical units (see
        :func:`~helpers.browse.views.physical_extent`).
    cost : ViewCost
        What reading it cost.
    """

    view: View
    data: np.ndarray
    region: Region
    extent: tuple[float, float, float, float]
    cost: ViewCost


class ViewReader:
    """Read views (or any region of any level) of ``image``, counting requests and caching tiles.

    Parameters
    ----------
    image : OmeImage
        An image opened with :func:`helpers.open_image`.
    cache_bytes : int, optional
        Memory for decoded tiles (0 disables the cache).
    concurrency : int, optional
        Most chunk requests in flight at once.
    timeout_s : float, optional
        A read that takes longer fails with ``TimeoutError`` (never hangs).

    Attributes
    ----------
    store : CountingStore
        The store every read goes through.
    cache : TileCache
        The decoded tiles.
    indexes : ShardIndexCache
        Shard indexes read so far (sharded levels are read by byte range: see
        :mod:`helpers.browse.sharded`).

    Raises
    ------
    ValueError
        ``concurrency`` is not an integer from 1 to 1024 or ``timeout_s`` not a positive number.

    Examples
    --------
    >>> reader = ViewReader(image, concurrency=16)  # doctest: +SKIP
    >>> reader.read(View(level=0, center_yx=(100.0, 100.0))).cost.requests  # doctest: +SKIP
    4
    """

    def __init__(
        self,
        image: OmeImage,
        cache_bytes: int = TILE_CACHE_BYTES,
        concurrency: int = VIEW_CONCURRENCY,
        timeout_s: float = VIEW_TIMEOUT_S,
    ) -> None:
        concurrency = check_concurrency(concurrency)
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not timeout_s > 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout_s!r}")
        self.image = image
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.cache = TileCache(cache_bytes)
        self.store = CountingStore(array_store(image.levels[0]))
        # The same arrays (metadata already read), but reading through the counting store.
        self._arrays = [array_on_store(a, self.store) for a in image.levels]
        self.indexes = ShardIndexCache()
        self._shards: list[ShardLayout | None] = [
            shard_layout(a) if chunk_layout(a).sharded else None for a in image.levels
        ]
        self._metadata = [
            array_metadata_dict(a) if s else {}
            for a, s in zip(image.levels, self._shards, strict=True)
        ]

    def chunks_needed(self, level: int, region: Region) -> list[ChunkIndex]:
        """The chunks of ``level`` that intersect ``region``.

        Parameters
        ----------
        level : int
            The level.
        region : Region
            Pixels of that level.

        Returns
        -------
        list of ChunkIndex
            Grid positions, in C order (see :func:`helpers.chunks.chunks_for_region`).
        """
        arr = self._array(level)
        return chunks_for_region(region, arr.shape, arr.chunks)

    def region_of(self, view: View) -> Region:
        """The pixels of ``view.level`` that ``view`` shows.

        Parameters
        ----------
        view : View
            What to show.

        Returns
        -------
        Region
            See :func:`~helpers.browse.views.view_region`.

        Raises
        ------
        ValueError
            The level does not exist, or the view does not fit the image.
        """
        self._array(view.level)
        return view_region(
            view,
            self.image.axes,
            self.image.levels[view.level].shape,
            self.image.scales[view.level],
            self.image.translations[view.level],
        )

    def read(self, view: View) -> ViewResult:
        """Read one view: its pixels as a 2D (y, x) array, its physical extent and its cost.

        Parameters
        ----------
        view : View
            What to show.

        Returns
        -------
        ViewResult
            The pixels, where they sit and what they cost.

        Raises
        ------
        ValueError
            The level does not exist, or the view does not fit the image.
        TimeoutError
            Reading the chunks took longer than ``timeout_s``.
        """
        region = self.region_of(view)
        data, cost = self.read_region(view.level, region)
        extent = physical_extent(
            region,
            self.image.axes,
            self.image.scales[view.level],
            self.image.translations[view.level],
        )
        return ViewResult(view, data.reshape(region_shape(region)[-2:]), region, extent, cost)

    def read_region(self, level: int, region: Region) -> tuple[np.ndarray, ViewCost]:
        """Read ``region`` of ``level``: cached chunks from memory, the others in one concurrent batch.

        Parameters
        ----------
        level : int
            The level.
        region : Region
            One slice per axis (``None`` bounds allowed, step 1).

        Returns
        -------
        tuple of (numpy.ndarray, ViewCost)
            The pixels (the region's shape) and what reading them cost.

        Raises
        ------
        ValueError
            The level does not exist, or the region leaves the array.
        TimeoutError
            Reading the chunks took longer than ``timeout_s``.
        """
        arr = self._array(level)
        region = check_region(region, arr.shape)
        needed = chunks_for_region(region, arr.shape, arr.chunks)
        requests0, bytes0, missing0 = self.store.snapshot()
        start = time.perf_counter()
        cached = {index: self.cache.get((level, index)) for index in needed}
        tiles = {index: tile for index, tile in cached.items() if tile is not None}
        to_fetch = [index for index in needed if index not in tiles]
        index_reads = range_reads = 0
        if to_fetch:
            try:
                if self._shards[level] is None:
                    fetched = run_sync(self._fetch(level, to_fetch), timeout=self.timeout_s)
                else:
                    fetched, index_reads, range_reads = self._fetch_sharded(level, to_fetch)
            except TimeoutError:
                raise TimeoutError(
                    f"reading {plural(len(to_fetch), 'chunk')} of level {level} of {self.image.url} took "
                    f"longer than {self.timeout_s:.0f} s"
                ) from None
            tiles.update(fetched)
            for index, tile in fetched.items():
                self.cache.put((level, index), tile)
        out = np.empty(region_shape(region), dtype=arr.dtype)
        for index in needed:
            covered = chunk_region(index, arr.shape, arr.chunks)
            overlap = intersect(region, covered)
            assert overlap is not None  # every needed chunk intersects the region
            out[relative_region(overlap, region)] = tiles[index][relative_region(overlap, covered)]
        seconds = time.perf_counter() - start
        requests1, bytes1, missing1 = self.store.snapshot()
        cost = ViewCost(
            level=level,
            chunks_needed=len(needed),
            chunks_cached=len(needed) - len(to_fetch),
            requests=requests1 - requests0,
            bytes=bytes1 - bytes0,
            seconds=seconds,
            missing=missing1 - missing0,
            index_reads=index_reads,
            range_reads=range_reads,
        )
        return out, cost

    def _fetch_sharded(
        self, level: int, indices: list[ChunkIndex]
    ) -> tuple[dict[ChunkIndex, np.ndarray], int, int]:
        layout = self._shards[level]
        assert layout is not None
        arr = self.image.levels[level]
        got = run_sync(
            fetch_inner_chunks(
                self.store, arr.path, layout, level, indices, self.indexes, self.concurrency
            ),
            timeout=self.timeout_s,
        )
        raws = [got.chunks[index] for index in indices]
        decoded = decode_inner_chunks(self._metadata[level], raws)
        tiles = {}
        for index, tile in zip(indices, decoded, strict=True):
            covered = chunk_region(index, arr.shape, arr.chunks)  # edge chunks are stored padded
            tiles[index] = tile[tuple(slice(0, s.stop - s.start) for s in covered)]
        return tiles, got.index_reads, got.range_reads

    async def _fetch(self, level: int, indices: list[ChunkIndex]) -> dict[ChunkIndex, np.ndarray]:
        arr = self._arrays[level]
        limit = asyncio.Semaphore(self.concurrency)

        async def one(index: ChunkIndex) -> np.ndarray:
            async with limit:
                tile = await arr.getitem(chunk_region(index, arr.shape, arr.chunks))
            return np.asarray(tile)

        tiles = await asyncio.gather(*(one(index) for index in indices))
        return dict(zip(indices, tiles, strict=True))

    def _array(self, level: int) -> Any:
        if not 0 <= level < len(self._arrays):
            raise ValueError(
                f"level {level} does not exist: this image has levels 0 to {len(self._arrays) - 1}"
            )
        return self._arrays[level]
