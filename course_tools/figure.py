"""The course's overview figure: a remote OME-Zarr image, its chunk URLs and requests in flight.

"Accessing remote (cloud hosted) data typically relies on specific protocols, such as HTTP": the
figure shows a client sending HTTP GET (S3 GetObject) requests, one per chunk URL, to an object
store; in the store a bucket holds an OME-Zarr image, i.e. a metadata document and a pyramid of
three levels made of chunk objects. Each request waits about one latency (100 ms, the local
cloud's default), so the client keeps several in flight; a small timeline compares one at a time
with all at once. Every number on it (chunk grids, keys, times) comes from the helpers' own maths
(:mod:`helpers.chunks`, :mod:`helpers.model`).

The drawing is pure matplotlib (no pyplot, no I/O); :func:`save_figure` writes it as SVG and PNG
with fixed metadata and SVG hash salt, so a rebuild gives byte-identical SVG. Rebuild the files
committed in ``course/figures/`` with::

    python -m course_tools figure build [--out DIR]

:data:`ALT_TEXT` and :data:`LEGEND` are the figure's alt text and legend; ``course/module.md``
uses the same words (a test checks).

Examples
--------
>>> fig = draw_remote_access()
>>> [round(float(v), 1) for v in fig.get_size_inches()]
[10.0, 5.6]
>>> REQUESTED_URLS[0]
'.../0/c/0/3/5'
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from course_tools import REPO_ROOT
from helpers.chunks import ChunkLayout, chunk_region
from helpers.cloud import DEFAULT_LATENCY_MS
from helpers.model import model_time_s

__all__ = [
    "ALT_TEXT",
    "DEFAULT_OUT_DIR",
    "FIGURE_NAME",
    "FIGURE_TITLE",
    "LEGEND",
    "LEVELS",
    "REQUESTED",
    "REQUESTED_URLS",
    "FigureFiles",
    "draw_remote_access",
    "main",
    "save_figure",
]

FIGURE_NAME = "remote_access"
"""Base name of the figure's files (``remote_access.svg`` and ``.png``)."""
DEFAULT_OUT_DIR = REPO_ROOT / "course" / "figures"
"""Where ``python -m course_tools figure build`` writes by default (the committed copies)."""
FIGURE_TITLE = (
    "Accessing remote (cloud hosted) data typically relies on specific protocols, such as HTTP"
)
"""The figure's title, from the source module."""

CHUNK = (1, 256, 256)
LEVELS: tuple[ChunkLayout, ...] = tuple(
    ChunkLayout((1, 1536 // 2**i, 2048 // 2**i), CHUNK, "uint16", 3, "c", "/") for i in range(3)
)
"""The pyramid drawn: (c, y, x) levels 0-2 of a Zarr v3 image, halved in y and x, 256 x 256 chunks."""
REQUESTED: tuple[tuple[int, int, int], ...] = ((0, 3, 5), (0, 3, 6), (0, 4, 5), (0, 4, 6))
"""The level-0 chunks the client is fetching (a 2 x 2 chunk view), all in flight at once."""
REQUESTED_URLS: tuple[str, ...] = tuple(f".../0/{LEVELS[0].key(index)}" for index in REQUESTED)
"""Their URLs, relative to the image's URL (level path ``0``, then the chunk key)."""

_LATENCY_S = DEFAULT_LATENCY_MS / 1000
_N = len(REQUESTED)
_SEQUENTIAL_MS = round(model_time_s(_N, 1, _LATENCY_S) * 1000)
_PARALLEL_MS = round(model_time_s(_N, _N, _LATENCY_S) * 1000)
_COUNTS = [layout.nchunks for layout in LEVELS]

ALT_TEXT = (
    f"Diagram. Left, a client (Python, Fiji, napari or a web browser) sends {_N} HTTP GET "
    f"requests at the same time, each for one chunk URL such as {REQUESTED_URLS[0]}; each request "
    f"takes about {DEFAULT_LATENCY_MS:g} ms. Right, an object store holds a bucket, the bucket "
    "holds an OME-Zarr image: a zarr.json metadata document and a pyramid of three levels drawn "
    f"as grids of chunk objects ({_COUNTS[0]}, {_COUNTS[1]} and {_COUNTS[2]} chunks); the {_N} "
    f"requested chunks are coloured. Bottom left, a timeline: {_N} requests one after another "
    f"take {_SEQUENTIAL_MS} ms, {_N} requests in flight together take {_PARALLEL_MS} ms."
)
"""The figure's alt text (also in ``course/module.md``)."""
LEGEND = (
    f"{FIGURE_TITLE}. An OME-Zarr image in an object store is a set of objects in a bucket: a "
    "metadata document and, at every pyramid level, one object per chunk, each with its own URL. "
    "A client reads a chunk with one HTTP GET (S3 GetObject) request, which waits about "
    f"{DEFAULT_LATENCY_MS:g} ms for its answer whatever the chunk's size, so good clients keep "
    f"many requests in flight: {_N} chunks then take about {_PARALLEL_MS} ms instead of "
    f"{_SEQUENTIAL_MS} ms."
)
"""The figure's legend (also in ``course/module.md``)."""

_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")  # Okabe-Ito: safe for colour blindness
_GREY, _INK, _EMPTY = "#6b6b6b", "#1a1a1a", "#e9eef3"
_CELL = 2.2  # drawing units per 256 pixels (one chunk)
_SVG_SALT = "remote-access-figure"
_PNG_DPI = 160


def _box(ax, x, y, w, h, title, face, edge=_GREY, size=12.0, dy=1.6) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0,rounding_size=1.2", fc=face, ec=edge, lw=1.3
        )
    )
    ax.text(x + 1, y + h - dy, title, fontsize=size, fontweight="bold", va="center", color=_INK)


