"""What each step of the pipeline changes: objects after the threshold, holes filled, specks removed.

Counted on a NumPy volume (e.g. level 0 already in memory) with the same steps and settings as the
pipeline (:func:`~helpers.segment.segment_in_memory`), so a lesson can show why each step is there.

Examples
--------
>>> import numpy as np
>>> volume = np.zeros((1, 9, 9))
>>> volume[0, 1:6, 1:6] = 100  # a nucleus ...
>>> volume[0, 3, 3] = 0  # ... with a dark nucleolus
>>> volume[0, 8, 8] = 100  # and a speck
>>> print(count_steps(volume, 50, min_size=4))
threshold 50: 2 objects, 25 voxels above it
fill holes: +1 voxel inside objects (4.0% of the foreground)
remove objects under 4 voxels: 1 object gone, 1 object left
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..model import check_count
from ..text import plural
from .blocks import LABEL_DTYPE
from .pipeline import DEFAULT_MIN_SIZE, fill_holes_in_planes

__all__ = ["StepCounts", "count_steps", "object_sizes"]


@dataclass(frozen=True)
class StepCounts:
    """What thresholding, hole filling and the size filter each did to one volume."""

    threshold: float
    """The grey value used."""
    min_size: int
    """Smallest object kept, in voxels."""
    foreground: int
    """Voxels above the threshold."""
    threshold_objects: int
    """Objects (6-connected) right after thresholding."""
    holes_filled: int
    """Voxels added by filling holes plane by plane (e.g. dark nucleoli)."""
    small_removed: int
    """Objects under ``min_size`` voxels removed (specks, noise)."""
    objects: int
    """Objects left at the end: the pipeline's result."""

    def __str__(self) -> str:
        share = self.holes_filled / self.foreground if self.foreground else 0.0
        return (
            f"threshold {self.threshold:.0f}: {plural(self.threshold_objects, 'object', grouped=True)}, "
            f"{self.foreground:,} voxels above it\n"
            f"fill holes: +{plural(self.holes_filled, 'voxel', grouped=True)} inside objects "
            f"({share:.1%} of the foreground)\n"
            f"remove objects under {self.min_size} voxels: {plural(self.small_removed, 'object', grouped=True)} "
            f"gone, {plural(self.objects, 'object', grouped=True)} left"
        )


def count_steps(
    volume: np.ndarray, threshold: float, min_size: int = DEFAULT_MIN_SIZE
) -> StepCounts:
    """Run the pipeline's steps one by one on ``volume`` and count what each changed.

    Parameters
    ----------
    volume : numpy.ndarray
        The pixels, (z,) y, x.
    threshold : float
        Pixels above it are foreground.
    min_size : int, optional
        Smallest object kept, in voxels (default: the pipeline's, :data:`DEFAULT_MIN_SIZE`).

    Returns
    -------
    StepCounts
        The counts after each step; ``objects`` equals the number of labels
        :func:`~helpers.segment.segment_in_memory` finds with the same settings.

    Raises
    ------
    ValueError
        ``min_size`` is not a non-negative integer.
    """
    min_size = check_count(min_size, "min_size (voxels)", minimum=0)
    mask = np.asarray(volume) > threshold
    foreground = int(np.count_nonzero(mask))
    labels = np.empty(mask.shape, LABEL_DTYPE)  # one buffer for both labellings (memory)
    threshold_objects = ndi.label(mask, output=labels)
    filled = fill_holes_in_planes(mask)
    holes_filled = int(np.count_nonzero(filled)) - foreground
    n_filled = ndi.label(filled, output=labels)
    kept = int(np.count_nonzero(object_sizes(labels, n_filled) >= min_size))
    return StepCounts(
        threshold=float(threshold),
        min_size=min_size,
        foreground=foreground,
        threshold_objects=int(threshold_objects),
        holes_filled=holes_filled,
        small_removed=n_filled - kept,
        objects=kept,
    )


def object_sizes(labels: np.ndarray, count: int) -> np.ndarray:
    """Voxels of each object 1..``count`` of ``labels``, counted plane by plane (small temporaries).

    Examples
    --------
    >>> object_sizes(np.array([[0, 1, 1], [2, 0, 1]]), 2).tolist()
    [3, 1]
    """
    sizes = np.zeros(count + 1, np.int64)
    for plane in labels.reshape(-1, *labels.shape[-2:]) if labels.ndim > 1 else [labels]:
        sizes += np.bincount(plane.ravel(), minlength=count + 1)
    return sizes[1:]
