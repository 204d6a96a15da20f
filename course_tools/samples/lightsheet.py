"""The light-sheet sample: a sparse 3D volume of labelled neurons, sharded and unsharded.

It imitates the layout of the IDR's light-sheet image idr0066 ``ExpA_VIP_ASLM_on.zarr`` (a cleared
mouse brain with tdTomato-labelled VIP interneurons): OME-NGFF 0.5 on Zarr v3, axes z/y/x, uint16,
levels halved in y/x only, every level in shards of 10 planes holding 1 x 256 x 256 chunks, blosc
(zstd, level 5, byte shuffle). The IDR image is 1937 x 2048 x 2048 with 6 levels; this one is
(z, y, x) = :data:`LIGHTSHEET_SHAPE` with :data:`LIGHTSHEET_LEVELS` levels, so it builds in seconds.
(The IDR's shards are [10, 2048, 2048] at every level, larger than its coarse levels; here a shard
is 10 whole planes of its level: :func:`shard_shape`.)

The voxels are anisotropic like a light-sheet's: :data:`LIGHTSHEET_VOXEL_UM` = 2 um between
planes, 0.4 um in y/x, so a 10 um cell body spans 25 pixels but only 5 planes (the IDR's whole brain
has 5 um planes and 6.55 um pixels; a finer scale keeps cells and neurites visible in 2048 pixels).
The content: a dark camera offset, faint smooth autofluorescence, about 2 bright cell bodies per
million voxels (a dimmer nucleus in each) with thin neurites wandering within a few planes, all lit
by a sheet coming from the left (brightness falls smoothly along x) with faint stripes along x, plus
a little camera noise.

The same pixels are written twice (:func:`write_lightsheet`): sharded (every level in shards of
:data:`SHARD_PLANES` whole planes, one object per shard) and unsharded (one object per 256 x 256
chunk), so the lessons can compare object counts and requests. Everything is seeded.

Examples
--------
>>> shard_shape((20, 1024, 1024))
(10, 1024, 1024)
>>> volume = lightsheet_volume()  # doctest: +SKIP
>>> volume.shape, volume.dtype  # doctest: +SKIP
((20, 2048, 2048), dtype('uint16'))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from course_tools.ngff import image_attributes, omero_metadata
from course_tools.samples.noise import octave_field, unit_noise
from course_tools.samples.pyramid import pyramid
from course_tools.samples.writing import blosc_v3, create_level, pyramid_multiscale

__all__ = [
    "CHANNELS_LIGHTSHEET",
    "INNER_CHUNK",
    "LIGHTSHEET_LEVELS",
    "LIGHTSHEET_NAME",
    "LIGHTSHEET_SEED",
    "LIGHTSHEET_SHAPE",
    "LIGHTSHEET_VOXEL_UM",
    "LIGHTSHEET_WINDOW",
    "SHARD_PLANES",
    "check_shape",
    "lightsheet_volume",
    "shard_shape",
    "write_lightsheet",
]

logger = logging.getLogger(__name__)

LIGHTSHEET_SEED = 660066
"""Seed of the light-sheet volume."""
LIGHTSHEET_SHAPE = (20, 2048, 2048)
"""Shape (z, y, x) of level 0: two shards of 10 planes at every level."""
LIGHTSHEET_VOXEL_UM = (2.0, 0.4, 0.4)
"""Voxel size (z, y, x) of level 0, micrometres: planes 2 um apart, 0.4 um pixels."""
LIGHTSHEET_LEVELS = 3
"""Pyramid levels (downsampled by 2 x 2 means in y/x only, like the IDR's)."""
SHARD_PLANES = 10
"""Planes per shard: every shard holds whole planes of its level, like the IDR's."""
INNER_CHUNK = (1, 256, 256)
"""Shape (z, y, x) of a chunk: an inner chunk of a shard, or one object of the unsharded copy."""
LIGHTSHEET_NAME = "ExpA_VIP_ASLM_on.zarr"
"""The image's name in its metadata (the IDR image's)."""
CHANNELS_LIGHTSHEET = (("tdTomato", "FFFFFF"),)
"""Channel label and display colour (the IDR image's)."""
LIGHTSHEET_WINDOW = (0, 65535, 90, 1200)
"""Display window (min, max, start, end)."""

CAMERA_OFFSET = 100.0  # counts of a dark pixel
AUTOFLUORESCENCE = 30.0  # counts of the brightest tissue background at the left edge
CELLS_PER_MVOXEL = 2.0  # cell bodies per million voxels (160 in the sample)
SHEET_FALLOFF = 0.7  # brightness at the right edge = exp(-SHEET_FALLOFF) of the left's
READ_NOISE = 1.6  # counts
SHOT_NOISE = 0.08  # variance added per count of signal


def shard_shape(level_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shard shape of a level: :data:`SHARD_PLANES` whole planes.

    Parameters
    ----------
    level_shape : tuple of int
        Shape (z, y, x) of the level.

    Returns
    -------
    tuple of int
        ``(SHARD_PLANES, y, x)``.

    Examples
    --------
    >>> shard_shape((20, 512, 512))
    (10, 512, 512)
    """
    return (SHARD_PLANES, *level_shape[1:])


def check_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Check that a level-0 shape (z, y, x) fits whole shards and whole chunks at every level.

    Parameters
    ----------
    shape : tuple of int
        The shape to check.

    Returns
    -------
    tuple of int
        ``shape`` as a tuple of three ints.

    Raises
    ------
    ValueError
        If z is not a positive multiple of :data:`SHARD_PLANES`, or y or x is not a positive
        multiple of 256 x 2**(levels - 1) (1024), so the coarsest level still holds whole chunks.

    Examples
    --------
    >>> check_shape((10, 1024, 2048))
    (10, 1024, 2048)
    >>> check_shape((15, 1024, 1024))
    Traceback (most recent call last):
    ...
    ValueError: light-sheet shape (15, 1024, 1024) must be (z, y, x) with z a multiple of 10 and y, x multiples of 1024
    """
    side = INNER_CHUNK[-1] << (LIGHTSHEET_LEVELS - 1)
    steps = (SHARD_PLANES, side, side)
    if (
        len(shape) != 3
        or not all(isinstance(n, int | np.integer) and n > 0 for n in shape)
        or any(n % step for n, step in zip(shape, steps, strict=True))
    ):
        raise ValueError(
            f"light-sheet shape {tuple(shape)} must be (z, y, x) with z a multiple of "
            f"{SHARD_PLANES} and y, x multiples of {side}"
        )
    return (int(shape[0]), int(shape[1]), int(shape[2]))


# --- rendering ------------------------------------------------------------------------------------
def _cell_bodies(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Add soft ellipsoidal cell bodies (a dimmer nucleus inside) to ``canvas``; return centres."""
    nz, ny, nx = canvas.shape
    n = max(1, round(CELLS_PER_MVOXEL * canvas.size / 1e6))
    centres = np.column_stack(
        [rng.uniform(0, nz - 1, n), rng.uniform(0, ny, n), rng.uniform(0, nx, n)]
    )
    for centre in centres:
        r_yx = rng.uniform(10.0, 17.0)  # 4-7 um
        r_z = r_yx * LIGHTSHEET_VOXEL_UM[1] / LIGHTSHEET_VOXEL_UM[0]
        radii = np.array([r_z, r_yx * rng.uniform(0.75, 1.0), r_yx], np.float32)
        amp = np.float32(rng.uniform(500, 2500))
        lo = np.maximum((centre - radii - 3).astype(int), 0)
        hi = np.minimum((centre + radii + 4).astype(int), canvas.shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        axes = np.ogrid[box]
        r = np.sqrt(sum(((a - c) / s) ** 2 for a, c, s in zip(axes, centre, radii, strict=True)))
        body = 1 / (1 + np.exp((r - 1) * 6)) * (1 - 0.4 * np.exp(-((r / 0.5) ** 2)))
        canvas[box] += amp * body.astype(np.float32)
    return centres


def _neurite_points(rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Points (z, y, x, brightness) one pixel apart along 2-4 wandering neurites per cell."""
    parts = []
    for cz, cy, cx in centres:
        for _ in range(int(rng.integers(2, 5))):
            n = int(rng.integers(150, 700))
            heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.04, n))  # wanders
            y = cy + np.cumsum(np.sin(heading))
            x = cx + np.cumsum(np.cos(heading))
            z = cz + np.arange(n) * rng.uniform(-0.012, 0.012)  # a few planes over its length
            amp = rng.uniform(150, 450) * np.linspace(1.0, 0.3, n)  # fading away from the cell
            parts.append(np.column_stack([z, y, x, amp]))
    return np.concatenate(parts)


def _add_neurites(canvas: np.ndarray, points: np.ndarray) -> None:
    """Splat ``points`` into ``canvas``: a 4 x 4 Gaussian in y/x (sigma 0.8 px), linear in z."""
    nz, ny, nx = canvas.shape
    z, y, x, amp = points.T
    z0 = np.floor(z).astype(np.int64)
    y0, x0 = (np.floor(v).astype(np.int64) - 1 for v in (y, x))  # first of the 4 taps
    taps = np.arange(4)
    gy = np.exp(-0.5 * ((y0[:, None] + taps - y[:, None]) / 0.8) ** 2)
    gx = np.exp(-0.5 * ((x0[:, None] + taps - x[:, None]) / 0.8) ** 2)
    gz = np.column_stack([1 - (z - z0), z - z0])
    weight = (amp[:, None, None, None] / 2.0) * gz[:, :, None, None]  # the line's peak ~ amp
    weight = weight * gy[:, None, :, None] * gx[:, None, None, :]
    iz = z0[:, None, None, None] + np.arange(2)[None, :, None, None]
    iy = y0[:, None, None, None] + taps[None, None, :, None]
    ix = x0[:, None, None, None] + taps[None, None, None, :]
    iz, iy, ix = np.broadcast_arrays(iz, iy, ix)
    inside = (iz >= 0) & (iz < nz) & (iy >= 0) & (iy < ny) & (ix >= 0) & (ix < nx)
    flat = (iz[inside] * ny + iy[inside]) * nx + ix[inside]
    np.add.at(canvas.reshape(-1), flat, weight[inside].astype(np.float32))


def lightsheet_volume(
    seed: int = LIGHTSHEET_SEED, shape: tuple[int, int, int] = LIGHTSHEET_SHAPE
) -> np.ndarray:
    """Render the synthetic light-sheet volume (level 0).

    Parameters
    ----------
    seed : int
        Seed of the random generator; the default gives the course's sample.
    shape : tuple of int
        Shape (z, y, x); the default gives the course's sample, smaller ones are quick tests
        (checked by :func:`check_shape`; the cell density stays the same).

    Returns
    -------
    numpy.ndarray
        uint16 (z, y, x): camera offset (100 counts), faint autofluorescence, bright cell bodies
        and neurites, dimmer to the right (the sheet comes from the left), faint stripes along
        x, and camera noise.

    Examples
    --------
    >>> small = lightsheet_volume(1, (10, 1024, 1024))
    >>> small.shape, small.dtype, bool((small == lightsheet_volume(1, (10, 1024, 1024))).all())
    ((10, 1024, 1024), dtype('uint16'), True)
    """
    nz, ny, nx = shape = check_shape(shape)
    rng = np.random.default_rng(seed)
    canvas = np.zeros(shape, np.float32)
    centres = _cell_bodies(rng, canvas)
    _add_neurites(canvas, _neurite_points(rng, centres))
    # autofluorescence: two smooth fields, blended along z
    first, last = (AUTOFLUORESCENCE * octave_field(rng, ny, grids=(4, 16, 64)) for _ in range(2))
    last -= first
    sheet = np.exp(-SHEET_FALLOFF * np.arange(nx, dtype=np.float32) / nx)
    stripes = 1 + 0.08 * np.clip(unit_noise(rng, (nz, ny), (1.0, 3.0)), -3, 3)
    out = np.empty(shape, np.uint16)
    spread, noise = np.empty((2, ny, nx), np.float32)
    for z in range(nz):
        signal = canvas[z]
        signal += first
        signal += np.float32(z / max(nz - 1, 1)) * last
        signal *= np.outer(stripes[z], sheet)
        np.multiply(signal, SHOT_NOISE, out=spread)  # shot noise: variance grows with the signal
        spread += READ_NOISE**2
        np.sqrt(spread, out=spread)
        rng.standard_normal(dtype=np.float32, out=noise)
        noise *= spread
        signal += noise
        signal += CAMERA_OFFSET
        np.clip(signal, 0, 65535, out=signal)
        out[z] = np.rint(signal, out=signal)
    logger.debug("rendered the light-sheet volume (seed %d)", seed)
    return out


# --- stores ---------------------------------------------------------------------------------------
def write_lightsheet(
    path: Path, image: np.ndarray, course: dict[str, Any], *, sharded: bool
) -> None:
    """Write the light-sheet volume as OME-NGFF 0.5 / Zarr v3, sharded or not.

    Parameters
    ----------
    path : pathlib.Path
        Folder of the store (replaced if it exists).
    image : numpy.ndarray
        Level 0 (z, y, x), from :func:`lightsheet_volume`; the other levels are its 2 x 2 means.
    course : dict
        The root group's ``"course"`` attribute (see :func:`course_tools.samples.course_attrs`).
    sharded : bool
        True: every level in shards of :data:`SHARD_PLANES` planes (:func:`shard_shape`) holding
        :data:`INNER_CHUNK` chunks, one object per shard. False: one object per chunk.

    Raises
    ------
    ValueError
        If ``image`` does not have a shape :func:`check_shape` accepts.
    """
    check_shape(image.shape)
    root = zarr.open_group(path, mode="w", zarr_format=3)
    multiscale = pyramid_multiscale(
        LIGHTSHEET_NAME, "zyx", LIGHTSHEET_VOXEL_UM, LIGHTSHEET_LEVELS, "mean", None
    )
    omero = omero_metadata(
        LIGHTSHEET_NAME, CHANNELS_LIGHTSHEET, LIGHTSHEET_WINDOW, None, image.shape[0] // 2
    )
    root.attrs.update(
        {**image_attributes("0.5", multiscales=[multiscale], omero=omero), "course": course}
    )
    for level, data in enumerate(pyramid(image, LIGHTSHEET_LEVELS)):
        arr = create_level(
            root,
            str(level),
            data.shape,
            data.dtype,
            INNER_CHUNK,
            shards=shard_shape(data.shape) if sharded else None,
            compressors=blosc_v3(),
            dimension_names=("z", "y", "x"),
        )
        arr[...] = data
    logger.info("wrote OME-NGFF 0.5 store %s (%s)", path, "sharded" if sharded else "unsharded")