def _pyramid(ax, left: float, bottom: float, width: float) -> dict[tuple[int, int, int], tuple]:
    """Draw the three levels bottom-up, centred; return the centres of the requested chunks."""
    centres: dict[tuple[int, int, int], tuple] = {}
    y0 = bottom
    for number, layout in enumerate(LEVELS):
        rows, cols = layout.grid[1:]
        height, full_width = layout.shape[1] / 256 * _CELL, cols * _CELL
        x0 = left + (width - full_width) / 2
        for r in range(rows):
            for c in range(cols):
                region = chunk_region((0, r, c), layout.shape, layout.chunks)
                h = (region[1].stop - region[1].start) / 256 * _CELL
                top = y0 + height - r * _CELL  # row 0 at the top, like an image
                index = (0, r, c)
                hit = number == 0 and index in REQUESTED
                face = _COLOURS[REQUESTED.index(index)] if hit else _EMPTY
                ax.add_patch(
                    Rectangle((x0 + c * _CELL, top - h), _CELL, h, fc=face, ec="#8a99a8", lw=0.7)
                )
                if hit:
                    centres[index] = (x0 + (c + 0.5) * _CELL, top - h / 2)
        ax.text(
            x0 + full_width + 0.8,
            y0 + height / 2,
            f"level {number}: {layout.shape[1]} x {layout.shape[2]} px\n"
            f"{layout.nchunks} chunks = {layout.nchunks} objects",
            fontsize=10,
            va="center",
            color=_INK,
        )
        y0 += height + 1.6
    return centres


def _timeline(ax, left: float, bottom: float) -> None:
    """Two rows of bars: the requests one after another, then all in flight together."""
    scale = 30 / _SEQUENTIAL_MS  # drawing units per millisecond
    x0 = left + 11
    ax.text(
        left,
        bottom + 13.2,
        f"Time for {_N} chunks at {DEFAULT_LATENCY_MS:g} ms per request",
        fontsize=11,
        fontweight="bold",
        color=_INK,
    )
    rows = (("one at a time", bottom + 7.6, True), (f"{_N} in flight", bottom + 2.6, False))
    latency_ms = DEFAULT_LATENCY_MS
    for label, y, sequential in rows:
        ax.text(left, y + 1.6, label, fontsize=10, va="center", color=_INK)
        for i, colour in enumerate(_COLOURS[:_N]):
            start = i * latency_ms if sequential else 0.0
            bar_y, bar_h = (y, 3.2) if sequential else (y + (_N - 1 - i) * 0.8, 0.7)
            ax.add_patch(
                Rectangle(
                    (x0 + start * scale, bar_y), latency_ms * scale, bar_h, fc=colour, ec="white"
                )
            )
        total = _SEQUENTIAL_MS if sequential else _PARALLEL_MS
        ax.text(
            x0 + total * scale + 0.8,
            y + 1.6,
            f"{total} ms",
            fontsize=10.5,
            fontweight="bold",
            va="center",
            color=_INK,
        )
    for ms in range(0, _SEQUENTIAL_MS + 1, int(latency_ms)):
        x = x0 + ms * scale
        ax.plot([x, x], [bottom + 1.6, bottom + 1.1], color=_GREY, lw=0.8)
        ax.text(x, bottom + 0.2, f"{ms}", fontsize=9, ha="center", color=_GREY)
    ax.text(x0 + _SEQUENTIAL_MS * scale + 2.2, bottom + 0.2, "ms", fontsize=9, color=_GREY)


