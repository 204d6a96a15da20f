"""Browse a multiscale image: the maths of a view, and reading views chunk by chunk, counted and cached.

A viewer shows a screen's worth of pixels of one level. The maths (pure, no I/O): which level fits
the screen (:func:`level_for_screen`), which pixels a view shows (:func:`view_region`), where they
are in micrometres (:func:`physical_extent`); which chunks a region needs is
:func:`helpers.chunks.chunks_for_region`. :class:`ViewReader` reads views: it fetches only the chunks
a view needs that it has not seen (all at once), counts every request and byte through a
:class:`CountingStore`, keeps decoded chunks in a :class:`TileCache` (a revisited view costs 0
requests), and for a sharded level reads inner chunks by byte range with cached shard indexes.
Each read returns its :class:`ViewCost`. The interactive viewer built on it is the course's
machinery (``course_tools/viewers/browser.py``).

Examples
--------
>>> level_for_screen([1, 2, 4, 8], (4096, 4096), (512, 512))  # 8 level-0 pixels per screen pixel
3
>>> reader = ViewReader(open_image("tissue"))  # doctest: +SKIP
>>> print(reader.read(View(level=2, center_yx=(2048.0, 2048.0))).cost.summary())  # doctest: +SKIP
level 2: 4 chunks needed, 4 requests, 612.3 kB, 131 ms
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
    check_region,
    chunk_grid,
    chunk_layout,
    chunk_region,
    chunks_for_region,
    count_chunks,
    intersect,
    region_shape,
    relative_region,
)
from .image import OmeImage
from .model import check_concurrency, check_count
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

MAX_SCREEN_PX = 8192
"""Largest view (pixels along y or x) a viewer accepts."""
VIEW_CONCURRENCY = 64
"""Chunk requests one view read keeps in flight (at most)."""
VIEW_TIMEOUT_S = 60.0
"""A whole view read (all its chunks) that takes longer fails with ``TimeoutError``."""
TILE_CACHE_BYTES = 256 * 2**20
"""Memory for decoded tiles in a viewer's cache (256 MiB)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


UNIT_SYMBOLS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "angstrom": "Å"}
"""Symbols of the OME-NGFF space units the course's images use."""


def format_bytes(n: float) -> str:
    """A byte count in decimal units (like network speeds), one decimal from kB up.

    Parameters
    ----------
    n : float
        Number of bytes.

    Returns
    -------
    str
        E.g. ``"512 B"``, ``"612.3 kB"``, ``"1.2 MB"``; GB is the largest unit.

    Examples
    --------
    >>> format_bytes(512), format_bytes(612_345), format_bytes(3e12)
    ('512 B', '612.3 kB', '3000.0 GB')
    """
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def unit_symbol(unit: str | None) -> str:
    """The symbol of an OME-NGFF unit name.

    Parameters
    ----------
    unit : str or None
        E.g. ``"micrometer"``.

    Returns
    -------
    str
        ``"µm"`` for ``"micrometer"``; unknown units as given; ``"px"`` without a unit.

    Examples
    --------
    >>> unit_symbol("nanometer"), unit_symbol("parsec"), unit_symbol(None)
    ('nm', 'parsec', 'px')
    """
    if not unit:
        return "px"
    return UNIT_SYMBOLS.get(unit, unit)


MIN_SCREEN_PX = 16
"""Smallest view (pixels along y or x) a viewer shows."""


def check_screen(screen: Any) -> tuple[int, int]:
    """``screen`` as ``(height, width)`` if both are whole numbers of pixels from 16 to 8192.

    Parameters
    ----------
    screen : pair of int
        The view's size on screen, y then x.

    Returns
    -------
    tuple of int
        ``(height, width)``.

    Raises
    ------
    ValueError
        Not a pair of integers, or a side outside ``[MIN_SCREEN_PX, MAX_SCREEN_PX]``.

    Examples
    --------
    >>> check_screen((512, 256))
    (512, 256)
    >>> check_screen(512)
    Traceback (most recent call last):
    ...
    ValueError: screen must be a pair of pixel sizes (height, width), e.g. (512, 512); got 512
    """
    if isinstance(screen, str | bytes) or not isinstance(screen, Sequence) or len(screen) != 2:
        raise ValueError(
            f"screen must be a pair of pixel sizes (height, width), e.g. (512, 512); got {screen!r}"
        )
    height, width = (
        check_count(side, "screen size", MIN_SCREEN_PX, MAX_SCREEN_PX) for side in screen
    )
    return height, width


