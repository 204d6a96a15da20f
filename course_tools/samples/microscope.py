"""The microscope's file: a two-channel z-stack written as OME-TIFF, as an acquisition would leave it.

Lesson 09 starts from a file a microscope wrote and shares it as OME-Zarr. This module makes that
file: a deterministic (c, z, y, x) = :data:`MICROSCOPE_SHAPE` uint16 stack, nuclei (channel
``DAPI``) and their cytoplasm/membranes (channel ``Actin``) over a camera offset with a little
noise, written with tifffile as one OME-TIFF whose OME-XML carries the axes, the pixel sizes and
their unit (``µm``) and the channel names, as acquisition software writes them.

It is **not** part of the default sample build (``make lab`` stays fast): :func:`build_microscope`
writes it on first use to ``data/microscope/`` (``$COURSE_DATA_DIR`` moves ``data``) and returns the
cached file afterwards (a stamp records what built it). About 64 MiB, a few seconds.

From a shell: ``python -m course_tools samples microscope [--force]``.

Examples
--------
>>> MICROSCOPE_SHAPE, MICROSCOPE_CHANNELS
((2, 16, 1024, 1024), ('DAPI', 'Actin'))
>>> path = build_microscope()  # doctest: +SKIP
>>> path.name  # doctest: +SKIP
'stack.ome.tiff'
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage

from helpers.cloud import data_dir

__all__ = [
    "MICROSCOPE_BUILD_VERSION",
    "MICROSCOPE_CHANNELS",
    "MICROSCOPE_FILE",
    "MICROSCOPE_SEED",
    "MICROSCOPE_SHAPE",
    "MICROSCOPE_VOXEL_UM",
    "build_microscope",
    "microscope_dir",
    "microscope_stack",
    "write_microscope_tiff",
]

logger = logging.getLogger(__name__)

MICROSCOPE_SHAPE = (2, 16, 1024, 1024)
"""(c, z, y, x) of the stack: 64 MiB of uint16, 1024 x 1024 pixels per plane (small enough for Binder)."""
MICROSCOPE_CHANNELS = ("DAPI", "Actin")
"""Channel names, as the acquisition software wrote them into the OME-XML."""
MICROSCOPE_VOXEL_UM = (1.0, 0.325, 0.325)
"""(z, y, x) voxel size in micrometres (a 20x objective on a widefield camera)."""
MICROSCOPE_SEED = 2009
"""Seed of every random draw: the file is the same every time."""
MICROSCOPE_FILE = "stack.ome.tiff"
"""File name in :func:`microscope_dir`."""
MICROSCOPE_BUILD_VERSION = 1
"""Raise when the content or layout changes, so cached files are rebuilt."""
_NUCLEI = 60
_OFFSET = 100


def microscope_dir() -> Path:
    """Where the file is cached: ``data/microscope``."""
    return data_dir() / "microscope"


def microscope_stack(shape: tuple[int, int, int, int] = MICROSCOPE_SHAPE) -> np.ndarray:
    """The stack's pixels: nuclei in channel 0, a cytoplasm/membrane ring around each in channel 1.

    Built at a quarter of the resolution in y/x and enlarged (smooth shapes, fast), then a camera
    offset and seeded Poisson-like noise are added at full resolution.

    Examples
    --------
    >>> stack = microscope_stack((2, 4, 256, 256))
    >>> stack.shape, stack.dtype.name
    ((2, 4, 256, 256), 'uint16')
    """
    channels, nz, ny, nx = shape
    rng = np.random.default_rng(MICROSCOPE_SEED)
    small = (nz, ny // 4, nx // 4)
    nuclei = np.zeros(small, np.float32)
    cells = np.zeros(small, np.float32)
    count = max(1, _NUCLEI * ny * nx // 1024**2)
    for z, y, x in rng.uniform((0, 0, 0), small, size=(count, 3)):
        r = rng.uniform(6, 11)  # pixels of the small grid: 8-14 um nuclei
        box = tuple(
            slice(max(0, int(c - reach)), min(n, int(c + reach) + 1))
            for c, reach, n in zip((z, y, x), (r, 2 * r, 2 * r), small, strict=True)
        )
        zz, yy, xx = np.ogrid[box]
        d2 = ((zz - z) * 4.0 / r) ** 2 + ((yy - y) / r) ** 2 + ((xx - x) / r) ** 2
        np.maximum(nuclei[box], rng.uniform(0.6, 1.0) * np.exp(-(d2**2)), out=nuclei[box])
        ring = np.exp(-(((np.sqrt(d2) - 1.6) * 3) ** 2))
        np.maximum(cells[box], rng.uniform(0.4, 0.8) * ring, out=cells[box])
    stack = np.empty(shape, np.uint16)
    for c, field, gain in ((0, nuclei, 3000.0), (1, cells, 1800.0)):
        big = ndimage.zoom(field, (1, 4, 4), order=1)
        for z in range(nz):
            plane = _OFFSET + gain * big[z] + rng.normal(0, 12, (ny, nx)).astype(np.float32)
            stack[c % channels, z] = np.clip(plane, 0, 65535)
    return stack


def write_microscope_tiff(stack: np.ndarray, path: Path) -> None:
    """Write ``stack`` as an OME-TIFF with axes, pixel sizes in µm and channel names, tiled 512^2."""
    z_um, y_um, x_um = MICROSCOPE_VOXEL_UM
    metadata = {
        "axes": "CZYX",
        "PhysicalSizeZ": z_um,
        "PhysicalSizeZUnit": "µm",
        "PhysicalSizeY": y_um,
        "PhysicalSizeYUnit": "µm",
        "PhysicalSizeX": x_um,
        "PhysicalSizeXUnit": "µm",
        "Channel": {"Name": list(MICROSCOPE_CHANNELS)},
        "UUID": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'course/microscope')}",  # same bytes
    }
    tifffile.imwrite(
        path, stack, ome=True, metadata=metadata, tile=(512, 512), photometric="minisblack"
    )


def _stamp() -> dict[str, object]:
    return {
        "version": MICROSCOPE_BUILD_VERSION,
        "shape": list(MICROSCOPE_SHAPE),
        "tifffile": tifffile.__version__,
    }


def build_microscope(force: bool = False, progress: Callable[[str], None] = logger.info) -> Path:
    """The microscope's OME-TIFF, written on first use and cached in :func:`microscope_dir`.

    Parameters
    ----------
    force : bool
        Rewrite it even if a cached file with a matching stamp exists.
    progress : callable
        Receives a line of text per step (default: the module's logger).

    Returns
    -------
    Path
        The ``.ome.tiff`` file. Several processes may call this at once: one writes, the others wait.

    Examples
    --------
    >>> build_microscope().stat().st_size > 2**25  # doctest: +SKIP
    True
    """
    folder = microscope_dir()
    path, stamp_file = folder / MICROSCOPE_FILE, folder / ".build-stamp.json"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            fresh = json.loads(stamp_file.read_text()) == _stamp() and path.is_file()
        except (OSError, ValueError):
            fresh = False
        if fresh and not force:
            return path
        progress(f"writing the microscope's OME-TIFF {MICROSCOPE_SHAPE} uint16 to {path} ...")
        partial = path.with_suffix(".partial")
        write_microscope_tiff(microscope_stack(), partial)
        os.replace(partial, path)
        stamp_file.write_text(json.dumps(_stamp()))
        progress(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    return path
