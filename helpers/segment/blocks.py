"""Block layout shared by the segmentation pipeline and the label writer: whole planes, label dtype.

Hole filling (:mod:`helpers.segment.pipeline`) and the label writer (:mod:`helpers.segment.labels`)
both need every dask block to hold whole y/x planes; both produce labels of one dtype. These two facts
live here so the two modules do not import each other.

Examples
--------
>>> import dask.array as da
>>> whole_planes(da.zeros((4, 64, 64), chunks=(2, 32, 32))).chunks
((2, 2), (64,), (64,))
"""

from __future__ import annotations

import dask.array as da
import numpy as np

__all__ = ["LABEL_DTYPE", "whole_planes"]

LABEL_DTYPE = np.uint32
"""Data type of every label image made here (room for 4 billion objects)."""


def whole_planes(array: da.Array) -> da.Array:
    """``array`` rechunked (only if needed) so that every block holds whole y/x planes.

    Parameters
    ----------
    array : dask.array.Array
        A lazy array whose last two axes are y and x.

    Returns
    -------
    dask.array.Array
        ``array`` itself when its blocks already span y and x, else a rechunked view.

    Examples
    --------
    >>> import dask.array as da
    >>> whole_planes(da.zeros((4, 8, 8), chunks=(1, 4, 4))).chunksize
    (1, 8, 8)
    """
    if len(array.chunks[-1]) == 1 and len(array.chunks[-2]) == 1:
        return array
    return array.rechunk({array.ndim - 2: -1, array.ndim - 1: -1})
