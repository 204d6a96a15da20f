"""Activity "skimage napari": threshold a remote OME-Zarr image in napari, reading it lazily.

The napari-ome-zarr plugin opens the image by URL: each channel becomes one *multiscale* image
layer holding every pyramid level as a lazy dask array, so napari fetches only the chunks of the
plane and level it shows. Then the nuclei channel (DAPI) gets an Otsu threshold on a coarse level
(few requests; the course's :func:`helpers.segment.threshold_function`, i.e. scikit-image), the
level napari shows (``--level`` picks and locks one) is turned into nuclei with scikit-image
(:mod:`nuclei_skimage`), and the nuclei appear as a labels layer; the script prints their count.

Local cloud by default, the public IDR data with ``--source remote``. ``--screenshot PATH`` runs
headless (:mod:`napari_headless`: no window, a private Xvfb for OpenGL) and saves the window.
Needs the ``napari`` extra (``pip install -e ".[napari]"``); ``make napari`` runs it.

Examples
--------
>>> image_url("nuclei", source="remote")
'https://livingobjects.ebi.ac.uk/idr/zarr/v0.4/idr0062A/6001240.zarr'
>>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari_headless import prime_opengl, virtual_display
from nuclei_skimage import busiest_plane, label_nuclei, scaled_min_size

from course_tools.cli import count_arg, run_cli
from helpers.browse import VIEW_CONCURRENCY
from helpers.catalog import PROBE_TIMEOUT_S, dataset_url
from helpers.model import check_count
from helpers.segment import DEFAULT_MIN_SIZE, threshold_function
from helpers.storage import check_reachable

if TYPE_CHECKING:  # napari loads Qt: imported only where a viewer is needed
    import napari
    from napari.layers import Image, Labels

__all__ = [
    "PLANE_STEP",
    "PLUGIN",
    "SCREENSHOT_SIZE",
    "ActivityResult",
    "LayerSummary",
    "coarse_threshold",
    "image_url",
    "main",
    "nuclei_layer",
    "open_layers",
    "read_level",
    "run_activity",
    "show_labels",
    "summarize_layers",
]

logger = logging.getLogger("activities.napari_threshold")

PLUGIN = "napari-ome-zarr"
"""The napari reader plugin that opens OME-Zarr images by URL."""
PLANE_STEP = 4
"""The threshold reads every 4th plane of the coarse level, as the course's lessons do."""
SCREENSHOT_SIZE = (1200, 800)
"""Window size (width, height) of a headless run's screenshot: layer list, controls and canvas."""


@dataclass(frozen=True)
class LayerSummary:
    """One napari layer as the activity left it: what a learner sees in the layer list."""

    name: str
    kind: str
    multiscale: bool
    levels: int
    level_shapes: tuple[tuple[int, ...], ...]
    visible: bool


@dataclass(frozen=True)
class ActivityResult:
    """What one run of the activity did, with the numbers it printed."""

    url: str
    channel_layer: str
    method: str
    threshold: float
    threshold_level: int
    plane_step: int
    level: int
    min_size: int
    label_count: int
    labels_layer: str
    layers: tuple[LayerSummary, ...]
    open_s: float
    threshold_s: float
    labels_s: float


def image_url(dataset: str = "nuclei", source: str | None = None) -> str:
    """The http(s):// URL the plugin opens: the local cloud's (started if none runs) or the IDR's."""
    url, _ = dataset_url(dataset, source, protocol="https")
    return url


def open_layers(viewer: napari.Viewer, url: str) -> list[Any]:
    """Open ``url`` with the napari-ome-zarr plugin; the new layers (one image layer per channel).

    Only metadata is read here: every level stays a lazy dask array until napari draws it.

    Raises
    ------
    ConnectionError
        The host does not answer.
    ValueError
        The plugin found no OME-Zarr image there.
    """
    try:
        check_reachable(url, timeout=PROBE_TIMEOUT_S)
    except ConnectionError as err:  # the local cloud needs no internet
        raise ConnectionError(f"{err}; offline? use --source local") from None
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):  # the plugin prints the whole metadata
        layers = viewer.open(url, plugin=PLUGIN)
    logger.debug("%s said: %s", PLUGIN, chatter.getvalue().strip())
    from napari.layers import Image

    if not any(isinstance(layer, Image) for layer in layers):
        raise ValueError(f"{PLUGIN} found no OME-Zarr image at {url}")
    logger.info("opened %s: layers %s", url, [layer.name for layer in layers])
    return list(layers)


def nuclei_layer(layers: Sequence[Any], channel: str = "DAPI") -> Image:
    """The image layer of ``channel`` (the plugin names layers ``"<image>: <channel>"``).

    Raises
    ------
    ValueError
        No image layer shows that channel; the message lists the layers.
    """
    from napari.layers import Image

    images = [layer for layer in layers if isinstance(layer, Image)]
    for exact in (True, False):
        for layer in images:
            name = layer.name.rsplit(": ", 1)[-1]
            if name == channel if exact else name.lower() == channel.lower():
                return layer
    names = [layer.name for layer in images]
    raise ValueError(f"no image layer for channel {channel!r}; the image layers are {names}")


