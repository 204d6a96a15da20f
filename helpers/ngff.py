"""OME-NGFF metadata, 0.4 and 0.5: read it from a group's attributes, and build it. Pure dicts, no I/O.

OME-NGFF 0.4 (Zarr v2) keeps its metadata at the top level of the group's ``.zattrs``; 0.5 (Zarr v3)
keeps it under ``"ome"`` in ``zarr.json``, with the version there instead of in each entry. Code that
reads ``attrs["multiscales"]`` directly breaks on 0.5 with a ``KeyError``: :func:`ome_metadata`
reads both, and every other reader here goes through it. The builders write either version, so the
sample data, the label writer and the lessons make their metadata in one place.

Versions: only :data:`SUPPORTED_VERSIONS`; :func:`check_version` refuses any other declared one
(0.1-0.3 lack axes and pixel sizes, 0.6+ may move what the helpers would then misread). Metadata
without a version is read as its layout implies (0.5 under ``"ome"``, else 0.4), with a warning.

Examples
--------
>>> ome, version = ome_metadata({"ome": {"version": "0.5", "multiscales": []}})
>>> version
'0.5'
>>> ms = multiscale_metadata("img", "zyx", pyramid_scales([0.5, 0.36, 0.36], "zyx", 2))
>>> [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
[[0.5, 0.36, 0.36], [0.5, 0.72, 0.72]]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SUPPORTED_VERSIONS",
    "Multiscale",
    "UnsupportedVersionError",
    "axes_metadata",
    "channel_names",
    "channel_windows",
    "check_version",
    "default_z",
    "image_attributes",
    "label_colors",
    "label_image_metadata",
    "label_names",
    "multiscale_metadata",
    "omero_metadata",
    "ome_metadata",
    "parse_multiscale",
    "pyramid_scales",
]

logger = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("0.4", "0.5")
"""The OME-NGFF versions the helpers read and write."""


class UnsupportedVersionError(ValueError):
    """The metadata declares an OME-NGFF version the helpers cannot read (the message names it)."""


# --- reading --------------------------------------------------------------------------------------
def ome_metadata(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The OME part of a group's attributes and its version.

    Under ``"ome"`` in 0.5 (version there), at the top level in 0.4 (version in the first
    ``multiscales`` entry).

    Examples
    --------
    >>> ome_metadata({"multiscales": [{"version": "0.4", "datasets": []}]})[1]
    '0.4'
    """
    if "ome" in attributes:
        ome = dict(attributes["ome"])
        return ome, ome.get("version")
    multiscales = attributes.get("multiscales") or [{}]
    return dict(attributes), multiscales[0].get("version")


def check_version(version: object, where: str = "this image", *, missing: str = "0.4") -> str:
    """The declared OME-NGFF ``version`` if the helpers read it (one of :data:`SUPPORTED_VERSIONS`).

    Parameters
    ----------
    version : str or None
        The version the metadata declares (second item of :func:`ome_metadata`).
    where : str, optional
        The image's URL or path, for the messages.
    missing : str, optional
        The version returned (with a logged warning) when none is declared: ``"0.5"`` for
        metadata under ``"ome"``, else ``"0.4"``.

    Raises
    ------
    UnsupportedVersionError
        Any other declared version (0.1-0.3, 0.6+, "0.9"...), named with the supported ones.

    Examples
    --------
    >>> check_version("0.5")
    '0.5'
    >>> check_version("0.9", "s3://bucket/new.zarr")
    Traceback (most recent call last):
    ...
    helpers.ngff.UnsupportedVersionError: s3://bucket/new.zarr declares OME-NGFF version '0.9'; ...
    """
    supported = " and ".join(SUPPORTED_VERSIONS)
    if version is None:
        logger.warning("%s declares no OME-NGFF version; reading it as %s", where, missing)
        return missing
    if str(version).strip() in SUPPORTED_VERSIONS:
        return str(version).strip()
    older = str(version).strip() in ("0.1", "0.2", "0.3")
    todo = (
        "convert it to 0.4 or newer (e.g. with ome-zarr-py or bioformats2raw)"
        if older
        else "open a 0.4 or 0.5 copy of the image, or update the course's helpers"
    )
    raise UnsupportedVersionError(
        f"{where} declares OME-NGFF version {version!r}; the helpers read only {supported}: {todo}"
    )


