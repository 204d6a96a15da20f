"""Step 1 of the pipeline: an automatic threshold on a coarse level, for few bytes and few requests.

The threshold is a grey value, so one computed on a coarse level of a pyramid built by averaging
applies unchanged to full resolution. Reading only every n-th plane cuts the chunk requests further.

Examples
--------
>>> threshold_function("li").__name__
'threshold_li'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from skimage import filters

from ..image import OmeImage
from ..model import check_count

__all__ = ["THRESHOLD_METHODS", "channel_selection", "compute_threshold", "threshold_function"]

THRESHOLD_METHODS: dict[str, Callable[[np.ndarray], float]] = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "isodata": filters.threshold_isodata,
    "mean": filters.threshold_mean,
}
"""Automatic threshold methods by name (all from ``skimage.filters``)."""


def threshold_function(method: str) -> Callable[[np.ndarray], float]:
    """The ``skimage.filters`` function for ``method``.

    Parameters
    ----------
    method : str
        A key of :data:`THRESHOLD_METHODS` (any case).

    Returns
    -------
    callable
        The threshold function: pixels in, one grey value out.

    Raises
    ------
    ValueError
        Unknown method; the message lists the known ones.

    Examples
    --------
    >>> threshold_function("Otsu").__name__
    'threshold_otsu'
    """
    try:
        return THRESHOLD_METHODS[method.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown threshold method {method!r}; choose one of {', '.join(THRESHOLD_METHODS)}"
        ) from None


def channel_selection(image: OmeImage, channel: int | str, plane_step: int = 1) -> tuple:
    """Index selecting ``channel`` (name or number) and every ``plane_step``-th z plane.

    Parameters
    ----------
    image : OmeImage
        A c, (z,) y, x image.
    channel : int or str
        Channel number or name.
    plane_step : int, optional
        Keep every ``plane_step``-th z plane (default all).

    Returns
    -------
    tuple
        An index for ``image.level(k)[...]``.

    Raises
    ------
    ValueError
        Unknown channel, bad ``plane_step``, or axes other than c, z, y, x.

    Examples
    --------
    >>> from helpers import open_image
    >>> channel_selection(open_image("nuclei"), "DAPI", 4)  # doctest: +SKIP
    (0, slice(None, None, 4), slice(None, None, None), slice(None, None, None))
    """
    plane_step = check_count(plane_step, "plane_step")
    index: list[Any] = [slice(None)] * len(image.axes)
    index[image.axis("c")] = image.channel_index(channel)
    if "z" in image.axes:
        index[image.axis("z")] = slice(None, None, plane_step)
    _check_plane_axes(image)
    return tuple(index)


def _check_plane_axes(image: OmeImage) -> None:
    if image.axes[-2:] != ["y", "x"]:
        raise ValueError(f"expected the last two axes to be y, x; this image has {image.axes}")
    extra = [a for a in image.axes if a not in ("c", "z", "y", "x")]
    if extra:
        raise ValueError(f"only c, z, y, x images are supported; this image also has {extra}")


def compute_threshold(
    image: OmeImage,
    channel: int | str = "DAPI",
    level: int = -1,
    method: str = "otsu",
    plane_step: int = 1,
) -> float:
    """Automatic threshold of one channel, computed on one (by default the coarsest) level.

    Coarse levels have fewer pixels (fewer bytes); reading only every ``plane_step``-th plane also
    cuts the number of chunk requests when every plane is one chunk. The threshold is a grey value
    and applies unchanged to every level of a pyramid built by averaging.

    Parameters
    ----------
    image : OmeImage
        The image to threshold.
    channel : int or str, optional
        Channel number or name (default ``"DAPI"``).
    level : int, optional
        Pyramid level to read (default -1, the coarsest).
    method : str, optional
        One of :data:`THRESHOLD_METHODS` (default ``"otsu"``).
    plane_step : int, optional
        Read every ``plane_step``-th z plane only.

    Returns
    -------
    float
        The grey value separating foreground from background.

    Raises
    ------
    ValueError
        Unknown channel, level or method, or a bad ``plane_step``.

    Examples
    --------
    >>> from helpers import open_image
    >>> compute_threshold(open_image("nuclei"), "DAPI", plane_step=4)  # doctest: +SKIP
    """
    function = threshold_function(method)
    pixels = np.asarray(image.level(level)[channel_selection(image, channel, plane_step)])
    return float(function(pixels))
