"""What Neuroglancer should show for one OME-Zarr image: its data source, layers and first view (pure).

Neuroglancer reads OME-Zarr itself, straight from the object store, in the browser. It needs:

* a **data source**: the store's http(s):// URL behind a format prefix, ``zarr2://`` for OME-NGFF
  0.4 (Zarr v2) or ``zarr3://`` for 0.5 (Zarr v3, sharded or not). Naming the format spares
  Neuroglancer from guessing it. The browser fetches every object from that URL,
  so the store must send CORS headers (the local cloud does, see :mod:`course_tools.cloud.cors`);
* **layers**: one per channel (an image's ``c`` axis becomes Neuroglancer's local ``c'``
  dimension; each layer shows one channel), coloured and windowed as the ``omero`` metadata says
  (the same window as the widget viewer), added up with additive blending;
* a **first view**: x right and y down, on the ``omero`` default plane, zoomed out so the whole
  image fits about :data:`FIT_SCREEN_PX` screen pixels (Neuroglancer then reads a coarse level first).

Nothing here touches the network or Neuroglancer; :mod:`course_tools.viewers.ngviewer` applies the plan.

Examples
--------
>>> neuroglancer_source("http://127.0.0.1:9000/course-data/v0.4/idr0062A/6001240.zarr/", 2)
'zarr2://http://127.0.0.1:9000/course-data/v0.4/idr0062A/6001240.zarr'
>>> plan = view_plan(
...     "http://h/a.zarr", 2, ["c", "y", "x"], (2, 100, 80),
...     {"omero": {"channels": [
...         {"label": "DAPI", "color": "0000FF", "window": {"min": 0, "max": 255, "start": 5, "end": 90}},
...         {"label": "GFP", "color": "00FF00", "active": False}]}},
...     value_range=(0, 255), fit_px=500)
>>> [(layer.name, layer.channel, layer.color, layer.window, layer.visible) for layer in plan.layers]
[('DAPI', 0, '#0000ff', (5.0, 90.0), True), ('GFP', 1, '#00ff00', (0.0, 255.0), False)]
>>> plan.display_dimensions, plan.position, plan.cross_section_scale
(('x', 'y'), (50.0, 40.0), 0.2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

from course_tools.config import NEUROGLANCER_FIT_PX
from helpers.image import channel_names

__all__ = [
    "FIT_SCREEN_PX",
    "LayerPlan",
    "channel_windows",
    "default_z",
    "ViewPlan",
    "layer_shader",
    "neuroglancer_source",
    "view_plan",
]

FIT_SCREEN_PX = NEUROGLANCER_FIT_PX
"""The first view fits the image's larger side in about this many screen pixels."""
DEFAULT_COLORS = ("#ffffff", "#00ff00", "#ff00ff", "#00ffff", "#ffff00", "#ff0000", "#0000ff")
"""Colours of channels the ``omero`` metadata does not colour (white alone, else these in turn)."""
SPATIAL = ("x", "y", "z")
UNITS = {
    "angstrom": (1e-10, "m"),
    "picometer": (1e-12, "m"),
    "nanometer": (1e-9, "m"),
    "micrometer": (1e-6, "m"),
    "millimeter": (1e-3, "m"),
    "centimeter": (1e-2, "m"),
    "meter": (1.0, "m"),
    "nanosecond": (1e-9, "s"),
    "microsecond": (1e-6, "s"),
    "millisecond": (1e-3, "s"),
    "second": (1.0, "s"),
    "minute": (60.0, "s"),
    "hour": (3600.0, "s"),
}
"""OME-NGFF units Neuroglancer is given in SI base units: name -> (factor, unit)."""
HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class LayerPlan:
    """One Neuroglancer image layer: one channel of the image (or the whole image if it has none).

    Attributes
    ----------
    name : str
        The layer's name (the channel's label).
    channel : int or None
        Index on the ``c`` axis shown (``None``: the image has no channel axis).
    color : str
        ``#rrggbb`` the channel is drawn in.
    window : tuple of float
        Values drawn black and full colour (``omero`` window start and end).
    value_range : tuple of float
        The range the contrast slider covers (``omero`` window min and max).
    visible : bool
        Whether the layer is shown at first (``omero`` ``active``).
    """

    name: str
    channel: int | None
    color: str
    window: tuple[float, float]
    value_range: tuple[float, float]
    visible: bool = True


