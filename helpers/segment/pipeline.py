"""The segmentation pipeline, one step per function: threshold, lazy input, mask, labels, output.

1. :func:`compute_threshold` on a coarse level (few bytes, few requests; from
   :mod:`helpers.segment.threshold`, re-exported here with its helpers);
2. :func:`channel_volume`: one channel as a lazy dask array, ``planes_per_task`` planes per task;
3. :func:`segment_mask`: threshold (pointwise) and fill holes plane by plane;
4. :func:`label_nuclei`: 3D connected components, small objects removed (one block);
5. :func:`segment_to_zarr`: read, segment and write an OME-Zarr label image in one dask graph.

:func:`segment_in_memory` is the reference: the same result on a NumPy array by another code path.

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

from typing import Any

import dask.array as da
import numpy as np
from scipy import ndimage as ndi

from ..image import OmeImage
from ..model import check_count
from .blocks import LABEL_DTYPE, whole_planes
from .labels import write_labels
from .threshold import THRESHOLD_METHODS, channel_selection, compute_threshold, threshold_function

__all__ = [
    "DEFAULT_MIN_SIZE",
    "LABEL_DTYPE",
    "PLANES_PER_TASK",
    "THRESHOLD_METHODS",
    "channel_selection",
    "channel_volume",
    "compute_threshold",
    "fill_holes_2d",
    "fill_holes_in_planes",
    "label_nuclei",
    "segment",
    "segment_in_memory",
    "segment_mask",
    "segment_to_zarr",
    "threshold_function",
    "whole_planes",
]

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