def downsampling_factors(scales: Sequence[Sequence[float]], axis: int) -> list[float]:
    """How many level-0 pixels one pixel of each level spans along ``axis`` (1, 2, 4, ...).

    Parameters
    ----------
    scales : sequence of sequence of float
        Pixel size of each level along each axis (``OmeImage.scales``), level 0 first.
    axis : int
        The axis to compare (e.g. x).

    Returns
    -------
    list of float
        One factor per level, 1.0 for level 0.

    Raises
    ------
    ValueError
        No levels, or a non-positive pixel size at level 0.

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

    Showing an area of ``(h0, w0)`` level-0 pixels on a screen of ``(H, W)`` pixels (aspect kept)
    puts ``s = max(h0 / H, w0 / W)`` level-0 pixels on each screen pixel. Any level whose pixels
    span at most ``s`` level-0 pixels still gives every screen pixel its own image pixel; the
    coarsest such level is the cheapest one that loses nothing on screen. Zoomed in beyond full
    resolution (``s < 1``), that is level 0.

    Parameters
    ----------
    factors : sequence of float
        Downsampling factor of each level (see :func:`downsampling_factors`), increasing.
    view_px0 : tuple of float
        Height and width of the area to show, in level-0 pixels.
    screen_px : tuple of int
        Height and width of the screen area (or widget) in screen pixels.

    Returns
    -------
    int
        The level index.

    Raises
    ------
    ValueError
        Non-positive or non-increasing factors, or a non-positive size.

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
    """``size`` pixels around ``center`` (in pixels), shifted to stay inside ``0:length``.

    Parameters
    ----------
    center : float
        Centre of the window, in pixels.
    size : int
        Width of the window, in pixels.
    length : int
        Length of the axis.

    Returns
    -------
    slice
        ``size`` pixels inside the axis; the whole axis when it is shorter than ``size``.

    Raises
    ------
    ValueError
        A non-positive size or length.

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

    Attributes
    ----------
    level : int
        Pyramid level (0 = full resolution).
    center_yx : tuple of float
        Centre of the view in physical units (e.g. micrometres), y then x.
    screen_yx : tuple of int
        Size of the image on screen, in screen pixels; one screen pixel shows one pixel of
        ``level``.
    channel : int
        Channel index (ignored when the image has no ``c`` axis).
    z : int
        Plane index (ignored when the image has no ``z`` axis).

    Examples
    --------
    >>> View(level=2, center_yx=(2048.0, 2048.0), channel=1)
    View(level=2, center_yx=(2048.0, 2048.0), screen_yx=(512, 512), channel=1, z=0)
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

    Parameters
    ----------
    view : View
        What to show.
    axes : sequence of str
        Axis names of the level, e.g. ``["c", "y", "x"]``.
    shape : sequence of int
        Shape of the level.
    scale : sequence of float
        Pixel size of the level along each axis.
    translation : sequence of float, optional
        Physical position of the level's first pixel (default: 0).

    Returns
    -------
    Region
        y and x: ``screen_yx`` pixels around the centre (kept inside the image); c and z: the one
        channel and plane of the view; any other axis (e.g. t): its first index.

    Raises
    ------
    ValueError
        Mismatched lengths, no y or x axis, or a channel or plane out of range.

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

    Parameters
    ----------
    region : Region
        Pixels of one level.
    axes : sequence of str
        Axis names (with y and x).
    scale : sequence of float
        Pixel size of the level along each axis.
    translation : sequence of float, optional
        Physical position of the level's first pixel (default: 0).

    Returns
    -------
    tuple of float
        ``(left, right, bottom, top)``, ready for matplotlib's ``imshow(..., extent=...)``
        (origin upper: y grows downwards).

    Examples
    --------
    >>> physical_extent((slice(10, 20), slice(0, 4)), ["y", "x"], (0.5, 0.5))
    (0.0, 2.0, 10.0, 5.0)
    """
    translation = translation or [0.0] * len(axes)
    y, x = axes.index("y"), axes.index("x")

    def edges(i: int) -> tuple[float, float]:
        return (
            translation[i] + region[i].start * scale[i],
            translation[i] + region[i].stop * scale[i],
        )

    (top, bottom), (left, right) = edges(y), edges(x)
    return left, right, bottom, top


class TileCache:
    """Decoded chunks in memory, the least recently used dropped first beyond ``max_bytes``.

    Parameters
    ----------
    max_bytes : int, optional
        Memory for the tiles (0 keeps nothing).

    Attributes
    ----------
    max_bytes, nbytes : int
        The bound, and the bytes held now.
    hits, misses : int
        Lookups that found a tile / found none.

    Raises
    ------
    ValueError
        A negative size.

    Examples
    --------
    >>> import numpy as np
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


