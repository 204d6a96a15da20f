"""Which reads one tile costs in a local TIFF or HDF5 file, and which range requests they become remotely.

A library reading a file does not know where a tile is until it has read the file's own index (TIFF:
header, IFDs, tile tables; HDF5: object headers, B-tree nodes). :func:`traced_reads` runs a reader of
:mod:`.readers` on a local file and records every read it makes, with its offset and size. Given a
``block_size``, the reads go through fsspec's cache as they do over HTTP (the same cache class, the
same read-ahead), and what is recorded are the **range requests** the cache makes: the round trips of
a remote read, counted without a network.

Examples
--------
>>> from course_tools.formats import FULL, Tile, build_formats, traced_reads
>>> files = build_formats(FULL)  # doctest: +SKIP
>>> trace = traced_reads("tiff", files.tiff, FULL, Tile(2, 20, 11), block_size=5 * 2**20)  # doctest: +SKIP
>>> len(trace.read)  # doctest: +SKIP
3
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.spec import AbstractBufferedFile

from course_tools.config import FORMATS_CACHE_TYPE
from course_tools.formats.readers import READERS
from course_tools.formats.spec import FormatSpec, Tile

__all__ = ["Trace", "traced_reads"]


@dataclass(frozen=True)
class Trace:
    """The reads (or range requests) of one tile: ``(offset, size)`` pairs, in order.

    Attributes
    ----------
    setup : tuple of (int, int)
        Those of the reader's untimed ``prepare`` (HDF5: the superblock and root group).
    read : tuple of (int, int)
        Those of the timed ``read``: what the benchmark counts.
    """

    setup: tuple[tuple[int, int], ...]
    read: tuple[tuple[int, int], ...]

    @property
    def read_bytes(self) -> int:
        """Bytes of the timed reads (or requests) together."""
        return sum(size for _, size in self.read)


class _LoggedFile(io.RawIOBase):
    """A local file that records the offset and size of every read."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.log: list[tuple[int, int]] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        self.log.append((self._file.tell(), len(buffer)))
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


class _CachedFile(AbstractBufferedFile):
    """A local file read through fsspec's cache, as an HTTP file is; records each range it fetches."""

    def __init__(self, path: Path, block_size: int, cache_type: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.log: list[tuple[int, int]] = []
        size = self._file.seek(0, io.SEEK_END)
        fs = fsspec.filesystem("file")
        super().__init__(fs, str(path), "rb", block_size, cache_type=cache_type, size=size)

    def _fetch_range(self, start: int, end: int) -> bytes:
        self.log.append((start, end - start))
        self._file.seek(start)
        return self._file.read(end - start)

    def close(self) -> None:
        super().close()
        self._file.close()


def traced_reads(
    fmt: str,
    path: str | Path,
    spec: FormatSpec,
    tile: Tile,
    block_size: int | None = None,
    cache_type: str = FORMATS_CACHE_TYPE,
) -> Trace:
    """The reads (or, given ``block_size``, the range requests) of ``prepare`` and ``read(tile)``.

    Parameters
    ----------
    fmt : str
        ``tiff`` or ``hdf5`` (the formats read through a file object).
    path : str or Path
        The local file.
    spec : FormatSpec
        The image it holds.
    tile : Tile
        The tile to read.
    block_size : int, optional
        Read through fsspec's cache with this read-ahead and record its range requests (the
        benchmark's remote reads use :data:`~course_tools.config.FORMATS_BLOCK_SIZE`). Default: record the
        library's own reads.
    cache_type : str, optional
        fsspec's cache, with ``block_size`` (default: the paper's, ``"bytes"``).

    Returns
    -------
    Trace
        Offsets and sizes, in the order the library (or the cache) made them.

    Raises
    ------
    ValueError
        A format other than ``tiff`` or ``hdf5``, or a block size below 1.
    """
    if fmt not in ("tiff", "hdf5"):
        raise ValueError(
            f"traced_reads reads files through a file object: tiff or hdf5, not {fmt!r}"
        )
    if block_size is not None and (isinstance(block_size, bool) or block_size < 1):
        raise ValueError(f"block_size must be a number of bytes >= 1, got {block_size!r}")
    file: _LoggedFile | _CachedFile = (
        _LoggedFile(Path(path))
        if block_size is None
        else _CachedFile(Path(path), block_size, cache_type)
    )
    reader = READERS[fmt](path, spec)
    reader._open = lambda: file  # type: ignore[method-assign]
    try:
        reader.prepare()
        setup = tuple(file.log)
        file.log.clear()
        reader.read(tile)
        read = tuple(file.log)
        reader.release()
    finally:
        file.close()
    return Trace(setup, read)
