"""How the lessons score their labels against the sample's ground truth and count what each step changed.

A measuring rig: lessons 05 and 06 use it to judge the pipeline of :mod:`helpers.segment`; they do
not teach it. :func:`compare_with_truth` gives Dice, IoU, object counts and merged nuclei (a
:class:`Score`); :func:`count_steps` repeats the pipeline's steps on a NumPy volume and counts what
thresholding, hole filling and the size filter each changed (a :class:`StepCounts`).

Examples
--------
>>> compare_with_truth(np.ones((2, 2)), np.ones((1, 2, 2))).dice
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from course_tools.text import plural
from helpers.model import check_count
from helpers.segment import DEFAULT_MIN_SIZE, LABEL_DTYPE, fill_holes_in_planes

__all__ = [
    "Score",
    "StepCounts",
    "compare_with_truth",
    "count_steps",
    "merged_objects",
    "object_sizes",
]


@dataclass(frozen=True)
class Score:
    """How a segmentation compares with ground-truth labels."""

    dice: float  # 2|A and B| / (|A| + |B|) of the foreground masks (1 = identical)
    iou: float  # |A and B| / |A or B| of the foreground masks (Jaccard index)
    count: int  # objects found
    true_count: int  # objects in the ground truth
    merged: int = 0  # found objects that are the best match of 2 or more true nuclei

    @property
    def count_error(self) -> int:
        """Objects found minus true objects (negative: missed or merged nuclei)."""
        return self.count - self.true_count

    def __str__(self) -> str:
        text = (
            f"Dice {self.dice:.3f}, IoU {self.iou:.3f}, {plural(self.count, 'object')} found "
            f"vs {self.true_count} true (error {self.count_error:+d})"
        )
        if self.merged:
            verb = "holds" if self.merged == 1 else "hold"
            text += f"; {plural(self.merged, 'object')} {verb} 2 or more true nuclei"
        return text


def compare_with_truth(labels: np.ndarray, truth: np.ndarray) -> Score:
    """Dice, IoU, object counts and merged objects of ``labels`` against ``truth`` (0: background).

    Singleton axes (e.g. a channel) are ignored when the shapes differ.
    """
    labels, truth = np.asarray(labels), np.asarray(truth)
    if labels.shape != truth.shape:
        labels, truth = np.squeeze(labels), np.squeeze(truth)
    if labels.shape != truth.shape:
        raise ValueError(f"shapes differ: labels {labels.shape}, truth {truth.shape}")
    found, true = labels > 0, truth > 0
    overlap = int(np.count_nonzero(found & true))
    total = int(np.count_nonzero(found)) + int(np.count_nonzero(true))
    union = total - overlap
    return Score(
        dice=2 * overlap / total if total else 1.0,
        iou=overlap / union if union else 1.0,
        count=int(np.unique(labels[found]).size),
        true_count=int(np.unique(truth[true]).size),
        merged=len(merged_objects(labels, truth)),
    )


def merged_objects(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The labels of found objects that each hold two or more true nuclei (touching nuclei merged).

    A true nucleus belongs to the found object that shares most of its voxels; an object that two
    or more nuclei belong to is a merge.

    Examples
    --------
    >>> merged_objects(np.array([5, 5, 0, 5, 7]), np.array([1, 1, 0, 2, 3])).tolist()
    [5]
    """
    labels, truth = np.asarray(labels), np.asarray(truth)
    both = (labels > 0) & (truth > 0)
    found, true = labels[both], truth[both]
    if found.size == 0:
        return np.zeros(0, found.dtype)
    base = int(found.max()) + 1  # one integer per (true, found) pair: faster than unique rows
    keys, shared = np.unique(true.astype(np.int64) * base + found, return_counts=True)
    order = np.lexsort((-shared, keys // base))  # per true label, the largest overlap first
    true_sorted, found_sorted = (keys // base)[order], (keys % base)[order]
    first = np.r_[True, true_sorted[1:] != true_sorted[:-1]]
    values, matches = np.unique(found_sorted[first], return_counts=True)
    return values[matches >= 2].astype(found.dtype)


@dataclass(frozen=True)
class StepCounts:
    """What thresholding, hole filling and the size filter each did to one volume."""

    threshold: float
    min_size: int
    foreground: int  # voxels above the threshold
    threshold_objects: int  # objects (6-connected) right after thresholding
    holes_filled: int  # voxels added by filling holes plane by plane (e.g. dark nucleoli)
    small_removed: int  # objects under min_size voxels removed (specks, noise)
    objects: int  # objects left at the end: the pipeline's result

    def __str__(self) -> str:
        share = self.holes_filled / self.foreground if self.foreground else 0.0
        return (
            f"threshold {self.threshold:.0f}: {plural(self.threshold_objects, 'object')}, "
            f"{self.foreground:,} voxels above it\n"
            f"fill holes: +{plural(self.holes_filled, 'voxel')} inside objects "
            f"({share:.1%} of the foreground)\n"
            f"remove objects under {self.min_size} voxels: {plural(self.small_removed, 'object')} "
            f"gone, {plural(self.objects, 'object')} left"
        )


def count_steps(
    volume: np.ndarray, threshold: float, min_size: int = DEFAULT_MIN_SIZE
) -> StepCounts:
    """Run the pipeline's steps one by one on ``volume`` (NumPy) and count what each changed.

    ``objects`` at the end equals the number of labels ``helpers.segment.segment_in_memory`` finds.

    Examples
    --------
    >>> volume = np.zeros((1, 6, 6))
    >>> volume[0, 1:5, 1:5] = 9
    >>> volume[0, 2, 2] = 0  # a hole in the square
    >>> count_steps(volume, 5, min_size=4).holes_filled
    1
    """
    min_size = check_count(min_size, "min_size (voxels)", minimum=0)
    mask = np.asarray(volume) > threshold
    foreground = int(np.count_nonzero(mask))
    labels = np.empty(mask.shape, LABEL_DTYPE)  # one buffer for both labellings (memory)
    threshold_objects = ndi.label(mask, output=labels)
    filled = fill_holes_in_planes(mask)
    n_filled = ndi.label(filled, output=labels)
    kept = int(np.count_nonzero(object_sizes(labels, n_filled) >= min_size))
    return StepCounts(
        threshold=float(threshold),
        min_size=min_size,
        foreground=foreground,
        threshold_objects=int(threshold_objects),
        holes_filled=int(np.count_nonzero(filled)) - foreground,
        small_removed=n_filled - kept,
        objects=kept,
    )


def object_sizes(labels: np.ndarray, count: int) -> np.ndarray:
    """Voxels of each object 1..``count`` in ``labels``, counted plane by plane (less memory)."""
    sizes = np.zeros(count + 1, np.int64)
    for plane in labels.reshape(-1, *labels.shape[-2:]) if labels.ndim > 1 else [labels]:
        sizes += np.bincount(plane.ravel(), minlength=count + 1)
    return sizes[1:]
