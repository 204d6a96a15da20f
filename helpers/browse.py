"""Browse a multiscale image: the maths of a view; views read chunk by chunk, counted and cached.

A viewer shows a screen's worth of pixels of one level. The maths is pure (no I/O): which level fits
the screen, which pixels a view shows, where they are in micrometres, which chunks they need.
:class:`ViewReader` reads views: only the chunks it has not seen, all at once, counted and cached.
The interactive viewer built on it is in ``course_tools/viewers/browser.py``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ._compat import (
    Buffer,
    BufferPrototype,
    ByteRequest,
    Store,
    WrapperStore,
    array_metadata_dict,
    array_on_store,
    array_store,
    buffer_prototype,
    byte_request,
    decode_inner_chunks,
    run_sync,
)
from .chunks import (
    ChunkIndex,
    Region,
    chunk_grid,
    chunk_layout,
    chunk_region,
    chunks_for_region,
    count_chunks,
    intersect,
    normalize_region,
    region_shape,
    relative_region,
)
from .fetch import gather_at_most
from .image import OmeImage
from .model import check_concurrency
from .shards import ShardIndex, ShardLayout, decode_index, ranges_for_chunks, shard_layout

__all__ = [
    "CountingStore",
    "TileCache",
    "View",
    "ViewCost",
    "ViewReader",
    "ViewResult",
    "chunk_grid",
    "chunk_region",
    "chunks_for_region",
    "count_chunks",
    "downsampling_factors",
    "format_bytes",
    "level_for_screen",
    "physical_extent",
    "view_region",
    "window",
]

VIEW_CONCURRENCY = 64
"""Chunk requests one view read keeps in flight (at most)."""
VIEW_TIMEOUT_S = 60.0
"""A whole view read (all its chunks) that takes longer fails with ``TimeoutError``."""
TILE_CACHE_BYTES = 256 * 2**20
"""Memory for decoded tiles in a viewer's cache (256 MiB)."""
T = TypeVar("T")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def format_bytes(n: float) -> str:
    """A byte count in decimal units (like network speeds), one decimal from kB up to GB.

    Examples
    --------
    >>> format_bytes(512), format_bytes(612_345), format_bytes(3e12)
    ('512 B', '612.3 kB', '3000.0 GB')
    """
    for unit in ("B", "kB", "MB"):
        if abs(n) < 1000:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def downsampling_factors(scales: Sequence[Sequence[float]], axis: int) -> list[float]:
    """How many level-0 pixels one pixel of each level spans along ``axis`` (1, 2, 4, ...).

    ``scales`` are the pixel sizes of the levels (``OmeImage.scales``).

    Examples
    --------
    >>> downsampling_factors([(1.0, 0.5), (1.0, 1.0), (1.0, 2.0)], axis=1)
    [1.0, 2.0, 4.0]
    """
    if not scales:
        raise ValueError("no levels given")
    base = scales[0][axis]
    if base <= 0:
        raise ValueError(f"level 0 has a non-positive pixel size {base} on axis {axis}")
    return [level[axis] / base for level in scales]


def level_for_screen(
    factors: Sequence[float], view_px0: tuple[float, float], screen_px: tuple[int, int]
) -> int:
    """The level a viewer should read to show ``view_px0`` level-0 pixels on ``screen_px`` pixels.

    Showing ``(h0, w0)`` level-0 pixels on ``(H, W)`` screen pixels (aspect kept) puts
    ``s = max(h0 / H, w0 / W)`` level-0 pixels on each screen pixel. The coarsest level whose
    pixels span at most ``s`` level-0 pixels is the cheapest one that loses nothing on screen
    (level 0 when zoomed in beyond full resolution). ``factors``: :func:`downsampling_factors`.

    Examples
    --------
    >>> level_for_screen([1, 2, 4, 8], (3000, 3000), (512, 512))  # 5.9 px per screen px
    2
    """
    if not factors or any(f <= 0 for f in factors):
        raise ValueError(f"factors must be positive, got {list(factors)}")
    if any(b <= a for a, b in zip(factors, factors[1:], strict=False)):
        raise ValueError(f"factors must increase from level to level, got {list(factors)}")
    if min(view_px0) <= 0 or min(screen_px) <= 0:
        raise ValueError(f"view {view_px0} and screen {screen_px} must have positive sizes")
    per_screen_pixel = max(v / s for v, s in zip(view_px0, screen_px, strict=True))
    fitting = [i for i, f in enumerate(factors) if f <= per_screen_pixel * (1 + 1e-9)]
    return fitting[-1] if fitting else 0


