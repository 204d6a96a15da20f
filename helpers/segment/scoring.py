"""Score a segmentation against ground-truth labels: Dice, IoU, object counts and merged nuclei.

Examples
--------
>>> import numpy as np
>>> truth = np.array([[1, 1, 0, 2]])
>>> print(compare_with_truth(np.array([[3, 3, 0, 0]]), truth))
Dice 0.800, IoU 0.667, 1 object found vs 2 true (error -1)
>>> print(compare_with_truth(np.array([[5, 5, 0, 5]]), truth))  # one object over two nuclei
Dice 1.000, IoU 1.000, 1 object found vs 2 true (error -1); 1 object holds 2 or more true nuclei
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import plural

__all__ = ["Score", "compare_with_truth", "merged_objects"]


@dataclass(frozen=True)
class Score:
    """How a segmentation compares with ground-truth labels."""

    dice: float
    """2|A and B| / (|A| + |B|) of the foreground masks (1 = identical)."""
    iou: float
    """|A and B| / |A or B| of the foreground masks (Jaccard index)."""
    count: int
    """Objects found."""
    true_count: int
    """Objects in the ground truth."""
    merged: int = 0
    """Found objects that are the best match of two or more true nuclei (touching nuclei merged)."""

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
    """Dice, IoU and object counts of ``labels`` against ``truth`` (0 = background in both).

    Parameters
    ----------
    labels : numpy.ndarray
        The segmentation to score.
    truth : numpy.ndarray
        Ground-truth labels of the same shape (singleton axes, e.g. a channel, are ignored).

    Returns
    -------
    Score
        Overlap of the foregrounds and the numbers of objects.

    Raises
    ------
    ValueError
        The shapes differ (after dropping singleton axes).

    Examples
    --------
    >>> import numpy as np
    >>> compare_with_truth(np.ones((2, 2)), np.ones((1, 2, 2))).dice
    1.0
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
        merged=len(_merged(labels[found & true], truth[found & true])),
    )


def merged_objects(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The labels of found objects that each hold two or more true nuclei (touching nuclei merged).

    A true nucleus belongs to the found object that shares most of its voxels; an object that two
    or more nuclei belong to is a merge.

    Parameters
    ----------
    labels : numpy.ndarray
        The segmentation.
    truth : numpy.ndarray
        Ground-truth labels of the same shape.

    Returns
    -------
    numpy.ndarray
        The merged objects' label values in ``labels``, sorted.

    Examples
    --------
    >>> merged_objects(np.array([5, 5, 0, 5, 7]), np.array([1, 1, 0, 2, 3])).tolist()
    [5]
    """
    labels, truth = np.asarray(labels), np.asarray(truth)
    both = (labels > 0) & (truth > 0)
    return _merged(labels[both], truth[both])


def _merged(found: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Found labels that are the best match (most shared voxels) of 2 or more true labels.

    ``found`` and ``true`` are the two labels of every voxel in both foregrounds.
    """
    if found.size == 0:
        return np.zeros(0, found.dtype)
    base = int(found.max()) + 1  # one integer per (true, found) pair: faster than unique rows
    keys, shared = np.unique(true.astype(np.int64) * base + found, return_counts=True)
    order = np.lexsort((-shared, keys // base))  # per true label, the largest overlap first
    true_sorted, found_sorted = (keys // base)[order], (keys % base)[order]
    first = np.r_[True, true_sorted[1:] != true_sorted[:-1]]
    values, matches = np.unique(found_sorted[first], return_counts=True)
    return values[matches >= 2].astype(found.dtype)
