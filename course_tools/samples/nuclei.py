"""The nuclei sample: a 3D two-channel volume of nuclei with their labels, and its two stores.

It imitates the IDR teaching image idr0062A/6001240.zarr: axes c/z/y/x, LaminB1 (a thin bright
shell at each nuclear boundary) and DAPI (the textured nucleus interior), plus a ground-truth label
image with one value per nucleus. The same pixels are written twice: OME-NGFF 0.4 on Zarr v2 with
one chunk per plane, and OME-NGFF 0.5 on Zarr v3 with 256 x 256 chunks (:func:`write_nuclei`). Everything is seeded: the same seed gives the same bytes.

Examples
--------
>>> image, labels = nuclei_volume()  # doctest: +SKIP
>>> image.shape, labels.shape  # doctest: +SKIP
((2, 236, 275, 271), (236, 275, 271))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import zarr
from scipy import ndimage

from course_tools.ngff import image_attributes, label_colors, label_image_metadata, omero_metadata
from course_tools.samples.noise import smooth_curve, unit_noise
from course_tools.samples.pyramid import downsample_nearest, pyramid
from course_tools.samples.writing import (
    BLOSC_V2,
    V2_CHUNK_KEYS,
    blosc_v3,
    pyramid_multiscale,
    write_levels,
)

__all__ = [
    "CHANNELS_NUCLEI",
    "NUCLEI_COUNT",
    "NUCLEI_LEVELS",
    "NUCLEI_SEED",
    "NUCLEI_SHAPE",
    "NUCLEI_WINDOW",
    "TISSUE_Z",
    "TOUCHING",
    "VOXEL_UM",
    "Nucleus",
    "nuclei_volume",
    "place_nuclei",
    "write_nuclei",
]

logger = logging.getLogger(__name__)

NUCLEI_SEED = 6001240
"""Seed of the nuclei volume."""
NUCLEI_SHAPE = (236, 275, 271)
"""Shape (z, y, x) of level 0."""
VOXEL_UM = (0.5002, 0.3604, 0.3604)
"""Voxel size (z, y, x) of level 0, micrometres."""
NUCLEI_LEVELS = 3
"""Pyramid levels (downsampled in y/x only)."""
CHANNELS_NUCLEI = (("LaminB1", "0000FF"), ("DAPI", "FFFF00"))
"""Channel labels and display colours."""
NUCLEI_WINDOW = (0, 65535, 0, 1500)
"""Display window (min, max, start, end) of both channels."""


class Nucleus(NamedTuple):
    """An ellipsoidal nucleus in voxel coordinates of level 0."""

    center: tuple[float, float, float]
    """Centre (z, y, x)."""
    radii: tuple[float, float, float]
    """Semi-axes along z and the (rotated) y, x axes."""
    angle: float
    """Rotation in the y/x plane, radians."""


NUCLEI_COUNT = (250, 290)
"""Range of the number of nuclei drawn (13-26 cut by most planes, as in the real field)."""
TOUCHING = 0.95
"""Two nuclei's bounding spheres may overlap down to this fraction of their radii: some touch."""
TISSUE_Z = (3, 222)
"""Planes [start, stop) the tissue fills: the stack goes a little past it, as real stacks do (the
last 14 planes hold no nucleus, so a label image written in chunks of 32 planes skips its last)."""


STORE_NAMES = {"0.4": "6001240.zarr", "0.5": "6001240_labels.zarr"}
"""The name each version's multiscale carries, as in the IDR."""


def _random_nucleus(rng: np.random.Generator) -> Nucleus:
    """Draw one nucleus 22-48 px (8-17 um) across in y/x, a bit flatter than wide (z voxels are 0.5 um).

    Nuclei lie wholly inside the tissue's planes (:data:`TISSUE_Z`); in y/x they may be cut by the
    border of the field (their centre stays inside), as in a real crop of a tissue.
    """
    ry = rng.uniform(11.0, 22.0)
    rx = float(np.clip(ry * rng.uniform(0.75, 1.3), 10.0, 24.0))
    rz = max(ry, rx) * VOXEL_UM[1] * rng.uniform(0.6, 0.95) / VOXEL_UM[0]
    inset = 0.4 * min(ry, rx)  # at least about half of a cut nucleus stays in the field
    center = (
        rng.uniform(TISSUE_Z[0] + rz, TISSUE_Z[1] - 1 - rz),
        rng.uniform(inset, NUCLEI_SHAPE[1] - inset),
        rng.uniform(inset, NUCLEI_SHAPE[2] - inset),
    )
    return Nucleus(center, (rz, ry, rx), rng.uniform(0, np.pi))