def window(center: float, size: int, length: int) -> slice:
    """``size`` pixels around ``center``, shifted to stay inside ``0:length`` (all of a short axis).

    Examples
    --------
    >>> window(100, 50, 1000), window(990, 50, 1000)
    (slice(75, 125, None), slice(950, 1000, None))
    """
    if size <= 0 or length <= 0:
        raise ValueError(f"window size {size} and axis length {length} must be positive")
    if size >= length:
        return slice(0, length)
    start = int(round(center - size / 2))
    start = min(max(start, 0), length - size)
    return slice(start, start + size)


@dataclass(frozen=True)
class View:
    """What a viewer shows: one level, one channel, one z plane, a rectangle around a centre.

    ``center_yx`` is in physical units (e.g. micrometres); ``screen_yx`` is the size on screen, one
    screen pixel per pixel of ``level``. ``channel`` and ``z`` are ignored when the image has no
    ``c`` or ``z`` axis.
    """

    level: int
    center_yx: tuple[float, float]
    screen_yx: tuple[int, int] = (512, 512)
    channel: int = 0
    z: int = 0


def view_region(
    view: View,
    axes: Sequence[str],
    shape: Sequence[int],
    scale: Sequence[float],
    translation: Sequence[float] | None = None,
) -> Region:
    """The pixels of one level (``shape``, pixel size ``scale``) that ``view`` shows.

    y and x: ``view.screen_yx`` pixels around the centre, kept inside the image; c and z: the
    view's channel and plane; any other axis (e.g. t): its first index. ``translation`` is the
    physical position of the level's first pixel (default 0).

    Examples
    --------
    >>> view_region(View(0, (50.0, 50.0), (20, 20)), ["y", "x"], (1000, 1000), (0.5, 0.5))
    (slice(90, 110, None), slice(90, 110, None))
    """
    if len(axes) != len(shape) or len(scale) != len(shape):
        raise ValueError(f"axes {list(axes)}, shape {tuple(shape)} and scale {tuple(scale)} differ")
    if "y" not in axes or "x" not in axes:
        raise ValueError(f"a view needs y and x axes; this image has {list(axes)}")
    translation = translation or [0.0] * len(shape)
    region = []
    for name, size, px, offset in zip(axes, shape, scale, translation, strict=True):
        if name in ("y", "x"):
            i = 0 if name == "y" else 1
            center_px = (view.center_yx[i] - offset) / px
            region.append(window(center_px, view.screen_yx[i], size))
        elif name in ("c", "z"):
            index = view.channel if name == "c" else view.z
            if not 0 <= index < size:
                raise ValueError(f"{name} = {index} out of range: this level has {size}")
            region.append(slice(index, index + 1))
        else:
            region.append(slice(0, 1))
    return tuple(region)