def draw_remote_access(fig: Figure | None = None) -> Figure:
    """Draw the overview figure (10 x 5.6 inches) and return it; nothing is written.

    Parameters
    ----------
    fig : matplotlib.figure.Figure, optional
        An empty figure to draw on (default: a new 10 x 5.6 inch figure, not managed by pyplot).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Examples
    --------
    >>> len(draw_remote_access().axes)
    1
    """
    fig = Figure(figsize=(10, 5.6)) if fig is None else fig
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 56)
    ax.set_axis_off()
    ax.text(50, 53.6, FIGURE_TITLE, fontsize=13, fontweight="bold", ha="center", color=_INK)

    # the object store, its bucket, the OME-Zarr store in it, and the pyramid of chunks
    _box(ax, 55, 1.5, 44, 49, "Object store (S3 API over HTTP)", "#f4f6f8")
    _box(ax, 56.5, 3, 41, 43, "bucket", "#fbfcfd", size=11)
    _box(ax, 58, 4.5, 38, 37.5, "image.zarr/  (OME-Zarr)", "white", size=10.5)
    ax.add_patch(Rectangle((59.3, 34.4), 9.5, 3, fc="#fff7e0", ec=_GREY, lw=0.8))
    ax.text(64.05, 35.9, "zarr.json", fontsize=9, ha="center", va="center", family="monospace")
    ax.text(69.6, 35.9, "metadata: axes, scales, levels", fontsize=9, va="center", color=_INK)
    centres = _pyramid(ax, 58.5, 6.5, 21)
    ax.text(96.5, 44.4, "one chunk = one object = one URL", fontsize=10, ha="right", va="center")

    # the client and its requests in flight, one URL each
    _box(ax, 1.5, 27.5, 17, 17.5, "Client", "#eef5fb", size=13, dy=2.2)
    for i, line in enumerate(("Python", "Fiji, napari", "web browser")):
        ax.text(3, 38.6 - 2.6 * i, line, fontsize=10.5, color=_INK)
    ax.text(22, 48.6, "HTTP GET / S3 GetObject", fontsize=11, fontweight="bold", color=_INK)
    ax.text(
        22,
        45.4,
        f"about {DEFAULT_LATENCY_MS:g} ms per request,\n{_N} requests in flight at once",
        fontsize=10.5,
        color=_INK,
        va="center",
        linespacing=1.4,
    )
    for i, (index, url) in enumerate(zip(REQUESTED, REQUESTED_URLS, strict=True)):
        start = (18.8, 42 - 4 * i)
        end = centres[index]
        colour = _COLOURS[i]
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=colour, lw=1.8)
        )
        dx, dy = end[0] - start[0], end[1] - start[1]
        angle, length = math.degrees(math.atan2(dy, dx)), math.hypot(dx, dy)
        ux, uy = dx / length, dy / length  # along the arrow; (-uy, ux) points above it
        ax.text(
            start[0] + 2.5 * ux - 0.3 * uy,
            start[1] + 2.5 * uy + 0.3 * ux,
            f"GET {url}",
            fontsize=10,
            family="monospace",
            color=colour,
            rotation=angle,
            rotation_mode="anchor",
            transform_rotates_text=True,
            va="bottom",
        )
        along = 0.42 + 0.12 * i  # each request is at another point of its trip
        packet = (start[0] + along * (end[0] - start[0]), start[1] + along * (end[1] - start[1]))
        ax.add_patch(Circle(packet, 0.7, fc=colour, ec="white", lw=1))

    _timeline(ax, 2, 2)
    return fig


@dataclass(frozen=True)
class FigureFiles:
    """The files :func:`save_figure` wrote."""

    svg: Path
    png: Path


def save_figure(out_dir: str | Path = DEFAULT_OUT_DIR) -> FigureFiles:
    """Draw the figure and write ``remote_access.svg`` and ``.png`` into ``out_dir``.

    The SVG has a fixed hash salt and no date, so the same versions of the code and matplotlib
    write the same bytes every time; the PNG is 1600 pixels wide.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder to write into (created if missing); default ``course/figures`` in the repository.

    Returns
    -------
    FigureFiles
        The two paths.

    Examples
    --------
    >>> import tempfile
    >>> files = save_figure(tempfile.mkdtemp())
    >>> files.svg.name, files.png.name
    ('remote_access.svg', 'remote_access.png')
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    files = FigureFiles(out / f"{FIGURE_NAME}.svg", out / f"{FIGURE_NAME}.png")
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "path"}):
        fig = draw_remote_access()
        fig.savefig(
            files.svg,
            format="svg",
            metadata={"Date": None, "Title": FIGURE_TITLE, "Description": ALT_TEXT},
        )
        fig.savefig(files.png, format="png", dpi=_PNG_DPI, metadata={"Software": None})
    return files


def main(argv: list[str] | None = None) -> int:
    """``python -m course_tools figure build [--out DIR]``: write the figure's SVG and PNG.

    Examples
    --------
    >>> main(["build", "--out", __import__("tempfile").mkdtemp()])  # doctest: +ELLIPSIS
    wrote .../remote_access.svg and .../remote_access.png
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_tools figure",
        description="Draw the course's overview figure (remote OME-Zarr: chunk URLs, requests "
        "in flight) as SVG and PNG.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write remote_access.svg and remote_access.png")
    build.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"folder to write into (default: {DEFAULT_OUT_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    files = save_figure(args.out)
    print(f"wrote {files.svg} and {files.png}")
    return 0
