"""Open a course image in Neuroglancer, served from this machine: offline, straight from the cloud.

The ``neuroglancer`` Python package ships Neuroglancer's web client and serves it from a small
local web server (127.0.0.1 by default), so no CDN or internet is needed. :func:`open_in_neuroglancer`
reads the image's metadata once (axes, shape, ``omero`` colours and windows), plans the layers
(:mod:`course_tools.viewers.ngstate`) and returns the viewer's URL. The **browser** then reads the
chunks itself from the image's http:// URL on the local cloud (or the https:// URL of the public
copy), with the cloud's latency, so the local cloud's request counters show what it fetched; a
sharded image is read with byte-range requests. The browser must run on the same machine as the
cloud (as with ``make lab`` on your computer; a remote Binder session cannot show it).

Examples
--------
>>> view = open_in_neuroglancer("nuclei")  # doctest: +SKIP
>>> print(view.url)  # doctest: +SKIP
http://127.0.0.1:41357/v/0f3c.../
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_tools.viewers.ngstate import FIT_SCREEN_PX, ViewPlan, layer_shader, view_plan
from helpers.catalog import CATALOG, dataset_url, default_s3_endpoint, lookup, open_image
from helpers.storage import parse_location

__all__ = ["LAYOUTS", "NeuroglancerView", "image_http_url", "open_in_neuroglancer"]

log = logging.getLogger(__name__)

LAYOUTS = ("xy", "xz", "yz", "3d", "4panel", "xy-3d")
"""Neuroglancer's panel layouts (``"4panel"``: three sections and a 3D view)."""

_OPEN: dict[str, Any] = {}
"""Viewers opened here, by URL: Neuroglancer forgets a viewer (and its URL) nobody refers to."""
_LOCK = threading.Lock()


@dataclass(frozen=True)
class NeuroglancerView:
    """A Neuroglancer viewer showing one image; open :attr:`url` in a browser on this machine.

    Attributes
    ----------
    url : str
        The viewer's address, ``http://127.0.0.1:PORT/v/TOKEN/``.
    image_url : str
        The http(s):// URL the browser reads the image from.
    source : str
        The data source as Neuroglancer names it (``zarr2://...`` or ``zarr3://...``).
    layers : tuple of str
        The layers shown (one per channel).
    viewer : neuroglancer.Viewer
        The viewer itself, to change its state from Python (``with view.viewer.txn() as s: ...``).
    """

    url: str
    image_url: str
    source: str
    layers: tuple[str, ...]
    viewer: Any = field(repr=False, compare=False)

    def close(self) -> None:
        """Forget the viewer: its URL stops working once nothing else refers to it."""
        with _LOCK:
            _OPEN.pop(self.url, None)

    def _repr_html_(self) -> str:
        return f'<a href="{self.url}" target="_blank">Open {", ".join(self.layers)} in Neuroglancer</a>'


def image_http_url(
    name_or_url: str | Path, source: str | None = None, endpoint: str | None = None
) -> str:
    """The http(s):// URL a browser reads an image from: a catalog name, or an s3:// or http(s):// URL.

    Parameters
    ----------
    name_or_url : str or pathlib.Path
        A catalog name (local copies are served by the local cloud, started if needed), an
        ``http(s)://`` URL, or ``s3://BUCKET/KEY`` (read at ``endpoint``, by default the local cloud
        for its buckets and the IDR's endpoint for ``idr``).
    source : {"local", "remote"}, optional
        For catalog names (default: ``$COURSE_SOURCE``, else local).
    endpoint : str, optional
        The S3 endpoint of an ``s3://`` URL.

    Returns
    -------
    str
        A path-style URL, e.g. ``http://127.0.0.1:9000/course-data/v0.4/idr0062A/6001240.zarr``.

    Raises
    ------
    KeyError, ValueError
        An unknown name; a local path or an s3:// URL of AWS (no endpoint) -- a browser can read
        neither.

    Examples
    --------
    >>> image_http_url("https://example.org/data/a.zarr/")
    'https://example.org/data/a.zarr'
    >>> from helpers.catalog import REMOTE_BASE
    >>> image_http_url("s3://idr/zarr/v0.4/idr0062A/6001240.zarr") == REMOTE_BASE + "/v0.4/idr0062A/6001240.zarr"
    True
    >>> image_http_url("nuclei")  # doctest: +SKIP
    'http://127.0.0.1:40263/course-data/v0.4/idr0062A/6001240.zarr'
    """
    text = str(name_or_url).strip()
    if text in CATALOG:
        url, _ = dataset_url(text, source, protocol="https")
        return url
    if "://" not in text and "/" not in text and not text.endswith(".zarr"):
        lookup(text)  # raises the KeyError listing the known names
    location = parse_location(text, endpoint)
    if location.scheme in ("http", "https"):
        return location.path
    if location.scheme == "s3":
        where = location.endpoint or default_s3_endpoint(location.path.split("/", 1)[0])
        if where is None:
            raise ValueError(
                f"no endpoint for {text!r}: pass endpoint= (the S3 server's http(s):// address)"
            )
        return f"{where.rstrip('/')}/{location.path}"
    raise ValueError(
        f"a browser cannot read the local folder {location.path}: serve it with "
        "`python -m course_tools cloud serve --data DIR` and pass its http:// URL"
    )


