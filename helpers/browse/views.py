"""The maths of a viewer, in plain functions: which level fits a screen, which chunks a view needs.

Nothing here downloads anything: every function works on shapes, chunk shapes and pixel sizes, so it
can be tested (and reasoned about) without a network or a browser.

Conventions: a *region* is a tuple of ``slice`` objects, one per array axis, in the pixels of one
level (``start`` included, ``stop`` excluded, both within the array). A *chunk index* is a tuple of
integers, one per axis: chunk ``(0, 2, 3)`` of an array chunked ``(1, 512, 512)`` covers
``[0:1, 1024:1536, 1536:2048]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

Region = tuple[slice, ...]
ChunkIndex = tuple[int, ...]


def _check_shape_and_chunks(shape: Sequence[int], chunks: Sequence[int]) -> None:
    if len(shape) != len(chunks):
        raise ValueError(f"shape {tuple(shape)} and chunks {tuple(chunks)} differ in length")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {tuple(shape)}")
    if any(c <= 0 for c in chunks):
        raise ValueError(f"chunk sizes must be positive, got {tuple(chunks)}")


def chunk_grid(shape: Sequence[int], chunks: Sequence[int]) -> tuple[int, ...]:
    """Number of chunks along each axis, e.g. ``(3, 16, 16)`` for (3, 8192, 8192) in (1, 512, 512)."""
    _check_shape_and_chunks(shape, chunks)
    return tuple(math.ceil(s / c) for s, c in zip(shape, chunks, strict=True))


def count_chunks(shape: Sequence[int], chunks: Sequence[int]) -> int:
    """Number of chunks (= objects, = GET requests) that hold a whole array."""
    return math.prod(chunk_grid(shape, chunks))


def check_region(region: Region, shape: Sequence[int]) -> Region:
    """Return ``region`` with ``None`` bounds filled in; ``ValueError`` if it leaves the array.

    Steps other than 1 are refused: a viewer reads contiguous rectangles.
    """
    if len(region) != len(shape):
        raise ValueError(f"region has {len(region)} axes but the array has {len(shape)}")
    checked = []
    for axis, (s, size) in enumerate(zip(region, shape, strict=True)):
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise ValueError(f"axis {axis}: expected a slice with step 1, got {s!r}")
        start = 0 if s.start is None else s.start
        stop = size if s.stop is None else s.stop
        if not 0 <= start < stop <= size:
            raise ValueError(
                f"axis {axis}: region {start}:{stop} is empty or outside the array (size {size})"
            )
        checked.append(slice(start, stop))
    return tuple(checked)


def chunks_for_region(
    region: Region, shape: Sequence[int], chunks: Sequence[int]
) -> list[ChunkIndex]:
    """Indices of every chunk that intersects ``region``: exactly what a reader must fetch.

    Along each axis the region ``start:stop`` touches chunks ``start // c`` to ``(stop - 1) // c``;
    the chunks needed are all combinations (a rectangle of chunks), in C order.
    """
    _check_shape_and_chunks(shape, chunks)
    region = check_region(region, shape)
    ranges = [
        range(s.start // c, (s.stop - 1) // c + 1) for s, c in zip(region, chunks, strict=True)
    ]
    return list(product(*ranges))


def chunk_region(index: ChunkIndex, shape: Sequence[int], chunks: Sequence[int]) -> Region:
    """The pixels chunk ``index`` covers (edge chunks are cut at the array's border)."""
    grid = chunk_grid(shape, chunks)
    if len(index) != len(grid) or any(not 0 <= i < g for i, g in zip(index, grid, strict=True)):
        raise ValueError(f"chunk index {tuple(index)} outside the chunk grid {grid}")
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


def downsampling_factors(scales: Sequence[Sequence[float]], axis: int) -> list[float]:
    """How many level-0 pixels one pixel of each level spans along ``axis`` (1, 2, 4, ...)."""
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

    Args:
        factors: downsampling factor of each level (see :func:`downsampling_factors`), increasing.
        view_px0: height and width of the area to show, in level-0 pixels.
        screen_px: height and width of the screen area (or widget) in screen pixels.
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

    When the axis is shorter than ``size``, the whole axis.
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

    Attributes:
        level: pyramid level (0 = full resolution).
        center_yx: centre of the view in physical units (e.g. micrometres), y then x.
        screen_yx: size of the image on screen, in screen pixels; one screen pixel shows one pixel
            of ``level``.
        channel: channel index (ignored when the image has no ``c`` axis).
        z: plane index (ignored when the image has no ``z`` axis).
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

    y and x: ``screen_yx`` pixels around the centre (kept inside the image); c and z: the one
    channel and plane of the view; any other axis (e.g. t): its first index.
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

    Ready for matplotlib's ``imshow(..., extent=...)`` (origin upper: y grows downwards).
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


__all__ = [
    "ChunkIndex",
    "Region",
    "View",
    "check_region",
    "chunk_grid",
    "chunk_region",
    "chunks_for_region",
    "count_chunks",
    "downsampling_factors",
    "intersect",
    "level_for_screen",
    "physical_extent",
    "region_shape",
    "view_region",
    "window",
]
