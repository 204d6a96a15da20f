"""Segment nuclei in a remote OME-Zarr image without downloading it, and write the labels back.

The pipeline of lessons 05 and 06, one step per function (:mod:`helpers.segment.pipeline`):

1. :func:`compute_threshold` (:mod:`helpers.segment.threshold`) -- an automatic threshold (Otsu,
   Li, ...) on a coarse level, optionally on every n-th plane only, so it costs few bytes and few
   requests;
2. :func:`channel_volume` -- one channel of one level as a lazy dask array whose tasks each read
   ``planes_per_task`` whole planes (so one task has that many chunk requests in flight);
3. :func:`segment_mask` -- threshold (pointwise, any chunking) and fill holes plane by plane
   (exact because every block holds whole y/x planes; the function rechunks if they do not);
4. :func:`label_nuclei` -- 3D connected components and removal of objects smaller than
   ``min_size`` voxels. Labelling is not blockwise: a nucleus spans many blocks. Here the whole
   boolean mask (17.6 MB for the nuclei image) is gathered into one block and labelled in memory.
   For masks that do not fit in memory one labels every block and merges labels that touch across
   block faces (what ``dask_image.ndmeasure.label`` does); not needed at this size;
5. :func:`write_labels` (:mod:`helpers.segment.labels`) -- an OME-Zarr 0.5 label image
   (``multiscales`` + ``image-label``) with a pyramid, in a writable bucket, one PUT per chunk of
   32 planes, written by the task that holds the labels.

:func:`segment_in_memory` is the reference: the same result computed on a NumPy array with a
different code path, used by the tests (and notebook 06) to check the blockwise result.
:func:`compare_with_truth` (:mod:`helpers.segment.scoring`) scores a segmentation against
ground-truth labels (Dice, IoU, counts, touching nuclei merged into one object), and
:func:`count_steps` (:mod:`helpers.segment.steps`) counts what each step changed.

:mod:`course_tools.cluster` runs the pipeline on a ``dask.distributed`` cluster
(:func:`start_or_connect`, :func:`run_pipeline`) and measures it against its request-, bandwidth-
and compute-bound limits (:class:`Limits`, :mod:`course_tools.limits`).

Command line: ``python -m helpers.segment --help`` (segment a catalog image, print scores), and
``python -m helpers.segment --bench`` (the distributed benchmark, ``python -m course_tools bench segment``).

Examples
--------
>>> from helpers import open_image
>>> from helpers.segment import channel_volume, compute_threshold, segment
>>> image = open_image("nuclei")  # doctest: +SKIP
>>> threshold = compute_threshold(image, "DAPI", plane_step=4)  # doctest: +SKIP
>>> labels = segment(channel_volume(image), threshold).compute()  # doctest: +SKIP
"""

from .blocks import LABEL_DTYPE, whole_planes
from .labels import (
    PLANES_PER_LABEL_CHUNK,
    ReadOnlyBucketError,
    label_metadata,
    writable_store,
    write_labels,
)
from .pipeline import (
    DEFAULT_MIN_SIZE,
    PLANES_PER_TASK,
    THRESHOLD_METHODS,
    channel_selection,
    channel_volume,
    compute_threshold,
    fill_holes_2d,
    fill_holes_in_planes,
    label_nuclei,
    segment,
    segment_in_memory,
    segment_mask,
    segment_to_zarr,
    threshold_function,
)
from .scoring import Score, compare_with_truth, merged_objects
from .steps import StepCounts, count_steps

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
    "segment",
    "segment_in_memory",
    "segment_mask",
    "segment_to_zarr",
    "threshold_function",
    "whole_planes",
    "writable_store",
    "write_labels",
]
