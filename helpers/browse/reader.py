"""Read views of an OME-Zarr image chunk by chunk, counting every request and caching every tile.

Three small pieces:

- :class:`CountingStore` wraps a zarr store and counts the requests that really go out (and their
  bytes): the numbers a viewer shows are measured, not estimated.
- :class:`TileCache` keeps decoded chunks in memory (least recently used dropped first), keyed by
  ``(level, chunk index)``, so a view seen before costs no request at all.
- :class:`ViewReader` fetches the chunks a view needs that are not cached, all at once (concurrently,
  with asyncio), and assembles the view from the tiles.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import ByteRequest
from zarr.core.array import AsyncArray
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.sync import sync
from zarr.storage import StorePath, WrapperStore

from ..omezarr import OmeImage
from .views import (
    ChunkIndex,
    Region,
    View,
    check_region,
    chunk_region,
    chunks_for_region,
    intersect,
    physical_extent,
    region_shape,
    view_region,
)

DEFAULT_CACHE_BYTES = 256 * 2**20
DEFAULT_CONCURRENCY = 64
READ_TIMEOUT_S = 60.0


class CountingStore(WrapperStore):
    """A zarr store that forwards every call to ``store`` and counts the reads.

    Attributes:
        requests: number of object reads sent (``get`` calls, plus one per key of
            ``get_partial_values``).
        bytes: bytes those reads returned.
        missing: reads that found no object (zarr then fills in the fill value).
        in_flight / max_in_flight: reads running now / the most running at once.
    """

    def __init__(self, store: zarr.abc.store.Store) -> None:
        super().__init__(store)
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.requests = 0
        self.bytes = 0
        self.missing = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def snapshot(self) -> tuple[int, int, int]:
        """``(requests, bytes, missing)`` now; subtract two snapshots to get what happened between."""
        return self.requests, self.bytes, self.missing

    def _count(self, buffer: Buffer | None) -> None:
        self.requests += 1
        if buffer is None:
            self.missing += 1
        else:
            self.bytes += len(buffer)

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            buffer = await self._store.get(key, prototype, byte_range)
        finally:
            self.in_flight -= 1
        self._count(buffer)
        return buffer

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        buffers = await self._store.get_partial_values(prototype, key_ranges)
        for buffer in buffers:
            self._count(buffer)
        return buffers

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        for key, prototype, byte_range in requests:  # through self.get, so they are counted
            yield key, await self.get(key, prototype, byte_range)

    def _with_store(self, store: zarr.abc.store.Store) -> CountingStore:
        return type(self)(store)

    def __repr__(self) -> str:
        return f"CountingStore({self._store!r}, requests={self.requests}, bytes={self.bytes})"


class TileCache:
    """Decoded chunks in memory, the least recently used dropped first beyond ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[Any, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: object) -> bool:
        return key in self._tiles

    def __len__(self) -> int:
        return len(self._tiles)

    def get(self, key: Any) -> np.ndarray | None:
        """The tile stored under ``key`` (now the most recently used), or ``None``."""
        tile = self._tiles.get(key)
        if tile is None:
            self.misses += 1
            return None
        self.hits += 1
        self._tiles.move_to_end(key)
        return tile

    def put(self, key: Any, tile: np.ndarray) -> None:
        """Store ``tile``; drop the least recently used tiles while over ``max_bytes``."""
        if key in self._tiles:
            self.nbytes -= self._tiles.pop(key).nbytes
        self._tiles[key] = tile
        self.nbytes += tile.nbytes
        while self.nbytes > self.max_bytes and self._tiles:
            _, dropped = self._tiles.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        """Forget every tile (the next views are fetched again)."""
        self._tiles.clear()
        self.nbytes = 0


@dataclass(frozen=True)
class ViewCost:
    """What reading one view cost.

    Attributes:
        level: the level read.
        chunks_needed: chunks that intersect the view (computed by the view maths).
        chunks_cached: how many of those were already in the cache.
        requests: requests counted at the store while reading the view.
        bytes: bytes those requests returned (compressed, as stored).
        seconds: wall time of the read (fetch + decode + assembly).
        missing: requests that found no object (shown as the fill value by zarr).
    """

    level: int
    chunks_needed: int
    chunks_cached: int
    requests: int
    bytes: int
    seconds: float
    missing: int = 0

    @property
    def from_cache(self) -> bool:
        """True when the view was served from the cache alone (no request)."""
        return self.requests == 0

    def summary(self) -> str:
        """One line, e.g. ``level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms``."""
        what = (
            "served from cache: 0 requests"
            if self.from_cache
            else f"{self.requests} requests, {format_bytes(self.bytes)}"
        )
        return (
            f"level {self.level}: {self.chunks_needed} chunks needed, {what}, "
            f"{self.seconds * 1000:.0f} ms"
        )


