"""Read one tile of the benchmark image the way the OME-NGFF paper did, from a URL or a local file.

One reader per format, each in two steps per tile, as in the paper's ``benchmark/benchmark.py`` (a
pytest fixture, rebuilt for every round, opened the file; the timer wrapped ``run``):

========== ====================================== ===========================================
format     :meth:`~TileReader.prepare` (untimed)  :meth:`~TileReader.read` (timed)
========== ====================================== ===========================================
overhead   open the one-byte object (HEAD)         read its byte: one GET
zarr       open the OME-Zarr group                 reopen array ``0`` (its metadata document),
                                                   read the tile's chunk
tiff       open the file object (HEAD)             ``tifffile.TiffFile`` on it, ``aszarr()``,
                                                   ``zarr.open``, read the tile
hdf5       open the file object and ``h5py.File``  walk ``DataSet/ResolutionLevel 0/TimePoint 0/
           on it (superblock, root group)          Channel c/Data``, read the chunk
========== ====================================== ===========================================

What follows the paper:

- TIFF and HDF5 are read through an **fsspec file object** (``fs.open(url)``), with the paper's cache
  settings, set explicitly (:data:`~course_tools.config.FORMATS_BLOCK_SIZE`, 5 MiB, and
  :data:`~course_tools.config.FORMATS_CACHE_TYPE`, ``"bytes"``): the defaults of its fsspec HTTP files and of
  s3fs 0.6. A read the cache cannot answer becomes one range request for the bytes asked **plus the
  next 5 MiB**, and the cache keeps that one block. Local files go through fsspec's local filesystem.
- **TIFF**: a new ``TiffFile`` per tile (header, IFDs and OME-XML parsed again), the tile read through
  tifffile's Zarr store (``aszarr``), as the paper did.
- **HDF5**: ``h5py.File`` on the file object with h5py's defaults (the ``fileobj`` driver, default chunk
  cache); the groups are opened one by one, by name, for every tile, as the paper did.
- **Zarr**: the group opened before the timer, the array reopened for every tile.

What differs: Zarr reads use zarr 3 (the paper: zarr 2.7's ``FSStore``, which also checked that
``.zarray`` exists, one request more per tile); everything goes over plain HTTP to the local cloud's S3
endpoint (the paper's S3 reads went through s3fs, with the same 5 MiB ``bytes`` cache).

:func:`traced_reads` lists the reads a library makes for one tile of a local file (offset, size) and,
given a block size, the range requests they become through fsspec's cache: the round trips of a
remote read, without a network.

Examples
--------
>>> from course_tools.formats import SMALL, Tile, build_formats, open_reader
>>> files = build_formats(SMALL)  # doctest: +SKIP
>>> with open_reader("tiff", files.tiff, SMALL) as reader:  # doctest: +SKIP
...     reader.prepare()
...     tile = reader.read(Tile(1, 0, 2))
...     reader.release()
>>> tile.shape  # doctest: +SKIP
(128, 128)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import h5py
import numpy as np
import tifffile
import zarr

from course_tools.config import FORMATS_BLOCK_SIZE, FORMATS_CACHE_TYPE
from course_tools.formats.imaris import imaris_path
from course_tools.formats.spec import FormatSpec, Tile, tile_region
from helpers.storage import close_store, http_filesystem, parse_location, zarr_store

__all__ = [
    "FORMATS",
    "READERS",
    "Hdf5Reader",
    "OverheadReader",
    "TiffReader",
    "TileReader",
    "ZarrReader",
    "check_formats",
    "open_reader",
]

FORMATS = ("overhead", "zarr", "tiff", "hdf5")
"""The formats read, in the paper's order (overhead is a one-byte object, not an image)."""


