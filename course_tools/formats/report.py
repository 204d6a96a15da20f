"""Our figures beside the paper's: the table, the ratios to Zarr, the whole-file download, the plot.

Examples
--------
>>> from course_tools.formats import download_estimates, format_downloads
>>> rows = download_estimates({"tiff": 67_135_086, "zarr": 67_110_286}, {"zarr": 4098}, 100.0, 100.0)
>>> [(r.format, round(r.seconds, 1)) for r in rows]  # one GET; 4,098 GETs, 64 at a time
[('tiff', 5.5), ('zarr', 11.9)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_tools.formats.measure import FormatsRun, ReadFigure
from course_tools.formats.paper import PAPER_2D_MS, paper_column, paper_ratio
from course_tools.formats.readers import FORMATS
from course_tools.text import format_table
from helpers.model import model_time_s
from helpers.storage import MAX_CONNECTIONS

__all__ = [
    "DownloadEstimate",
    "Ratio",
    "condition_label",
    "download_estimates",
    "format_downloads",
    "format_figures",
    "format_ratios",
    "plot_read_times",
    "ratios",
]

MARKERS = {"overhead": "x", "zarr": "o", "tiff": "s", "hdf5": "^"}


def condition_label(source: str, latency_ms: float | None) -> str:
    """``"local disk"`` or ``"cloud 10 ms"``.

    Examples
    --------
    >>> condition_label("cloud", 10.0), condition_label("local", None)
    ('cloud 10 ms', 'local disk')
    """
    return "local disk" if source == "local" else f"cloud {latency_ms:g} ms"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _paper_ms(fig: ReadFigure) -> float | None:
    column = paper_column(fig.source, fig.latency_ms)
    return PAPER_2D_MS.get((fig.format, column)) if column else None


def format_figures(run: FormatsRun) -> str:
    """One line per figure: our median beside the paper's, the requests and bytes, the model.

    The paper's column is the one that compares (:func:`~course_tools.formats.paper.paper_column`):
    local with local, cloud 0 ms with its HTTP server, cloud 10 ms with its S3.
    """
    rows = []
    for fig in run.figures:
        column = paper_column(fig.source, fig.latency_ms)
        ratio = fig.model_ratio
        rows.append(
            {
                "format": fig.format,
                "read from": condition_label(fig.source, fig.latency_ms),
                "median ms": _num(fig.median_ms, 2 if fig.median_ms < 10 else 1),
                "paper ms": f"{_num(_paper_ms(fig), 2)} ({column})" if _paper_ms(fig) else "-",
                "requests/read": _num(fig.requests_per_read),
                "kB/read": _num(None if fig.bytes_per_read is None else fig.bytes_per_read / 1000),
                "model ms": _num(fig.model_ms),
                "median/model": _num(ratio, 2),
            }
        )
    links = [
        f"cloud {link.latency_ms:g} ms: one request {link.request_ms:.1f} ms, "
        f"bandwidth {link.bandwidth_mbps:.0f} Mbit/s"
        for link in run.links
    ]
    note = "\n".join(
        ["", "measured link (model = requests x request + bytes / bandwidth):", *links]
    )
    return format_table(rows) + (note if links else "")


@dataclass(frozen=True)
class Ratio:
    """How many times longer than Zarr TIFF and HDF5 take, ours and the paper's, in one condition.

    Attributes
    ----------
    condition : str
        Where the files were read from (``"cloud 10 ms"``).
    paper_source : str or None
        The paper's comparable source.
    tiff_zarr, hdf5_zarr : float or None
        Our median ratios.
    paper_tiff_zarr, paper_hdf5_zarr : float or None
        The paper's.
    """

    condition: str
    paper_source: str | None
    tiff_zarr: float | None
    hdf5_zarr: float | None
    paper_tiff_zarr: float | None
    paper_hdf5_zarr: float | None


def ratios(run: FormatsRun) -> list[Ratio]:
    """TIFF/Zarr and HDF5/Zarr for the local files and each latency, with the paper's."""
    conditions: list[tuple[str, float | None]] = [("local", None)]
    conditions += [("cloud", latency) for latency in run.latencies]
    out = []
    for source, latency in conditions:
        zarr = run.figure("zarr", source, latency)
        if zarr is None:
            continue
        ours = {}
        for fmt in ("tiff", "hdf5"):
            fig = run.figure(fmt, source, latency)
            ours[fmt] = fig.median_ms / zarr.median_ms if fig is not None else None
        column = paper_column(source, latency)
        out.append(
            Ratio(
                condition_label(source, latency),
                column,
                ours["tiff"],
                ours["hdf5"],
                paper_ratio("tiff", column) if column else None,
                paper_ratio("hdf5", column) if column else None,
            )
        )
    return out


