"""Image pyramids: halve an array's last two axes (y, x), level after level. Pure NumPy, no I/O.

Examples
--------
>>> import numpy as np
>>> levels = pyramid(np.zeros((4, 8, 8), np.uint8), 3)
>>> [a.shape for a in levels]
[(4, 8, 8), (4, 4, 4), (4, 2, 2)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["downsample_mean", "downsample_nearest", "pyramid"]


def downsample_mean(a: np.ndarray) -> np.ndarray:
    """Halve the last two axes by averaging 2 x 2 blocks (an odd last row/column is dropped).

    Parameters
    ----------
    a : numpy.ndarray
        Unsigned integer array with at least two axes.

    Returns
    -------
    numpy.ndarray
        The block means, rounded half up, with the dtype of ``a``.

    Examples
    --------
    >>> downsample_mean(np.array([[1, 2, 9], [3, 4, 9]], np.uint8))
    array([[3]], dtype=uint8)
    """
    h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
    total: npt.NDArray[np.unsignedinteger[Any]] = a[..., 0:h:2, 0:w:2].astype(
        np.uint32 if a.dtype.itemsize > 1 else np.uint16
    )
    total += a[..., 1:h:2, 0:w:2]
    total += a[..., 0:h:2, 1:w:2]
    total += a[..., 1:h:2, 1:w:2]
    total += 2
    total //= 4
    return total.astype(a.dtype)


def downsample_nearest(a: np.ndarray) -> np.ndarray:
    """Halve the last two axes by keeping every 2nd pixel (for labels; sizes floor-divided).

    Parameters
    ----------
    a : numpy.ndarray
        Array with at least two axes.

    Returns
    -------
    numpy.ndarray
        A contiguous copy of ``a[..., :h:2, :w:2]`` with ``h``, ``w`` rounded down to even.

    Examples
    --------
    >>> downsample_nearest(np.arange(6).reshape(2, 3))
    array([[0]])
    """
    h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
    return np.ascontiguousarray(a[..., :h:2, :w:2])


def pyramid(
    level0: np.ndarray,
    levels: int,
    reduce: Callable[[np.ndarray], np.ndarray] = downsample_mean,
) -> list[np.ndarray]:
    """Build ``levels`` arrays, each the previous one halved in y/x by ``reduce``.

    Parameters
    ----------
    level0 : numpy.ndarray
        The full-resolution array (level 0).
    levels : int
        How many levels to return, level 0 included.
    reduce : callable
        Halves one level; :func:`downsample_mean` (images) or :func:`downsample_nearest` (labels).

    Returns
    -------
    list of numpy.ndarray
        ``[level0, reduce(level0), reduce(reduce(level0)), ...]``.
    """
    out = [level0]
    for _ in range(levels - 1):
        out.append(reduce(out[-1]))
    return out