def check_formats(names: object) -> tuple[str, ...]:
    """``names`` as a tuple of known formats, in the order given.

    Raises
    ------
    ValueError
        Empty, not a sequence of strings, or an unknown name (the message lists the known ones).

    Examples
    --------
    >>> check_formats(["zarr", "tiff"])
    ('zarr', 'tiff')
    >>> check_formats(["png"])
    Traceback (most recent call last):
    ...
    ValueError: unknown format 'png'; known: overhead, zarr, tiff, hdf5
    """
    if isinstance(names, str) or not isinstance(names, list | tuple) or not names:
        raise ValueError(f"give one or more formats of {', '.join(FORMATS)}, got {names!r}")
    for name in names:
        if name not in FORMATS:
            raise ValueError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return tuple(names)


class TileReader:
    """Reads tiles of one format from one location: ``prepare``, ``read``, ``release`` per tile.

    Parameters
    ----------
    location : str or Path
        An ``http(s)://`` URL (read over HTTP with fsspec) or a local path.
    spec : FormatSpec
        The image the file holds (for the tile grid and the checks).
    block_size : int, optional
        fsspec's read-ahead in bytes for TIFF and HDF5 over HTTP (default: the paper's, 5 MiB).
    cache_type : str, optional
        fsspec's cache for TIFF and HDF5 over HTTP (default: the paper's, ``"bytes"``).
    """

    format = ""

    def __init__(
        self,
        location: str | Path,
        spec: FormatSpec,
        block_size: int | None = None,
        cache_type: str | None = None,
    ) -> None:
        self.spec = spec
        self.remote = str(location).startswith(("http://", "https://"))
        self.location = str(location) if self.remote else str(Path(location).resolve())
        self.open_options: dict[str, Any] = {
            "block_size": FORMATS_BLOCK_SIZE if block_size is None else block_size,
            "cache_type": FORMATS_CACHE_TYPE if cache_type is None else cache_type,
        }
        self.fs: Any = http_filesystem() if self.remote else fsspec.filesystem("file")

    def _open(self) -> Any:
        options = self.open_options if self.remote else {}
        return self.fs.open(self.location, mode="rb", **options)

    def prepare(self) -> None:
        """Open what the paper opened before its timer started."""

    def read(self, tile: Tile) -> np.ndarray:
        """Read ``tile``'s pixels (the timed part)."""
        raise NotImplementedError

    def release(self) -> None:
        """Close what :meth:`prepare` opened."""

    def close(self) -> None:
        """Release everything (the reader cannot be used afterwards)."""
        self.release()

    def __enter__(self) -> TileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _FileReader(TileReader):
    """A reader whose ``prepare`` opens an fsspec file object, closed by ``release``."""

    file: Any = None

    def prepare(self) -> None:
        """Open the file object (over HTTP: one HEAD for its size)."""
        self.file = self._open()

    def release(self) -> None:
        """Close the file object."""
        if self.file is not None:
            self.file.close()
            self.file = None

    def _opened(self) -> Any:
        if self.file is None:
            raise ValueError("call prepare() before read()")
        return self.file


class OverheadReader(_FileReader):
    """The paper's "overhead": one GET of a one-byte object (the tile is ignored)."""

    format = "overhead"

    def read(self, tile: Tile) -> np.ndarray:
        """Its one byte, as an array."""
        return np.frombuffer(self._opened().read(), dtype=np.uint8)


class ZarrReader(TileReader):
    """OME-Zarr: the group opened before the timer, the array reopened and one chunk read in it."""

    format = "zarr"

    def __init__(self, location: str | Path, spec: FormatSpec, **options: Any) -> None:
        super().__init__(location, spec, **options)
        where = self.location if self.remote else Path(self.location)
        self.store = zarr_store(parse_location(str(where)))
        self.group: zarr.Group | None = None

    def prepare(self) -> None:
        """Open the image's group (one GET of its ``zarr.json``)."""
        self.group = zarr.open_group(self.store, mode="r", zarr_format=3)

    def read(self, tile: Tile) -> np.ndarray:
        """Reopen level ``0`` (its ``zarr.json``) and read the tile's chunk."""
        if self.group is None:
            raise ValueError("call prepare() before read()")
        array = self.group["0"]
        if not isinstance(array, zarr.Array):
            raise ValueError(f"{self.location}/0 is not an array")
        return np.asarray(array[tile_region(self.spec, tile)])

    def release(self) -> None:
        """Forget the group (the next tile opens it again)."""
        self.group = None

    def close(self) -> None:
        """Close the store's HTTP sessions."""
        self.release()
        close_store(self.store)


