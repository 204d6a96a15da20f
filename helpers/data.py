"""Synthetic sample OME-Zarr datasets for the course, built locally and deterministically.

The course teaches remote access to big microscopy images stored as OME-Zarr on S3. The real
public datasets live on the IDR's S3 endpoint; to work offline (and in CI) the course serves
look-alike copies from a local cloud. This module generates those copies:

``v0.4/idr0062A/6001240.zarr`` (key ``"nuclei"``)
    Mirrors the layout of the IDR teaching image idr0062A/6001240.zarr: OME-NGFF 0.4 on Zarr v2,
    axes c/z/y/x, 2 channels (LaminB1, DAPI), 3 levels downsampled in y/x only, one chunk per
    plane, plus a ground-truth ``labels/0`` image with one label value per nucleus.
``v0.5/idr0062A/6001240_labels.zarr`` (key ``"nuclei_v05"``)
    The same pixels and labels written as OME-NGFF 0.5 on Zarr v3 with 256 x 256 chunks.
``synthetic/tissue.zarr`` (key ``"tissue"``)
    A large 2D pyramid in the spirit of idr0073A/9798462.zarr: 3 channels, 8192 x 8192 uint8 at
    level 0, 6 levels, 512 x 512 chunks, with tissue-like texture at every zoom level.

The pixels are synthetic (random ellipsoidal nuclei, smooth random fields, sprite-rendered
cells) but shaped so the course exercises behave like on the real data: an Otsu threshold
segments the DAPI channel well, and coarse pyramid levels really need fewer chunks. Every root
group carries a ``"course"`` attribute marking the data as synthetic.

Everything is seeded, so two builds give byte-identical files. ``build_samples`` writes a stamp
(``.build-stamp.json``) with a hash of this file and the library versions, and skips the build
when nothing changed. Build from the command line with::

    python -m helpers.data build [--out DIR] [--force]
    python -m helpers.data info
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numcodecs
import numpy as np
import scipy
import zarr
from scipy import ndimage
from tqdm.auto import tqdm

from helpers.catalog import CATALOG, remote_url
from helpers.paths import samples_dir


class SampleDataset(NamedTuple):
    """One generated sample store."""

    path: str
    """Store path relative to the samples folder (also the object-key prefix in the bucket)."""
    description: str
    """One-line description."""
    mirrors: str
    """The public dataset whose layout it imitates."""


def _sample(key: str, description: str) -> SampleDataset:
    """A sample store at the catalog's local path, imitating the catalog's public dataset."""
    entry = CATALOG[key]
    return SampleDataset(entry.local_path, description, remote_url(entry.remote_path))


DATASETS: dict[str, SampleDataset] = {
    "nuclei": _sample(
        "nuclei", "3D nuclei, 2 channels (LaminB1, DAPI) + labels; OME-NGFF 0.4 on Zarr v2"
    ),
    "nuclei_v05": _sample(
        "nuclei_v05", "The same nuclei and labels as OME-NGFF 0.5 on Zarr v3, 256 x 256 chunks"
    ),
    "tissue": _sample(
        "tissue",
        "2D tissue-like pyramid, 3 channels, 8192 x 8192 uint8, 6 levels; OME-NGFF 0.4 on Zarr v2",
    ),
}
"""The sample stores, by key. ``DATASETS[key].path`` is relative to the samples folder."""

STAMP_NAME = ".build-stamp.json"
"""File in the samples folder that records what generated its content."""

# --- nuclei volume (dataset 1 and 2) ---------------------------------------------------------
NUCLEI_SEED = 6001240
NUCLEI_SHAPE = (236, 275, 271)  # z, y, x
VOXEL_UM = (0.5002, 0.3604, 0.3604)  # z, y, x micrometres at level 0
NUCLEI_LEVELS = 3
CHANNELS_NUCLEI = (("LaminB1", "0000FF"), ("DAPI", "FFFF00"))

# --- tissue pyramid (dataset 3) --------------------------------------------------------------
TISSUE_SEED = 9798462
TISSUE_SIZE = 8192
TISSUE_LEVELS = 6
TISSUE_CHUNK = 512
TISSUE_PIXEL_UM = 0.5
CHANNELS_TISSUE = (("Nuclei", "0000FF"), ("Cytoplasm", "00FF00"), ("Membrane", "FF0000"))
# Per channel: (glass level, tissue base level, tissue texture amplitude, cell amplitude)
TISSUE_LOOK = ((6.0, 14.0, 18.0, 165.0), (5.0, 30.0, 45.0, 110.0), (4.0, 12.0, 14.0, 120.0))
N_SPRITES = 24  # cell shapes to choose from
SPRITE_RADIUS = 16  # half-size of a cell sprite, level-0 pixels

BLOSC_V2 = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
"""Compressor of the Zarr v2 stores (the IDR stores use blosc too)."""


def blosc_v3() -> zarr.codecs.BloscCodec:
    """Compressor of the Zarr v3 store: the same blosc/zstd settings as the v2 stores."""
    return zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


# Write every chunk, even all-zero ones, so the object count of each level is predictable.
ARRAY_CONFIG = {"write_empty_chunks": True}


# =============================================================================================
# Small helpers
# =============================================================================================


def dataset_path(key: str, out: Path | None = None) -> Path:
    """Local path of the sample store ``key`` (a key of ``DATASETS``) inside ``out``.

    ``out`` defaults to ``helpers.paths.samples_dir()``.
    """
    return (samples_dir() if out is None else Path(out)) / DATASETS[key].path


def course_attrs(description: str, mirrors: str) -> dict[str, Any]:
    """The ``"course"`` attribute that marks a store as synthetic course data."""
    return {
        "synthetic": True,
        "generator": "helpers.data",
        "description": description,
        "mirrors": mirrors,
    }


def downsample_mean(a: np.ndarray) -> np.ndarray:
    """Halve the last two axes by averaging 2 x 2 blocks (odd last row/column dropped).

    Integer input stays integer (rounded half up), so the result has the dtype of ``a``.
    """
    h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
    total = a[..., 0:h:2, 0:w:2].astype(np.uint32 if a.dtype.itemsize > 1 else np.uint16)
    total += a[..., 1:h:2, 0:w:2]
    total += a[..., 0:h:2, 1:w:2]
    total += a[..., 1:h:2, 1:w:2]
    total += 2
    total //= 4
    return total.astype(a.dtype)


def downsample_nearest(a: np.ndarray) -> np.ndarray:
    """Halve the last two axes by keeping every 2nd pixel (for labels; sizes floor-divided)."""
    h, w = a.shape[-2] // 2 * 2, a.shape[-1] // 2 * 2
    return np.ascontiguousarray(a[..., :h:2, :w:2])


def pyramid(
    level0: np.ndarray,
    levels: int,
    reduce: Callable[[np.ndarray], np.ndarray] = downsample_mean,
) -> list[np.ndarray]:
    """``levels`` arrays, each the previous one halved in y/x by ``reduce``."""
    out = [level0]
    for _ in range(levels - 1):
        out.append(reduce(out[-1]))
    return out


def label_colors(n: int) -> list[dict[str, Any]]:
    """Distinct, deterministic RGBA display colours for label values 1..n."""
    colors = []
    for value in range(1, n + 1):
        hue = (value * 0.618034) % 1.0
        rgb = [
            int(round(255 * (0.55 + 0.45 * math.cos(2 * math.pi * (hue - k / 3)))))
            for k in range(3)
        ]
        colors.append({"label-value": value, "rgba": [*rgb, 255]})
    return colors


def store_stats(path: Path) -> tuple[int, int]:
    """(total bytes, number of files) below ``path``; (0, 0) if it does not exist."""
    if not path.exists():
        return 0, 0
    sizes = [f.stat().st_size for f in path.rglob("*") if f.is_file()]
    return sum(sizes), len(sizes)


def _smooth_curve(rng: np.random.Generator, n: int, knots: int = 5) -> np.ndarray:
    """A smooth random 1D curve of length ``n`` with values in about [-1, 1]."""
    xs = np.linspace(0, n - 1, knots)
    return np.interp(np.arange(n), xs, rng.uniform(-1, 1, knots)).astype(np.float32)


def _unit_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: float | Sequence[float]
) -> np.ndarray:
    """Gaussian-blurred white noise rescaled to mean 0, standard deviation 1 (float32)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma)
    field -= field.mean()
    field /= field.std()
    return field


