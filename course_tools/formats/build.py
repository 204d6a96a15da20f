"""Write the benchmark image as OME-Zarr, tiled OME-TIFF and chunked HDF5, once, and keep the files.

:func:`build_formats` writes the same pixels (:func:`course_tools.formats.spec.synthetic_image`) three
ways, uncompressed as in the OME-NGFF paper, with one tile = one chunk of ``spec.tile`` pixels, each
laid out the way the paper's writer laid out its file (its ``generate.sh``: ImarisWriter for HDF5,
``bioformats2raw`` for Zarr, ``raw2ometiff`` for TIFF):

- ``image.zarr`` -- one object per chunk, as ``bioformats2raw`` writes (``/``-nested chunk keys,
  no compression). *Differs:* OME-NGFF 0.5 (Zarr v3, (c, y, x), one level) instead of their
  Zarr v2 (t, c, z, y, x) store with a pyramid: a read still costs the array's metadata document and
  the chunk;
- ``image.ome.tiff`` -- a tiled BigTIFF, one page (IFD) per channel, laid out as ``raw2ometiff``
  writes it: every tile first, then all the IFDs together at the end of the file, the OME-XML in
  the first (:mod:`.bigtiff`). *Differs:* no SubIFD pyramid; written by our own writer, since
  tifffile always puts each IFD in front of its pixels;
- ``image.ims`` -- HDF5 in the Imaris layout, written as ImarisWriter writes it (:mod:`.imaris`):
  file format 1.8, ``DataSet/ResolutionLevel 0/TimePoint 0/Channel c/Data`` (z, y, x) per channel,
  chunks (1, tile, tile), direct chunk writes channel after channel, histograms and metadata last.
  *Differs:* no lower resolution levels, no thumbnail;
- ``1-byte`` -- a one-byte file: the paper's "overhead" object, the cost of a request that carries
  nothing.

The files live in ``data/formats/<spec name>/`` (``$COURSE_DATA_DIR`` moves ``data``). They are not
part of the sample build (``make lab`` stays fast): the first call builds them (about 5 s for the
full image), later calls find a matching build stamp and return at once. Builds are deterministic.

Examples
--------
>>> from course_tools.formats import SMALL, build_formats
>>> files = build_formats(SMALL)  # doctest: +SKIP
>>> files.tiff.name, files.hdf5.name  # doctest: +SKIP
('image.ome.tiff', 'image.ims')
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import tifffile
import zarr

from course_tools import ngff
from course_tools.config import FORMATS_ZARR_WRITE_CONCURRENCY
from course_tools.formats.bigtiff import write_tiled_bigtiff
from course_tools.formats.imaris import write_imaris
from course_tools.formats.spec import FULL, FormatSpec, synthetic_image
from helpers.cloud import data_dir

__all__ = [
    "BUILD_VERSION",
    "FILE_NAMES",
    "STAMP_NAME",
    "FormatFiles",
    "build_formats",
    "expected_stamp",
    "formats_dir",
    "ome_description",
    "write_hdf5",
    "write_tiff",
    "write_zarr",
]

logger = logging.getLogger(__name__)

BUILD_VERSION = 3
"""Raise when the files' layout changes, so old builds are rebuilt."""
STAMP_NAME = ".build-stamp.json"
"""File in a build folder recording what generated it."""
FILE_NAMES = {
    "zarr": "image.zarr",
    "tiff": "image.ome.tiff",
    "hdf5": "image.ims",
    "overhead": "1-byte",
}
"""The name of each format's file (or folder, for Zarr) in a build folder."""


@dataclass(frozen=True)
class FormatFiles:
    """A finished build: the same image in each format, on the local disk.

    Attributes
    ----------
    spec : FormatSpec
        The image they hold.
    folder : Path
        The build folder.
    """

    spec: FormatSpec
    folder: Path

    def path(self, fmt: str) -> Path:
        """The file (or Zarr folder) of format ``fmt`` (``zarr``, ``tiff``, ``hdf5``, ``overhead``)."""
        if fmt not in FILE_NAMES:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FILE_NAMES)}")
        return self.folder / FILE_NAMES[fmt]

    @property
    def zarr(self) -> Path:
        """The OME-Zarr store (a folder)."""
        return self.path("zarr")

    @property
    def tiff(self) -> Path:
        """The tiled OME-TIFF file."""
        return self.path("tiff")

    @property
    def hdf5(self) -> Path:
        """The HDF5 file."""
        return self.path("hdf5")

    def size(self, fmt: str) -> int:
        """Bytes of format ``fmt`` on disk (all objects of the Zarr store together)."""
        path = self.path(fmt)
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size

    def objects(self, fmt: str) -> int:
        """How many objects format ``fmt`` is in a bucket (one per file; Zarr: one per chunk + metadata)."""
        path = self.path(fmt)
        return sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1


