"""The tissue sample: a large 2D three-channel pyramid with tissue-like texture, and its store.

It is in the spirit of idr0073A/9798462.zarr: 3 channels (nuclei, cytoplasm, membrane), 8192 x 8192
uint8 at level 0, 6 levels, 512 x 512 chunks. Smooth parts (the glass/tissue mask and a
multi-scale texture) are computed at half resolution; cells are stamped from a small bank of
sprites at full resolution, so every zoom level shows structure. Everything is seeded.

Examples
--------
>>> level0 = next(tissue_channels())  # doctest: +SKIP
>>> level0.shape, level0.dtype  # doctest: +SKIP
((8192, 8192), dtype('uint8'))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import zarr
from scipy import ndimage

from course_tools.ngff import image_attributes, omero_metadata
from course_tools.samples.noise import octave_field, unit_noise
from course_tools.samples.pyramid import pyramid
from course_tools.samples.writing import BLOSC_V2, V2_CHUNK_KEYS, create_level, pyramid_multiscale

__all__ = [
    "CHANNELS_TISSUE",
    "TISSUE_CHUNK",
    "TISSUE_LEVELS",
    "TISSUE_LOOK",
    "TISSUE_PIXEL_UM",
    "TISSUE_SEED",
    "TISSUE_SIZE",
    "TISSUE_WINDOW",
    "tissue_channels",
    "write_tissue",
]

logger = logging.getLogger(__name__)

TISSUE_SEED = 9798462
"""Seed of the tissue image."""
TISSUE_SIZE = 8192
"""Side of level 0, pixels."""
TISSUE_LEVELS = 6
"""Pyramid levels."""
TISSUE_CHUNK = 512
"""Side of a chunk, pixels (one channel per chunk)."""
TISSUE_PIXEL_UM = 0.5
"""Pixel size of level 0, micrometres."""
CHANNELS_TISSUE = (("Nuclei", "0000FF"), ("Cytoplasm", "00FF00"), ("Membrane", "FF0000"))
"""Channel labels and display colours."""
TISSUE_WINDOW = (0, 255, 0, 200)
"""Display window (min, max, start, end) of every channel."""
TISSUE_LOOK = ((6.0, 14.0, 18.0, 165.0), (5.0, 30.0, 45.0, 110.0), (4.0, 12.0, 14.0, 120.0))
"""Per channel: (glass level, tissue base level, tissue texture amplitude, cell amplitude)."""
N_SPRITES = 24  # cell shapes to choose from
SPRITE_RADIUS = 16  # half-size of a cell sprite, level-0 pixels


def _tissue_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft tissue-vs-glass mask in [0, 1]: a few big lobes covering roughly half the slide."""
    coarse = size // 8
    lobes = octave_field(rng, coarse, grids=(3, 12, 48))
    yy, xx = np.ogrid[:coarse, :coarse]
    r = np.hypot(yy / coarse - 0.5, xx / coarse - 0.5).astype(np.float32)
    score = lobes - 1.2 * r  # favour the middle of the slide
    score -= np.percentile(score, 45)
    score = ndimage.zoom(score, 8, order=1, grid_mode=True, mode="reflect")
    return 1 / (1 + np.exp(-60 * score))


class _Cells(NamedTuple):
    """Cell positions (level-0 pixels), sprite variants and per-channel brightness."""

    y: np.ndarray
    x: np.ndarray
    variant: np.ndarray
    brightness: np.ndarray  # (n, 3)