def _bounding_radius_um(n: Nucleus) -> float:
    return max(n.radii[0] * VOXEL_UM[0], max(n.radii[1:]) * VOXEL_UM[1])


def place_nuclei(rng: np.random.Generator, count: int, touching: float = TOUCHING) -> list[Nucleus]:
    """Draw ``count`` random nuclei packed like cells in a tissue: close, some touching.

    A candidate is kept when its bounding sphere overlaps no placed one by more than allowed:
    centres at least ``touching`` x (sum of the two radii) apart. Spheres bound the ellipsoids
    loosely, so most neighbours keep a gap and some touch; none hides another.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random positions, sizes and angles.
    count : int
        Number of nuclei.
    touching : float, optional
        Smallest allowed centre distance as a fraction of the two bounding radii (1 = spheres apart).

    Returns
    -------
    list of Nucleus
        The nuclei, in the order they were placed.

    Raises
    ------
    RuntimeError
        If ``count`` nuclei do not fit after 200 000 tries.
    """
    placed: list[Nucleus] = []
    centers = np.empty((count, 3))
    radii = np.empty(count)
    for _ in range(200_000):
        if len(placed) == count:
            return placed
        cand = _random_nucleus(rng)
        c_um = np.multiply(cand.center, VOXEL_UM)
        r_um = _bounding_radius_um(cand)
        k = len(placed)
        distance = np.linalg.norm(centers[:k] - c_um, axis=1)
        if np.all(distance > touching * (radii[:k] + r_um)):
            centers[k], radii[k] = c_um, r_um
            placed.append(cand)
    raise RuntimeError(f"could only place {len(placed)} of {count} nuclei")


def _nucleus_radius_map(n: Nucleus) -> tuple[tuple[slice, ...], np.ndarray]:
    """Bounding-box slices of ``n`` and, inside them, the normalised ellipsoid radius (1 = edge)."""
    slices, coords = [], []
    for axis, (c, radius) in enumerate(zip(n.center, n.radii, strict=True)):
        lo, hi = max(int(c - radius - 4), 0), min(int(c + radius + 5), NUCLEI_SHAPE[axis])
        slices.append(slice(lo, hi))
        coords.append(np.arange(lo, hi, dtype=np.float32) - np.float32(c))
    dz = coords[0][:, None, None]
    dy, dx = coords[1][None, :, None], coords[2][None, None, :]
    cos, sin = np.float32(np.cos(n.angle)), np.float32(np.sin(n.angle))
    u, v = cos * dy + sin * dx, -sin * dy + cos * dx
    r = np.sqrt((dz / n.radii[0]) ** 2 + (u / n.radii[1]) ** 2 + (v / n.radii[2]) ** 2)
    return tuple(slices), r


def _nucleoli(rng: np.random.Generator, n: Nucleus, sl: tuple[slice, ...]) -> np.ndarray:
    """1-3 dark nucleoli inside ``n``: a boolean mask over the box ``sl`` (holes for the threshold)."""
    grid = np.ogrid[tuple(slice(0, s.stop - s.start) for s in sl)]
    dark = np.zeros(tuple(s.stop - s.start for s in sl), bool)
    for _ in range(int(rng.integers(1, 4))):
        offset = rng.uniform(-0.45, 0.45, 3) * np.asarray(n.radii)
        center = np.asarray(n.center) + offset - [s.start for s in sl]
        r_yx = rng.uniform(2.5, 4.5)
        r_z = r_yx * VOXEL_UM[1] / VOXEL_UM[0]
        dark |= (
            ((grid[0] - center[0]) / r_z) ** 2
            + ((grid[1] - center[1]) / r_yx) ** 2
            + ((grid[2] - center[2]) / r_yx) ** 2
        ) <= 1
    return dark


