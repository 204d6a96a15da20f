"""Segment nuclei in a remote OME-Zarr image without downloading it, and write the labels back.

The pipeline of lessons 04 and 05, one step per function:

1. :func:`compute_threshold` -- an automatic threshold (Otsu, Li, ...) on a coarse level, optionally
   on every n-th plane only, so it costs few bytes and few requests;
2. :func:`channel_volume` -- one channel of one level as a lazy dask array whose tasks each read
   ``planes_per_task`` whole planes (so one task has that many chunk requests in flight);
3. :func:`segment_mask` -- threshold (pointwise, any chunking) and fill holes plane by plane
   (exact because every block holds whole y/x planes; the function rechunks if they do not);
4. :func:`label_nuclei` -- 3D connected components and removal of objects smaller than
   ``min_size`` voxels. Labelling is not blockwise: a nucleus spans many blocks. Here the whole
   boolean mask (17.6 MB for the nuclei image) is gathered into one block and labelled in memory.
   For masks that do not fit in memory one labels every block and merges labels that touch across
   block faces (what ``dask_image.ndmeasure.label`` does); not needed at this size;
5. :func:`write_labels` -- an OME-Zarr 0.5 label image (``multiscales`` + ``image-label``) with a
   pyramid, in a writable bucket, one PUT per chunk of 32 planes, written by the task that holds
   the labels.

:func:`segment_in_memory` is the reference: the same result computed on a NumPy array with a
different code path, used by the tests (and notebook 05) to check the blockwise result.
:func:`compare_with_truth` scores a segmentation against ground-truth labels (Dice, IoU, counts).

Command line: ``python -m helpers.segment --help`` (segment a catalog image, print scores), and
``python -m helpers.segment --bench`` (the distributed benchmark of :mod:`helpers.distributed`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
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
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.sync import sync
from zarr.storage import StorePath

from .omezarr import OmeImage
from .storage import Location, parse_location, zarr_store

THRESHOLD_METHODS: dict[str, Callable[[np.ndarray], float]] = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "isodata": filters.threshold_isodata,
    "mean": filters.threshold_mean,
}
"""Automatic threshold methods by name (all from ``skimage.filters``)."""

DEFAULT_MIN_SIZE = 1000
"""Objects smaller than this many voxels are removed (a nucleus here has > 10,000 voxels)."""
PLANES_PER_TASK = 8
"""Planes (chunks, for one-chunk-per-plane images) read by one dask task, concurrently."""
PLANES_PER_LABEL_CHUNK = 32
"""Planes in one chunk of a written label image: few objects to PUT (labels compress very well)."""
LABEL_DTYPE = np.uint32


# --- 1. threshold on a coarse level --------------------------------------------------------------
def threshold_function(method: str) -> Callable[[np.ndarray], float]:
    """The ``skimage.filters`` function for ``method``; ``ValueError`` listing the methods otherwise."""
    try:
        return THRESHOLD_METHODS[method.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown threshold method {method!r}; choose one of {', '.join(THRESHOLD_METHODS)}"
        ) from None


def channel_selection(image: OmeImage, channel: int | str, plane_step: int = 1) -> tuple:
    """Index selecting ``channel`` (name or number) and every ``plane_step``-th z plane."""
    if not isinstance(plane_step, int) or plane_step < 1:
        raise ValueError(f"plane_step must be a positive integer, got {plane_step!r}")
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
    """
    function = threshold_function(method)
    pixels = np.asarray(image.level(level)[channel_selection(image, channel, plane_step)])
    return float(function(pixels))


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
    """
    if not isinstance(planes_per_task, int) or planes_per_task < 1:
        raise ValueError(f"planes_per_task must be a positive integer, got {planes_per_task!r}")
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
    """
    background, _ = ndi.label(~plane)
    border = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    outside = np.zeros(int(background.max()) + 1, bool)
    outside[border] = True
    outside[0] = True  # label 0 is the foreground itself
    return plane | ~outside[background]


def _fill_holes_in_planes(block: np.ndarray) -> np.ndarray:
    """Fill holes in every 2D y/x plane of ``block`` (any number of leading axes)."""
    out = np.empty_like(block)
    for index in np.ndindex(block.shape[:-2]):
        out[index] = fill_holes_2d(block[index])
    return out


def whole_planes(array: da.Array) -> da.Array:
    """``array`` rechunked (only if needed) so that every block holds whole y/x planes."""
    if len(array.chunks[-1]) == 1 and len(array.chunks[-2]) == 1:
        return array
    return array.rechunk({array.ndim - 2: -1, array.ndim - 1: -1})