class TiffReader(_FileReader):
    """Tiled OME-TIFF: a new ``TiffFile`` for every tile, the tile read through tifffile's Zarr store."""

    format = "tiff"

    def read(self, tile: Tile) -> np.ndarray:
        """Parse header, IFDs and OME-XML, wrap the image as a Zarr store, read the tile from it."""
        with tifffile.TiffFile(self._opened()) as tif:
            if not tif.is_ome or tif.series[0].shape != self.spec.shape:
                raise ValueError(
                    f"{self.location}: expected an OME-TIFF of shape {self.spec.shape}, found "
                    f"{'an OME' if tif.is_ome else 'a plain'} TIFF of shape {tif.series[0].shape}"
                )
            store = tif.aszarr()
            try:
                data = zarr.open(store, mode="r")
                if isinstance(data, zarr.Group):  # a pyramid: level 0, as the paper read it
                    data = data["0"]
                if not isinstance(data, zarr.Array):
                    raise ValueError(f"{self.location}: level 0 is not an array")
                return np.asarray(data[tile_region(self.spec, tile)])
            finally:
                store.close()


class Hdf5Reader(_FileReader):
    """HDF5 (Imaris layout) through h5py on an fsspec file object: groups, chunk B-tree, chunk."""

    format = "hdf5"
    h5: h5py.File | None = None

    def prepare(self) -> None:
        """Open the file object and ``h5py.File`` on it (reads the superblock and root group)."""
        super().prepare()
        self.h5 = h5py.File(self.file, "r")

    def read(self, tile: Tile) -> np.ndarray:
        """Open the groups down to the channel's dataset, one by one, and read the tile."""
        if self.h5 is None:
            raise ValueError("call prepare() before read()")
        node: Any = self.h5
        try:
            for name in imaris_path(tile.channel).split("/"):
                node = node[name]
        except KeyError:
            raise ValueError(f"{self.location}: no {imaris_path(tile.channel)} in it") from None
        if not isinstance(node, h5py.Dataset) or node.ndim != 3:
            raise ValueError(
                f"{self.location}: {imaris_path(tile.channel)} is not a (z, y, x) dataset"
            )
        _, ys, xs = tile_region(self.spec, tile)
        return np.asarray(node[0, ys, xs])

    def release(self) -> None:
        """Close ``h5py.File`` and the file object."""
        if self.h5 is not None:
            self.h5.close()
            self.h5 = None
        super().release()


READERS: dict[str, type[TileReader]] = {
    "overhead": OverheadReader,
    "zarr": ZarrReader,
    "tiff": TiffReader,
    "hdf5": Hdf5Reader,
}
"""The reader class of each format."""


def open_reader(
    fmt: str,
    location: str | Path,
    spec: FormatSpec,
    block_size: int | None = None,
    cache_type: str | None = None,
) -> TileReader:
    """A reader of format ``fmt`` at ``location`` (a URL or a local path).

    Parameters
    ----------
    fmt : str
        ``overhead``, ``zarr``, ``tiff`` or ``hdf5``.
    location : str or Path
        Where the file (or Zarr store) is.
    spec : FormatSpec
        The image it holds.
    block_size, cache_type : optional
        fsspec's read-ahead and cache for TIFF and HDF5 over HTTP (default: the paper's).

    Returns
    -------
    TileReader
        Use ``prepare()``, ``read(tile)``, ``release()`` per tile; ``close()`` (or ``with``) at the end.

    Raises
    ------
    ValueError
        Unknown format.
    """
    check_formats([fmt])
    return READERS[fmt](location, spec, block_size=block_size, cache_type=cache_type)
