"""The maths of a viewer, in plain functions: which level fits a screen, which pixels a view shows.

Nothing here downloads anything: every function works on shapes, pixel sizes and translations, so
it can be tested (and reasoned about) without a network or a browser. Which chunks a region needs
is chunk-grid maths: :mod:`helpers.chunks` (:func:`~helpers.chunks.chunks_for_region` ...).

A *region* is a tuple of ``slice`` objects, one per array axis, in the pixels of one level
(:data:`helpers.chunks.Region`).

Examples
--------
>>> level_for_screen([1, 2, 4, 8], (4096, 4096), (512, 512))  # 8 level-0 pixels per screen pixel
3
>>> window(10, 50, 1000)  # kept inside the axis
slice(0, 50, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..chunks import Region
from ..config import MAX_SCREEN_PX
from ..model import check_count

__all__ = [
    "MIN_SCREEN_PX",
    "View",
    "check_screen",
    "downsampling_factors",
    "level_for_screen",
    "physical_extent",
    "view_region",
    "window",
]

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