def open_in_neuroglancer(
    name_or_url: str | Path,
    source: str | None = None,
    endpoint: str | None = None,
    *,
    layout: str = "xy",
    bind_address: str = "127.0.0.1",
    port: int = 0,
) -> NeuroglancerView:
    """Open an OME-Zarr image in Neuroglancer (served from this machine) and return its URL.

    Parameters
    ----------
    name_or_url : str or pathlib.Path
        A catalog name (``"nuclei"``, ``"lightsheet"``, ...), or the image's http(s):// or s3:// URL.
    source : {"local", "remote"}, optional
        For catalog names: the local cloud (default) or the public copy (needs the internet).
    endpoint : str, optional
        The S3 endpoint of an ``s3://`` URL (see :func:`image_http_url`).
    layout : str
        Neuroglancer's panels (one of :data:`LAYOUTS`); ``"xy"`` shows one plane, the cheapest
        view; ``"4panel"`` adds the xz and yz sections and a 3D view (many more requests).
    bind_address, port : str, int
        Where Neuroglancer's web server listens (only when it is not running yet; port 0: any
        free port). Keep 127.0.0.1 unless you know why.

    Returns
    -------
    NeuroglancerView
        Its ``url`` to open in a browser on this machine, and the viewer.

    Raises
    ------
    KeyError, ValueError
        Unknown name, bad layout or port, a location a browser cannot read, or not an OME-Zarr
        image (``NotOmeZarrError``).
    ConnectionError
        The image's host does not answer.

    Examples
    --------
    >>> view = open_in_neuroglancer("lightsheet")  # doctest: +SKIP
    >>> view.source  # doctest: +SKIP
    'zarr3://http://127.0.0.1:40263/course-data/v0.5/idr0066/ExpA_VIP_ASLM_on.zarr'
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535 (0 picks a free port), got {port!r}")
    url = image_http_url(name_or_url, source, endpoint)
    plan = _plan(url)
    viewer = _new_viewer(bind_address, port)
    _apply(viewer, plan, layout)
    view = NeuroglancerView(
        url=viewer.get_viewer_url(),
        image_url=url,
        source=plan.source,
        layers=tuple(layer.name for layer in plan.layers),
        viewer=viewer,
    )
    with _LOCK:
        _OPEN[view.url] = viewer
    log.info("Neuroglancer shows %s at %s", url, view.url)
    return view


def _plan(url: str) -> ViewPlan:
    """Read the image's metadata (a few requests) and plan what Neuroglancer shows."""
    with open_image(url) as image:
        level = image.levels[0]
        dtype = np.dtype(image.dtype)
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
        value_range = (float(info.min), float(info.max)) if info is not None else (0.0, 1.0)
        return view_plan(
            url,
            int(level.metadata.zarr_format),
            image.axes,
            image.shape,
            image.ome,
            value_range,
            FIT_SCREEN_PX,
            image.scales[0],
            image.units,
        )


def _new_viewer(bind_address: str, port: int) -> Any:
    import neuroglancer

    if not neuroglancer.server.is_server_running():
        neuroglancer.set_server_bind_address(bind_address, port)
    return neuroglancer.Viewer()


def _apply(viewer: Any, plan: ViewPlan, layout: str) -> None:
    """Set the viewer's layers and first view from ``plan``."""
    import neuroglancer

    with viewer.txn() as state:
        for layer in plan.layers:
            image_layer = neuroglancer.ImageLayer(
                source=plan.source,
                shader=layer_shader(layer),
                opacity=1.0,
                blend="additive" if len(plan.layers) > 1 else "default",
            )
            if layer.channel is not None:  # the c axis is the layer's local dimension c'
                image_layer.local_position = [layer.channel + 0.5]
            state.layers[layer.name] = image_layer
            state.layers[layer.name].visible = layer.visible
        names, scales, units = zip(*plan.dimensions, strict=True)
        state.dimensions = neuroglancer.CoordinateSpace(names=names, scales=scales, units=units)
        state.display_dimensions = list(plan.display_dimensions)
        state.position = list(plan.position)
        state.cross_section_scale = plan.cross_section_scale
        state.layout = layout
