"""An ipywidgets image browser that shows what every view costs.

Controls: level (zoom), centre y and x (pan, in physical units), channel, z plane (when the image has
one) and contrast limits, plus zoom and pan buttons. Each change reads the view through a
:class:`~helpers.browse.ViewReader` (only the chunks that intersect it, at that level, all at
once) and shows next to the image the requests, bytes and milliseconds it cost, or "served from
cache: 0 requests" when every chunk was already in memory.

Responsiveness: sliders update when released (``continuous_update=False``), so dragging costs one
view, not dozens; one update fetches its chunks concurrently and then returns, so the kernel is
never busy for longer than one view update (about one latency plus drawing).

The first contrast window and z plane come from the image's ``omero`` metadata (OME-NGFF 0.4 and
0.5 alike, through :mod:`course_tools.ngff`); the chunk-grid lines are :mod:`helpers.chunks` maths.

Examples
--------
>>> from course_tools.viewers.browser import browse
>>> browse("tissue")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_tools.viewers.ngstate import channel_windows, default_z
from course_tools.viewers.readout import error_html, readout_html, unit_symbol
from helpers.browse import (
    View,
    ViewCost,
    ViewReader,
    ViewResult,
    downsampling_factors,
    level_for_screen,
)
from helpers.chunks import chunk_region
from helpers.image import OmeImage
from helpers.model import check_count

__all__ = ["MAX_SCREEN_PX", "MIN_SCREEN_PX", "Browser", "browse", "check_screen"]

MIN_SCREEN_PX = 16
"""Smallest view (pixels along y or x) a viewer shows."""
MAX_SCREEN_PX = 8192
"""Largest view (pixels along y or x) a viewer accepts."""


def check_screen(screen: Any) -> tuple[int, int]:
    """``screen`` as ``(height, width)`` if both are whole numbers of pixels from 16 to 8192."""
    if isinstance(screen, str | bytes) or not isinstance(screen, Sequence) or len(screen) != 2:
        raise ValueError(
            f"screen must be a pair of pixel sizes (height, width), e.g. (512, 512); got {screen!r}"
        )
    height, width = (check_count(s, "screen size", MIN_SCREEN_PX, MAX_SCREEN_PX) for s in screen)
    return height, width


def _default_contrast(image: OmeImage) -> tuple[int, int, int, int]:
    """``(min, max, start, end)`` for the contrast slider: from OMERO's window, else the dtype."""
    windows = channel_windows(image.ome)
    window = windows[0] if windows else {}
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        lo, hi = int(window.get("min", info.min)), int(window.get("max", info.max))
    else:
        lo, hi = int(window.get("min", 0)), int(window.get("max", 1))
    return lo, hi, int(window.get("start", lo)), int(window.get("end", hi))