def _debris(rng: np.random.Generator, labels: np.ndarray, count: int) -> np.ndarray:
    """Small bright specks between the nuclei (not nuclei: absent from the labels), float32."""
    specks = np.zeros(NUCLEI_SHAPE, np.float32)
    placed = 0
    while placed < count:
        low, high = (TISSUE_Z[0], 2, 2), (TISSUE_Z[1] - 2, NUCLEI_SHAPE[1] - 2, NUCLEI_SHAPE[2] - 2)
        center = rng.uniform(low, high).astype(int)
        if labels[tuple(center)]:
            continue
        r = int(rng.integers(1, 3))
        box = tuple(slice(max(c - r, 0), c + r + 1) for c in center)
        specks[box] = np.maximum(specks[box], rng.uniform(900, 1600))
        placed += 1
    return specks


def nuclei_volume(seed: int = NUCLEI_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Render the synthetic nuclei volume and its labels.

    A crowded field like the real one: about 265 nuclei of different sizes, 13-26 in most planes,
    some touching; dark nucleoli inside (holes for a threshold); brightness that varies from
    nucleus to nucleus and fades with depth; small bright specks of debris between the nuclei.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the default gives the course's sample.

    Returns
    -------
    image : numpy.ndarray
        uint16 (c, z, y, x): channel 0 = LaminB1 (a thin bright shell at each nuclear boundary),
        channel 1 = DAPI (textured nucleus interior).
    labels : numpy.ndarray
        uint16 (z, y, x): 0 = background, 1..N = the ellipsoids used for DAPI (where two touch,
        a voxel belongs to the one whose surface is farther away).
    """
    rng = np.random.default_rng(seed)
    nuclei = place_nuclei(rng, int(rng.integers(*NUCLEI_COUNT)))
    texture = np.clip(unit_noise(rng, NUCLEI_SHAPE, (0.8, 1.5, 1.5)), -2.5, 2.5)

    labels = np.zeros(NUCLEI_SHAPE, np.uint16)
    nearest = np.full(NUCLEI_SHAPE, np.inf, np.float32)  # normalised radius of the owning nucleus
    dapi = np.zeros(NUCLEI_SHAPE, np.float32)
    lamina = np.zeros(NUCLEI_SHAPE, np.float32)
    for value, n in enumerate(nuclei, start=1):
        sl, r = _nucleus_radius_map(n)
        inside = (r <= 1.0) & (r < nearest[sl])
        labels[sl][inside] = value
        nearest[sl][inside] = r[inside]
        brightness = rng.uniform(550, 1300)
        interior = brightness * (1 + 0.15 * texture[sl]) * np.where(_nucleoli(rng, n, sl), 0.3, 1)
        dapi[sl][inside] = interior[inside]
        # Distance to the boundary in y/x pixels (approximately), for a ~1 px thick shell.
        dist = (r - 1.0) * np.float32((n.radii[1] + n.radii[2]) / 2)
        shell = np.exp(-0.5 * (dist / 1.1) ** 2) + 0.08 * (r <= 1.0)
        lamina[sl] += np.float32(rng.uniform(600, 1000)) * shell
    dapi += _debris(rng, labels, 60)

    psf = (0.8, 1.0, 1.0)  # blur in voxels (z, y, x)
    depth = np.linspace(1.0, 0.65, NUCLEI_SHAPE[0], dtype=np.float32)[:, None, None]  # fading
    background = _background(rng)
    channels = []
    for clean, level in ((lamina, 90.0), (dapi, 110.0)):
        signal = ndimage.gaussian_filter(clean, psf) * depth + level * background
        channels.append(_add_noise(rng, signal))
    logger.debug("rendered %d nuclei (seed %d)", len(nuclei), seed)
    return np.stack(channels), labels


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth, uneven illumination around 1.0 (float32, z/y/x)."""
    z, y, x = (smooth_curve(rng, n) for n in NUCLEI_SHAPE)
    return (1 + 0.15 * z[:, None, None]) * (1 + 0.2 * y[None, :, None] * x[None, None, :])


def _add_noise(rng: np.random.Generator, signal: np.ndarray) -> np.ndarray:
    """Add shot noise (approximated as Gaussian) plus read noise; returns uint16."""
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    noisy = signal + noise * np.sqrt(np.maximum(signal, 1.0) + 9.0)
    return np.clip(np.rint(noisy), 0, 65535).astype(np.uint16)


# --- stores ---------------------------------------------------------------------------------------
def _per_plane(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (len(shape) - 2) + tuple(shape[-2:])


def _tile_256(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (len(shape) - 2) + (256, 256)


def _write_nuclei(
    path: Path,
    image: np.ndarray,
    labels: np.ndarray,
    course: dict[str, Any],
    name: str,
    version: str,
) -> None:
    """Write image and labels as OME-NGFF ``version`` ("0.4": Zarr v2, "0.5": Zarr v3)."""
    zarr_format: Literal[2, 3]
    if version == "0.4":
        zarr_format, chunks_of, entry_version = 2, _per_plane, version
        array_kwargs: dict[str, Any] = {
            "compressors": BLOSC_V2,
            "chunk_key_encoding": V2_CHUNK_KEYS,
        }
    else:  # 0.5: the version sits once under "ome", not in each entry
        zarr_format, chunks_of, entry_version = 3, _tile_256, None
        array_kwargs = {"compressors": blosc_v3(), "dimension_names": tuple("czyx")}
    scale = [1.0, *VOXEL_UM]

    root = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    multiscale = pyramid_multiscale(name, "czyx", scale, NUCLEI_LEVELS, "mean", entry_version)
    omero = omero_metadata(
        name, CHANNELS_NUCLEI, NUCLEI_WINDOW, entry_version, NUCLEI_SHAPE[0] // 2
    )
    root.attrs.update(
        {**image_attributes(version, multiscales=[multiscale], omero=omero), "course": course}
    )
    write_levels(root, pyramid(image, NUCLEI_LEVELS), chunks_of, **array_kwargs)

    labels_group = root.create_group("labels")
    labels_group.attrs.update(image_attributes(version, labels=["0"]))
    label = labels_group.create_group("0")
    label_multiscale = pyramid_multiscale(
        "nuclei", "czyx", scale, NUCLEI_LEVELS, "nearest", entry_version
    )
    image_label = label_image_metadata(version, label_colors(int(labels.max())))
    label.attrs.update(
        image_attributes(version, multiscales=[label_multiscale], image_label=image_label)
    )
    label_levels = pyramid(labels[None], NUCLEI_LEVELS, downsample_nearest)
    write_levels(label, label_levels, chunks_of, **array_kwargs)
    logger.info("wrote OME-NGFF %s store %s", version, path)


def write_nuclei(
    path: Path, image: np.ndarray, labels: np.ndarray, course: dict[str, Any], version: str
) -> None:
    """Write the nuclei with their labels at ``labels/0``, as OME-NGFF ``version``.

    ``"0.4"``: Zarr v2, one chunk per plane (named ``6001240.zarr``, as in the IDR); ``"0.5"``:
    Zarr v3, (1, 1, 256, 256) chunks (named ``6001240_labels.zarr``).

    Parameters
    ----------
    path : pathlib.Path
        Folder of the store (replaced if it exists).
    image, labels : numpy.ndarray
        Level 0 of the image (c, z, y, x) and of the labels (z, y, x), from :func:`nuclei_volume`.
    course : dict
        The root group's ``"course"`` attribute (see :func:`course_tools.samples.course_attrs`).
    version : {"0.4", "0.5"}
        The OME-NGFF version to write.
    """
    if version not in STORE_NAMES:
        raise ValueError(f"unknown OME-NGFF version {version!r}: use one of {sorted(STORE_NAMES)}")
    _write_nuclei(path, image, labels, course, STORE_NAMES[version], version)
