"""Segment nuclei in a remote OME-Zarr image without downloading it, and write the labels back.

The pipeline of lessons 05 and 06, one step per function: :func:`compute_threshold`,
:func:`channel_volume`, :func:`segment_mask`, :func:`label_nuclei`, :func:`write_labels`.
:func:`segment_in_memory` is the reference, by another code path. The lessons score the labels
with the course's machinery (``course_tools/scoring.py``), which this module does not need.

The label writer is written out here, not taken from ome-zarr-py, because lesson 06 shows what a
remote-friendly writer does: few PUTs, each block written where it was computed, metadata last.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr
from scipy import ndimage as ndi
from skimage import filters
from zarr.abc.store import Store
from zarr.codecs import BloscCodec

from . import _compat  # the zarr internals the writer needs
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
    "channel_selection",
    "channel_volume",
    "compute_threshold",
    "fill_holes_2d",
    "fill_holes_in_planes",
    "label_metadata",
    "label_nuclei",
    "segment",
    "segment_in_memory",
    "segment_mask",
    "threshold_function",
    "whole_planes",
    "writable_store",
    "write_labels",
]

LABEL_DTYPE = np.uint32
"""Data type of every label image made here (room for 4 billion objects)."""
DEFAULT_MIN_SIZE = 1000
"""Objects smaller than this many voxels are removed (a nucleus here has > 10,000 voxels)."""
PLANES_PER_TASK = 8
"""Planes (chunks, for one-chunk-per-plane images) read by one dask task, concurrently."""
PLANES_PER_LABEL_CHUNK = 32
"""Planes in one chunk of a written label image: few objects to PUT (labels compress very well)."""
THRESHOLD_METHODS: dict[str, Callable[[np.ndarray], float]] = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "isodata": filters.threshold_isodata,
    "mean": filters.threshold_mean,
}
"""Automatic threshold methods by name (all from ``skimage.filters``)."""


# --- 1. the threshold, from a coarse level -------------------------------------------------------
def threshold_function(method: str) -> Callable[[np.ndarray], float]:
    """The ``skimage.filters`` function for ``method`` (any case); errors list the known ones."""
    try:
        return THRESHOLD_METHODS[method.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown threshold method {method!r}; choose one of {', '.join(THRESHOLD_METHODS)}"
        ) from None


def channel_selection(image: OmeImage, channel: int | str, plane_step: int = 1) -> tuple:
    """Index into a level of ``image``: ``channel`` (name or number), every ``plane_step``-th z."""
    plane_step = check_count(plane_step, "plane_step")
    index: list[Any] = [slice(None)] * len(image.axes)
    index[image.axis("c")] = image.channel_index(channel)
    if "z" in image.axes:
        index[image.axis("z")] = slice(None, None, plane_step)
    if image.axes[-2:] != ["y", "x"]:
        raise ValueError(f"expected the last two axes to be y, x; this image has {image.axes}")
    extra = [a for a in image.axes if a not in ("c", "z", "y", "x")]
    if extra:
        raise ValueError(f"only c, z, y, x images are supported; this image also has {extra}")
    return tuple(index)


def compute_threshold(
    image: OmeImage,
    channel: int | str = "DAPI",
    level: int = -1,
    method: str = "otsu",
    plane_step: int = 1,
) -> float:
    """Automatic threshold of one channel, computed on one level (by default the coarsest).

    ``method`` is one of :data:`THRESHOLD_METHODS`; ``plane_step`` reads every n-th z plane only
    (fewer requests when every plane is one chunk). The threshold is a grey value: it applies
    unchanged to every level of a pyramid built by averaging.
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
    """One channel of one level as a lazy (z, y, x) -- or (y, x) -- dask array; nothing is read yet.

    Each block holds ``planes_per_task`` whole planes (or whole chunks, when a plane is split into
    several chunks), so each task asks zarr for several chunks at once, and zarr fetches them
    concurrently (up to its ``async.concurrency`` setting, default 10).

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
def whole_planes(array: da.Array) -> da.Array:
    """``array`` rechunked, if needed, so that every block holds whole y/x planes."""
    if len(array.chunks[-1]) == 1 and len(array.chunks[-2]) == 1:
        return array
    return array.rechunk({array.ndim - 2: -1, array.ndim - 1: -1})


def fill_holes_2d(plane: np.ndarray) -> np.ndarray:
    """``plane`` (2D, boolean) with its holes filled: background regions that miss the border.

    Same result as ``scipy.ndimage.binary_fill_holes``, several times faster: one labelling of the
    background instead of repeated dilations.
    """
    background, _ = ndi.label(~plane)
    border = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    outside = np.zeros(int(background.max()) + 1, bool)
    outside[border] = True
    outside[0] = True  # label 0 is the foreground itself
    return plane | ~outside[background]


def _fill_holes_in_planes(block: np.ndarray) -> np.ndarray:
    """Fill holes in every 2D y/x plane of ``block`` (any number of leading axes), one by one."""
    out = np.empty_like(block)
    for index in np.ndindex(block.shape[:-2]):
        out[index] = fill_holes_2d(block[index])
    return out


def fill_holes_in_planes(mask: np.ndarray) -> np.ndarray:
    """The holes of every y/x plane of ``mask`` filled in one call (the reference's way)."""
    in_plane = np.zeros((3,) * mask.ndim, bool)  # connects pixels within a plane only
    in_plane[(1,) * (mask.ndim - 2)] = ndi.generate_binary_structure(2, 1)
    return ndi.binary_fill_holes(mask, structure=in_plane)


def segment_mask(volume: da.Array, threshold: float) -> da.Array:
    """Lazy foreground mask: ``volume > threshold``, then the holes of every y/x plane filled.

    Thresholding is pointwise, so it works on any blocks. Hole filling looks at a whole plane (a
    hole is background not connected to the plane's border), so blocks become whole planes first.

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
    """Label 6-connected objects, drop those under ``min_size`` voxels, renumber 1..N."""
    labels, _ = ndi.label(mask, output=LABEL_DTYPE)
    new_value = 0
    # Each object is counted inside its bounding box: no full-size temporary arrays.
    for old_value, box in enumerate(ndi.find_objects(labels), start=1):
        inside = labels[box] == old_value
        if np.count_nonzero(inside) < min_size:
            labels[box][inside] = 0
        else:
            new_value += 1
            if new_value != old_value:
                labels[box][inside] = new_value
    return labels


def label_nuclei(mask: da.Array, min_size: int = DEFAULT_MIN_SIZE) -> da.Array:
    """Lazy 3D labels 1..N (uint32, raster order) of ``mask``; objects under ``min_size`` voxels go.

    Labelling is not blockwise: a nucleus spans many blocks, so the whole mask (17.6 MB for the
    nuclei image) becomes one block and is labelled in memory. Masks too big for memory would need
    labels merged across block faces (what ``dask_image.ndmeasure.label`` does).

    Examples
    --------
    >>> mask = da.from_array(np.eye(4, dtype=bool)[None], chunks=(1, 2, 2))
    >>> int(label_nuclei(mask, min_size=1).max().compute())  # diagonal: 4 separate pixels
    4
    """
    min_size = check_count(min_size, "min_size (voxels)", minimum=0)
    return da.map_blocks(_label_and_filter, mask.rechunk(mask.shape), min_size, dtype=LABEL_DTYPE)


def segment(volume: da.Array, threshold: float, min_size: int = DEFAULT_MIN_SIZE) -> da.Array:
    """The whole lazy pipeline: :func:`segment_mask`, then :func:`label_nuclei`.

    Examples
    --------
    >>> volume = np.zeros((2, 8, 8), np.uint16)
    >>> volume[:, 2:6, 2:6] = 100
    >>> labels = segment(da.from_array(volume, chunks=(1, 8, 8)), threshold=50, min_size=4)
    >>> int(labels.max().compute())
    1
    """
    return label_nuclei(segment_mask(volume, threshold), min_size)


def segment_in_memory(
    volume: np.ndarray, threshold: float, min_size: int = DEFAULT_MIN_SIZE
) -> np.ndarray:
    """The reference: :func:`segment`'s labels from a NumPy array, computed by another route.

    Holes are filled in one call (:func:`fill_holes_in_planes`), small objects removed and labels
    numbered (in raster order) by scikit-image.
    """
    from skimage import measure, morphology

    mask = fill_holes_in_planes(np.asarray(volume) > threshold)
    if min_size > 0:
        mask = morphology.remove_small_objects(mask, max_size=min_size - 1, connectivity=1)
    return measure.label(mask, connectivity=1).astype(LABEL_DTYPE)


# --- 5. writing an OME-Zarr label image -----------------------------------------------------------
class ReadOnlyBucketError(PermissionError):
    """The destination bucket does not accept writes (e.g. the course's public data bucket)."""


def writable_store(url: str, endpoint: str | None = None) -> Store:
    """A writable zarr store at ``url``: ``s3://BUCKET/KEY`` (not the public bucket) or a path."""
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
    """OME-NGFF 0.5 attributes of a label image (ome-zarr-models); ``provenance`` under "course"."""
    from ome_zarr_models.common.coordinate_transformations import VectorScale
    from ome_zarr_models.v05.axes import Axis
    from ome_zarr_models.v05.image_label import ImageLabelAttrs, Label
    from ome_zarr_models.v05.multiscales import Dataset, Multiscale

    kinds = {"c": "channel", "t": "time"}
    unit = {a: None if a == "c" else units.get(a, "micrometer") for a in axes}
    axes_meta = [Axis(name=a, type=kinds.get(a, "space"), unit=unit[a]) for a in axes]
    datasets = [
        Dataset(path=str(k), coordinateTransformations=(VectorScale(type="scale", scale=list(s)),))
        for k, s in enumerate(scales)
    ]
    multiscale = Multiscale(name=name, type="nearest", axes=axes_meta, datasets=datasets)
    ome = ImageLabelAttrs(version="0.5", image_label=Label(), multiscales=[multiscale])
    attributes = {"ome": ome.model_dump(mode="json", by_alias=True, exclude_none=True)}
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

    ``labels`` has the shape of ``like``'s ``level`` without the channel axis; axes, pixel sizes
    and units are copied from ``like``, the channel axis kept with size 1 (like the image's own
    ``labels/0``). ``n_levels`` levels each halve y and x (default: as many as ``like`` has from
    ``level`` on); ``provenance`` (threshold, method, ...) is stored under the ``"course"``
    attribute; ``compute=False`` returns a dask ``Delayed`` (that returns ``url``), for a cluster.

    An image already at ``url`` is deleted by a task that runs while the pixels are read. Then one
    task per block of ``labels`` writes that block into every level (the block is not moved to
    another worker; its chunks go out concurrently, one PUT each), and the metadata goes last, all
    at once: readers never find a half-written image. Chunks of ``planes_per_chunk`` planes keep
    PUTs few: labels compress to almost nothing, so reading one plane costs little more.

    Examples
    --------
    >>> image = open_image("nuclei")  # doctest: +SKIP
    >>> truth = image.open_labels().level(0)[0]  # doctest: +SKIP
    >>> write_labels(truth, "s3://course-scratch/me/labels.zarr", image)  # doctest: +SKIP
    's3://course-scratch/me/labels.zarr'
    """
    labels = _blocks_of_whole_chunks(labels, like, level, planes_per_chunk)
    n_levels = len(like.levels) - level if n_levels is None else n_levels
    shapes, scales = _pyramid(like, level, n_levels)
    attributes = label_metadata(like.axes, scales, like.units, name, provenance)
    store = writable_store(url, endpoint)
    nodes = _draft_metadata(attributes, shapes, like.axes, planes_per_chunk)
    targets = [_compat.array_from_metadata(nodes[str(k)], store, str(k)) for k in range(n_levels)]
    old_deleted = dask.delayed(_delete_all, pure=False)(store, url)  # runs while pixels are read
    c = like.axis("c")
    starts = [np.cumsum((0, *sizes[:-1])) for sizes in labels.chunks]
    writes = []
    for index, block in np.ndenumerate(labels.to_delayed()):  # one task per block, where it is
        start = tuple(int(s[i]) for s, i in zip(starts, index, strict=True))
        writes.append(dask.delayed(_write_block, pure=False)(block, start, targets, c, old_deleted))
    # The metadata goes last, once every chunk is written: an image that appears is complete.
    job = dask.delayed(_publish_metadata)(store, nodes, url, writes)
    return job.compute() if compute else job


def _blocks_of_whole_chunks(
    labels: da.Array, like: OmeImage, level: int, planes_per_chunk: int
) -> da.Array:
    """``labels`` checked against ``like``, as uint32 blocks that each cover whole label chunks."""
    c = like.axis("c")
    expected = tuple(s for i, s in enumerate(like.level(level).shape) if i != c)
    if tuple(labels.shape) != expected:
        raise ValueError(
            f"labels have shape {labels.shape}; level {level} of the image needs {expected}"
        )
    if not isinstance(planes_per_chunk, int) or planes_per_chunk < 1:
        raise ValueError(f"planes_per_chunk must be a positive integer, got {planes_per_chunk!r}")
    labels = whole_planes(labels).astype(LABEL_DTYPE)
    if labels.ndim > 2 and any(n % planes_per_chunk for n in labels.chunks[-3][:-1]):
        labels = labels.rechunk({labels.ndim - 3: planes_per_chunk})
    return labels


def _pyramid(like: OmeImage, level: int, n_levels: int) -> tuple[list[tuple], list[tuple]]:
    """Shape (one channel) and pixel size of every label level, from ``like``'s ``level`` on."""
    c, base = like.axis("c"), like.scales[level]
    shapes, scales = [], []
    for k in range(n_levels):
        # The image's own level where it has one (odd sizes round down), else y and x halved.
        if level + k < len(like.levels):
            shape = list(like.levels[level + k].shape)
        else:
            shape = list(like.levels[level].shape)
            shape[-2:] = [-(-n // 2**k) for n in shape[-2:]]
        scale = [s * 2**k if a in "yx" else s for a, s in zip(like.axes, base, strict=True)]
        shape[c], scale[c] = 1, 1.0
        shapes.append(tuple(shape))
        scales.append(tuple(scale))
    return shapes, scales


def _draft_metadata(
    attributes: dict[str, Any], shapes: list[tuple], axes: list[str], planes_per_chunk: int
) -> dict[str, Any]:
    """The metadata of the group (key ``""``) and of every level (``"0"``, ...), made in memory."""
    draft = zarr.storage.MemoryStore()
    nodes: dict[str, Any] = {"": _compat.group_metadata(attributes)}
    for k, shape in enumerate(shapes):
        chunks = [planes_per_chunk if a == "z" else n for a, n in zip(axes, shape, strict=True)]
        nodes[str(k)] = zarr.create_array(
            draft,
            name=str(k),
            shape=shape,
            dtype=LABEL_DTYPE,
            chunks=tuple(chunks),
            fill_value=0,
            dimension_names=axes,
            compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),  # fast
        ).metadata
    return nodes


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
        return _compat.delete_prefix(store, "")
    except PermissionError as err:
        raise ReadOnlyBucketError(f"cannot write to {url}: the bucket refused ({err})") from None


def _publish_metadata(store: Store, nodes: dict[str, Any], url: str, *_: Any) -> str:
    """Write the ``zarr.json`` of every node at once (one round trip); returns ``url``."""
    _compat.set_keys(store, _compat.metadata_documents(nodes))
    return url
