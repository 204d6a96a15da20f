"""Time random tile reads of each format and count, at the cloud, the requests and bytes each costs.

The protocol is the OME-NGFF paper's (see :mod:`course_tools.formats.readers`): for each round one tile
drawn at random (the same draw for every format and latency), the reader's untimed ``prepare``, then
the timed ``read``; reads one after another; the median over the rounds. Over the cloud, its
counters are zeroed after ``prepare`` and read after ``read``, so each round's requests and bytes are
exactly that read's (``setup_requests_per_read`` counts what ``prepare`` cost).

Each latency also gets a :class:`LinkFigure`: the median time of one GET of a one-byte object (the
cost of a request: the injected latency plus the store's own few milliseconds) and the bandwidth
measured from a 4 MiB GET. A read's **model** time is then ``requests x request time + bytes /
bandwidth``, all measured in the same run (the figure's model is the median of its reads' models:
TIFF reads need more requests for later channels, so the mean would not match a median).

Examples
--------
>>> from course_tools.formats import SMALL, build_formats, measure_formats, serve_formats
>>> files = build_formats(SMALL)  # doctest: +SKIP
>>> with serve_formats(files) as served:  # doctest: +SKIP
...     run = measure_formats(files, served, latencies=[10], rounds=3)
>>> run.figure("zarr", "cloud", 10).requests_per_read  # doctest: +SKIP
2.0
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_tools.config import FORMATS_LINK_ROUNDS, FORMATS_MAX_LATENCY_MS, FORMATS_PROBE_BYTES
from course_tools.formats.build import FormatFiles
from course_tools.formats.readers import FORMATS, check_formats, open_reader
from course_tools.formats.remote import ServedFormats, cloud_conditions
from course_tools.formats.spec import Tile, random_tiles
from helpers.cloud import Cloud
from helpers.model import BYTES_PER_MBIT
from helpers.storage import http_filesystem

__all__ = [
    "DEFAULT_LATENCIES_MS",
    "FormatsRun",
    "LinkFigure",
    "ReadFigure",
    "ReadTimes",
    "check_latencies",
    "measure_formats",
    "measure_link",
    "time_reads",
]

logger = logging.getLogger(__name__)

DEFAULT_LATENCIES_MS = (0.0, 10.0, 100.0)
"""Injected latencies: a server on the same machine, S3 in the same region, a distant store."""


def check_latencies(values: object) -> tuple[float, ...]:
    """``values`` as a tuple of latencies in ms, each from 0 to 10,000.

    Raises
    ------
    ValueError
        Empty, or a value that is not a finite number in range.

    Examples
    --------
    >>> check_latencies([0, 10.5])
    (0.0, 10.5)
    >>> check_latencies([-1])
    Traceback (most recent call last):
    ...
    ValueError: latencies must be numbers from 0 to 10000 ms, got -1
    """
    if isinstance(values, str) or not isinstance(values, list | tuple) or not values:
        raise ValueError(f"give one or more latencies in ms, got {values!r}")
    out = []
    for value in values:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not 0 <= float(value) <= FORMATS_MAX_LATENCY_MS:
            raise ValueError(
                f"latencies must be numbers from 0 to {FORMATS_MAX_LATENCY_MS:g} ms, got {value!r}"
            )
        out.append(float(value))
    return tuple(out)


@dataclass(frozen=True)
class LinkFigure:
    """What one request and one byte cost at one latency setting, measured.

    Attributes
    ----------
    latency_ms : float
        The latency injected by the cloud.
    request_ms : float
        Median time of one GET of a one-byte object.
    bandwidth_mbps : float
        Bytes per second of a 4 MiB GET once its request time is taken off, in Mbit/s.
    """

    latency_ms: float
    request_ms: float
    bandwidth_mbps: float

    def model_ms(self, requests: float, nbytes: float) -> float:
        """``requests x request_ms + nbytes / bandwidth``, in ms."""
        return requests * self.request_ms + nbytes / (self.bandwidth_mbps * BYTES_PER_MBIT) * 1000


@dataclass(frozen=True)
class ReadTimes:
    """The raw figures of the rounds of one format at one source and latency.

    Attributes
    ----------
    times_ms : tuple of float
        Each timed read.
    requests, nbytes, setup_requests : tuple of int
        Each read's requests and bytes at the cloud, and the requests of its ``prepare``
        (empty for local files).
    """

    times_ms: tuple[float, ...]
    requests: tuple[int, ...] = ()
    nbytes: tuple[int, ...] = ()
    setup_requests: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReadFigure:
    """One row of the benchmark: one format, one source, one latency.

    Attributes
    ----------
    format : str
        ``overhead``, ``zarr``, ``tiff`` or ``hdf5``.
    source : str
        ``local`` (files on this disk) or ``cloud`` (over HTTP from the local cloud).
    latency_ms : float or None
        The injected latency (``None`` for local files).
    rounds : int
        Tiles read.
    median_ms : float
        Median time of one read.
    requests_per_read, bytes_per_read : float or None
        Mean requests and bytes each read cost at the cloud (``None`` for local files).
    setup_requests_per_read : float or None
        Mean requests of the untimed opening before each read.
    model_ms : float or None
        The median over the reads of each read's ``requests x request time + bytes /
        bandwidth``, from this run's :class:`LinkFigure`.
    times_ms : tuple of float
        Every read's time.
    """

    format: str
    source: str
    latency_ms: float | None
    rounds: int
    median_ms: float
    requests_per_read: float | None = None
    bytes_per_read: float | None = None
    setup_requests_per_read: float | None = None
    model_ms: float | None = None
    times_ms: tuple[float, ...] = field(default=(), repr=False)

    @property
    def model_ratio(self) -> float | None:
        """Measured median / model time (``None`` without a model)."""
        return self.median_ms / self.model_ms if self.model_ms else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON row: the documented fields first, then the extras."""
        return {
            "format": self.format,
            "source": self.source,
            "latency_ms": self.latency_ms,
            "median_ms": self.median_ms,
            "requests_per_read": self.requests_per_read,
            "bytes_per_read": self.bytes_per_read,
            "rounds": self.rounds,
            "setup_requests_per_read": self.setup_requests_per_read,
            "model_ms": self.model_ms,
            "times_ms": list(self.times_ms),
        }


