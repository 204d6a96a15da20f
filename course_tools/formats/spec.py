"""The benchmark image of the formats lesson: its size, its tiles and its pixels. Pure, no I/O.

The OME-NGFF paper (Moore et al. 2021; its benchmark code is the ``ome/ngff-latency-benchmark``
repository, 2D case) compared Zarr, tiled TIFF and HDF5 on a 65,536 x 65,536 x 8 channel uint16
image, uncompressed, cut into 256 x 256 chunks (128 KiB each), and read 100 chunks drawn at random,
without repeats, the same draw for every format and source. The issue asks for the same kind of image
with at least 4,096 tiles per file, all three files within 300 MB and built in a minute. 4,096 tiles of
256 x 256 uint16 are 512 MiB per file, so something has to give.

What follows the paper:

- **uncompressed pixels**, one chunk = one tile, the same tile grid in every format;
- **channels as separate planes**: one chunk never spans two channels (a TIFF page, an Imaris
  dataset and a Zarr chunk per channel);
- **the draw** (:func:`random_tiles`): tiles at random without repeats, seeded, shared by every
  format, source and latency.

What differs, and why:

- **4 channels x 4096 x 4096 pixels, uint8, 128 x 128 tiles** (:data:`FULL`): 4 x 32 x 32 = 4,096
  tiles of 16 KiB, 64 MiB per file, about 200 MB for the three. What the lesson measures is how many
  *requests* a reader needs per tile (metadata, index, pixels), which does not depend on the tile's
  size; only the bytes per tile do (16 KiB here, 128 KiB in the paper). 4,096 tiles keep the index
  structures (TIFF tile tables, HDF5's chunk B-trees) as large as the issue asks; uint8 halves the
  bytes for the same tile count.
- **No resolution pyramid**: the paper's three files also held downsampled levels; reading a tile
  of full resolution never touches them (:mod:`.build` says how each file is laid out).
- **The pixels** are smooth stripes plus seeded noise (the paper's were random), so every tile differs
  from every other (a reader that returned the wrong tile would be caught) and every build repeats
  byte for byte.

:data:`SMALL` is a tiny image with the same layout, for tests.

Examples
--------
>>> FULL.n_tiles, FULL.tile_bytes, FULL.nbytes // 2**20
(4096, 16384, 64)
>>> SMALL.grid
(2, 2, 3)
>>> tile_region(FULL, Tile(1, 2, 3))
(1, slice(256, 384, None), slice(384, 512, None))
>>> random_tiles(SMALL, 3, seed=1)
(Tile(channel=0, row=0, col=2), Tile(channel=1, row=1, col=0), Tile(channel=0, row=0, col=1))
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "FULL",
    "SMALL",
    "SPECS",
    "FormatSpec",
    "Tile",
    "random_tiles",
    "synthetic_image",
    "tile_region",
]


@dataclass(frozen=True)
class FormatSpec:
    """The size and layout of the benchmark image (the same in every format).

    Attributes
    ----------
    name : str
        Short name, also the name of its folder under ``data/formats``.
    channels, height, width : int
        Image shape (c, y, x).
    tile : int
        Tile (= chunk) edge in pixels; height and width are multiples of it.
    dtype : str
        NumPy data type of the pixels.
    seed : int
        Seed of the noise, so builds repeat.
    """

    name: str
    channels: int
    height: int
    width: int
    tile: int
    dtype: str = "uint8"
    seed: int = 2021

    def __post_init__(self) -> None:
        sizes = (self.channels, self.height, self.width, self.tile)
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
            raise ValueError(f"image sizes must be integers >= 1, got {sizes}")
        if self.height % self.tile or self.width % self.tile:
            raise ValueError(
                f"height {self.height} and width {self.width} must be multiples of the tile {self.tile}"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The image shape (c, y, x)."""
        return (self.channels, self.height, self.width)

    @property
    def chunks(self) -> tuple[int, int, int]:
        """One tile as a chunk shape (1, tile, tile)."""
        return (1, self.tile, self.tile)

    @property
    def grid(self) -> tuple[int, int, int]:
        """Tiles along c, y and x."""
        return (self.channels, self.height // self.tile, self.width // self.tile)

    @property
    def n_tiles(self) -> int:
        """Number of tiles (chunks) in the image."""
        return math.prod(self.grid)

    @property
    def tile_bytes(self) -> int:
        """Bytes of one uncompressed tile."""
        return self.tile * self.tile * np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the whole image, uncompressed."""
        return self.n_tiles * self.tile_bytes

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what the build stamp records)."""
        return asdict(self)


FULL = FormatSpec("full", channels=4, height=4096, width=4096, tile=128)
"""The benchmark image: 4 x 4096 x 4096 uint8 in 4,096 tiles of 128 x 128 (64 MiB per file)."""
SMALL = FormatSpec("small", channels=2, height=256, width=384, tile=128)
"""A tiny image with the same layout (12 tiles), for tests and quick runs."""
SPECS = {spec.name: spec for spec in (FULL, SMALL)}
"""The images by name."""


@dataclass(frozen=True)
class Tile:
    """One tile of the image: its channel and its row and column in the tile grid."""

    channel: int
    row: int
    col: int


def tile_region(spec: FormatSpec, tile: Tile) -> tuple[int, slice, slice]:
    """The pixels of ``tile`` as an index into the (c, y, x) image.

    Raises
    ------
    ValueError
        The tile lies outside the grid.
    """
    c, rows, cols = spec.grid
    if not (0 <= tile.channel < c and 0 <= tile.row < rows and 0 <= tile.col < cols):
        raise ValueError(f"{tile} is outside the tile grid {spec.grid} (channels, rows, columns)")
    t = spec.tile
    return (
        tile.channel,
        slice(tile.row * t, (tile.row + 1) * t),
        slice(tile.col * t, (tile.col + 1) * t),
    )


def random_tiles(spec: FormatSpec, n: int, seed: int = 0) -> tuple[Tile, ...]:
    """``n`` tiles drawn at random without repeats (the paper's ``random.sample``), seeded.

    The same draw serves every format, source and latency, so they all read the same tiles. More
    tiles than the image holds: every tile in a random order, then again in another order.

    Raises
    ------
    ValueError
        ``n`` is not an integer >= 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of tiles must be an integer >= 1, got {n!r}")
    rng = random.Random(seed)
    c, rows, cols = spec.grid
    drawn: list[int] = []
    while len(drawn) < n:
        drawn += rng.sample(range(spec.n_tiles), min(n - len(drawn), spec.n_tiles))
    return tuple(Tile(i // (rows * cols), (i // cols) % rows, i % cols) for i in drawn)


def synthetic_image(spec: FormatSpec) -> np.ndarray:
    """The benchmark image: smooth stripes per channel plus seeded noise, identical on every call.

    Examples
    --------
    >>> image = synthetic_image(SMALL)
    >>> image.shape, image.dtype
    ((2, 256, 384), dtype('uint8'))
    >>> bool((synthetic_image(SMALL) == image).all())
    True
    """
    rng = np.random.default_rng(spec.seed)
    dtype = np.dtype(spec.dtype)
    top = float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
    image = np.empty(spec.shape, dtype=dtype)
    y = np.arange(spec.height, dtype=np.float32)
    x = np.arange(spec.width, dtype=np.float32)
    for c in range(spec.channels):
        rows = np.sin(y / (37.0 + 11.0 * c))
        cols = np.cos(x / (53.0 + 7.0 * c))
        smooth = (0.35 + 0.15 * (rows[:, None] + cols[None, :])) * top  # 5 % .. 65 % of the range
        noise = rng.random((spec.height, spec.width), dtype=np.float32) * (0.3 * top)
        image[c] = (smooth + noise).astype(dtype)
    return image
