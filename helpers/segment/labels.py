"""Write labels as an OME-Zarr 0.5 label image (``multiscales`` + ``image-label``), with a pyramid.

The writer is built for a remote bucket: every PUT costs a round trip, so chunks hold
:data:`PLANES_PER_LABEL_CHUNK` planes (labels compress to almost nothing), each dask block is written
by the task that holds it, and the metadata documents go last, all at once, so readers never find a
half-written image. Writes to the course's public bucket fail with :class:`ReadOnlyBucketError`.

Examples
--------
>>> writable_store("s3://course-data/mine.zarr")  # doctest: +SKIP
Traceback (most recent call last):
ReadOnlyBucketError: bucket 'course-data' is read-only (it holds the course data): ...
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.codecs import BloscCodec

from .._compat import (
    array_from_metadata,
    delete_prefix,
    group_metadata,
    metadata_documents,
    set_keys,
)
from ..catalog import default_s3_endpoint
from ..cloud import PUBLIC_BUCKET, SCRATCH_BUCKET
from ..image import OmeImage
from ..ngff import image_attributes, multiscale_metadata
from ..storage import Location, parse_location, zarr_store
from .blocks import LABEL_DTYPE, whole_planes

__all__ = [
    "PLANES_PER_LABEL_CHUNK",
    "ReadOnlyBucketError",
    "label_metadata",
    "writable_store",
    "write_labels",
]

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
    multiscale = multiscale_metadata(name, axes, scales, kind="nearest", units=units)
    attributes = image_attributes("0.5", multiscales=[multiscale], image_label={})
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
