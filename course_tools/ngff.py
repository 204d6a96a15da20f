"""OME-NGFF metadata, built: the sample data's and the formats rig's ``multiscales`` and ``omero``.

The samples imitate the IDR's images down to details (``omero`` windows and colours, label
properties, 0.4 and 0.5 copies of the same image), which these small builders write as plain dicts
in either version. Reading and checking metadata is :mod:`helpers.image`'s and ome-zarr-models' job.

Examples
--------
>>> ms = multiscale_metadata("img", "zyx", pyramid_scales([0.5, 0.36, 0.36], "zyx", 2))
>>> [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
[[0.5, 0.36, 0.36], [0.5, 0.72, 0.72]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "axes_metadata",
    "image_attributes",
    "label_colors",
    "label_image_metadata",
    "multiscale_metadata",
    "omero_metadata",
    "pyramid_scales",
]


def axes_metadata(
    axes: Sequence[str], units: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """``axes`` entries: ``c`` is a channel axis, ``t`` time, every other axis space.

    Space axes get ``units[name]`` (default ``"micrometer"``).

    Examples
    --------
    >>> axes_metadata("cyx")[0], axes_metadata("cyx")[1]
    ({'name': 'c', 'type': 'channel'}, {'name': 'y', 'type': 'space', 'unit': 'micrometer'})
    """
    units = units or {}
    out = []
    for a in axes:
        if a == "c":
            out.append({"name": a, "type": "channel"})
        elif a == "t":
            out.append({"name": a, "type": "time", "unit": units.get(a, "second")})
        else:
            out.append({"name": a, "type": "space", "unit": units.get(a, "micrometer")})
    return out


def pyramid_scales(
    level0_scale: Sequence[float], axes: Sequence[str], levels: int
) -> list[tuple[float, ...]]:
    """Pixel sizes of ``levels`` levels, each twice the previous one along y and x.

    Examples
    --------
    >>> pyramid_scales([1.0, 0.5, 0.5], "cyx", 3)
    [(1.0, 0.5, 0.5), (1.0, 1.0, 1.0), (1.0, 2.0, 2.0)]
    """
    return [
        tuple(s * 2**k if a in "yx" else s for a, s in zip(axes, level0_scale, strict=True))
        for k in range(levels)
    ]


def multiscale_metadata(
    name: str,
    axes: Sequence[str],
    scales: Sequence[Sequence[float]],
    kind: str = "mean",
    version: str | None = None,
    units: Mapping[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``multiscales`` entry with levels ``"0"``, ``"1"``... of pixel sizes ``scales``.

    Parameters
    ----------
    name : str
        The image's name.
    axes : sequence of str
        Axis names in array order, e.g. ``"czyx"``.
    scales : sequence of sequences of float
        Per level, the pixel size along each axis (see :func:`pyramid_scales`).
    kind : str
        How the levels were made (``"mean"``, ``"nearest"``...), stored as ``type``.
    version : str, optional
        Written into the entry (OME-NGFF 0.4 style); leave ``None`` for 0.5, where the version
        sits under ``"ome"`` (see :func:`image_attributes`).
    units : mapping, optional
        Unit per space axis (default micrometre).
    metadata : dict, optional
        Stored as the entry's ``metadata`` (e.g. how the levels were downsampled).
    """
    datasets = [
        {
            "path": str(level),
            "coordinateTransformations": [{"type": "scale", "scale": [float(v) for v in s]}],
        }
        for level, s in enumerate(scales)
    ]
    entry: dict[str, Any] = {} if version is None else {"version": version}
    entry |= {"name": name, "axes": axes_metadata(axes, units), "datasets": datasets, "type": kind}
    if metadata:
        entry["metadata"] = metadata
    return entry


def omero_metadata(
    name: str,
    channels: Sequence[tuple[str, str]],
    window: tuple[float, float, float, float],
    version: str | None = None,
    default_z: int = 0,
) -> dict[str, Any]:
    """``omero`` rendering metadata: channel labels and colours, one display window for all.

    ``channels`` holds ``(label, hex colour)`` pairs; ``window`` is ``(min, max, start, end)``.
    """
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


def label_colors(n: int) -> list[dict[str, Any]]:
    """Distinct, deterministic RGBA display colours for label values 1..n.

    Examples
    --------
    >>> label_colors(1)
    [{'label-value': 1, 'rgba': [56, 115, 250, 255]}]
    """
    colors = []
    for value in range(1, n + 1):
        hue = (value * 0.618034) % 1.0
        rgb = [
            int(round(255 * (0.55 + 0.45 * math.cos(2 * math.pi * (hue - k / 3)))))
            for k in range(3)
        ]
        colors.append({"label-value": value, "rgba": [*rgb, 255]})
    return colors


def label_image_metadata(
    version: str, colors: list[dict[str, Any]] | None = None, source: str | None = "../../"
) -> dict[str, Any]:
    """The ``image-label`` entry of a label image (its colours and the image it belongs to)."""
    entry: dict[str, Any] = {"version": version} if version == "0.4" else {}
    if colors is not None:
        entry["colors"] = colors
    if source is not None:
        entry["source"] = {"image": source}
    return entry


def image_attributes(version: str, **ome: Any) -> dict[str, Any]:
    """Group attributes holding the OME metadata ``ome`` in the layout of ``version``.

    0.4: the entries at the top level; 0.5: under ``"ome"`` with ``"version"`` first.
    Keyword names with ``_`` are written with ``-`` (``image_label`` -> ``"image-label"``).

    Examples
    --------
    >>> image_attributes("0.5", labels=["0"])
    {'ome': {'version': '0.5', 'labels': ['0']}}
    >>> image_attributes("0.4", labels=["0"])
    {'labels': ['0']}
    """
    entries = {key.replace("_", "-"): value for key, value in ome.items()}
    if version == "0.4":
        return entries
    return {"ome": {"version": version, **entries}}