def segment_mask(volume: da.Array, threshold: float) -> da.Array:
    """Foreground mask: ``volume > threshold``, then holes filled in every y/x plane, lazily.

    Thresholding is pointwise, so it works on any blocks. Hole filling looks at a whole plane (a
    hole is background not connected to the plane's border), so blocks are made whole planes first.
    """
    if not isinstance(volume, da.Array):
        raise ValueError(
            "segment_mask expects a dask array (see channel_volume); use segment_in_memory for NumPy"
        )
    mask = volume > threshold
    return whole_planes(mask).map_blocks(_fill_holes_in_planes, dtype=bool)


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
    step (``rechunk`` the result to split it again, as :func:`write_labels` does).
    """
    if not isinstance(min_size, int) or min_size < 0:
        raise ValueError(f"min_size must be a non-negative integer (voxels), got {min_size!r}")
    return mask.rechunk(mask.shape).map_blocks(_label_and_filter, min_size, dtype=LABEL_DTYPE)


def segment(volume: da.Array, threshold: float, min_size: int = DEFAULT_MIN_SIZE) -> da.Array:
    """The whole lazy pipeline: mask (:func:`segment_mask`) then labels (:func:`label_nuclei`)."""
    return label_nuclei(segment_mask(volume, threshold), min_size)


def segment_in_memory(
    volume: np.ndarray, threshold: float, min_size: int = DEFAULT_MIN_SIZE
) -> np.ndarray:
    """Reference result on a NumPy array, by a different route than the blockwise pipeline.

    Holes are filled in one call over the whole volume with a structuring element that connects
    pixels within a plane only (the same as plane-by-plane filling), small objects are removed with
    scikit-image, and labels come from ``skimage.measure.label`` (numbered in raster order, like
    :func:`label_nuclei`).
    """
    from skimage import measure, morphology

    volume = np.asarray(volume)
    in_plane = np.zeros((3,) * volume.ndim, bool)
    in_plane[(1,) * (volume.ndim - 2)] = ndi.generate_binary_structure(2, 1)
    mask = ndi.binary_fill_holes(volume > threshold, structure=in_plane)
    if min_size > 0:
        mask = morphology.remove_small_objects(mask, max_size=min_size - 1, connectivity=1)
    return measure.label(mask, connectivity=1).astype(LABEL_DTYPE)


# --- scoring ---------------------------------------------------------------------------------------
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

    @property
    def count_error(self) -> int:
        """Objects found minus true objects (negative: missed or merged nuclei)."""
        return self.count - self.true_count

    def __str__(self) -> str:
        return (
            f"Dice {self.dice:.3f}, IoU {self.iou:.3f}, {self.count} objects found "
            f"vs {self.true_count} true (error {self.count_error:+d})"
        )


def compare_with_truth(labels: np.ndarray, truth: np.ndarray) -> Score:
    """Dice, IoU and object counts of ``labels`` against ``truth`` (same shape; 0 = background)."""
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
    )


# --- 5. write an OME-Zarr label image ----------------------------------------------------------------
class ReadOnlyBucketError(PermissionError):
    """The destination bucket does not accept writes (e.g. the course's public data bucket)."""


def writable_store(url: str, endpoint: str | None = None) -> zarr.abc.store.Store:
    """A writable zarr store at ``url`` (``s3://BUCKET/KEY`` or a local path).

    Raises :class:`ReadOnlyBucketError` for the course's public bucket (it answers writes with
    403 AccessDenied) and ``ValueError`` for http(s) URLs (read-only) or a bare bucket.
    """
    from .catalog import default_s3_endpoint
    from .cloud import PUBLIC_BUCKET, SCRATCH_BUCKET

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
    """OME-NGFF 0.5 attributes of a label image: ``multiscales`` and ``image-label`` under ``"ome"``."""
    axes_meta = [
        {"name": a, "type": "channel"}
        if a == "c"
        else {"name": a, "type": "space", "unit": units.get(a, "micrometer")}
        for a in axes
    ]
    datasets = [
        {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": list(s)}]}
        for i, s in enumerate(scales)
    ]
    multiscale = {"name": name, "axes": axes_meta, "datasets": datasets, "type": "nearest"}
    attrs: dict[str, Any] = {
        "ome": {"version": "0.5", "multiscales": [multiscale], "image-label": {}}
    }
    if provenance:
        attrs["course"] = provenance
    return attrs


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

    Args:
        labels: lazy labels, e.g. from :func:`segment`, with the shape of ``like``'s ``level``
            without the channel axis.
        url: destination, ``s3://course-scratch/<you>/<name>.zarr`` (or a local path); an image
            already there is replaced.
        like: the image the labels belong to: axes, pixel sizes and units are copied from it; the
            channel axis is kept with size 1 (like the image's own ``labels/0``).
        level: the level of ``like`` the labels were computed on.
        endpoint: S3 endpoint (default: the local cloud for the course's buckets).
        name: name stored in the multiscales metadata.
        n_levels: pyramid levels, each halving y and x (default: as many as ``like`` has from
            ``level`` on).
        planes_per_chunk: z planes per chunk of every level.
        provenance: extra facts (threshold, method, ...) stored under the ``"course"`` attribute.
        compute: False returns a dask ``Delayed`` instead, to compute on a cluster.

    Returns:
        ``url`` once written (or the ``Delayed`` that returns it).

    How it writes: an image already at ``url`` is deleted (by a task that runs while the pixels
    are read). Then one task per dask block of ``labels`` writes that block into every level (the
    block is not moved to another worker; its chunks go out concurrently, one PUT each), and the
    metadata documents go last, all at once: one round trip, and readers never find a half-written
    image. Chunks of ``planes_per_chunk`` planes (not one plane, like the image) keep the number of
    PUTs small; labels compress to almost nothing, so a reader who needs one plane pays little for
    the others. Blocks are re-chunked first if they do not cover whole chunks.

    Raises:
        ReadOnlyBucketError: ``url`` is in the read-only public bucket (or the bucket refuses).
        ValueError: labels of the wrong shape, bad ``level`` or ``n_levels``.
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
    nodes: dict[str, Any] = {"": GroupMetadata(attributes=attributes, zarr_format=3)}
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
            compressors=zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),  # fast
        ).metadata
        targets.append(zarr.Array(zarr.AsyncArray(nodes[str(k)], StorePath(store, str(k)))))
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


def _delete_all(store: zarr.abc.store.Store, url: str) -> int:
    """Delete every object below ``store``'s root; returns how many there were."""

    async def delete_all() -> int:
        keys = [key async for key in store.list_prefix("")]
        await asyncio.gather(*(store.delete(key) for key in keys))
        return len(keys)

    try:
        return sync(delete_all())
    except PermissionError as err:
        raise ReadOnlyBucketError(f"cannot write to {url}: the bucket refused ({err})") from None


def _publish_metadata(store: zarr.abc.store.Store, nodes: dict[str, Any], url: str, *_: Any) -> str:
    """Write the ``zarr.json`` of every node at once (one round trip); returns ``url``."""
    prototype = default_buffer_prototype()
    documents = {
        f"{path}/{key}".lstrip("/"): buffer
        for path, metadata in nodes.items()
        for key, buffer in metadata.to_buffer_dict(prototype).items()
    }

    async def put_all() -> None:
        await asyncio.gather(*(store.set(key, value) for key, value in documents.items()))

    sync(put_all())
    return url


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
    """Read, segment and write in one dask graph: :func:`channel_volume` -> :func:`segment` ->
    :func:`write_labels`. Runs on the current dask scheduler (a ``distributed.Client`` if one is
    active). ``compute=False`` returns the ``Delayed`` to run later.
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


# --- command line ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.segment``: segment a catalog image and score it, or run the benchmark."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--bench" in argv:  # everything else goes to the benchmark (its own --help too)
        from .distributed import main as bench_main

        return bench_main([a for a in argv if a != "--bench"])
    parser = argparse.ArgumentParser(
        prog="python -m helpers.segment",
        description="Threshold + label nuclei in a remote OME-Zarr image, blockwise with dask.",
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="run the distributed benchmark instead (see --bench --help)",
    )
    parser.add_argument("--dataset", default="nuclei", help="catalog name or URL (default: nuclei)")
    parser.add_argument("--channel", default="DAPI", help="channel name or number (default: DAPI)")
    parser.add_argument("--method", default="otsu", choices=sorted(THRESHOLD_METHODS))
    parser.add_argument(
        "--threshold-level",
        type=int,
        default=-1,
        help="level for the threshold (default: coarsest)",
    )
    parser.add_argument(
        "--plane-step", type=int, default=1, help="threshold on every n-th plane only (default 1)"
    )
    parser.add_argument(
        "--min-size", type=int, default=DEFAULT_MIN_SIZE, help="smallest object kept, voxels"
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="dask threads (mostly waiting on the network)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="zarr async.concurrency for whole-array reads"
    )
    args = parser.parse_args(argv)
    from .catalog import open_image

    image = open_image(args.dataset)
    start = time.perf_counter()
    with (
        dask.config.set(scheduler="threads", num_workers=args.threads),
        zarr.config.set({"async.concurrency": args.concurrency}),
    ):
        threshold = compute_threshold(
            image, args.channel, args.threshold_level, args.method, args.plane_step
        )
        labels = segment(channel_volume(image, args.channel), threshold, args.min_size).compute()
        elapsed = time.perf_counter() - start
        print(
            f"{args.method} threshold {threshold:.1f}; {int(labels.max())} objects; {elapsed:.1f} s"
        )
        if image.labels:
            truth = np.asarray(image.open_labels().level(0))
            print(compare_with_truth(labels, truth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