class CountingStore(WrapperStore):
    """A zarr store that forwards every call to ``store`` and counts the reads.

    Attributes
    ----------
    requests : int
        Number of object reads sent (``get`` calls, plus one per key of ``get_partial_values``).
    bytes : int
        Bytes those reads returned.
    missing : int
        Reads that found no object (zarr then fills in the fill value).
    ranges : int
        Those reads that asked for a byte range of the object (shard indexes, inner chunks).
    in_flight, max_in_flight : int
        Reads running now / the most running at once.

    Examples
    --------
    >>> import zarr
    >>> store = CountingStore(zarr.storage.MemoryStore())
    >>> store.snapshot()
    (0, 0, 0)
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.requests = 0
        self.bytes = 0
        self.missing = 0
        self.ranges = 0
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


class ShardIndexCache:
    """Decoded shard indexes, by ``(level, shard index)``: read once, used for every later view.

    An index is 16 bytes per inner chunk plus 4 (about 10 kB for a shard of 640 chunks), so the
    cache keeps every index it is given.
    """

    def __init__(self) -> None:
        self._indexes: dict[tuple[int, ChunkIndex], ShardIndex] = {}

    def get(self, level: int, shard: ChunkIndex) -> ShardIndex | None:
        """The cached index of ``shard`` of ``level``, or ``None``."""
        return self._indexes.get((level, shard))

    def put(self, level: int, shard: ChunkIndex, index: ShardIndex) -> None:
        """Keep the index of ``shard`` of ``level``."""
        self._indexes[(level, shard)] = index

    def missing(self, level: int, shards: Sequence[ChunkIndex]) -> list[ChunkIndex]:
        """Those of ``shards`` (of ``level``) whose index is not cached, in the given order."""
        return [s for s in shards if (level, s) not in self._indexes]

    def clear(self) -> None:
        """Forget every index."""
        self._indexes.clear()

    def __len__(self) -> int:
        return len(self._indexes)


@dataclass(frozen=True)
class ShardedFetch:
    """The raw inner chunks one read fetched, and its requests by kind.

    Attributes
    ----------
    chunks : dict
        Global inner-chunk index -> its stored bytes, or ``None`` for a chunk the shard does not
        hold (the fill value).
    index_reads : int
        Suffix-range requests for shard indexes (0 when every index was cached).
    range_reads : int
        Byte-range requests for inner chunks.
    """

    chunks: dict[ChunkIndex, bytes | None]
    index_reads: int
    range_reads: int

    @property
    def round_trips(self) -> int:
        """Rounds of requests that waited for each other: 2 with index reads, else 1 (0: none)."""
        return int(self.index_reads > 0) + int(self.range_reads > 0)


async def fetch_inner_chunks(
    store: Store,
    array_path: str,
    layout: ShardLayout,
    level: int,
    chunks: Sequence[ChunkIndex],
    indexes: ShardIndexCache,
    concurrency: int,
) -> ShardedFetch:
    """Fetch the stored bytes of inner ``chunks``: missing shard indexes first, then every range.

    Parameters
    ----------
    store : zarr Store
        The store holding the array (the viewer's counting store).
    array_path : str
        The array's path in ``store`` (``""`` at the root).
    layout : ShardLayout
        The array's shard layout.
    level : int
        The pyramid level, the cache key of the indexes.
    chunks : sequence of ChunkIndex
        Global inner-chunk indices to fetch.
    indexes : ShardIndexCache
        Cached indexes; the indexes read here are added.
    concurrency : int
        Most requests in flight at once.

    Returns
    -------
    ShardedFetch
        The bytes of each chunk and the requests made.

    Raises
    ------
    FileNotFoundError
        A shard the chunks need does not exist (a lost object is never shown as zeros).
    ValueError
        A shard index that does not decode (wrong size, checksum mismatch).
    """
    limit = asyncio.Semaphore(concurrency)
    prototype = buffer_prototype()
    prefix = f"{array_path.strip('/')}/" if array_path.strip("/") else ""

    async def get(key: str, what: object) -> bytes:
        async with limit:
            buffer = await store.get(prefix + key, prototype, byte_request(what))  # type: ignore[arg-type]
        if buffer is None:
            raise FileNotFoundError(f"shard {prefix + key} does not exist in {store}")
        return buffer.to_bytes()

    shards = list(dict.fromkeys(layout.locate(chunk)[0] for chunk in chunks))
    to_read = indexes.missing(level, shards)
    raws = await asyncio.gather(
        *(get(layout.shard_key(shard), layout.index_range()) for shard in to_read)
    )
    for shard, raw in zip(to_read, raws, strict=True):
        indexes.put(level, shard, decode_index(raw, layout))
    known = {shard: indexes.get(level, shard) for shard in shards}
    wanted = ranges_for_chunks(layout, chunks, known)  # type: ignore[arg-type]
    bodies = await asyncio.gather(*(get(r.key, r.byte_range) for r in wanted))
    out: dict[ChunkIndex, bytes | None] = dict.fromkeys(map(tuple, chunks))  # None: not stored
    out.update((r.chunk, body) for r, body in zip(wanted, bodies, strict=True))
    return ShardedFetch(out, index_reads=len(to_read), range_reads=len(wanted))


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
            else f"{_plural(self.requests, 'request')}{kinds}, {format_bytes(self.bytes)}"
        )
        return (
            f"level {self.level}: {_plural(self.chunks_needed, 'chunk')} needed, {what}, "
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
        :func:`~helpers.browse.physical_extent`).
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
        :mod:`helpers.browse`).

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
            See :func:`~helpers.browse.view_region`.

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
                    f"reading {_plural(len(to_fetch), 'chunk')} of level {level} of {self.image.url} took "
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