# =============================================================================================
# Dataset 1/2 pixels: nuclei with a lamina shell
# =============================================================================================


class Nucleus(NamedTuple):
    """An ellipsoidal nucleus in voxel coordinates of level 0."""

    center: tuple[float, float, float]  # z, y, x
    radii: tuple[float, float, float]  # semi-axes along z and the (rotated) y, x axes
    angle: float  # rotation in the y/x plane, radians


def _random_nucleus(rng: np.random.Generator) -> Nucleus:
    """One nucleus 25-60 px across in y/x, a bit flatter than wide (z voxels are 0.5 um)."""
    ry = rng.uniform(12.5, 30.0)
    rx = float(np.clip(ry * rng.uniform(0.75, 1.3), 12.5, 30.0))
    rz = max(ry, rx) * VOXEL_UM[1] * rng.uniform(0.6, 0.95) / VOXEL_UM[0]
    reach = max(ry, rx) + 3  # keep the whole nucleus, lamina included, inside the image
    center = (
        rng.uniform(rz + 3, NUCLEI_SHAPE[0] - rz - 3),
        rng.uniform(reach, NUCLEI_SHAPE[1] - reach),
        rng.uniform(reach, NUCLEI_SHAPE[2] - reach),
    )
    return Nucleus(center, (rz, ry, rx), rng.uniform(0, np.pi))


