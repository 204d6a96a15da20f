"""Segment nuclei in a remote OME-Zarr image without downloading it, and write the labels back.

The pipeline of lessons 05 and 06, one step per function:

1. :func:`compute_threshold` -- an automatic threshold (Otsu, Li, ...) on a coarse level, optionally
   on every n-th plane only, so it costs few bytes and few requests;
2. :func:`channel_volume` -- one channel of one level as a lazy dask array whose tasks each read
   ``planes_per_task`` whole planes (so one task has that many chunk requests in flight);
3. :func:`segment_mask` -- threshold (pointwise, any chunking) and fill holes plane by plane
   (exact because every block holds whole y/x planes; the function rechunks if they do not);
4. :func:`label_nuclei` -- 3D connected components and removal of objects smaller than
   ``min_size`` voxels. Labelling is not blockwise: a nucleus spans many blocks, so the whole
   boolean mask (17.6 MB for the nuclei image) is gathered into one block and labelled in memory
   (``dask_image.ndmeasure.label`` labels blocks and merges labels across block faces instead);
5. :func:`write_labels` -- an OME-Zarr 0.5 label image (``multiscales`` + ``image-label``, built
   with ome-zarr-models) with a pyramid, in a writable bucket, one PUT per chunk of 32 planes,
   written by the task that holds the labels, metadata last.

:func:`segment_in_memory` is the reference: the same result computed on a NumPy array by another
code path. :func:`compare_with_truth` scores a segmentation against ground-truth labels (Dice, IoU,
counts, touching nuclei merged into one object); :func:`count_steps` counts what each step changed.
The writer is written out (not ome-zarr-py's ``write_labels``) because lesson 06 shows what a
remote-friendly writer does: few PUTs, each block written where it was computed, metadata last.

Examples
--------
>>> import dask.array as da, numpy as np
>>> volume = np.zeros((2, 8, 8), np.uint16)
>>> volume[:, 2:6, 2:6] = 100
>>> labels = segment(da.from_array(volume, chunks=(1, 8, 8)), threshold=50, min_size=4)
>>> int(labels.max().compute())
1
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr
from scipy import ndimage as ndi
from skimage import filters
from zarr.abc.store import Store
from zarr.codecs import BloscCodec

from ._compat import (
    array_from_metadata,
    delete_prefix,
    group_metadata,
    metadata_documents,
    set_keys,
)
from .catalog import default_s3_endpoint
from .cloud import PUBLIC_BUCKET, SCRATCH_BUCKET
from .image import OmeImage
from .model import check_count
from .storage import Location, parse_location, zarr_store

__all__ = [
    "DEFAULT_MIN_SIZE",
    "LABEL_DTYPE",
    "PLANES_PER_LABEL_CHUNK",
    "PLANES_PER_TASK",
    "THRESHOLD_METHODS",
    "ReadOnlyBucketError",
    "Score",
    "StepCounts",
    "channel_selection",
    "channel_volume",
    "compare_with_truth",
    "compute_threshold",
    "count_steps",
    "fill_holes_2d",
    "fill_holes_in_planes",
    "label_metadata",
    "label_nuclei",
    "merged_objects",
    "object_sizes",
    "segment",
    "segment_in_memory",
    "segment_mask",
    "segment_to_zarr",
    "threshold_function",
    "whole_planes",
    "writable_store",
    "write_labels",
]


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' * (count != 1)}"


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


DEFAULT_MIN_SIZE = 1000
"""Objects smaller than this many voxels are removed (a nucleus here has > 10,000 voxels)."""
PLANES_PER_TASK = 8
"""Planes (chunks, for one-chunk-per-plane images) read by one dask task, concurrently."""


# --- 2. lazy, blockwise input ---------------------------------------------------------------------
def channel_volume(
    image: OmeImage,
    channel: int | str = "DAPI",
    level: int = 0,
    planes_per_task: int = PLANES_PER_TASK,
) -> da.Array:
    """One channel of one level as a lazy (z, y, x) -- or (y, x) -- dask array.

    Each dask block holds ``planes_per_task`` whole y/x planes (or whole chunks, when a plane is
    split into several chunks), so each task asks zarr for several chunks at once: zarr fetches them
    concurrently (up to its ``async.concurrency`` setting, default 10).

    Parameters
    ----------
    image : OmeImage
        The image to read.
    channel : int or str, optional
        Channel number or name (default ``"DAPI"``).
    level : int, optional
        Pyramid level (default 0, full resolution).
    planes_per_task : int, optional
        Planes (chunks) one task reads (default :data:`PLANES_PER_TASK`).

    Returns
    -------
    dask.array.Array
        The lazy channel; nothing is read yet.

    Raises
    ------
    ValueError
        Bad ``planes_per_task``, unknown channel or level.

    Examples
    --------
    >>> from helpers import open_image
    >>> channel_volume(open_image("nuclei")).chunksize  # doctest: +SKIP
    (8, 512, 512)
    """
    planes_per_task = check_count(planes_per_task, "planes_per_task")
    array = image.level(level)
    selection = channel_selection(image, channel)
    chunks = list(array.chunks)
    if "z" in image.axes:
        z = image.axis("z")
        chunks[z] = max(chunks[z], planes_per_task // chunks[z] * chunks[z])
    return da.from_zarr(array, chunks=tuple(chunks))[selection]


# --- 3. mask: threshold (pointwise) + fill holes (per plane) --------------------------------------
def fill_holes_2d(plane: np.ndarray) -> np.ndarray:
    """``plane`` with its holes filled: background regions that do not touch the border.

    Same result as ``scipy.ndimage.binary_fill_holes`` (4-connected background), several times
    faster: one labelling of the background instead of repeated dilations.

    Parameters
    ----------
    plane : numpy.ndarray
        A 2D boolean mask.

    Returns
    -------
    numpy.ndarray
        The mask with every enclosed background region set to True.

    Examples
    --------
    >>> ring = np.ones((3, 3), bool)
    >>> ring[1, 1] = False
    >>> bool(fill_holes_2d(ring).all())
    True
    """
    background, _ = ndi.label(~plane)
    border = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    outside = np.zeros(int(background.max()) + 1, bool)
    outside[border] = True
    outside[0] = True  # label 0 is the foreground itself
    return plane | ~outside[background]


def fill_holes_in_planes(mask: np.ndarray) -> np.ndarray:
    """A boolean (z,) y, x ``mask`` with the holes of every y/x plane filled, in one call.

    ``scipy.ndimage.binary_fill_holes`` with a structuring element that connects pixels within a
    plane only: the same result as filling plane by plane (:func:`fill_holes_2d`).

    Examples
    --------
    >>> ring = np.ones((2, 3, 3), bool)
    >>> ring[:, 1, 1] = False
    >>> int(fill_holes_in_planes(ring).sum())
    18
    """
    in_plane = np.zeros((3,) * mask.ndim, bool)
    in_plane[(1,) * (mask.ndim - 2)] = ndi.generate_binary_structure(2, 1)
    return ndi.binary_fill_holes(mask, structure=in_plane)


def _fill_holes_in_planes(block: np.ndarray) -> np.ndarray:
    """Fill holes in every 2D y/x plane of ``block`` (any number of leading axes)."""
    out = np.empty_like(block)
    for index in np.ndindex(block.shape[:-2]):
        out[index] = fill_holes_2d(block[index])
    return out


def segment_mask(volume: da.Array, threshold: float) -> da.Array:
    """Foreground mask: ``volume > threshold``, then holes filled in every y/x plane, lazily.

    Thresholding is pointwise, so it works on any blocks. Hole filling looks at a whole plane (a
    hole is background not connected to the plane's border), so blocks are made whole planes first.

    Parameters
    ----------
    volume : dask.array.Array
        The lazy pixels, e.g. from :func:`channel_volume`.
    threshold : float
        Pixels above it are foreground.

    Returns
    -------
    dask.array.Array
        The lazy boolean mask, blocks of whole planes.

    Raises
    ------
    ValueError
        ``volume`` is not a dask array.

    Examples
    --------
    >>> segment_mask(da.zeros((2, 4, 4), chunks=(1, 2, 2)), 0.5).chunksize
    (1, 4, 4)
    """
    if not isinstance(volume, da.Array):
        raise ValueError(
            "segment_mask expects a dask array (see channel_volume); use segment_in_memory for NumPy"
        )
    mask = volume > threshold
    return da.map_blocks(_fill_holes_in_planes, whole_planes(mask), dtype=bool)


# --- 4. labels: 3D connected components, small objects removed ------------------------------------
def _label_and_filter(mask: np.ndarray, min_size: int) -> np.ndarray:
    """Label 6-connected objects (face neighbours), drop those under ``min_size``, renumber 1..N.

    Sizes are counted inside each object's bounding box, so the cost grows with the objects'
    volume, not with the whole image (no full-size temporary arrays).
    """
    labels, _ = ndi.label(mask, output=LABEL_DTYPE)
    boxes = ndi.find_objects(labels)
    new_value = 0
    for old_value, box in enumerate(boxes, start=1):
        inside = labels[box] == old_value
        if np.count_nonzero(inside) < min_size:
            labels[box][inside] = 0
        else:
            new_value += 1
            if new_value != old_value:
                labels[box][inside] = new_value
    return labels


def label_nuclei(mask: da.Array, min_size: int = DEFAULT_MIN_SIZE) -> da.Array:
    """3D labels (uint32) of a lazy mask, objects under ``min_size`` voxels removed, as one block.

    Labels of one nucleus must agree across blocks, so the whole mask becomes one block for this
    step (``rechunk`` the result to split it again, as :func:`~helpers.segment.write_labels` does).
    Masks that do not fit in memory would need blockwise labels merged across block faces (what
    ``dask_image.ndmeasure.label`` does); not needed at this size.

    Parameters
    ----------
    mask : dask.array.Array
        The lazy foreground mask, e.g. from :func:`segment_mask`.
    min_size : int, optional
        Smallest object kept, in voxels (default :data:`DEFAULT_MIN_SIZE`).

    Returns
    -------
    dask.array.Array
        Lazy labels 1..N in raster order (0 = background), one block.

    Raises
    ------
    ValueError
        ``min_size`` is not a non-negative integer.

    Examples
    --------
    >>> mask = da.from_array(np.eye(4, dtype=bool)[None], chunks=(1, 2, 2))
    >>> int(label_nuclei(mask, min_size=1).max().compute())  # diagonal: 4 separate pixels
    4
    """
    min_size = check_count(min_size, "min_size (voxels)", minimum=0)
    return da.map_blocks(_label_and_filter, mask.rechunk(mask.shape), min_size, dtype=LABEL_DTYPE)


def segment(volume: da.Array, threshold: float, min_size: int = DEFAULT_MIN_SIZE) -> da.Array:
    """The whole lazy pipeline: mask (:func:`segment_mask`) then labels (:func:`label_nuclei`).

    Parameters
    ----------
    volume : dask.array.Array
        The lazy pixels, e.g. from :func:`channel_volume`.
    threshold : float
        Pixels above it are foreground.
    min_size : int, optional
        Smallest object kept, in voxels.

    Returns
    -------
    dask.array.Array
        Lazy uint32 labels.

    Examples
    --------
    >>> from helpers import open_image
    >>> image = open_image("nuclei")  # doctest: +SKIP
    >>> labels = segment(channel_volume(image), compute_threshold(image)).compute()  # doctest: +SKIP
    """
    return label_nuclei(segment_mask(volume, threshold), min_size)


def segment_in_memory(
    volume: np.ndarray, threshold: float, min_size: int = DEFAULT_MIN_SIZE
) -> np.ndarray:
    """Reference result on a NumPy array, by a different route than the blockwise pipeline.

    Holes are filled in one call over the whole volume (:func:`fill_holes_in_planes`), small objects
    are removed with scikit-image, and labels come from ``skimage.measure.label`` (numbered in raster
    order, like :func:`label_nuclei`).

    Parameters
    ----------
    volume : numpy.ndarray
        The pixels, (z,) y, x.
    threshold : float
        Pixels above it are foreground.
    min_size : int, optional
        Smallest object kept, in voxels.

    Returns
    -------
    numpy.ndarray
        uint32 labels, equal to :func:`segment`'s result.

    Examples
    --------
    >>> volume = np.zeros((1, 5, 5))
    >>> volume[0, 1:4, 1:4] = 1
    >>> int(segment_in_memory(volume, 0.5, min_size=9).max())
    1
    """
    from skimage import measure, morphology

    mask = fill_holes_in_planes(np.asarray(volume) > threshold)
    if min_size > 0:
        mask = morphology.remove_small_objects(mask, max_size=min_size - 1, connectivity=1)
    return measure.label(mask, connectivity=1).astype(LABEL_DTYPE)


# --- 5. all at once, into an OME-Zarr label image --------------------------------------------------
def segment_to_zarr(
    image: OmeImage,
    url: str,
    threshold: float,
    channel: int | str = "DAPI",
    level: int = 0,
    min_size: int = DEFAULT_MIN_SIZE,
    planes_per_task: int = PLANES_PER_TASK,
    endpoint: str | None = None,
    provenance: dict[str, Any] | None = None,
    compute: bool = True,
) -> Any:
    """Read, segment and write in one dask graph.

    :func:`channel_volume` -> :func:`segment` -> :func:`~helpers.segment.write_labels`. Runs on
    the current dask scheduler (a ``distributed.Client`` if one is active).

    Parameters
    ----------
    image : OmeImage
        The image to segment.
    url : str
        Destination of the label image (``s3://course-scratch/...`` or a local path).
    threshold : float
        Pixels above it are foreground.
    channel : int or str, optional
        Channel number or name.
    level : int, optional
        Pyramid level to segment.
    min_size : int, optional
        Smallest object kept, in voxels.
    planes_per_task : int, optional
        Planes one reading task fetches at once.
    endpoint : str, optional
        S3 endpoint of ``url`` (default: the local cloud for the course's buckets).
    provenance : dict, optional
        Extra facts stored under the ``"course"`` attribute, next to threshold, channel, min_size.
    compute : bool, optional
        False returns the dask ``Delayed`` to run later.

    Returns
    -------
    str or dask.delayed.Delayed
        ``url`` once written, or the ``Delayed`` that returns it.

    Raises
    ------
    ReadOnlyBucketError
        ``url`` is in the read-only public bucket.
    ValueError
        Bad channel, level or sizes (see the steps).

    Examples
    --------
    >>> from helpers import open_image
    >>> image = open_image("nuclei")  # doctest: +SKIP
    >>> segment_to_zarr(image, "/tmp/nuclei_labels.zarr", 900.0)  # doctest: +SKIP
    '/tmp/nuclei_labels.zarr'
    """
    volume = channel_volume(image, channel, level, planes_per_task)
    labels = segment(volume, threshold, min_size)
    facts = {"threshold": float(threshold), "channel": str(channel), "min_size": min_size}
    return write_labels(
        labels,
        url,
        image,
        level,
        endpoint,
        provenance={**facts, **(provenance or {})},
        compute=compute,
    )


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
            f"Dice {self.dice:.3f}, IoU {self.iou:.3f}, {_plural(self.count, 'object')} found "
            f"vs {self.true_count} true (error {self.count_error:+d})"
        )
        if self.merged:
            verb = "holds" if self.merged == 1 else "hold"
            text += f"; {_plural(self.merged, 'object')} {verb} 2 or more true nuclei"
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
            f"threshold {self.threshold:.0f}: {_plural(self.threshold_objects, 'object')}, "
            f"{self.foreground:,} voxels above it\n"
            f"fill holes: +{_plural(self.holes_filled, 'voxel')} inside objects "
            f"({share:.1%} of the foreground)\n"
            f"remove objects under {self.min_size} voxels: {_plural(self.small_removed, 'object')} "
            f"gone, {_plural(self.objects, 'object')} left"
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


PLANES_PER_LABEL_CHUNK = 32
"""Planes in one chunk of a written label image: few objects to PUT (labels compress very well)."""


class ReadOnlyBucketError(PermissionError):
    """The destination bucket does not accept writes (e.g. the course's public data bucket)."""


def writable_store(url: str, endpoint: str | None = None) -> Store:
    """A writable zarr store at ``url`` (``s3://BUCKET/KEY`` or a local path).

    Parameters
    ----------
    url : str
        ``s3://BUCKET/KEY`` or a local path.
    endpoint : str, optional
        S3 endpoint (default: the local cloud for the course's buckets).

    Returns
    -------
    zarr.abc.store.Store
        A store that accepts writes (the bucket may still refuse them).

    Raises
    ------
    ReadOnlyBucketError
        ``url`` is in the course's public bucket (it answers writes with 403 AccessDenied).
    ValueError
        An http(s) URL (read-only) or a bare bucket without a key.

    Examples
    --------
    >>> store = writable_store("s3://course-scratch/me/nuclei_labels.zarr")  # doctest: +SKIP
    """
    location = parse_location(url, endpoint)
    if location.scheme in ("http", "https"):
        raise ValueError(
            f"cannot write to {url!r}: http(s) URLs are read-only; use s3:// or a path"
        )
    if location.scheme == "s3":
        bucket, _, key = location.path.partition("/")
        if bucket == PUBLIC_BUCKET:
            raise ReadOnlyBucketError(
                f"bucket {PUBLIC_BUCKET!r} is read-only (it holds the course data): "
                f"write to s3://{SCRATCH_BUCKET}/<your name>/... instead"
            )
        if not key:
            raise ValueError(
                f"give a key below the bucket, e.g. s3://{bucket}/me/nuclei_labels.zarr"
            )
        if location.endpoint is None:
            location = Location("s3", location.path, default_s3_endpoint(bucket))
    return zarr_store(location).with_read_only(False)


def label_metadata(
    axes: list[str],
    scales: list[tuple[float, ...]],
    units: dict[str, str],
    name: str,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """OME-NGFF 0.5 attributes of a label image: ``multiscales`` and ``image-label`` under ``"ome"``.

    Parameters
    ----------
    axes : list of str
        Axis names in array order.
    scales : list of tuples of float
        Per level, the pixel size along each axis.
    units : dict
        Unit per space axis (default micrometre).
    name : str
        Name stored in the multiscales entry.
    provenance : dict, optional
        Extra facts, stored under ``"course"`` next to ``"ome"``.

    Returns
    -------
    dict
        The group attributes.

    Examples
    --------
    >>> label_metadata(["z", "y", "x"], [(1.0, 0.5, 0.5)], {}, "nuclei")["ome"]["image-label"]
    {}
    """
    from ome_zarr_models.common.coordinate_transformations import VectorScale
    from ome_zarr_models.v05.axes import Axis
    from ome_zarr_models.v05.image_label import ImageLabelAttrs, Label
    from ome_zarr_models.v05.multiscales import Dataset, Multiscale

    kinds = {"c": "channel", "t": "time"}
    multiscale = Multiscale(
        name=name,
        type="nearest",
        axes=[
            Axis(
                name=a,
                type=kinds.get(a, "space"),
                unit=None if a == "c" else units.get(a, "micrometer"),
            )
            for a in axes
        ],
        datasets=[
            Dataset(
                path=str(k), coordinateTransformations=(VectorScale(type="scale", scale=list(s)),)
            )
            for k, s in enumerate(scales)
        ],
    )
    ome = ImageLabelAttrs(version="0.5", image_label=Label(), multiscales=[multiscale])
    attributes: dict[str, Any] = {
        "ome": ome.model_dump(mode="json", by_alias=True, exclude_none=True)
    }
    if provenance:
        attributes["course"] = provenance
    return attributes


def write_labels(
    labels: da.Array,
    url: str,
    like: OmeImage,
    level: int = 0,
    endpoint: str | None = None,
    name: str = "nuclei",
    n_levels: int | None = None,
    planes_per_chunk: int = PLANES_PER_LABEL_CHUNK,
    provenance: dict[str, Any] | None = None,
    compute: bool = True,
) -> Any:
    """Write ``labels`` (z, y, x) as an OME-Zarr 0.5 label image at ``url``, with a pyramid.

    How it writes: an image already at ``url`` is deleted (by a task that runs while the pixels
    are read). Then one task per dask block of ``labels`` writes that block into every level (the
    block is not moved to another worker; its chunks go out concurrently, one PUT each), and the
    metadata documents go last, all at once: one round trip, and readers never find a half-written
    image. Chunks of ``planes_per_chunk`` planes (not one plane, like the image) keep the number of
    PUTs small; labels compress to almost nothing, so a reader who needs one plane pays little for
    the others. Blocks are re-chunked first if they do not cover whole chunks.

    Parameters
    ----------
    labels : dask.array.Array
        Lazy labels, e.g. from :func:`~helpers.segment.segment`, with the shape of ``like``'s
        ``level`` without the channel axis.
    url : str
        Destination, ``s3://course-scratch/<you>/<name>.zarr`` (or a local path); an image already
        there is replaced.
    like : OmeImage
        The image the labels belong to: axes, pixel sizes and units are copied from it; the
        channel axis is kept with size 1 (like the image's own ``labels/0``).
    level : int, optional
        The level of ``like`` the labels were computed on.
    endpoint : str, optional
        S3 endpoint (default: the local cloud for the course's buckets).
    name : str, optional
        Name stored in the multiscales metadata.
    n_levels : int, optional
        Pyramid levels, each halving y and x (default: as many as ``like`` has from ``level`` on).
    planes_per_chunk : int, optional
        z planes per chunk of every level.
    provenance : dict, optional
        Extra facts (threshold, method, ...) stored under the ``"course"`` attribute.
    compute : bool, optional
        False returns a dask ``Delayed`` instead, to compute on a cluster.

    Returns
    -------
    str or dask.delayed.Delayed
        ``url`` once written (or the ``Delayed`` that returns it).

    Raises
    ------
    ReadOnlyBucketError
        ``url`` is in the read-only public bucket (or the bucket refuses).
    ValueError
        Labels of the wrong shape, bad ``level`` or ``planes_per_chunk``.

    Examples
    --------
    >>> from helpers import open_image
    >>> image = open_image("nuclei")  # doctest: +SKIP
    >>> truth = image.open_labels().to_dask()[0]  # doctest: +SKIP
    >>> write_labels(truth, "s3://course-scratch/me/labels.zarr", image)  # doctest: +SKIP
    's3://course-scratch/me/labels.zarr'
    """
    c = like.axis("c")
    expected = tuple(s for i, s in enumerate(like.level(level).shape) if i != c)
    if tuple(labels.shape) != expected:
        raise ValueError(
            f"labels have shape {labels.shape}; level {level} of the image needs {expected}"
        )
    n_levels = len(like.levels) - level if n_levels is None else n_levels
    if not isinstance(planes_per_chunk, int) or planes_per_chunk < 1:
        raise ValueError(f"planes_per_chunk must be a positive integer, got {planes_per_chunk!r}")
    labels = whole_planes(labels).astype(LABEL_DTYPE)
    has_z = labels.ndim > 2
    if has_z and any(n % planes_per_chunk for n in labels.chunks[-3][:-1]):
        labels = labels.rechunk({labels.ndim - 3: planes_per_chunk})  # blocks cover whole chunks
    shapes = []
    for k in range(n_levels):
        if level + k < len(like.levels):  # the image's own level: same size (odd sizes round down)
            shapes.append(tuple(n for i, n in enumerate(like.levels[level + k].shape) if i != c))
        else:
            shapes.append((*labels.shape[:-2], *(-(-n // 2**k) for n in labels.shape[-2:])))
    base = like.scales[level]
    scales = [
        tuple(
            1.0 if a == "c" else s * 2**k if a in "yx" else s
            for a, s in zip(like.axes, base, strict=True)
        )
        for k in range(n_levels)
    ]
    attributes = label_metadata(like.axes, scales, like.units, name, provenance)
    store = writable_store(url, endpoint)
    # The metadata is made here without any request; the arrays point at the remote store.
    draft = zarr.storage.MemoryStore()
    nodes: dict[str, Any] = {"": group_metadata(attributes)}
    targets = []
    for k, shape in enumerate(shapes):
        chunks = (*((planes_per_chunk,) if has_z else ()), *shape[-2:])
        nodes[str(k)] = zarr.create_array(
            draft,
            name=str(k),
            shape=shape[:c] + (1,) + shape[c:],
            dtype=LABEL_DTYPE,
            chunks=chunks[:c] + (1,) + chunks[c:],
            fill_value=0,
            dimension_names=like.axes,
            compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),  # fast
        ).metadata
        targets.append(array_from_metadata(nodes[str(k)], store, str(k)))
    # An older image at this place is deleted by a task that runs while the pixels are read.
    old_deleted = dask.delayed(_delete_all, pure=False)(store, url)
    # One task per block writes that block into every level: the block is not moved elsewhere.
    starts = [np.cumsum((0, *sizes[:-1])) for sizes in labels.chunks]
    writes = [
        dask.delayed(_write_block, pure=False)(
            block,
            tuple(int(s[i]) for s, i in zip(starts, index, strict=True)),
            targets,
            c,
            old_deleted,
        )
        for index, block in np.ndenumerate(labels.to_delayed())
    ]
    # The metadata goes last, once every chunk is written: an image that appears is complete.
    job = dask.delayed(_publish_metadata)(store, nodes, url, writes)
    return job.compute() if compute else job


def _write_block(
    block: np.ndarray, start: tuple[int, ...], targets: list[zarr.Array], c: int, *_: Any
) -> int:
    """Write one block of whole planes (z offset ``start``) into every pyramid level, at once."""

    def write(k: int) -> None:
        target = targets[k]
        part = block[..., :: 2**k, :: 2**k][..., : target.shape[-2], : target.shape[-1]]
        region = [slice(s, s + n) for s, n in zip(start, part.shape, strict=True)]
        region.insert(c, slice(0, 1))
        target[tuple(region)] = np.expand_dims(part, c)

    with ThreadPoolExecutor(len(targets)) as pool:  # the levels' chunks go out concurrently
        list(pool.map(write, range(len(targets))))
    return int(block.size)


def _delete_all(store: Store, url: str) -> int:
    """Delete every object below ``store``'s root; returns how many there were."""
    try:
        return delete_prefix(store, "")
    except PermissionError as err:
        raise ReadOnlyBucketError(f"cannot write to {url}: the bucket refused ({err})") from None


def _publish_metadata(store: Store, nodes: dict[str, Any], url: str, *_: Any) -> str:
    """Write the ``zarr.json`` of every node at once (one round trip); returns ``url``."""
    set_keys(store, metadata_documents(nodes))
    return url