def format_ratios(rows: list[Ratio]) -> str:
    """The ratios as a table, ours beside the paper's."""
    return format_table(
        [
            {
                "read from": r.condition,
                "TIFF/Zarr": _num(r.tiff_zarr, 2),
                "paper": _num(r.paper_tiff_zarr, 2)
                + (f" ({r.paper_source})" if r.paper_source else ""),
                "HDF5/Zarr": _num(r.hdf5_zarr, 2),
                "paper ": _num(r.paper_hdf5_zarr, 2)
                + (f" ({r.paper_source})" if r.paper_source else ""),
            }
            for r in rows
        ]
    )


@dataclass(frozen=True)
class DownloadEstimate:
    """The time to download a whole file (or store) before reading any of it.

    Attributes
    ----------
    format : str
        The format.
    nbytes : int
        Its size.
    objects : int
        Its objects (1 for a file; a Zarr store: one per chunk, fetched 64 at a time).
    bandwidth_mbps, latency_ms : float
        The stated link.
    seconds : float
        ``ceil(objects / 64) x latency + bytes / bandwidth``.
    """

    format: str
    nbytes: int
    objects: int
    bandwidth_mbps: float
    latency_ms: float
    seconds: float


def download_estimates(
    sizes: Mapping[str, int],
    objects: Mapping[str, int],
    bandwidth_mbps: float,
    latency_ms: float,
) -> list[DownloadEstimate]:
    """The cost of "download the whole thing first" for each format in ``sizes``, at a stated link.

    Parameters
    ----------
    sizes : mapping
        Format -> bytes (the overhead and probe objects are skipped).
    objects : mapping
        Format -> number of objects (missing: 1).
    bandwidth_mbps : float
        The link's bandwidth in Mbit/s.
    latency_ms : float
        Its latency per request.

    Returns
    -------
    list of DownloadEstimate
        One per image format, in the order of ``sizes``.
    """
    out = []
    for fmt, nbytes in sizes.items():
        if fmt not in ("zarr", "tiff", "hdf5"):
            continue
        n = objects.get(fmt, 1)
        seconds = model_time_s(n, MAX_CONNECTIONS, latency_ms / 1000, nbytes, bandwidth_mbps)
        out.append(DownloadEstimate(fmt, nbytes, n, bandwidth_mbps, latency_ms, seconds))
    return out


def format_downloads(rows: list[DownloadEstimate]) -> str:
    """The whole-download estimates as a table."""
    return format_table(
        [
            {
                "format": r.format,
                "MB": f"{r.nbytes / 1e6:.1f}",
                "objects": r.objects,
                "link": f"{r.bandwidth_mbps:g} Mbit/s, {r.latency_ms:g} ms",
                "download s": f"{r.seconds:.1f}",
            }
            for r in rows
        ]
    )


def plot_read_times(run: FormatsRun, ax: Any = None, title: str | None = None) -> Any:
    """Time per tile for each format and condition, log scale, like the paper's figure.

    Each read is a faint dot, the median a large marker (one shape per format; no lines: the
    conditions are categories, not a scale); the paper's medians are hollow markers at the
    conditions they compare with.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    conditions: list[tuple[str, float | None]] = []
    for row in run.figures:
        if (row.source, row.latency_ms) not in conditions:
            conditions.append((row.source, row.latency_ms))
    formats = [f for f in FORMATS if any(row.format == f for row in run.figures)]
    rng = np.random.default_rng(0)
    for k, fmt in enumerate(formats):
        shift = (k - (len(formats) - 1) / 2) * 0.15
        xs, medians, paper_x, paper_y = [], [], [], []
        for i, (source, latency) in enumerate(conditions):
            fig = run.figure(fmt, source, latency)
            if fig is None:
                continue
            x = i + shift
            jitter = rng.uniform(-0.04, 0.04, len(fig.times_ms))
            ax.plot(x + jitter, fig.times_ms, ".", color=f"C{k}", alpha=0.25, ms=3)
            xs.append(x)
            medians.append(fig.median_ms)
            paper = _paper_ms(fig)
            if paper is not None:
                paper_x.append(x)
                paper_y.append(paper)
        ax.plot(xs, medians, MARKERS[fmt], ls="none", color=f"C{k}", ms=8, label=f"{fmt} (ours)")
        if paper_x:
            ax.plot(
                paper_x,
                paper_y,
                MARKERS[fmt],
                mfc="none",
                color=f"C{k}",
                ms=9,
                label=f"{fmt} (paper)",
            )
    ax.set_xticks(range(len(conditions)), [condition_label(s, lat) for s, lat in conditions])
    ax.set_yscale("log")
    ax.set_xlabel("where the tile is read from (injected latency per request)")
    ax.set_ylabel("time to read one tile (ms, log scale)")
    ax.set_title(title or "One random tile per read: OME-Zarr, TIFF and HDF5")
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(fontsize=9, ncol=2)
    return ax.figure