@dataclass(frozen=True)
class FormatsRun:
    """A whole benchmark run: every figure, and the link measured at each latency.

    Attributes
    ----------
    figures : tuple of ReadFigure
        Local rows first, then by latency, in format order.
    links : tuple of LinkFigure
        One per latency.
    tiles : tuple of Tile
        The tiles read, in order.
    """

    figures: tuple[ReadFigure, ...]
    links: tuple[LinkFigure, ...]
    tiles: tuple[Tile, ...]

    def figure(self, fmt: str, source: str, latency_ms: float | None = None) -> ReadFigure | None:
        """The row of ``fmt`` from ``source`` at ``latency_ms`` (``None`` if not measured)."""
        for fig in self.figures:
            if (fig.format, fig.source) == (fmt, source) and (
                source == "local" or fig.latency_ms == latency_ms
            ):
                return fig
        return None

    @property
    def latencies(self) -> tuple[float, ...]:
        """The latencies measured over the cloud."""
        return tuple(link.latency_ms for link in self.links)

    def rows(self) -> list[dict[str, Any]]:
        """Every figure as a JSON row (:meth:`ReadFigure.as_dict`)."""
        return [fig.as_dict() for fig in self.figures]


def time_reads(
    fmt: str, location: Any, files: FormatFiles, tiles: Sequence[Tile], cloud: Cloud | None = None
) -> ReadTimes:
    """Read ``tiles`` one after another with the reader of ``fmt``; count at ``cloud`` if given.

    Parameters
    ----------
    fmt : str
        The format.
    location : str or Path
        Its URL or local path.
    files : FormatFiles
        The build (for the image spec).
    tiles : sequence of Tile
        The tiles, one per round.
    cloud : Cloud, optional
        The cloud serving ``location``: its counters give each read's requests and bytes.

    Returns
    -------
    ReadTimes
        The rounds' figures.
    """
    times, requests, nbytes, setup = [], [], [], []
    with open_reader(fmt, location, files.spec) as reader:
        for tile in tiles:
            if cloud is not None:
                cloud.reset_stats()
            reader.prepare()
            if cloud is not None:
                setup.append(cloud.status().requests)
                cloud.reset_stats()
            start = time.perf_counter()
            pixels = reader.read(tile)
            elapsed = time.perf_counter() - start
            if cloud is not None:
                status = cloud.status()
                requests.append(status.requests)
                nbytes.append(status.bytes_sent)
            reader.release()
            if fmt != "overhead" and pixels.shape != (files.spec.tile, files.spec.tile):
                raise ValueError(f"{fmt} read a {pixels.shape} array for {tile}")
            times.append(elapsed * 1000)
    return ReadTimes(tuple(times), tuple(requests), tuple(nbytes), tuple(setup))


