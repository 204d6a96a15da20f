"""Share your own image: a microscope's file, converted to OME-Zarr, checked, uploaded, opened by URL.

Each step of lesson 09 is a thin wrapper over a library that does the real work: **tifffile** reads
the OME-TIFF, **ome-zarr-py** writes OME-NGFF 0.5 (pyramid, chunks, shards, units, channel names),
**ome-zarr-models** checks the metadata against the specification, **s3fs** uploads the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import s3fs
import tifffile
import zarr
from fsspec.callbacks import TqdmCallback
from ome_zarr.format import FormatV05
from ome_zarr.scale import Methods
from ome_zarr.writer import write_image
from ome_zarr_models.v05.image import Image
from pydantic import ValidationError
from tqdm.auto import tqdm

__all__ = [
    "UNITS",
    "ImageInfo",
    "count_files",
    "delete",
    "read_ome_tiff",
    "stored_metadata",
    "to_ome_zarr",
    "upload",
    "validate",
]

UNITS = {"µm": "micrometer", "um": "micrometer", "nm": "nanometer", "mm": "millimeter"}
"""OME-XML's unit symbols and their OME-NGFF names (NGFF spells units out, as UDUNITS does)."""
COLORS = ["0000FF", "00FF00", "FF0000", "FF00FF"]
"""Display colours of channels 0, 1, 2, 3 (hex RGB, as ``omero`` metadata wants)."""


@dataclass(frozen=True)
class ImageInfo:
    """What a biologist needs to know about pixels besides their values."""

    axes: str  # axis names in order, e.g. "czyx"
    pixel_size: dict[str, float]  # along each spatial axis, e.g. {"z": 1.0, "y": 0.325, "x": 0.325}
    units: dict[str, str]  # of each spatial axis, in OME-NGFF spelling ("micrometer")
    channels: list[str]  # channel names, e.g. ["DAPI", "Actin"]


def read_ome_tiff(path: str | Path) -> tuple[np.ndarray, ImageInfo]:
    """Read an OME-TIFF's pixels and the metadata worth keeping (tifffile).

    Examples
    --------
    >>> pixels, info = read_ome_tiff("stack.ome.tiff")  # doctest: +SKIP
    >>> info.pixel_size, info.units["x"], info.channels  # doctest: +SKIP
    ({'z': 1.0, 'y': 0.325, 'x': 0.325}, 'micrometer', ['DAPI', 'Actin'])
    """
    with tifffile.TiffFile(path) as tiff:  # not a TIFF at all: tifffile.TiffFileError
        if not tiff.is_ome:
            raise ValueError(f"{path} is a TIFF without OME-XML metadata: export it as OME-TIFF")
        pixels = tiff.series[0].asarray()
        axes = tiff.series[0].axes.lower()
        ome = tifffile.xml2dict(tiff.ome_metadata)["OME"]
    image = ome["Image"][0] if isinstance(ome["Image"], list) else ome["Image"]
    meta = image["Pixels"]
    channels = meta.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    spatial = [a for a in axes if a in "zyx"]
    return pixels, ImageInfo(
        axes=axes,
        pixel_size={a: float(meta.get(f"PhysicalSize{a.upper()}", 1.0)) for a in spatial},
        units={a: UNITS[meta.get(f"PhysicalSize{a.upper()}Unit", "µm")] for a in spatial},
        channels=[c.get("Name", f"channel {i}") for i, c in enumerate(channels)],
    )