def _bounding_radius_um(n: Nucleus) -> float:
    return max(n.radii[0] * VOXEL_UM[0], max(n.radii[1:]) * VOXEL_UM[1])


def place_nuclei(rng: np.random.Generator, count: int) -> list[Nucleus]:
    """``count`` random nuclei whose bounding spheres stay at least 1 um apart."""
    placed: list[Nucleus] = []
    for _ in range(100_000):
        if len(placed) == count:
            return placed
        cand = _random_nucleus(rng)
        c_um = np.multiply(cand.center, VOXEL_UM)
        if all(
            np.linalg.norm(c_um - np.multiply(other.center, VOXEL_UM))
            > _bounding_radius_um(cand) + _bounding_radius_um(other) + 1.0
            for other in placed
        ):
            placed.append(cand)
    raise RuntimeError(f"could only place {len(placed)} of {count} nuclei")


def _nucleus_radius_map(n: Nucleus) -> tuple[tuple[slice, ...], np.ndarray]:
    """Bounding-box slices of ``n`` and, inside them, the normalised ellipsoid radius (1 = edge)."""
    slices, coords = [], []
    for axis, (c, r) in enumerate(zip(n.center, n.radii, strict=True)):
        lo, hi = max(int(c - r - 4), 0), min(int(c + r + 5), NUCLEI_SHAPE[axis])
        slices.append(slice(lo, hi))
        coords.append(np.arange(lo, hi, dtype=np.float32) - np.float32(c))
    dz = coords[0][:, None, None]
    dy, dx = coords[1][None, :, None], coords[2][None, None, :]
    cos, sin = np.float32(np.cos(n.angle)), np.float32(np.sin(n.angle))
    u, v = cos * dy + sin * dx, -sin * dy + cos * dx
    r = np.sqrt((dz / n.radii[0]) ** 2 + (u / n.radii[1]) ** 2 + (v / n.radii[2]) ** 2)
    return tuple(slices), r