@dataclass(frozen=True)
class ViewResult:
    """A view's pixels (``data``, y by x), where they sit, and what reading them cost."""

    view: View
    data: np.ndarray
    region: Region
    extent: tuple[float, float, float, float]
    cost: ViewCost


def format_bytes(n: float) -> str:
    """``1234567`` -> ``'1.2 MB'`` (decimal units, like network speeds)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class ViewReader:
    """Read views (or any region of any level) of ``image``, counting requests and caching tiles.

    Args:
        image: an image opened with :func:`helpers.open_image`.
        cache_bytes: memory for decoded tiles (0 disables the cache).
        concurrency: most chunk requests in flight at once.
        timeout_s: a read that takes longer fails with ``TimeoutError`` (never hangs).

    Attributes:
        store: the :class:`CountingStore` every read goes through.
        cache: the :class:`TileCache`.
    """

    def __init__(
        self,
        image: OmeImage,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {timeout_s}")
        self.image = image
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.cache = TileCache(cache_bytes)
        self.store = CountingStore(image.levels[0].store_path.store)
        # The same arrays (metadata already read), but reading through the counting store.
        self._arrays = [
            AsyncArray(
                metadata=a.metadata,
                store_path=StorePath(self.store, a.store_path.path),
                config=a.async_array.config,
            )
            for a in image.levels
        ]

    def chunks_needed(self, level: int, region: Region) -> list[ChunkIndex]:
        """The chunks of ``level`` that intersect ``region``."""
        arr = self._array(level)
        return chunks_for_region(region, arr.shape, arr.chunks)

    def region_of(self, view: View) -> Region:
        """The pixels of ``view.level`` that ``view`` shows."""
        self._array(view.level)
        return view_region(
            view,
            self.image.axes,
            self.image.levels[view.level].shape,
            self.image.scales[view.level],
            self.image.translations[view.level],
        )

    def read(self, view: View) -> ViewResult:
        """Read one view: its pixels as a 2D (y, x) array, its physical extent and its cost."""
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
        """Read ``region`` of ``level``: cached chunks from memory, the others in one concurrent batch."""
        arr = self._array(level)
        region = check_region(region, arr.shape)
        needed = chunks_for_region(region, arr.shape, arr.chunks)
        requests0, bytes0, missing0 = self.store.snapshot()
        start = time.perf_counter()
        tiles = {index: self.cache.get((level, index)) for index in needed}
        to_fetch = [index for index, tile in tiles.items() if tile is None]
        if to_fetch:
            try:
                fetched = sync(self._fetch(level, to_fetch), timeout=self.timeout_s)
            except TimeoutError:
                raise TimeoutError(
                    f"reading {len(to_fetch)} chunks of level {level} of {self.image.url} took "
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
            out[_relative(overlap, region)] = tiles[index][_relative(overlap, covered)]
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
        )
        return out, cost

    async def _fetch(self, level: int, indices: list[ChunkIndex]) -> dict[ChunkIndex, np.ndarray]:
        arr = self._arrays[level]
        limit = asyncio.Semaphore(self.concurrency)

        async def one(index: ChunkIndex) -> np.ndarray:
            async with limit:
                tile = await arr.getitem(chunk_region(index, arr.shape, arr.chunks))
            return np.asarray(tile)

        tiles = await asyncio.gather(*(one(index) for index in indices))
        return dict(zip(indices, tiles, strict=True))

    def _array(self, level: int) -> AsyncArray:
        if not 0 <= level < len(self._arrays):
            raise ValueError(
                f"level {level} does not exist: this image has levels 0 to {len(self._arrays) - 1}"
            )
        return self._arrays[level]


def _relative(inner: Region, outer: Region) -> tuple[slice, ...]:
    """``inner`` (absolute pixels) as slices into an array holding ``outer``."""
    return tuple(
        slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer, strict=True)
    )


__all__ = [
    "CountingStore",
    "TileCache",
    "ViewCost",
    "ViewReader",
    "ViewResult",
    "format_bytes",
]