def _place_cells(rng: np.random.Generator, mask: np.ndarray, density: np.ndarray) -> _Cells:
    """Cells on a jittered grid inside the tissue; ``mask``/``density`` are half-resolution."""
    spacing = 22
    grid = np.arange(spacing // 2, TISSUE_SIZE, spacing)
    y, x = (a.ravel() for a in np.meshgrid(grid, grid, indexing="ij"))
    y = y + rng.integers(-5, 6, y.size)
    x = x + rng.integers(-5, 6, x.size)
    keep_p = mask[y // 2, x // 2] * (0.35 + 0.65 * density[y // 2, x // 2])
    keep = (mask[y // 2, x // 2] > 0.5) & (rng.random(y.size) < keep_p)
    n = int(keep.sum())
    return _Cells(
        y[keep],
        x[keep],
        rng.integers(0, N_SPRITES, n),
        rng.uniform(0.6, 1.2, (n, 3)).astype(np.float32),
    )


def _sprites(rng: np.random.Generator) -> np.ndarray:
    """Bank of cell sprites, shape (N_SPRITES, 3, K, K): nucleus, cytoplasm and membrane."""
    k = 2 * SPRITE_RADIUS + 1
    yy, xx = np.mgrid[-SPRITE_RADIUS : SPRITE_RADIUS + 1, -SPRITE_RADIUS : SPRITE_RADIUS + 1]
    bank = np.zeros((N_SPRITES, 3, k, k), np.float32)
    for i in range(N_SPRITES):
        angle = rng.uniform(0, np.pi)
        u = np.cos(angle) * yy + np.sin(angle) * xx
        v = -np.sin(angle) * yy + np.cos(angle) * xx
        a = rng.uniform(4.0, 7.0)
        b = a * rng.uniform(0.6, 1.0)
        r_nuc = np.hypot(u / a, v / b)  # 1 at the nuclear edge
        cell = rng.uniform(9.0, 12.0)
        r_cell = np.hypot(u / cell, v / (cell * rng.uniform(0.8, 1.0)))  # 1 at the membrane
        grain = 1 + 0.3 * unit_noise(rng, (k, k), 1.0)
        nucleus = grain / (1 + np.exp((r_nuc - 1) * a / 0.7))
        body = np.exp(-1.5 * r_cell**2) * (1 - 0.8 * nucleus.clip(0, 1))
        membrane = np.exp(-0.5 * ((r_cell - 1) * cell / 1.1) ** 2)
        bank[i] = nucleus, body, membrane
    return bank


def _render_cells(cells: _Cells, sprites: np.ndarray, channel: int) -> np.ndarray:
    """Add every cell's sprite for ``channel`` to a (TISSUE_SIZE, TISSUE_SIZE) float32 canvas."""
    pad = SPRITE_RADIUS
    k = 2 * pad + 1
    canvas = np.zeros((TISSUE_SIZE + 2 * pad,) * 2, np.float32)
    bank = sprites[:, channel]
    amps = cells.brightness[:, channel]
    for y, x, s, amp in zip(
        cells.y.tolist(), cells.x.tolist(), cells.variant.tolist(), amps.tolist(), strict=True
    ):
        canvas[y : y + k, x : x + k] += amp * bank[s]
    return canvas[pad:-pad, pad:-pad]


def tissue_channels(seed: int = TISSUE_SEED) -> Iterator[np.ndarray]:
    """Render the tissue image's level 0, one channel at a time.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the default gives the course's sample.

    Returns
    -------
    iterator of numpy.ndarray
        The three channels, uint8 (TISSUE_SIZE, TISSUE_SIZE) each, in the order of
        :data:`CHANNELS_TISSUE`.
    """
    rng = np.random.default_rng(seed)
    half = TISSUE_SIZE // 2
    mask = _tissue_mask(rng, half)
    density = octave_field(rng, half, grids=(4, 16, 64))
    cells = _place_cells(rng, mask, density)
    sprites = _sprites(rng)
    for channel, (glass, base, texture, cell_amp) in enumerate(TISSUE_LOOK):
        smooth = glass + mask * (base + texture * octave_field(rng, half))
        full = _render_cells(cells, sprites, channel)
        full *= cell_amp
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):  # add the half-resolution part
            full[dy::2, dx::2] += smooth
        np.clip(full, 0, 255, out=full)
        yield np.rint(full, out=full).astype(np.uint8)


def write_tissue(
    path: Path, course: dict[str, Any], on_channel: Callable[[int], None] | None = None
) -> None:
    """Write the tissue image as OME-NGFF 0.4 / Zarr v2: (3, 8192, 8192) uint8, 6 levels.

    Parameters
    ----------
    path : pathlib.Path
        Folder of the store (replaced if it exists).
    course : dict
        The root group's ``"course"`` attribute (see :func:`course_tools.samples.course_attrs`).
    on_channel : callable, optional
        Called with the channel index after each channel is written (for a progress bar).
    """
    root = zarr.open_group(path, mode="w", zarr_format=2)
    scale = [1.0, TISSUE_PIXEL_UM, TISSUE_PIXEL_UM]
    multiscale = pyramid_multiscale("tissue", "cyx", scale, TISSUE_LEVELS, "mean", "0.4")
    omero = omero_metadata("tissue.zarr", CHANNELS_TISSUE, TISSUE_WINDOW, "0.4")
    root.attrs.update(
        {**image_attributes("0.4", multiscales=[multiscale], omero=omero), "course": course}
    )
    arrays = []
    for level in range(TISSUE_LEVELS):
        n = TISSUE_SIZE >> level
        arrays.append(
            create_level(
                root,
                str(level),
                (len(CHANNELS_TISSUE), n, n),
                "uint8",
                (1, TISSUE_CHUNK, TISSUE_CHUNK),
                compressors=BLOSC_V2,
                chunk_key_encoding=V2_CHUNK_KEYS,
            )
        )
    for channel, level0 in enumerate(tissue_channels()):
        for arr, data in zip(arrays, pyramid(level0, TISSUE_LEVELS), strict=True):
            arr[channel] = data
        logger.debug("wrote tissue channel %d to %s", channel, path)
        if on_channel is not None:
            on_channel(channel)
    logger.info("wrote OME-NGFF 0.4 store %s", path)