def nuclei_volume(seed: int = NUCLEI_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Render the synthetic nuclei volume.

    Returns ``(image, labels)``: ``image`` is uint16 (c, z, y, x) with channel 0 = LaminB1 (a thin
    bright shell at each nuclear boundary) and channel 1 = DAPI (textured nucleus interior);
    ``labels`` is uint16 (z, y, x) with 0 = background and 1..N = the ellipsoids used for DAPI.
    """
    rng = np.random.default_rng(seed)
    nuclei = place_nuclei(rng, int(rng.integers(18, 23)))
    texture = np.clip(_unit_noise(rng, NUCLEI_SHAPE, (0.8, 1.5, 1.5)), -2.5, 2.5)

    labels = np.zeros(NUCLEI_SHAPE, np.uint16)
    dapi = np.zeros(NUCLEI_SHAPE, np.float32)
    lamina = np.zeros(NUCLEI_SHAPE, np.float32)
    for value, n in enumerate(nuclei, start=1):
        sl, r = _nucleus_radius_map(n)
        inside = r <= 1.0
        labels[sl][inside] = value
        brightness = rng.uniform(750, 1150)
        dapi[sl][inside] = brightness * (1 + 0.15 * texture[sl][inside])
        # Distance to the boundary in y/x pixels (approximately), for a ~1 px thick shell.
        dist = (r - 1.0) * np.float32((n.radii[1] + n.radii[2]) / 2)
        shell = np.exp(-0.5 * (dist / 1.1) ** 2) + 0.08 * inside
        lamina[sl] += np.float32(rng.uniform(600, 1000)) * shell

    psf = (0.8, 1.0, 1.0)  # blur in voxels (z, y, x)
    background = _background(rng)
    channels = []
    for clean, level in ((lamina, 90.0), (dapi, 110.0)):
        signal = ndimage.gaussian_filter(clean, psf) + level * background
        channels.append(_add_noise(rng, signal))
    return np.stack(channels), labels


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth, uneven illumination around 1.0 (float32, z/y/x)."""
    z, y, x = (_smooth_curve(rng, n) for n in NUCLEI_SHAPE)
    return (1 + 0.15 * z[:, None, None]) * (1 + 0.2 * y[None, :, None] * x[None, None, :])


def _add_noise(rng: np.random.Generator, signal: np.ndarray) -> np.ndarray:
    """Shot noise (approximated as Gaussian) plus read noise; returns uint16."""
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    noisy = signal + noise * np.sqrt(np.maximum(signal, 1.0) + 9.0)
    return np.clip(np.rint(noisy), 0, 65535).astype(np.uint16)


# =============================================================================================
# Dataset 3 pixels: tissue-like 2D texture
# =============================================================================================


def _octave_field(
    rng: np.random.Generator, size: int, grids: Sequence[int] = (4, 16, 64, 256)
) -> np.ndarray:
    """Multi-scale smooth noise of shape (size, size), values in [0, 1] (float32).

    Sums random grids of increasing resolution (amplitude halving per octave) on a ``grids[-1]``
    grid, then upsamples that once, bilinearly, to ``size``.
    """
    base = grids[-1]
    field = np.zeros((base, base), np.float32)
    for octave, n in enumerate(grids):
        g = rng.standard_normal((n, n)).astype(np.float32)
        field += 0.5**octave * ndimage.zoom(g, base / n, order=3, grid_mode=True, mode="reflect")
    field = ndimage.zoom(field, size / base, order=1, grid_mode=True, mode="reflect")
    lo, hi = np.percentile(field[::16, ::16], [1, 99])
    return np.clip((field - lo) / (hi - lo), 0, 1)


def _tissue_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft tissue-vs-glass mask in [0, 1]: a few big lobes covering roughly half the slide."""
    coarse = size // 8
    lobes = _octave_field(rng, coarse, grids=(3, 12, 48))
    yy, xx = np.ogrid[:coarse, :coarse]
    r = np.hypot(yy / coarse - 0.5, xx / coarse - 0.5).astype(np.float32)
    score = lobes - 1.2 * r  # favour the middle of the slide
    score -= np.percentile(score, 45)
    score = ndimage.zoom(score, 8, order=1, grid_mode=True, mode="reflect")
    return 1 / (1 + np.exp(-60 * score))


class Cells(NamedTuple):
    """Cell positions (level-0 pixels), sprite variants and per-channel brightness."""

    y: np.ndarray
    x: np.ndarray
    variant: np.ndarray
    brightness: np.ndarray  # (n, 3)


def _place_cells(rng: np.random.Generator, mask: np.ndarray, density: np.ndarray) -> Cells:
    """Cells on a jittered grid inside the tissue; ``mask``/``density`` are half-resolution."""
    spacing = 22
    grid = np.arange(spacing // 2, TISSUE_SIZE, spacing)
    y, x = (a.ravel() for a in np.meshgrid(grid, grid, indexing="ij"))
    y = y + rng.integers(-5, 6, y.size)
    x = x + rng.integers(-5, 6, x.size)
    keep_p = mask[y // 2, x // 2] * (0.35 + 0.65 * density[y // 2, x // 2])
    keep = (mask[y // 2, x // 2] > 0.5) & (rng.random(y.size) < keep_p)
    n = int(keep.sum())
    return Cells(
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
        grain = 1 + 0.3 * _unit_noise(rng, (k, k), 1.0)
        nucleus = grain / (1 + np.exp((r_nuc - 1) * a / 0.7))
        body = np.exp(-1.5 * r_cell**2) * (1 - 0.8 * nucleus.clip(0, 1))
        membrane = np.exp(-0.5 * ((r_cell - 1) * cell / 1.1) ** 2)
        bank[i] = nucleus, body, membrane
    return bank


def _render_cells(cells: Cells, sprites: np.ndarray, channel: int) -> np.ndarray:
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
    """Yield the three level-0 channels (uint8, TISSUE_SIZE x TISSUE_SIZE) of the tissue image.

    Smooth parts (glass/tissue mask, multi-scale texture) are computed at half resolution and
    doubled; cells are rendered from a small sprite bank at full resolution.
    """
    rng = np.random.default_rng(seed)
    half = TISSUE_SIZE // 2
    mask = _tissue_mask(rng, half)
    density = _octave_field(rng, half, grids=(4, 16, 64))
    cells = _place_cells(rng, mask, density)
    sprites = _sprites(rng)
    for channel, (glass, base, texture, cell_amp) in enumerate(TISSUE_LOOK):
        smooth = glass + mask * (base + texture * _octave_field(rng, half))
        full = _render_cells(cells, sprites, channel)
        full *= cell_amp
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):  # add the half-resolution part
            full[dy::2, dx::2] += smooth
        np.clip(full, 0, 255, out=full)
        yield np.rint(full, out=full).astype(np.uint8)


# =============================================================================================
# Metadata
# =============================================================================================


def _axes(names: str) -> list[dict[str, str]]:
    return [
        {"name": a, "type": "channel"}
        if a == "c"
        else {"name": a, "type": "space", "unit": "micrometer"}
        for a in names
    ]


def multiscale(
    name: str, axes: str, level0_scale: list[float], levels: int, kind: str, version: str | None
) -> dict[str, Any]:
    """One ``multiscales`` entry: levels "0".."n-1", each scaled by 2 more in y and x."""
    datasets = []
    for level in range(levels):
        f = 2**level
        scale = [s * f if a in "yx" else s for a, s in zip(axes, level0_scale, strict=True)]
        datasets.append(
            {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
    how = "mean of 2x2 blocks in y/x" if kind == "mean" else "every 2nd pixel in y/x"
    entry: dict[str, Any] = {}
    if version is not None:
        entry["version"] = version
    entry |= {
        "name": name,
        "axes": _axes(axes),
        "datasets": datasets,
        "type": kind,
        "metadata": {"description": f"downsampled by {how}", "method": "helpers.data"},
    }
    return entry


def omero(
    name: str,
    channels: Sequence[tuple[str, str]],
    window: tuple[int, int, int, int],
    version: str | None,
    default_z: int = 0,
) -> dict[str, Any]:
    """``omero`` rendering metadata; ``window`` is (min, max, start, end) for every channel."""
    lo, hi, start, end = window
    meta: dict[str, Any] = {"id": 1, "name": name}
    if version is not None:
        meta["version"] = version
    meta["channels"] = [
        {
            "active": True,
            "coefficient": 1,
            "color": color,
            "family": "linear",
            "inverted": False,
            "label": label,
            "window": {"min": lo, "max": hi, "start": start, "end": end},
        }
        for label, color in channels
    ]
    meta["rdefs"] = {"defaultT": 0, "defaultZ": default_z, "model": "color"}
    return meta


# =============================================================================================
# Writing stores
# =============================================================================================


def _write_levels(
    group: zarr.Group,
    levels: list[np.ndarray],
    chunks_of: Callable[[tuple[int, ...]], tuple[int, ...]],
    **array_kwargs: Any,
) -> None:
    """Write ``levels`` as arrays "0", "1", ... of ``group``; ``chunks_of(shape)`` gives chunks."""
    for i, data in enumerate(levels):
        arr = group.create_array(
            str(i),
            shape=data.shape,
            dtype=data.dtype,
            chunks=chunks_of(data.shape),
            fill_value=0,
            config=ARRAY_CONFIG,
            **array_kwargs,
        )
        arr[...] = data


def _per_plane(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (len(shape) - 2) + tuple(shape[-2:])


def _tile_256(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (len(shape) - 2) + (256, 256)


def write_nuclei_v04(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    """Dataset 1: OME-NGFF 0.4 / Zarr v2, one chunk per plane, labels at ``labels/0``."""
    ds = DATASETS["nuclei"]
    v2 = {
        "compressors": BLOSC_V2,
        "chunk_key_encoding": {"name": "v2", "separator": "/"},
    }
    scale = [1.0, *VOXEL_UM]
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs.update(
        {
            "multiscales": [
                multiscale("6001240.zarr", "czyx", scale, NUCLEI_LEVELS, "mean", "0.4")
            ],
            "omero": omero(
                "6001240.zarr", CHANNELS_NUCLEI, (0, 65535, 0, 1500), "0.4", NUCLEI_SHAPE[0] // 2
            ),
            "course": course_attrs(ds.description, ds.mirrors),
        }
    )
    _write_levels(root, pyramid(image, NUCLEI_LEVELS), _per_plane, **v2)

    labels_group = root.create_group("labels")
    labels_group.attrs.update({"labels": ["0"]})
    label = labels_group.create_group("0")
    label.attrs.update(
        {
            "multiscales": [multiscale("nuclei", "czyx", scale, NUCLEI_LEVELS, "nearest", "0.4")],
            "image-label": {
                "version": "0.4",
                "colors": label_colors(int(labels.max())),
                "source": {"image": "../../"},
            },
        }
    )
    label_levels = pyramid(labels[None], NUCLEI_LEVELS, downsample_nearest)
    _write_levels(label, label_levels, _per_plane, **v2)


def write_nuclei_v05(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    """Dataset 2: OME-NGFF 0.5 / Zarr v3, (1, 1, 256, 256) chunks, labels at ``labels/0``."""
    ds = DATASETS["nuclei_v05"]
    v3 = {"compressors": blosc_v3(), "dimension_names": tuple("czyx")}
    scale = [1.0, *VOXEL_UM]
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.attrs.update(
        {
            "ome": {
                "version": "0.5",
                "multiscales": [
                    multiscale("6001240_labels.zarr", "czyx", scale, NUCLEI_LEVELS, "mean", None)
                ],
                "omero": omero(
                    "6001240_labels.zarr",
                    CHANNELS_NUCLEI,
                    (0, 65535, 0, 1500),
                    None,
                    NUCLEI_SHAPE[0] // 2,
                ),
            },
            "course": course_attrs(ds.description, ds.mirrors),
        }
    )
    _write_levels(root, pyramid(image, NUCLEI_LEVELS), _tile_256, **v3)

    labels_group = root.create_group("labels")
    labels_group.attrs.update({"ome": {"version": "0.5", "labels": ["0"]}})
    label = labels_group.create_group("0")
    label.attrs.update(
        {
            "ome": {
                "version": "0.5",
                "multiscales": [
                    multiscale("nuclei", "czyx", scale, NUCLEI_LEVELS, "nearest", None)
                ],
                "image-label": {
                    "colors": label_colors(int(labels.max())),
                    "source": {"image": "../../"},
                },
            }
        }
    )
    label_levels = pyramid(labels[None], NUCLEI_LEVELS, downsample_nearest)
    _write_levels(label, label_levels, _tile_256, **v3)


def write_tissue(path: Path, bar: tqdm | None = None) -> None:
    """Dataset 3: OME-NGFF 0.4 / Zarr v2, (3, 8192, 8192) uint8, 6 levels, 512 x 512 chunks."""
    ds = DATASETS["tissue"]
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs.update(
        {
            "multiscales": [
                multiscale(
                    "tissue",
                    "cyx",
                    [1.0, TISSUE_PIXEL_UM, TISSUE_PIXEL_UM],
                    TISSUE_LEVELS,
                    "mean",
                    "0.4",
                )
            ],
            "omero": omero("tissue.zarr", CHANNELS_TISSUE, (0, 255, 0, 200), "0.4"),
            "course": course_attrs(ds.description, ds.mirrors),
        }
    )
    arrays = []
    for level in range(TISSUE_LEVELS):
        n = TISSUE_SIZE >> level
        arrays.append(
            root.create_array(
                str(level),
                shape=(len(CHANNELS_TISSUE), n, n),
                dtype="uint8",
                chunks=(1, TISSUE_CHUNK, TISSUE_CHUNK),
                fill_value=0,
                compressors=BLOSC_V2,
                chunk_key_encoding={"name": "v2", "separator": "/"},
                config=ARRAY_CONFIG,
            )
        )
    for channel, level0 in enumerate(tissue_channels()):
        for arr, data in zip(arrays, pyramid(level0, TISSUE_LEVELS), strict=True):
            arr[channel] = data
        if bar is not None:
            bar.set_postfix_str(f"tissue channel {channel + 1}/{len(CHANNELS_TISSUE)} written")
            bar.update()


# =============================================================================================
# Build orchestration
# =============================================================================================


def expected_stamp() -> dict[str, Any]:
    """What ``.build-stamp.json`` must contain for the samples to count as up to date."""
    return {
        "generator": "helpers.data",
        "source_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "zarr": zarr.__version__,
        "numcodecs": numcodecs.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "datasets": {key: ds.path for key, ds in DATASETS.items()},
    }


def _store_exists(store: Path) -> bool:
    return (store / ".zgroup").is_file() or (store / "zarr.json").is_file()


def is_up_to_date(out: Path | None = None) -> bool:
    """True if ``out`` holds all sample stores and a stamp matching this generator."""
    out = samples_dir() if out is None else Path(out)
    try:
        stamp = json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    return stamp == expected_stamp() and all(
        _store_exists(out / ds.path) for ds in DATASETS.values()
    )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Replace each store in ``out`` by the freshly built one from ``tmp`` (same filesystem)."""
    trash = tmp / ".replaced"
    for ds in DATASETS.values():
        src, dst = tmp / ds.path, out / ds.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            old = trash / ds.path
            old.parent.mkdir(parents=True, exist_ok=True)
            dst.rename(old)
        src.rename(dst)


def _write_all(tmp: Path, progress: bool) -> None:
    """Generate and write the three stores below ``tmp``."""
    with tqdm(total=6, unit="step", disable=not progress, desc="sample data") as bar:
        bar.set_postfix_str("rendering nuclei")
        image, labels = nuclei_volume()
        bar.update()
        bar.set_postfix_str("writing " + DATASETS["nuclei"].path)
        write_nuclei_v04(tmp / DATASETS["nuclei"].path, image, labels)
        bar.update()
        bar.set_postfix_str("writing " + DATASETS["nuclei_v05"].path)
        write_nuclei_v05(tmp / DATASETS["nuclei_v05"].path, image, labels)
        bar.update()
        del image, labels
        bar.set_postfix_str("rendering tissue")
        write_tissue(tmp / DATASETS["tissue"].path, bar)


def build_samples(out: Path | None = None, force: bool = False, progress: bool = True) -> Path:
    """Build all sample stores into ``out`` (default ``samples_dir()``) and return ``out``.

    Does nothing if ``out`` already holds every store and its ``.build-stamp.json`` matches this
    generator (a hash of this file plus the zarr, numcodecs, numpy and scipy versions), unless
    ``force``. Otherwise all stores are written into a temporary sibling folder and then renamed
    into place; the stamp is removed before and written after, so an interrupted build is never
    mistaken for a complete one. Files in ``out`` that are not sample stores are left alone.
    """
    out = (samples_dir() if out is None else Path(out)).resolve()
    if not force and is_up_to_date(out):
        if progress:
            print(f"sample data up to date in {out}")
        return out

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP_NAME).unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        _write_all(tmp, progress)
        _move_into_place(tmp, out)
        stamp = json.dumps(expected_stamp(), indent=2, sort_keys=True) + "\n"
        (out / STAMP_NAME).write_text(stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if progress:
        total = sum(store_stats(out / ds.path)[0] for ds in DATASETS.values())
        elapsed = time.perf_counter() - started
        print(
            f"built {len(DATASETS)} sample stores in {out} in {elapsed:.1f} s, {total / 1e6:.1f} MB"
        )
    return out


# =============================================================================================
# Command line
# =============================================================================================


def print_info(out: Path | None = None) -> None:
    """Print each sample store's key, path, size, file count and whether it is built."""
    out = (samples_dir() if out is None else Path(out)).resolve()
    state = "up to date" if is_up_to_date(out) else "not built or out of date"
    print(f"samples folder: {out} ({state})")
    for key, ds in DATASETS.items():
        size, files = store_stats(out / ds.path)
        built = "built" if _store_exists(out / ds.path) else "missing"
        print(f"  {key:<11} {ds.path:<36} {built:<8} {size / 1e6:8.1f} MB {files:6d} files")
        print(f"  {'':<11} {ds.description}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m helpers.data``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data",
        description="Build or inspect the synthetic sample OME-Zarr stores of the course.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate the sample stores (skipped when up to date)")
    build.add_argument(
        "--out", type=Path, default=None, help=f"output folder (default {samples_dir()})"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    info = sub.add_parser("info", help="list the sample stores, their sizes and whether built")
    info.add_argument(
        "--out", type=Path, default=None, help=f"samples folder (default {samples_dir()})"
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        build_samples(args.out, force=args.force)
    else:
        print_info(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