def _check_level(layer: Image, level: int) -> int:
    """``level`` as a non-negative index into the layer's pyramid; ``ValueError`` if absent."""
    count = len(layer.level_shapes)
    if isinstance(level, bool) or not isinstance(level, int) or not -count <= level < count:
        raise ValueError(f"level {level} does not exist: this image has levels 0 to {count - 1}")
    return level % count


def read_level(layer: Image, level: int, plane_step: int = 1) -> np.ndarray:
    """The pixels of one level of an image layer, 1 z plane in ``plane_step``, read in parallel.

    The plugin's dask arrays have one task per chunk (here one per plane): with dask's default of
    one thread per core only 2 requests would be in flight, so :data:`VIEW_CONCURRENCY` threads.
    """
    data = layer.data[_check_level(layer, level)] if layer.multiscale else layer.data
    if data.ndim >= 3:  # (..., z, y, x): keep every plane_step-th plane
        data = data[..., :: check_count(plane_step, "plane_step"), :, :]
    if hasattr(data, "compute"):
        return np.asarray(data.compute(scheduler="threads", num_workers=VIEW_CONCURRENCY))
    return np.asarray(data)


def coarse_threshold(
    layer: Image, level: int = -1, method: str = "otsu", plane_step: int = PLANE_STEP
) -> float:
    """An automatic threshold of the layer at a coarse ``level`` (default the coarsest).

    The same computation as :func:`helpers.segment.compute_threshold` (scikit-image's function
    for ``method`` on every ``plane_step``-th plane of the level), so the numbers agree with the
    course's pipeline.
    """
    function = threshold_function(method)
    return float(function(read_level(layer, level, plane_step)))


def show_labels(viewer: napari.Viewer, layer: Image, labels: np.ndarray, level: int) -> Labels:
    """Add ``labels``, computed on ``level`` of ``layer``, as a labels layer that overlays it."""
    level = _check_level(layer, level)
    factors = layer.downsample_factors[level] if layer.multiscale else 1
    return viewer.add_labels(
        labels,
        name=f"nuclei (level {level})",
        scale=np.asarray(layer.scale) * factors,
        translate=layer.translate,
        affine=layer.affine,
        units=layer.units,
        axis_labels=layer.axis_labels,
        opacity=0.5,
    )


def summarize_layers(viewer: napari.Viewer) -> tuple[LayerSummary, ...]:
    """One :class:`LayerSummary` per layer of ``viewer``, in the layer list's order."""
    rows = []
    for layer in viewer.layers:
        shapes = layer.level_shapes if layer.multiscale else [layer.data.shape]
        rows.append(
            LayerSummary(
                name=layer.name,
                kind=type(layer).__name__.lower(),
                multiscale=bool(layer.multiscale),
                levels=len(shapes),
                level_shapes=tuple(tuple(int(n) for n in shape) for shape in shapes),
                visible=bool(layer.visible),
            )
        )
    return tuple(rows)


def run_activity(
    viewer: napari.Viewer,
    dataset: str = "nuclei",
    source: str | None = None,
    level: int | None = None,
    channel: str = "DAPI",
    threshold_level: int = -1,
    method: str = "otsu",
    min_size: int | None = None,
    plane_step: int = PLANE_STEP,
) -> ActivityResult:
    """The whole activity in ``viewer``: open, threshold on a coarse level, label the shown level.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer to fill (``napari.Viewer(show=False)`` for a headless run).
    dataset : str, optional
        A catalog name (default ``"nuclei"``; ``"nuclei_v05"`` is the same image as OME-NGFF 0.5).
    source : {"local", "remote"}, optional
        The local cloud (default, or ``$COURSE_SOURCE``) or the public IDR data.
    level : int, optional
        The level to label; napari is locked to show it. Default: the level napari shows now.
    channel : str, optional
        The nuclei channel (default ``"DAPI"``).
    threshold_level : int, optional
        The coarse level the threshold is computed on (default -1, the coarsest).
    method : str, optional
        The threshold method (:data:`helpers.segment.THRESHOLD_METHODS`, default ``"otsu"``).
    min_size : int, optional
        Smallest nucleus kept, in voxels of the labelled level (default
        :data:`helpers.segment.DEFAULT_MIN_SIZE` at level 0, scaled to the level).
    plane_step : int, optional
        The threshold reads every ``plane_step``-th plane (default :data:`PLANE_STEP`).

    Returns
    -------
    ActivityResult
        The threshold, the label count, the layers and the time of each step.

    Raises
    ------
    ValueError
        Unknown dataset, channel, level or method, or no OME-Zarr image at the URL (or
        ``ConnectionError``: the host does not answer).
    """
    start, level_given = time.perf_counter(), level is not None
    url = image_url(dataset, source)
    layers = open_layers(viewer, url)
    nuclei = nuclei_layer(layers, channel)
    level = nuclei.data_level if level is None else _check_level(nuclei, level)
    for layer in layers:  # a chosen level: napari shows it, and keeps it when zooming
        if level_given and layer.multiscale and level < len(layer.level_shapes):
            layer.locked_data_level = level
    opened = time.perf_counter()
    threshold = coarse_threshold(nuclei, threshold_level, method, plane_step)
    thresholded = time.perf_counter()
    logger.info("%s threshold of %s: %.1f", method, nuclei.name, threshold)
    if min_size is None:
        shapes = nuclei.level_shapes
        min_size = scaled_min_size(DEFAULT_MIN_SIZE, shapes[level], shapes[0])
    labels = label_nuclei(read_level(nuclei, level), threshold, min_size)
    mask_layer = show_labels(viewer, nuclei, labels, level)
    if labels.ndim == 3 and labels.any():  # show the plane that crosses the most nuclei
        z = mask_layer.data_to_world((busiest_plane(labels), 0, 0))[0]
        viewer.dims.set_point(viewer.dims.ndim - 3, z)  # layers' axes are aligned on the right
    done = time.perf_counter()
    return ActivityResult(
        url=url,
        channel_layer=nuclei.name,
        method=method,
        threshold=threshold,
        threshold_level=_check_level(nuclei, threshold_level),
        plane_step=plane_step,
        level=level,
        min_size=min_size,
        label_count=int(labels.max()),
        labels_layer=mask_layer.name,
        layers=summarize_layers(viewer),
        open_s=opened - start,
        threshold_s=thresholded - opened,
        labels_s=done - thresholded,
    )