@dataclass(frozen=True)
class ViewPlan:
    """Everything Neuroglancer needs to show one image (see :func:`view_plan`).

    Attributes
    ----------
    source : str
        The data source, e.g. ``zarr3://http://127.0.0.1:9000/course-data/x.zarr``.
    layers : tuple of LayerPlan
        One per channel, drawn added up.
    dimensions : tuple of (str, float, str)
        Each non-channel axis in the image's order: name, level-0 pixel size, unit (``"m"``,
        ``"s"`` or ``""`` when the metadata names none Neuroglancer knows).
    display_dimensions : tuple of str
        The axes shown across, down (and in depth), e.g. ``("x", "y", "z")``.
    position : tuple of float
        The first view's centre, per non-channel axis in the image's order, in level-0 pixels.
    cross_section_scale : float
        Level-0 pixels per screen pixel of the first view (> 1: zoomed out).
    """

    source: str
    layers: tuple[LayerPlan, ...]
    dimensions: tuple[tuple[str, float, str], ...]
    display_dimensions: tuple[str, ...]
    position: tuple[float, ...]
    cross_section_scale: float


def channel_windows(ome: Mapping[str, Any]) -> list[dict[str, float]]:
    """Each channel's display window (``min``, ``max``, ``start``, ``end``) from ``omero``, if any."""
    return [dict(c.get("window", {})) for c in ome.get("omero", {}).get("channels", [])]


def default_z(ome: Mapping[str, Any]) -> int | None:
    """The plane a viewer should show first (``omero.rdefs.defaultZ``), if the metadata says."""
    value = ome.get("omero", {}).get("rdefs", {}).get("defaultZ")
    return None if value is None else int(value)


def neuroglancer_source(url: str, zarr_format: int) -> str:
    """The Neuroglancer data source for the Zarr store at ``url`` (http or https).

    Examples
    --------
    >>> neuroglancer_source("https://example.org/a.zarr", 3)
    'zarr3://https://example.org/a.zarr'
    >>> neuroglancer_source("s3://bucket/a.zarr", 3)
    Traceback (most recent call last):
    ...
    ValueError: Neuroglancer reads stores over http(s) here, not 's3://bucket/a.zarr': give the store's http:// or https:// URL
    """
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Neuroglancer reads stores over http(s) here, not {url!r}: "
            "give the store's http:// or https:// URL"
        )
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
    return f"zarr{zarr_format}://{url.rstrip('/')}"


def _hex_color(value: object, fallback: str) -> str:
    match = HEX_COLOR.match(str(value)) if value is not None else None
    return f"#{match.group(1).lower()}" if match else fallback


def _channel_layers(
    ome: Mapping[str, Any], count: int | None, value_range: tuple[float, float]
) -> tuple[LayerPlan, ...]:
    """One :class:`LayerPlan` per channel (``count`` None: one layer, no channel axis)."""
    omero = ome.get("omero", {}).get("channels", [])
    names = channel_names(ome)
    windows = channel_windows(ome)
    n = 1 if count is None else count
    layers = []
    for i in range(n):
        meta = omero[i] if i < len(omero) else {}
        window = windows[i] if i < len(windows) else {}
        lo = float(window.get("min", value_range[0]))
        hi = float(window.get("max", value_range[1]))
        fallback = (
            DEFAULT_COLORS[0] if n == 1 else DEFAULT_COLORS[1 + i % (len(DEFAULT_COLORS) - 1)]
        )
        layers.append(
            LayerPlan(
                name=names[i] if i < len(names) else ("image" if count is None else f"channel {i}"),
                channel=None if count is None else i,
                color=_hex_color(meta.get("color"), fallback),
                window=(float(window.get("start", lo)), float(window.get("end", hi))),
                value_range=(lo, hi),
                visible=bool(meta.get("active", True)),
            )
        )
    if len({layer.name for layer in layers}) < len(layers):  # Neuroglancer needs unique names
        layers = [replace(layer, name=f"{layer.name} ({i})") for i, layer in enumerate(layers)]
    return tuple(layers)


