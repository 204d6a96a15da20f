"""An HDF5 file in the Imaris 5.5 layout, written in the order ImarisWriter writes it (the paper's HDF5).

The OME-NGFF paper's HDF5 file was an Imaris ``.ims`` file written by ImarisWriter (HDF5 1.12). What
matters for reading one chunk of it, and what :func:`write_imaris` copies with h5py:

- **file format 1.8** (``H5Pset_libver_bounds(V18, V18)``): groups keep their links in their object
  headers, and each dataset indexes its chunks with a version-1 B-tree;
- **a deep tree of groups**: ``DataSet/ResolutionLevel 0/TimePoint 0/Channel c/Data``, one 3-D
  (z, y, x) dataset per channel, chunked (1, tile, tile), uncompressed (the paper's ``COMPRESSION=0``);
- **the write order**: channel after channel; a channel's group (with its ``ImageSizeX/Y/Z``
  attributes) and its dataset are created when its first block arrives, then its chunks are written
  row by row with direct chunk writes (``H5Dwrite_chunk``), so each channel's headers and B-tree
  nodes lie among its pixels;
- **the closing metadata**: when the image is finished, each channel group gets its histogram
  (attributes ``HistogramMin``/``HistogramMax`` and a 256-bin ``Histogram`` dataset) and the
  ``DataSetInfo`` groups are written: the channel groups' headers grow a continuation block at the
  end of the file.

Not copied: the resolution pyramid (``ResolutionLevel 1`` and below, interleaved with level 0 in the
paper's file; a read of level 0 never opens them) and the thumbnail. Strings are stored as Imaris
stores them: arrays of one-character strings.

Examples
--------
>>> imaris_path(2)
'DataSet/ResolutionLevel 0/TimePoint 0/Channel 2/Data'
>>> imaris_text("4096")
array([b'4', b'0', b'9', b'6'], dtype='|S1')
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

__all__ = ["IMARIS_LIBVER", "HISTOGRAM_BINS", "imaris_path", "imaris_text", "write_imaris"]

IMARIS_LIBVER = ("v108", "v108")
"""HDF5 file-format bounds ImarisWriter sets: the 1.8 format, no newer chunk indexes."""
HISTOGRAM_BINS = 256
"""Bins of each channel's histogram (ImarisWriter's 256-bin copy)."""


def imaris_path(channel: int, level: int = 0, timepoint: int = 0) -> str:
    """The path of one channel's image dataset inside an Imaris file."""
    return f"DataSet/ResolutionLevel {level}/TimePoint {timepoint}/Channel {channel}/Data"


def imaris_text(value: str) -> np.ndarray:
    """``value`` as Imaris stores a text attribute: an array of one-character strings."""
    return np.frombuffer(value.encode(), dtype="S1")


def _channel_info(group: h5py.Group, channel: int) -> None:
    info = group.require_group(f"Channel {channel}")
    for name, value in {"Name": f"channel {channel}", "Color": "1.000 1.000 1.000"}.items():
        info.attrs[name] = imaris_text(value)


def write_imaris(path: str | Path, image: np.ndarray, tile: int) -> None:
    """Write a (c, y, x) image as an uncompressed Imaris file, the way ImarisWriter orders it.

    Parameters
    ----------
    path : str or Path
        The file to write.
    image : numpy.ndarray
        The pixels, shape (channels, y, x); y and x multiples of ``tile``.
    tile : int
        Chunk edge in pixels: chunks are (1, tile, tile).

    Raises
    ------
    ValueError
        Not a 3-D image cut evenly into tiles.
    """
    if image.ndim != 3 or image.shape[1] % tile or image.shape[2] % tile:
        raise ValueError(
            f"expected a (channels, y, x) image cut evenly into {tile}-pixel tiles, got {image.shape}"
        )
    channels, height, width = image.shape
    with h5py.File(path, "w", libver=IMARIS_LIBVER) as file:
        root = {
            "ImarisDataSet": "ImarisDataSet",
            "ImarisVersion": "5.5.0",
            "DataSetInfoDirectoryName": "DataSetInfo",
            "ThumbnailDirectoryName": "Thumbnail",
            "DataSetDirectoryName": "DataSet",
        }
        for name, value in root.items():
            file.attrs[name] = imaris_text(value)
        file.attrs["NumberOfDataSets"] = np.array([1], dtype=np.uint32)
        for c in range(channels):  # channel after channel, as the blocks arrive
            group = file.require_group(imaris_path(c).rpartition("/")[0])
            for axis, size in (("X", width), ("Y", height), ("Z", 1)):
                group.attrs[f"ImageSize{axis}"] = imaris_text(str(size))
            data = group.create_dataset(
                "Data", shape=(1, height, width), chunks=(1, tile, tile), dtype=image.dtype
            )
            for y in range(0, height, tile):
                for x in range(0, width, tile):
                    block = np.ascontiguousarray(image[c, y : y + tile, x : x + tile])
                    data.id.write_direct_chunk((0, y, x), block.tobytes())
        for c in range(channels):  # Finish(): histograms, then the image's metadata
            group = file[imaris_path(c).rpartition("/")[0]]
            top = np.iinfo(image.dtype).max if image.dtype.kind in "ui" else 1.0
            counts, _ = np.histogram(image[c], bins=HISTOGRAM_BINS, range=(0, top))
            group.attrs["HistogramMin"] = imaris_text("0.000")
            group.attrs["HistogramMax"] = imaris_text(f"{top:.3f}")
            group.create_dataset("Histogram", data=counts.astype(np.uint64))
        info = file.require_group("DataSetInfo")
        image_info = info.require_group("Image")
        for name, value in {"X": width, "Y": height, "Z": 1, "Unit": "um"}.items():
            image_info.attrs[name] = imaris_text(str(value))
        for c in range(channels):
            _channel_info(info, c)
        info.require_group("TimeInfo").attrs["DatasetTimePoints"] = imaris_text("1")