def formats_dir(spec: FormatSpec = FULL) -> Path:
    """The build folder of ``spec``: ``data/formats/<spec name>``."""
    return data_dir() / "formats" / spec.name


def expected_stamp(spec: FormatSpec) -> dict[str, object]:
    """What a build of ``spec`` with the installed libraries records in its stamp."""
    return {
        "build_version": BUILD_VERSION,
        "spec": spec.as_dict(),
        "versions": {
            "numpy": np.__version__,
            "zarr": zarr.__version__,
            "tifffile": tifffile.__version__,
            "h5py": h5py.__version__,
        },
    }


def write_zarr(image: np.ndarray, spec: FormatSpec, path: Path) -> None:
    """Write ``image`` as an uncompressed OME-NGFF 0.5 image with one level, one chunk per tile."""
    group = zarr.open_group(path, mode="w", zarr_format=3)
    entry = ngff.multiscale_metadata("formats benchmark", "cyx", [(1.0, 1.0, 1.0)])
    group.attrs.update(ngff.image_attributes("0.5", multiscales=[entry]))
    array = group.create_array(
        "0", shape=spec.shape, chunks=spec.chunks, dtype=spec.dtype, compressors=None, fill_value=0
    )
    with zarr.config.set({"async.concurrency": FORMATS_ZARR_WRITE_CONCURRENCY}):
        array[:] = image


def ome_description(spec: FormatSpec) -> str:
    """The OME-XML of the TIFF: one image, (c, y, x), one page per channel, a UUID derived from ``spec``.

    tifffile draws a new UUID otherwise; a fixed one makes builds repeat byte for byte.
    """
    ome = tifffile.OmeXml(UUID=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'formats/{spec}')}")
    storedshape = (
        spec.channels,
        1,
        1,
        spec.height,
        spec.width,
        1,
    )  # pages, samples, depth, y, x, samples
    ome.addimage(np.dtype(spec.dtype), spec.shape, storedshape, axes="CYX")
    return ome.tostring(declaration=True)


def write_tiff(image: np.ndarray, spec: FormatSpec, path: Path) -> None:
    """Write ``image`` as an uncompressed tiled OME-TIFF laid out as ``raw2ometiff`` does (IFDs last)."""
    write_tiled_bigtiff(path, image, spec.tile, ome_description(spec))


def write_hdf5(image: np.ndarray, spec: FormatSpec, path: Path) -> None:
    """Write ``image`` as an uncompressed Imaris file, chunked per tile, in ImarisWriter's order."""
    write_imaris(path, image, spec.tile)


def _up_to_date(folder: Path, spec: FormatSpec) -> bool:
    try:
        stamp = json.loads((folder / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    return stamp == expected_stamp(spec) and all((folder / n).exists() for n in FILE_NAMES.values())


def build_formats(
    spec: FormatSpec = FULL,
    folder: Path | None = None,
    progress: Callable[[str], None] = logger.info,
) -> FormatFiles:
    """The image of ``spec`` in every format, built unless an up-to-date build is there.

    Parameters
    ----------
    spec : FormatSpec, optional
        The image (default :data:`~course_tools.formats.spec.FULL`).
    folder : Path, optional
        Where the files go (default :func:`formats_dir`).
    progress : callable, optional
        Receives a line of text per step (default: the module's logger).

    Returns
    -------
    FormatFiles
        The files. Several processes may call this at once: one builds, the others wait.

    Examples
    --------
    >>> files = build_formats(SMALL, tmp_path)  # doctest: +SKIP
    """
    folder = Path(folder) if folder is not None else formats_dir(spec)
    if _up_to_date(folder, spec):
        return FormatFiles(spec, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same folder
        if not _up_to_date(folder, spec):
            progress(
                f"building the {spec.name} image ({spec.nbytes / 2**20:.0f} MiB) in 3 formats..."
            )
            with tempfile.TemporaryDirectory(prefix=f".{folder.name}-", dir=folder.parent) as tmp:
                work = Path(tmp)
                image = synthetic_image(spec)
                write_zarr(image, spec, work / FILE_NAMES["zarr"])
                write_tiff(image, spec, work / FILE_NAMES["tiff"])
                write_hdf5(image, spec, work / FILE_NAMES["hdf5"])
                (work / FILE_NAMES["overhead"]).write_bytes(b"1")
                (work / STAMP_NAME).write_text(json.dumps(expected_stamp(spec), indent=1))
                if folder.exists():
                    shutil.rmtree(folder)
                work.rename(folder)
                work.mkdir()  # for TemporaryDirectory's clean-up
            progress(f"built {folder}")
    return FormatFiles(spec, folder)