def measure_link(served: ServedFormats) -> LinkFigure:
    """The request time and bandwidth of ``served``'s cloud at its current latency."""
    fs = http_filesystem()
    latency = served.cloud.status().latency_ms

    def timed(url: str, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fs.cat_file(url)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    request_ms = timed(served.remote.url("overhead"), FORMATS_LINK_ROUNDS)
    probe_ms = timed(served.remote.url("probe"), 3)
    transfer_s = max(probe_ms - request_ms, 0.01) / 1000
    return LinkFigure(latency, request_ms, FORMATS_PROBE_BYTES / transfer_s / BYTES_PER_MBIT)


def _figure(
    fmt: str, source: str, latency: float | None, raw: ReadTimes, link: LinkFigure | None
) -> ReadFigure:
    counted = bool(raw.requests)
    model = None
    if counted and link is not None:  # the median of each read's own model, like the times
        model = statistics.median(
            link.model_ms(n, b) for n, b in zip(raw.requests, raw.nbytes, strict=True)
        )
    return ReadFigure(
        fmt,
        source,
        latency,
        len(raw.times_ms),
        statistics.median(raw.times_ms),
        float(np.mean(raw.requests)) if counted else None,
        float(np.mean(raw.nbytes)) if counted else None,
        float(np.mean(raw.setup_requests)) if counted else None,
        model,
        raw.times_ms,
    )


def measure_formats(
    files: FormatFiles,
    served: ServedFormats | None = None,
    latencies: Sequence[float] = DEFAULT_LATENCIES_MS,
    rounds: int = 100,
    formats: Sequence[str] = FORMATS,
    local: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] = logger.info,
) -> FormatsRun:
    """Run the benchmark: local files, then the cloud at each latency (restored afterwards).

    Parameters
    ----------
    files : FormatFiles
        The build.
    served : ServedFormats, optional
        The same build on a cloud (:func:`~course_tools.formats.serve_formats`); ``None``: local only.
    latencies : sequence of float, optional
        Latencies to inject, in ms (default 0, 10 and 100).
    rounds : int, optional
        Tiles read per format and source (the paper: 100).
    formats : sequence of str, optional
        Which formats (default all four).
    local : bool, optional
        Also read the local files.
    seed : int, optional
        Seed of the random tiles.
    progress : callable, optional
        Receives a line of text per step.

    Returns
    -------
    FormatsRun
        Every figure.

    Raises
    ------
    ValueError
        Unknown format, bad latencies or rounds.
    """
    formats = check_formats(list(formats))
    latencies = check_latencies(list(latencies))
    tiles = random_tiles(files.spec, rounds, seed)
    figures: list[ReadFigure] = []
    links: list[LinkFigure] = []
    if local:
        for fmt in formats:
            raw = time_reads(fmt, files.path(fmt), files, tiles)
            figures.append(_figure(fmt, "local", None, raw, None))
        progress(f"local files: {rounds} reads of each format done")
    if served is not None:
        for latency in latencies:
            with cloud_conditions(served.cloud, latency_ms=latency):
                link = measure_link(served)
                links.append(link)
                for fmt in formats:
                    raw = time_reads(fmt, served.remote.url(fmt), files, tiles, served.cloud)
                    figures.append(_figure(fmt, "cloud", latency, raw, link))
            progress(f"cloud at {latency:g} ms: {rounds} reads of each format done")
    return FormatsRun(tuple(figures), tuple(links), tiles)