class Browser:
    """An interactive multiscale viewer for one OME-Zarr image (display it as a notebook cell's result).

    Parameters
    ----------
    image : OmeImage
        An image opened with :func:`helpers.open_image` (needs y and x axes).
    screen : tuple of int, optional
        Height and width of the view in screen pixels (one pixel of the level each).
    reader : ViewReader, optional
        The reader to read through (a new one, with its own cache, by default).
    level : int, optional
        First level shown (default: the one that fits the whole image on ``screen``).
    channel : int or str, optional
        First channel shown (index or name).

    Attributes
    ----------
    widget : ipywidgets.HBox
        The image, the read-out and the controls.
    last, history : ViewResult or None, list of ViewCost
        The last view shown, and the cost of every view so far.

    Raises
    ------
    ValueError
        A screen under 16 x 16 pixels, a level or channel that does not exist.

    Examples
    --------
    >>> browser = Browser(open_image("tissue"), screen=(512, 512))  # doctest: +SKIP
    >>> browser.zoom_in().cost.requests  # doctest: +SKIP
    4
    """

    def __init__(
        self,
        image: OmeImage,
        screen: tuple[int, int] = (512, 512),
        reader: ViewReader | None = None,
        level: int | None = None,
        channel: int | str = 0,
    ) -> None:
        self.screen = check_screen(screen)  # a pair of 16 to 8192 pixels
        self.image = image
        self.reader = reader or ViewReader(image)
        self.history: list[ViewCost] = []
        self.last: ViewResult | None = None
        self._hold = False
        self._axes = image.axes
        y, x = image.axis("y"), image.axis("x")
        self._yx = (y, x)
        self._unit = unit_symbol(image.units.get("x"))
        self._factors = downsampling_factors(image.scales, x)
        height = image.shape[y] * image.scales[0][y]
        width = image.shape[x] * image.scales[0][x]
        if level is None:
            level = level_for_screen(self._factors, (image.shape[y], image.shape[x]), self.screen)
        image.level(level)  # clear error for a level that does not exist
        self._build_controls(level, channel, height, width)
        self._build_figure()
        self.widget = widgets.HBox(
            [
                self._image,
                widgets.VBox([self._readout, *self._controls], layout={"width": "350px"}),
            ],
            layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        self.widget.add_class("browse-widget")
        self.refresh()

    # --- building -------------------------------------------------------------------------------

    def _build_controls(self, level: int, channel: int | str, height: float, width: float) -> None:
        step = float(self.image.scales[0][self._yx[1]])
        common = {
            "continuous_update": False,
            "style": {"description_width": "110px"},
            "layout": {"width": "340px"},
        }
        self.level_slider = widgets.IntSlider(
            value=level,
            min=0,
            max=len(self.image.levels) - 1,
            description="level (0 = full)",
            **common,
        )
        self.y_slider = widgets.FloatSlider(
            value=height / 2, min=0, max=height, step=step, description=f"centre y ({self._unit})",
            readout_format=".1f", **common,
        )  # fmt: skip
        self.x_slider = widgets.FloatSlider(
            value=width / 2, min=0, max=width, step=step, description=f"centre x ({self._unit})",
            readout_format=".1f", **common,
        )  # fmt: skip
        names = self.image.channel_names or [
            f"channel {i}" for i in range(self.image.shape[self.image.axis("c")])
        ]
        options = [(name, i) for i, name in enumerate(names)] if "c" in self._axes else [("-", 0)]
        self.channel_menu = widgets.Dropdown(
            options=options,
            value=self.image.channel_index(channel) if "c" in self._axes else 0,
            description="channel",
            style=common["style"],
            layout=common["layout"],
        )
        controls: list[widgets.Widget] = [
            self.level_slider,
            self.y_slider,
            self.x_slider,
            self.channel_menu,
        ]
        self.z_slider = None
        if "z" in self._axes:
            planes = self.image.shape[self.image.axis("z")]
            first_z = default_z(self.image.ome)
            self.z_slider = widgets.IntSlider(
                value=min(planes // 2 if first_z is None else first_z, planes - 1),
                min=0,
                max=planes - 1,
                description="z plane",
                **common,
            )
            controls.append(self.z_slider)
        lo, hi, start, end = _default_contrast(self.image)
        self.contrast_slider = widgets.IntRangeSlider(
            value=(start, end), min=lo, max=hi, description="contrast", **common
        )
        controls.append(self.contrast_slider)
        self.grid_box = widgets.Checkbox(value=True, description="show chunk grid", indent=False)
        controls.append(self.grid_box)
        self.buttons = {
            name: widgets.Button(description=label, tooltip=tip, layout={"width": "46px"})
            for name, label, tip in (
                ("zoom-in", "+", "zoom in (one level finer)"),
                ("zoom-out", "−", "zoom out (one level coarser)"),
                ("pan-left", "◀", "pan left by half a view"),
                ("pan-right", "▶", "pan right by half a view"),
                ("pan-up", "▲", "pan up by half a view"),
                ("pan-down", "▼", "pan down by half a view"),
            )
        }
        actions = {
            "zoom-in": self.zoom_in,
            "zoom-out": self.zoom_out,
            "pan-left": lambda: self.pan(0, -0.5),
            "pan-right": lambda: self.pan(0, 0.5),
            "pan-up": lambda: self.pan(-0.5, 0),
            "pan-down": lambda: self.pan(0.5, 0),
        }
        for name, button in self.buttons.items():
            button.add_class(f"browse-{name}")
            button.on_click(lambda _button, act=actions[name]: act())
        controls.append(widgets.HBox(list(self.buttons.values())))
        for control in controls[:-1]:
            control.observe(self._on_change, names="value")
        self._controls = controls
        self._readout = widgets.HTML(layout={"width": "340px"})
        self._readout.add_class("browse-readout")

    def _build_figure(self) -> None:
        self._figure = Figure(figsize=(5.6, 5.4), dpi=100, layout="constrained")
        FigureCanvasAgg(self._figure)
        self._ax = self._figure.add_subplot()
        self._artist: Any = None
        self._grid_lines: list = []
        self._image = widgets.Image(format="png", layout={"width": "560px", "min_width": "560px"})
        self._image.add_class("browse-image")

    # --- actions --------------------------------------------------------------------------------

    @property
    def view(self) -> View:
        """The view the controls describe now."""
        return View(
            level=self.level_slider.value,
            center_yx=(self.y_slider.value, self.x_slider.value),
            screen_yx=self.screen,
            channel=self.channel_menu.value,
            z=self.z_slider.value if self.z_slider is not None else 0,
        )

    def show(
        self,
        level: int | None = None,
        center_yx: tuple[float, float] | None = None,
        channel: int | str | None = None,
        z: int | None = None,
    ) -> ViewResult:
        """Set any of level, centre (physical units), channel and z, then show that view (once).

        Parameters
        ----------
        level, center_yx, channel, z : optional
            Pyramid level, centre (y, x) in physical units, channel index or name, plane index.

        Returns
        -------
        ViewResult
            The view shown.
        """
        if level is not None:
            self.image.level(level)
        self._hold = True
        try:
            if level is not None:
                self.level_slider.value = level
            if center_yx is not None:
                self.y_slider.value, self.x_slider.value = center_yx
            if channel is not None:
                self.channel_menu.value = self.image.channel_index(channel)
            if z is not None and self.z_slider is not None:
                self.z_slider.value = z
        finally:
            self._hold = False
        return self.refresh()

    def zoom_in(self) -> ViewResult:
        """One level finer around the same centre (stays at level 0 when already there)."""
        return self.show(level=max(self.level_slider.value - 1, 0))

    def zoom_out(self) -> ViewResult:
        """One level coarser around the same centre."""
        return self.show(level=min(self.level_slider.value + 1, len(self.image.levels) - 1))

    def pan(self, dy: float, dx: float) -> ViewResult:
        """Move the centre by ``dy``, ``dx`` view heights/widths (e.g. 0.5 = half a view).

        Parameters
        ----------
        dy, dx : float
            Distances in view heights and widths (negative: up / left).

        Returns
        -------
        ViewResult
            The view shown (the centre stays inside the image).
        """
        y, x = self._yx
        scale = self.image.scales[self.level_slider.value]
        new_y = self.y_slider.value + dy * self.screen[0] * scale[y]
        new_x = self.x_slider.value + dx * self.screen[1] * scale[x]
        return self.show(center_yx=(_clamp(new_y, self.y_slider), _clamp(new_x, self.x_slider)))

    def refresh(self) -> ViewResult:
        """Read and draw the current view; update the read-out."""
        try:
            result = self.reader.read(self.view)
        except Exception as err:  # shown on screen: a widget callback has nowhere else to report
            self._readout.value = error_html(err)
            raise
        draw_start = time.perf_counter()
        self._image.value = self._render(result)
        draw_ms = (time.perf_counter() - draw_start) * 1000
        self.last = result
        self.history.append(result.cost)
        self._readout.value = readout_html(
            result, self.image, self.history, self.reader.cache, draw_ms
        )
        return result

    def _on_change(self, change: dict) -> None:
        if not self._hold:
            self.refresh()

    # --- drawing --------------------------------------------------------------------------------

    def _render(self, result: ViewResult) -> bytes:
        lo, hi = self.contrast_slider.value
        if self._artist is None:
            self._artist = self._ax.imshow(
                result.data, extent=result.extent, cmap="gray", vmin=lo, vmax=hi
            )
            self._ax.set_xlabel(f"x ({self._unit})")
            self._ax.set_ylabel(f"y ({self._unit})")
        else:
            self._artist.set_data(result.data)
            self._artist.set_extent(result.extent)
            self._artist.set_clim(lo, hi)
        left, right, bottom, top = result.extent
        self._ax.set_xlim(left, right)
        self._ax.set_ylim(bottom, top)
        channel = self.channel_menu.label
        plane = f", z {result.view.z}" if self.z_slider is not None else ""
        name = self.image.name or "image"
        self._ax.set_title(f"{name}: {channel}{plane}, level {result.view.level}")
        self._draw_chunk_grid(result)
        buffer = io.BytesIO()
        self._figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
        return buffer.getvalue()

    def _draw_chunk_grid(self, result: ViewResult) -> None:
        """Thin lines on the chunk borders of the level shown (what one request fetches)."""
        for line in self._grid_lines:
            line.remove()
        self._grid_lines = []
        if not self.grid_box.value:
            return
        level = self.image.levels[result.view.level]
        scale = self.image.scales[result.view.level]
        offset = self.image.translations[result.view.level]
        chunks = [
            chunk_region(index, level.shape, level.chunks)
            for index in self.reader.chunks_needed(result.view.level, result.region)
        ]
        for axis, draw in zip(self._yx, (self._ax.axhline, self._ax.axvline), strict=True):
            starts = {c[axis].start for c in chunks if c[axis].start > result.region[axis].start}
            for start in sorted(starts):  # the borders between the chunks the view needs
                position = offset[axis] + start * scale[axis]
                self._grid_lines.append(draw(position, color="#ffcc00", lw=0.8, ls="--"))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _clamp(value: float, slider: widgets.FloatSlider) -> float:
    return min(max(value, slider.min), slider.max)


def browse(image: OmeImage | str, **options: Any) -> Browser:
    """A :class:`Browser` for ``image`` (an :class:`OmeImage` or a catalog name / URL).

    Parameters
    ----------
    image : OmeImage or str
        An opened image, or what :func:`helpers.open_image` accepts.
    **options
        Passed on to :class:`Browser` (``screen``, ``reader``, ``level``, ``channel``).

    Returns
    -------
    Browser
        Display it as a notebook cell's result.

    Examples
    --------
    >>> browse("tissue", channel="Nuclei")  # doctest: +SKIP
    """
    if isinstance(image, str):
        from helpers.catalog import open_image

        image = open_image(image)
    return Browser(image, **options)