def layer_shader(layer: LayerPlan) -> str:
    """The GLSL shader that draws ``layer``: its window as a contrast slider, its colour as a picker.

    Examples
    --------
    >>> print(layer_shader(LayerPlan("DAPI", 1, "#ffff00", (0.0, 1500.0), (0.0, 65535.0))))
    #uicontrol invlerp normalized(range=[0, 1500], window=[0, 65535])
    #uicontrol vec3 color color(default="#ffff00")
    void main() {
      emitRGB(color * normalized());
    }
    """
    lo, hi = (f"{v:g}" for v in layer.window)
    vmin, vmax = (f"{v:g}" for v in layer.value_range)
    return (
        f"#uicontrol invlerp normalized(range=[{lo}, {hi}], window=[{vmin}, {vmax}])\n"
        f'#uicontrol vec3 color color(default="{layer.color}")\n'
        "void main() {\n"
        "  emitRGB(color * normalized());\n"
        "}"
    )


def view_plan(
    url: str,
    zarr_format: int,
    axes: Sequence[str],
    shape: Sequence[int],
    ome: Mapping[str, Any],
    value_range: tuple[float, float] = (0.0, 65535.0),
    fit_px: int = FIT_SCREEN_PX,
    scales: Sequence[float] | None = None,
    units: Mapping[str, str] | None = None,
) -> ViewPlan:
    """How Neuroglancer shows the OME-Zarr image at ``url``, from its metadata.

    Parameters
    ----------
    url : str
        The store's http(s):// URL.
    zarr_format : int
        2 (OME-NGFF 0.4) or 3 (0.5).
    axes : sequence of str
        Axis names in array order, e.g. ``["c", "z", "y", "x"]``.
    shape : sequence of int
        Shape of level 0.
    ome : mapping
        The image's OME metadata (with ``omero`` for colours and windows, if any).
    value_range : tuple of float
        Range of the contrast slider when ``omero`` gives none (the data type's range).
    fit_px : int
        The first view fits the larger of y and x in about this many screen pixels.
    scales : sequence of float, optional
        Level 0's pixel size per axis (default: 1 for every axis).
    units : mapping, optional
        Unit per axis, as OME-NGFF names them (``"micrometer"``...).

    Returns
    -------
    ViewPlan
        The source, one layer per channel, and the first view.

    Raises
    ------
    ValueError
        A URL that is not http(s), axes and shape that do not match, or no y and x axes.
    """
    if len(axes) != len(shape):
        raise ValueError(f"axes {list(axes)} and shape {tuple(shape)} do not match")
    if not {"y", "x"} <= set(axes):
        raise ValueError(f"Neuroglancer needs y and x axes; this image has {list(axes)}")
    if fit_px < 1:
        raise ValueError(f"fit_px must be >= 1, got {fit_px}")
    sizes = dict(zip(axes, shape, strict=True))
    pixel = dict(zip(axes, scales if scales is not None else [1.0] * len(axes), strict=True))
    dimensions = tuple(_dimension(a, pixel[a], (units or {}).get(a)) for a in axes if a != "c")
    size_of = {name: scale for name, scale, _ in dimensions}
    count = sizes.get("c")
    first_z = default_z(ome)
    position = []
    for axis in axes:
        if axis == "c":
            continue
        if axis == "z" and first_z is not None and 0 <= first_z < sizes["z"]:
            position.append(first_z + 0.5)  # the centre of the plane
        elif axis == "t":
            position.append(0.5)
        else:
            position.append(sizes[axis] / 2)
    return ViewPlan(
        source=neuroglancer_source(url, zarr_format),
        layers=_channel_layers(ome, count, value_range),
        dimensions=dimensions,
        display_dimensions=tuple(a for a in SPATIAL if a in sizes),
        position=tuple(position),
        # Neuroglancer's zoom: the smaller pixel size of y and x per screen pixel
        cross_section_scale=max(sizes["y"] * size_of["y"], sizes["x"] * size_of["x"])
        / min(size_of["y"], size_of["x"])
        / fit_px,
    )


def _dimension(axis: str, scale: float, unit: str | None) -> tuple[str, float, str]:
    """``(name, scale, unit)`` of one axis for Neuroglancer, in SI base units when known.

    Examples
    --------
    >>> _dimension("x", 0.36, "micrometer")
    ('x', 3.6e-07, 'm')
    >>> _dimension("t", 2.0, None)
    ('t', 2.0, '')
    """
    if not scale > 0:
        raise ValueError(f"axis {axis!r} has pixel size {scale!r}; it must be > 0")
    factor, si = UNITS.get(str(unit).lower(), (1.0, "")) if unit else (1.0, "")
    return axis, float(f"{scale * factor:.12g}"), si