def to_ome_zarr(
    pixels: np.ndarray,
    info: ImageInfo,
    target: str | Path,
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None = None,
    levels: int = 3,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write ``pixels`` (channels first) as an OME-NGFF 0.5 image with ``levels`` levels (ome-zarr-py).

    Each level halves y and x (mean of 2 x 2 pixels). ``target`` is a folder or an ``s3://`` URL
    (reached with ``storage_options``). With ``shards``, chunks are stored in shards of that shape.

    Examples
    --------
    >>> to_ome_zarr(pixels, info, "stack.zarr", (1, 1, 256, 256), shards=(1, 16, 256, 256))  # doctest: +SKIP
    'stack.zarr'
    """
    group = zarr.open_group(str(target), mode="w", zarr_format=3, storage_options=storage_options)
    axes = [
        {"name": a, "type": "space", "unit": info.units[a]}
        if a in info.pixel_size
        else {"name": a, "type": "channel" if a == "c" else "time"}
        for a in info.axes
    ]
    scales = []
    for level in range(levels):  # a pixel's size at each level: y and x double, the rest stays
        size = [info.pixel_size.get(a, 1.0) * (2**level if a in "yx" else 1) for a in info.axes]
        scales.append([{"type": "scale", "scale": size}])
    channels = [  # with a display window, so that viewers do not open a black image
        {"label": name, "color": COLORS[i % len(COLORS)], "active": True, "window": _window(plane)}
        for i, (name, plane) in enumerate(zip(info.channels, pixels, strict=True))
    ]
    options: dict[str, Any] = {"chunks": chunks} | ({"shards": shards} if shards else {})
    write_image(
        pixels,
        group,
        scale_factors=[2**level for level in range(1, levels)],  # y and x only
        method=Methods.LOCAL_MEAN,
        fmt=FormatV05(),
        axes=axes,
        coordinate_transformations=scales,
        storage_options=options,
        metadata={"omero": {"channels": channels}},
    )
    return str(target)


def _window(channel: np.ndarray) -> dict[str, float]:
    """Display range: the 0.1st to 99.9th percentile of (a sample of) the channel's pixels."""
    start, end = np.percentile(channel[..., ::4, ::4], [0.1, 99.9])
    limits = np.iinfo(channel.dtype) if channel.dtype.kind in "iu" else np.finfo(channel.dtype)
    return {"min": float(limits.min), "max": float(limits.max), "start": start, "end": end}


def validate(target: str | Path, storage_options: dict[str, Any] | None = None) -> Image:
    """The validated model of an OME-NGFF 0.5 image (ome-zarr-models); else a one-line ``ValueError``.

    Examples
    --------
    >>> validate("broken.zarr")  # doctest: +SKIP
    ValueError: not valid OME-NGFF 0.5: multiscales.0: Value error, The length of axes does not ...
    """
    group = zarr.open_group(str(target), mode="r", storage_options=storage_options)
    try:
        return Image.from_zarr(group)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"not valid OME-NGFF 0.5: {where}: {first['msg']}") from None


def stored_metadata(model: Image) -> ImageInfo:
    """The pixel sizes, units and channel names a validated image holds (its level 0)."""
    attrs = model.ome_attributes
    multiscale = attrs.multiscales[0]
    omero = attrs.model_dump().get("omero") or {}  # not part of the 0.5 model: kept as a dict
    scale = multiscale.datasets[0].coordinateTransformations[0].scale
    axes = [axis.name for axis in multiscale.axes]
    spatial = [a for a in multiscale.axes if a.type == "space"]
    return ImageInfo(
        axes="".join(axes),
        pixel_size={a.name: float(scale[axes.index(a.name)]) for a in spatial},
        units={a.name: str(a.unit) for a in spatial},
        channels=[channel.get("label", "") for channel in omero.get("channels", [])],
    )


def count_files(folder: str | Path) -> tuple[int, int]:
    """How many files a folder holds (objects once uploaded) and their bytes, all together."""
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def upload(folder: str | Path, remote: str, fs: s3fs.S3FileSystem, batch_size: int = 32) -> float:
    """Upload ``folder`` to ``remote`` (``bucket/key``), ``batch_size`` PUTs at once; the seconds.

    Examples
    --------
    >>> upload("stack.zarr", "course-scratch/me/stack.zarr", fs)  # doctest: +SKIP
    3.1
    """
    remote = remote.removeprefix("s3://").rstrip("/")
    n_files = count_files(folder)[0]
    start = time.perf_counter()
    bar = {"desc": f"upload {Path(folder).name}", "unit": "file"}
    progress = TqdmCallback(bar, tqdm_cls=tqdm)  # a progress bar (a widget in Jupyter)
    fs.put(str(folder), remote, recursive=True, batch_size=batch_size, callback=progress)
    fs.invalidate_cache()
    if (arrived := len(fs.find(remote))) != n_files:
        raise RuntimeError(f"only {arrived} of {n_files} files arrived in s3://{remote}")
    return time.perf_counter() - start


def delete(remote: str, fs: s3fs.S3FileSystem) -> int:
    """Delete everything under ``remote`` (``bucket/key``); how many objects were deleted."""
    fs.invalidate_cache()  # what is there now, not what was listed before
    keys = fs.find(remote.removeprefix("s3://").rstrip("/"))
    if keys:
        fs.rm(keys)
    fs.invalidate_cache()
    return len(keys)