def physical_extent(
    region: Region,
    axes: Sequence[str],
    scale: Sequence[float],
    translation: Sequence[float] | None = None,
) -> tuple[float, float, float, float]:
    """``(left, right, bottom, top)`` of a region's y/x rectangle in physical units.

    Ready for matplotlib's ``imshow(..., extent=...)`` (origin upper: y grows downwards);
    ``scale`` and ``translation`` as in :func:`view_region`.

    Examples
    --------
    >>> physical_extent((slice(10, 20), slice(0, 4)), ["y", "x"], (0.5, 0.5))
    (0.0, 2.0, 10.0, 5.0)
    """
    translation = translation or [0.0] * len(axes)
    y, x = axes.index("y"), axes.index("x")
    top, bottom = (translation[y] + edge * scale[y] for edge in (region[y].start, region[y].stop))
    left, right = (translation[x] + edge * scale[x] for edge in (region[x].start, region[x].stop))
    return left, right, bottom, top


class TileCache:
    """Decoded chunks in memory, the least recently used dropped first beyond ``max_bytes``.

    ``nbytes`` is the memory held now, ``hits`` and ``misses`` the lookups that found a tile and
    those that did not. ``max_bytes=0`` keeps nothing.

    Examples
    --------
    >>> cache = TileCache(max_bytes=200)
    >>> cache.put("a", np.zeros(100, np.uint8)); cache.put("b", np.zeros(100, np.uint8))
    >>> cache.put("c", np.zeros(100, np.uint8))  # over 200 bytes: "a" goes
    >>> "a" in cache, len(cache), cache.nbytes
    (False, 2, 200)
    """

    def __init__(self, max_bytes: int = TILE_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[Any, np.ndarray] = OrderedDict()
        self.nbytes = self.hits = self.misses = 0

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


class CountingStore(WrapperStore):
    """A zarr store that forwards every call to ``store`` and counts the reads.

    ``requests`` counts object reads (one per ``get``, one per key of ``get_partial_values``),
    ``bytes`` what they returned, ``missing`` those that found no object (zarr shows the fill
    value), ``ranges`` those of a byte range; ``max_in_flight`` is the most reads at once.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.requests = self.bytes = self.missing = self.ranges = 0
        self.in_flight = self.max_in_flight = 0

    def snapshot(self) -> tuple[int, int, int]:
        """``(requests, bytes, missing)`` now; two snapshots differ by what happened between."""
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
        """Read ``key`` from the wrapped store and count the read (``None``: no such object)."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.ranges += byte_range is not None
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
        """Read byte ranges from the wrapped store; each key counts as one read."""
        key_ranges = list(key_ranges)
        self.ranges += sum(r is not None for _, r in key_ranges)
        buffers = await self._store.get_partial_values(prototype, key_ranges)
        for buffer in buffers:
            self._count(buffer)
        return buffers

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        for key, prototype, byte_range in requests:  # through self.get, so they are counted
            yield key, await self.get(key, prototype, byte_range)

    def _with_store(self, store: Store) -> CountingStore:
        return type(self)(store)

    def __repr__(self) -> str:
        return f"CountingStore({self._store!r}, requests={self.requests}, bytes={self.bytes})"


@dataclass(frozen=True)
class ViewCost:
    """What reading one view cost (``bytes`` as stored, compressed; ``seconds`` of wall time)."""

    level: int
    chunks_needed: int  # chunks that intersect the view
    chunks_cached: int  # of those, already in the cache
    requests: int  # counted at the store while reading the view
    bytes: int
    seconds: float  # fetch + decode + assembly
    missing: int = 0  # requests that found no object (zarr shows the fill value)
    index_reads: int = 0  # sharded levels: requests for shard indexes (0: all were cached)
    range_reads: int = 0  # sharded levels: byte-range requests for inner chunks

    @property
    def from_cache(self) -> bool:
        """True when the view was served from the cache alone (no request)."""
        return self.requests == 0

    def summary(self) -> str:
        """One line, e.g. ``level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms``."""
        sharded = self.index_reads or self.range_reads
        kinds = f" ({self.index_reads} index + {self.range_reads} ranges)" if sharded else ""
        what = f"{_plural(self.requests, 'request')}{kinds}, {format_bytes(self.bytes)}"
        if self.from_cache:
            what = "served from cache: 0 requests"
        needed = _plural(self.chunks_needed, "chunk")
        return f"level {self.level}: {needed} needed, {what}, {self.seconds * 1000:.0f} ms"


@dataclass(frozen=True)
class ViewResult:
    """A view's pixels (y by x), the region of the level they are, their extent and their cost."""

    view: View
    data: np.ndarray
    region: Region
    extent: tuple[float, float, float, float]  # (left, right, bottom, top): physical_extent
    cost: ViewCost


class ViewReader:
    """Read views (or any region of any level) of ``image``, counting requests and caching tiles.

    Every read goes through ``store`` (a :class:`CountingStore`), at most ``concurrency`` requests
    at once, and fails with ``TimeoutError`` after ``timeout_s`` (it never hangs). Decoded tiles stay
    in ``cache`` (``cache_bytes=0`` disables it). A sharded level is read by byte range; the shard
    indexes read stay in ``indexes``.

    Examples
    --------
    >>> reader = ViewReader(open_image("tissue"), concurrency=16)  # doctest: +SKIP
    >>> view = View(level=2, center_yx=(2048.0, 2048.0))
    >>> print(reader.read(view).cost.summary())  # doctest: +SKIP
    level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms
    """

    def __init__(
        self,
        image: OmeImage,
        cache_bytes: int = TILE_CACHE_BYTES,
        concurrency: int = VIEW_CONCURRENCY,
        timeout_s: float = VIEW_TIMEOUT_S,
    ) -> None:
        self.concurrency = check_concurrency(concurrency)
        number = isinstance(timeout_s, int | float) and not isinstance(timeout_s, bool)
        if not (number and timeout_s > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout_s!r}")
        self.image = image
        self.timeout_s = timeout_s
        self.cache = TileCache(cache_bytes)
        self.store = CountingStore(array_store(image.levels[0]))
        # The same arrays (metadata already read), but reading through the counting store.
        self._arrays = [array_on_store(a, self.store) for a in image.levels]
        self.indexes: dict[tuple[int, ChunkIndex], ShardIndex] = {}  # by (level, shard)
        self._shards = [shard_layout(a) if chunk_layout(a).sharded else None for a in image.levels]

    def chunks_needed(self, level: int, region: Region) -> list[ChunkIndex]:
        """The chunks of ``level`` that intersect ``region``, in C order."""
        arr = self._array(level)
        return chunks_for_region(region, arr.shape, arr.chunks)

    def region_of(self, view: View) -> Region:
        """The pixels of ``view.level`` that ``view`` shows (:func:`view_region`)."""
        shape = self._array(view.level).shape
        return view_region(view, self.image.axes, shape, *self._placement(view.level))

    def read(self, view: View) -> ViewResult:
        """Read one view: its pixels as a 2D (y, x) array, its physical extent and its cost."""
        region = self.region_of(view)
        data, cost = self.read_region(view.level, region)
        extent = physical_extent(region, self.image.axes, *self._placement(view.level))
        return ViewResult(view, data.reshape(region_shape(region)[-2:]), region, extent, cost)

    def read_region(self, level: int, region: Region) -> tuple[np.ndarray, ViewCost]:
        """Pixels and cost of ``region`` of ``level``: cached chunks, then one batch of requests.

        ``region`` has one slice per axis (``None`` bounds allowed, step 1).
        """
        arr = self._array(level)
        region = normalize_region(region, arr.shape, strict=True)
        needed = chunks_for_region(region, arr.shape, arr.chunks)
        before = self.store.snapshot()
        start = time.perf_counter()
        found = {index: self.cache.get((level, index)) for index in needed}
        tiles = {index: tile for index, tile in found.items() if tile is not None}
        to_fetch = [index for index in needed if index not in tiles]
        index_reads = range_reads = 0
        if to_fetch:
            fetched, index_reads, range_reads = self._fetch(level, to_fetch)
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
        after = self.store.snapshot()
        requests, nbytes, missing = (b - a for a, b in zip(before, after, strict=True))
        cached = len(needed) - len(to_fetch)
        return out, ViewCost(
            level, len(needed), cached, requests, nbytes, seconds, missing, index_reads, range_reads
        )

    def _fetch(
        self, level: int, indices: list[ChunkIndex]
    ) -> tuple[dict[ChunkIndex, np.ndarray], int, int]:
        """Fetch and decode chunks of ``level``: ``(tiles, index reads, range reads)``."""
        arr, layout = self._arrays[level], self._shards[level]
        regions = [chunk_region(index, arr.shape, arr.chunks) for index in indices]
        try:
            if layout is None:  # whole chunks, read and decoded by zarr
                reads = gather_at_most(self.concurrency, (arr.getitem(r) for r in regions))
                tiles = [np.asarray(tile) for tile in run_sync(reads, timeout=self.timeout_s)]
                return dict(zip(indices, tiles, strict=True)), 0, 0
            fetch = self._fetch_inner_chunks(level, layout, indices)
            raws, index_reads, range_reads = run_sync(fetch, timeout=self.timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"reading {_plural(len(indices), 'chunk')} of level {level} of {self.image.url} "
                f"took longer than {self.timeout_s:.0f} s"
            ) from None
        metadata = array_metadata_dict(self.image.levels[level])
        decoded = decode_inner_chunks(metadata, [raws.get(i) for i in indices])  # None: fill value
        tiles = [  # an edge chunk is stored padded: keep its pixels inside the array
            tile[tuple(slice(0, n) for n in region_shape(region))]
            for tile, region in zip(decoded, regions, strict=True)
        ]
        return dict(zip(indices, tiles, strict=True)), index_reads, range_reads

    async def _fetch_inner_chunks(
        self, level: int, layout: ShardLayout, chunks: list[ChunkIndex]
    ) -> tuple[dict[ChunkIndex, bytes], int, int]:
        """The bytes of the non-empty inner ``chunks``; the index reads and the range reads."""
        path = self.image.levels[level].path.strip("/")
        prefix = f"{path}/" if path else ""

        async def get(key: str, what: object) -> bytes:
            buffer = await self.store.get(prefix + key, buffer_prototype(), byte_request(what))
            if buffer is None:  # a lost shard is never shown as zeros
                raise FileNotFoundError(f"shard {prefix + key} does not exist in {self.store}")
            return buffer.to_bytes()

        # Round 1: the indexes of the shards not seen yet; round 2: a range per stored chunk.
        shards = list(dict.fromkeys(layout.locate(chunk)[0] for chunk in chunks))
        to_read = [shard for shard in shards if (level, shard) not in self.indexes]
        raws = await gather_at_most(
            self.concurrency, (get(layout.shard_key(s), layout.index_range()) for s in to_read)
        )
        for shard, raw in zip(to_read, raws, strict=True):
            self.indexes[(level, shard)] = decode_index(raw, layout)
        known = {shard: self.indexes[(level, shard)] for shard in shards}
        wanted = ranges_for_chunks(layout, chunks, known)
        bodies = await gather_at_most(self.concurrency, (get(r.key, r.byte_range) for r in wanted))
        stored = {r.chunk: body for r, body in zip(wanted, bodies, strict=True)}
        return stored, len(to_read), len(wanted)

    def _placement(self, level: int) -> tuple[Sequence[float], Sequence[float]]:
        """The pixel size and the translation of ``level``, along each axis."""
        return self.image.scales[level], self.image.translations[level]

    def _array(self, level: int) -> Any:
        """The array of ``level`` (read through the counting store); a clear error if none."""
        if not 0 <= level < len(self._arrays):
            last = len(self._arrays) - 1
            raise ValueError(f"level {level} does not exist: this image has levels 0 to {last}")
        return self._arrays[level]