@dataclass(frozen=True)
class Multiscale:
    """The first ``multiscales`` entry of an image, resolved into plain lists.

    Attributes
    ----------
    axes : list of str
        Axis names in array order, e.g. ``["c", "z", "y", "x"]``.
    units : dict
        Unit of each axis that has one, e.g. ``{"z": "micrometer"}``.
    paths : list of str
        The level arrays' paths inside the group, level 0 (full resolution) first.
    scales, translations : list of tuple of float
        Per level, the physical size of one pixel and the physical offset of the first pixel,
        along each axis (the multiscale-wide transformations already applied).
    name : str or None
        The multiscale's name.
    version : str or None
        The OME-NGFF version it declares.
    """

    axes: list[str]
    units: dict[str, str]
    paths: list[str]
    scales: list[tuple[float, ...]]
    translations: list[tuple[float, ...]]
    name: str | None = None
    version: str | None = None
    entry: dict[str, Any] = field(default_factory=dict, repr=False)


def _transforms(
    transforms: Sequence[Mapping[str, Any]] | None, ndim: int
) -> tuple[list[float], list[float]]:
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for t in transforms or []:
        if t.get("type") == "scale":
            scale = [float(v) for v in t["scale"]]
        elif t.get("type") == "translation":
            translation = [float(v) for v in t["translation"]]
    return scale, translation


def parse_multiscale(ome: Mapping[str, Any], version: str | None = None) -> Multiscale:
    """Resolve the first ``multiscales`` entry of ``ome`` (from :func:`ome_metadata`).

    Raises ``KeyError`` when there is no ``multiscales`` entry, ``ValueError`` when it names no axes.

    Examples
    --------
    >>> ome = {"multiscales": [{"axes": ["y", "x"], "datasets": [{"path": "0"}]}]}
    >>> parse_multiscale(ome).paths
    ['0']
    """
    entry = ome["multiscales"][0]
    axes_meta = entry.get("axes")
    if not axes_meta:  # guessing them (0.1-0.3 had none) could show the wrong axes
        raise ValueError(
            f"the multiscales entry {entry.get('name') or ''!r} names no axes (required since "
            "OME-NGFF 0.4): cannot tell which axis is which"
        )
    axes = [a["name"] if isinstance(a, dict) else a for a in axes_meta]
    units = {a["name"]: a["unit"] for a in axes_meta if isinstance(a, dict) and a.get("unit")}
    global_scale, global_translation = _transforms(
        entry.get("coordinateTransformations"), len(axes)
    )
    paths, scales, translations = [], [], []
    for dataset in entry["datasets"]:
        scale, translation = _transforms(dataset.get("coordinateTransformations"), len(axes))
        paths.append(str(dataset["path"]))
        scales.append(tuple(s * g for s, g in zip(scale, global_scale, strict=True)))
        translations.append(
            tuple(
                t * g + o
                for t, g, o in zip(translation, global_scale, global_translation, strict=True)
            )
        )
    return Multiscale(
        axes=axes,
        units=units,
        paths=paths,
        scales=scales,
        translations=translations,
        name=entry.get("name"),
        version=version or entry.get("version"),
        entry=dict(entry),
    )


def channel_names(ome: Mapping[str, Any]) -> list[str]:
    """Channel labels from the ``omero`` metadata (``"channel i"`` where a label is missing)."""
    return [
        c.get("label", f"channel {i}")
        for i, c in enumerate(ome.get("omero", {}).get("channels", []))
    ]


def channel_windows(ome: Mapping[str, Any]) -> list[dict[str, float]]:
    """Each channel's display window (``min``, ``max``, ``start``, ``end``) from ``omero``, if any."""
    return [dict(c.get("window", {})) for c in ome.get("omero", {}).get("channels", [])]


def default_z(ome: Mapping[str, Any]) -> int | None:
    """The plane a viewer should show first (``omero.rdefs.defaultZ``), if the metadata says."""
    value = ome.get("omero", {}).get("rdefs", {}).get("defaultZ")
    return None if value is None else int(value)


def label_names(labels_attributes: Mapping[str, Any]) -> list[str]:
    """Names of the label images listed in a ``labels`` group's attributes (0.4 or 0.5)."""
    ome, _ = ome_metadata(labels_attributes)
    return [str(name) for name in ome.get("labels", [])]


# --- building -------------------------------------------------------------------------------------
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