def _summary(result: ActivityResult, screenshot: Path | None) -> str:
    lines = [f"image     {result.url}", "layers:"]
    for row in result.layers:
        kind = f"{row.kind}, {row.levels} levels" if row.multiscale else row.kind
        lines.append(f"  {row.name!r} ({kind}, level 0 {row.level_shapes[0]})")
    lines += [
        f"threshold {result.threshold:.1f} ({result.method} of {result.channel_layer!r}, level "
        f"{result.threshold_level}, 1 plane in {result.plane_step}, {result.threshold_s:.2f} s)",
        f"labels    {result.label_count} nuclei at level {result.level} (objects under "
        f"{result.min_size} voxels removed, {result.labels_s:.2f} s) in layer "
        f"{result.labels_layer!r}",
        f"opening   {result.open_s:.2f} s (metadata only: napari reads chunks as it draws)",
    ]
    if screenshot is not None:
        lines.append(f"screenshot {screenshot}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python activities/napari_threshold.py",
        description="Open a remote OME-Zarr image in napari (napari-ome-zarr), threshold its "
        "nuclei channel with scikit-image on a coarse level and show the nuclei as labels.",
    )
    add = parser.add_argument
    add("--source", choices=["local", "remote"], help="local cloud (default) or the IDR's data")
    add("--dataset", default="nuclei", help="catalog name: nuclei (default) or nuclei_v05")
    add("--level", type=count_arg(0), help="level to show and label (default: napari's choice)")
    add("--threshold-level", type=int, default=-1, help="level of the threshold (default -1)")
    add("--plane-step", type=count_arg(1), default=PLANE_STEP, help="threshold: 1 plane in N")
    add("--channel", default="DAPI", help="the nuclei channel (default DAPI)")
    add("--screenshot", type=Path, metavar="PATH", help="headless: save the window as PNG")
    add("--json", type=Path, metavar="PATH", help="also write the result as JSON")
    add("-v", "--verbose", action="store_true", help="log each step")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the activity; print its summary. Exit code 0, or 2 with one line for bad input."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    warnings.filterwarnings("ignore", "System theme detection")  # PyQt5: napari's dark theme
    warnings.filterwarnings("ignore", "color_dict did not provide")  # the plugin's label colours
    headless = args.screenshot is not None
    displays = ("DISPLAY", "WAYLAND_DISPLAY")
    if not headless and sys.platform == "linux" and not any(map(os.environ.get, displays)):
        raise ValueError("no display to open napari on: use --screenshot PATH to run headless")
    with contextlib.ExitStack() as stack:
        if headless and not os.environ.get("DISPLAY"):
            stack.enter_context(virtual_display())
        elif headless:
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import napari

        if headless:
            prime_opengl()
        viewer = napari.Viewer(show=not headless, title="skimage napari: nuclei")
        stack.callback(viewer.close)
        result = run_activity(
            viewer,
            args.dataset,
            args.source,
            args.level,
            args.channel,
            args.threshold_level,
            plane_step=args.plane_step,
        )
        if headless:  # the whole window: Qt's offscreen platform cannot grab the canvas alone
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            viewer.window.resize(*SCREENSHOT_SIZE)
            viewer.screenshot(str(args.screenshot), canvas_only=False, flash=False)
        if args.json is not None:
            args.json.write_text(json.dumps(asdict(result), indent=1))
        print(_summary(result, args.screenshot))
        if not headless:
            napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
