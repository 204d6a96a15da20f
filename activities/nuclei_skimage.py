"""The scikit-image steps of the "skimage napari" activity: from grey values to numbered nuclei.

Pure NumPy/scikit-image, no napari and no I/O, so the same steps run in a notebook on any array:
threshold, holes filled plane by plane, small objects removed, 3D connected components. The
scikit-image calls themselves live once, in :func:`helpers.segment.segment_in_memory`.

Examples
--------
>>> import numpy as np
>>> volume = np.zeros((4, 8, 8), np.uint16)
>>> volume[:, 1:4, 1:4] = 900  # two nuclei, 36 voxels each
>>> volume[:, 5:8, 5:8] = 800
>>> labels = label_nuclei(volume, threshold=500, min_size=10)
>>> int(labels.max()), busiest_plane(labels)
(2, 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from helpers.segment import segment_in_memory

__all__ = ["busiest_plane", "label_nuclei", "scaled_min_size"]


def label_nuclei(volume: np.ndarray, threshold: float, min_size: int) -> np.ndarray:
    """Nuclei of a (z,) y, x volume: threshold, fill holes, remove small objects, label.

    Pixels above ``threshold`` are foreground; holes are filled in every y/x plane; objects
    smaller than ``min_size`` voxels are removed (``skimage.morphology.remove_small_objects``);
    the rest are numbered 1..N in raster order as face-connected (6-connected in 3D) components
    (``skimage.measure.label``).

    Parameters
    ----------
    volume : numpy.ndarray
        Grey values, (z,) y, x.
    threshold : float
        Pixels above it are foreground.
    min_size : int
        Smallest object kept, in voxels.

    Returns
    -------
    numpy.ndarray
        Labels (uint32), 0 = background.

    Examples
    --------
    >>> ring = np.full((5, 5), 9)
    >>> ring[2, 2] = 0  # a hole: filled
    >>> int(label_nuclei(ring, 5, min_size=25).max())
    1
    """
    # The course's own in-memory segmentation does exactly these scikit-image steps (one copy of them).
    return segment_in_memory(volume, threshold, min_size)


def scaled_min_size(min_size: int, level_shape: Sequence[int], base_shape: Sequence[int]) -> int:
    """``min_size`` voxels of the full-resolution level, in voxels of a coarser level.

    An object covers fewer voxels at a level whose planes are smaller: the smallest object kept
    shrinks by the ratio of the two levels' voxel counts (at least 1 voxel).

    Examples
    --------
    >>> scaled_min_size(1000, level_shape=(236, 137, 135), base_shape=(236, 275, 271))
    248
    """
    ratio = math.prod(base_shape) / math.prod(level_shape)
    return max(1, round(min_size / ratio))


def busiest_plane(labels: np.ndarray) -> int:
    """The z index of the plane of a 3D label image that crosses the most objects (first if tied).

    Examples
    --------
    >>> labels = np.zeros((3, 4, 4), np.uint32)
    >>> labels[1, 0, 0], labels[1, 3, 3], labels[2, 0, 0] = 1, 2, 1
    >>> busiest_plane(labels)
    1
    """
    counts = [len(np.unique(plane[plane > 0])) for plane in labels]
    return int(np.argmax(counts))
