"""A tiled OME-TIFF laid out the way the paper's TIFF was: every tile first, every IFD at the end.

The OME-NGFF paper's TIFF came from ``raw2ometiff`` (Java, Bio-Formats' ``TiffSaver``), which writes
a BigTIFF in three steps: the 16-byte header; the tiles of every plane, plane after plane, each plane's
tiles row by row; then, after all pixels, the IFDs (one per plane, chained, each followed by its tile
offset and byte-count tables; the first also carries the OME-XML), and finally the header's pointer to
the first IFD is filled in. A reader therefore finds all of the file's metadata together at its end.

tifffile always writes a page's IFD *in front of* its pixels, so a tifffile-written file scatters the
IFDs through the file, one per plane; over HTTP each is a separate round trip. To measure the paper's
layout, :func:`write_tiled_bigtiff` writes the file itself (uncompressed tiles only; the OME-XML comes
from :class:`tifffile.OmeXml`), and tifffile reads it back.

Examples
--------
>>> import numpy as np, tifffile
>>> image = np.arange(2 * 32 * 48, dtype=np.uint8).reshape(2, 32, 48)
>>> write_tiled_bigtiff(tmp / "demo.ome.tiff", image, tile=16)  # doctest: +SKIP
>>> tifffile.imread(tmp / "demo.ome.tiff").shape  # doctest: +SKIP
(2, 32, 48)
>>> ifd_entry(256, 4, 1, 2048).hex()
'0001040001000000000000000008000000000000'
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = [
    "HEADER_BYTES",
    "SOFTWARE",
    "ifd_entry",
    "tiles_in_order",
    "write_tiled_bigtiff",
]

HEADER_BYTES = 16
"""A BigTIFF header: byte order, 43, offset size 8, 0, offset of the first IFD (8 bytes)."""
SOFTWARE = "course_tools.formats (raw2ometiff layout)"
"""The Software tag of the files written here."""
_SHORT, _LONG, _ASCII, _LONG8 = 3, 4, 2, 16  # TIFF field types
_SIZES = {_SHORT: 2, _LONG: 4, _ASCII: 1, _LONG8: 8}
_CODES = {_SHORT: "H", _LONG: "I", _LONG8: "Q"}
_ENTRY_BYTES = 20  # BigTIFF IFD entry: tag (2), type (2), count (8), value or offset (8)


def ifd_entry(tag: int, kind: int, count: int, value_or_offset: int | bytes) -> bytes:
    """One 20-byte BigTIFF IFD entry; ``value_or_offset`` is an offset or up to 8 bytes of value."""
    field = (
        value_or_offset
        if isinstance(value_or_offset, bytes)
        else struct.pack("<Q", value_or_offset)
    )
    return struct.pack("<HHQ", tag, kind, count) + field.ljust(8, b"\0")


def tiles_in_order(plane: np.ndarray, tile: int) -> bytes:
    """The tiles of a (y, x) plane, row by row, each tile's rows contiguous: how they lie in the file."""
    rows, cols = plane.shape[0] // tile, plane.shape[1] // tile
    return np.ascontiguousarray(plane.reshape(rows, tile, cols, tile).swapaxes(1, 2)).tobytes()


def _values(kind: int, values: list[int] | bytes) -> bytes:
    if kind == _ASCII:
        assert isinstance(values, bytes)
        return values
    assert not isinstance(values, bytes)
    return struct.pack(f"<{len(values)}{_CODES[kind]}", *values)


def _ifd(position: int, next_ifd: int, tags: dict[int, tuple[int, list[int] | bytes]]) -> bytes:
    """An IFD at ``position`` with its out-of-line values right after it (Bio-Formats' order)."""
    entries, extra = [], b""
    values_start = position + 8 + _ENTRY_BYTES * len(tags) + 8
    for tag in sorted(tags):
        kind, values = tags[tag]
        data = _values(kind, values)
        count = len(values)
        if len(data) <= 8:
            entries.append(ifd_entry(tag, kind, count, data))
        else:
            entries.append(ifd_entry(tag, kind, count, values_start + len(extra)))
            extra += data + b"\0" * (len(data) % 2)  # values start on a word boundary
    head = struct.pack("<Q", len(tags)) + b"".join(entries) + struct.pack("<Q", next_ifd)
    return head + extra


def write_tiled_bigtiff(
    path: str | Path, image: np.ndarray, tile: int, description: str = ""
) -> None:
    """Write a (planes, y, x) image as an uncompressed tiled BigTIFF, tiles first and IFDs last.

    Parameters
    ----------
    path : str or Path
        The file to write.
    image : numpy.ndarray
        Unsigned-integer pixels, shape (planes, y, x); y and x multiples of ``tile``.
    tile : int
        Tile edge in pixels.
    description : str, optional
        The first IFD's ImageDescription (the OME-XML of an OME-TIFF).

    Raises
    ------
    ValueError
        Not a 3-D unsigned-integer image cut evenly into tiles.
    """
    if image.ndim != 3 or image.dtype.kind != "u":
        raise ValueError(
            f"expected a (planes, y, x) unsigned-integer image, got {image.shape} {image.dtype}"
        )
    planes, height, width = image.shape
    if height % tile or width % tile:
        raise ValueError(
            f"the image's y and x ({height}, {width}) must be multiples of the tile {tile}"
        )
    tile_bytes = tile * tile * image.dtype.itemsize
    n_tiles = (height // tile) * (width // tile)
    with open(path, "wb") as out:
        out.write(b"II" + struct.pack("<HHHQ", 43, 8, 0, 0))  # first IFD: filled in at the end
        for plane in image:
            out.write(tiles_in_order(plane, tile))
        tagsets = []
        for index in range(planes):
            first = HEADER_BYTES + index * n_tiles * tile_bytes
            tags: dict[int, tuple[int, list[int] | bytes]] = {
                256: (_LONG, [width]),
                257: (_LONG, [height]),
                258: (_SHORT, [8 * image.dtype.itemsize]),
                259: (_SHORT, [1]),  # no compression
                262: (_SHORT, [1]),  # min-is-black
                277: (_SHORT, [1]),
                284: (_SHORT, [1]),
                305: (_ASCII, SOFTWARE.encode() + b"\0"),
                322: (_LONG, [tile]),
                323: (_LONG, [tile]),
                324: (_LONG8, [first + k * tile_bytes for k in range(n_tiles)]),
                325: (_LONG8, [tile_bytes] * n_tiles),
                339: (_SHORT, [1]),  # unsigned integers
            }
            if index == 0 and description:
                tags[270] = (_ASCII, description.encode() + b"\0")
            tagsets.append(tags)
        position = first_ifd = out.tell()
        for index, tags in enumerate(tagsets):
            size = len(_ifd(position, 0, tags))
            following = position + size if index + 1 < planes else 0
            out.write(_ifd(position, following, tags))
            position += size
        out.seek(8)
        out.write(struct.pack("<Q", first_ifd))
