"""Smooth random fields, the raw material of the synthetic images. Pure NumPy/SciPy, no I/O.

Every function draws from the generator it is given, so a seeded generator gives the same field
every time (and the order of the calls fixes the images).

Examples
--------
>>> import numpy as np
>>> field = unit_noise(np.random.default_rng(0), (32, 32), 2.0)
>>> field.shape, abs(float(field.mean())) < 1e-6, round(float(field.std()), 3)
((32, 32), True, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["octave_field", "smooth_curve", "unit_noise"]


def smooth_curve(rng: np.random.Generator, n: int, knots: int = 5) -> np.ndarray:
    """Draw a smooth random 1D curve: ``knots`` uniform values, linearly interpolated.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random values.
    n : int
        Length of the curve.
    knots : int
        Number of random values spread evenly over the curve.

    Returns
    -------
    numpy.ndarray
        float32 array of length ``n`` with values in [-1, 1].
    """
    xs = np.linspace(0, n - 1, knots)
    return np.interp(np.arange(n), xs, rng.uniform(-1, 1, knots)).astype(np.float32)


def unit_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: float | Sequence[float]
) -> np.ndarray:
    """Draw Gaussian-blurred white noise, rescaled to mean 0 and standard deviation 1.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the white noise.
    shape : tuple of int
        Shape of the field.
    sigma : float or sequence of float
        Blur (standard deviation in pixels), for all axes or per axis.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``shape``.
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma)
    field -= field.mean()
    field /= field.std()
    return field


def octave_field(
    rng: np.random.Generator, size: int, grids: Sequence[int] = (4, 16, 64, 256)
) -> np.ndarray:
    """Draw multi-scale smooth noise of shape (size, size) with values in [0, 1].

    Sums random grids of increasing resolution (amplitude halving per octave) on a ``grids[-1]``
    grid, then upsamples that once, bilinearly, to ``size``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the random grids.
    size : int
        Side of the square result.
    grids : sequence of int
        Side of each octave's random grid, coarsest first.

    Returns
    -------
    numpy.ndarray
        float32 array, stretched so its 1st and 99th percentiles map to 0 and 1, then clipped.
    """
    base = grids[-1]
    field = np.zeros((base, base), np.float32)
    for octave, n in enumerate(grids):
        g = rng.standard_normal((n, n)).astype(np.float32)
        field += 0.5**octave * ndimage.zoom(g, base / n, order=3, grid_mode=True, mode="reflect")
    field = ndimage.zoom(field, size / base, order=1, grid_mode=True, mode="reflect")
    lo, hi = np.percentile(field[::16, ::16], [1, 99])
    return np.clip((field - lo) / (hi - lo), 0, 1)
