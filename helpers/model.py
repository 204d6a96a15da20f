"""The latency model every measurement in the course is compared with, and its plot.

With ``C`` requests in flight, ``N`` objects need ``ceil(N / C)`` rounds, and each round costs one
latency. A bandwidth cap adds the time to push all bytes through the link once::

    ideal = ceil(N / C) x latency  (+ total_bytes / bandwidth, when capped)

Lessons, benchmarks, the viewer and the cluster code all use :func:`model_time_s`. The checks of
counts, times and bandwidths that every helper applies to its inputs live here too.

Examples
--------
>>> model_time_s(64, 16, 0.1)  # 64 chunks, 16 in flight, 100 ms each round
0.4
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "check_bandwidth",
    "check_concurrency",
    "check_count",
    "check_non_negative",
    "ideal_speedup",
    "model_time_s",
    "plot_scaling",
]

MAX_CONCURRENCY = 1024
"""More requests in flight than this is a typo, not a speed-up."""
BYTES_PER_MBIT = 125_000
"""Bytes in one megabit (10**6 bits / 8): bandwidths are given in Mbit/s, like network links."""


# --- checking the model's inputs (also used by the viewer, the pipeline and every CLI) -----------
def _named(name: str) -> str:
    return f"{name} must be" if name else "must be"


def check_count(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number in ``[minimum, maximum]`` (no upper bound: None).

    ``bool``, ``float`` and ``str`` are refused (NumPy integers pass); the ``ValueError`` names the
    argument (``name``; ``""``: none), the range and the value.

    Examples
    --------
    >>> check_count("8", "threads")
    Traceback (most recent call last):
    ...
    ValueError: threads must be an integer >= 1, got '8'
    """
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{_named(name)} an integer {bounds}, got {value!r}")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{_named(name)} an integer {bounds}, got {number}")
    return number


def check_concurrency(value: Any, name: str = "concurrency") -> int:
    """``value`` if it is a sensible number of requests in flight: an integer from 1 to 1024.

    0 would never start a request; more than :data:`MAX_CONCURRENCY` is a typo.

    Examples
    --------
    >>> check_concurrency(0)
    Traceback (most recent call last):
    ...
    ValueError: concurrency must be an integer from 1 to 1024, got 0
    """
    return check_count(value, name, 1, MAX_CONCURRENCY)


def check_non_negative(value: Any, name: str) -> float:
    """``value`` as a ``float`` if it is a finite number >= 0 (a latency, a duration, a size).

    Examples
    --------
    >>> check_non_negative(-5, "latency_ms")
    Traceback (most recent call last):
    ...
    ValueError: latency_ms must be a finite number >= 0, got -5
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{_named(name)} a finite number >= 0, got {value!r}")
    return float(value)


def check_bandwidth(value: Any, name: str = "bandwidth_mbps") -> float | None:
    """A bandwidth cap in Mbit/s: ``None`` (no cap) or a finite number > 0.

    Examples
    --------
    >>> check_bandwidth(-1)
    Traceback (most recent call last):
    ...
    ValueError: bandwidth_mbps must be > 0 (Mbit/s) or None for no cap, got -1
    """
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{_named(name)} > 0 (Mbit/s) or None for no cap, got {value!r}")
    return float(value)


def model_time_s(
    n_requests: int,
    concurrency: int,
    latency_s: float,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
) -> float:
    """Ideal seconds to fetch ``n_requests`` objects with ``concurrency`` in flight.

    ``ceil(n_requests / concurrency) * latency_s``, plus ``total_bytes`` through a link of
    ``bandwidth_mbps`` (Mbit/s; None: no cap). Counts must be whole numbers >= 1, times and sizes
    finite and >= 0 (``ValueError`` otherwise).

    Examples
    --------
    >>> model_time_s(64, 1, 0.1)  # one at a time
    6.4
    >>> model_time_s(64, 64, 0.1, total_bytes=32_000_000, bandwidth_mbps=100)
    2.66
    """
    rounds = math.ceil(
        check_count(n_requests, "n_requests")
        / check_count(concurrency, "concurrency")  # the model itself needs no upper bound
    )
    seconds = rounds * check_non_negative(latency_s, "latency_s")
    size = check_non_negative(total_bytes, "total_bytes")
    cap = check_bandwidth(bandwidth_mbps)
    if cap is not None:
        seconds += size / (cap * BYTES_PER_MBIT)
    return seconds


def ideal_speedup(
    n_requests: int,
    concurrency: int,
    latency_s: float = 1.0,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
) -> float:
    """Speedup over one-at-a-time that the model allows (``N / ceil(N / C)`` without a cap).

    Examples
    --------
    >>> ideal_speedup(64, 16)
    16.0
    >>> ideal_speedup(10, 4)  # 3 rounds instead of 10
    3.3333333333333335
    """
    one = model_time_s(n_requests, 1, latency_s, total_bytes, bandwidth_mbps)
    return one / model_time_s(n_requests, concurrency, latency_s, total_bytes, bandwidth_mbps)


def plot_scaling(
    times: Mapping[str, Mapping[int, float]],
    n_chunks: int,
    latency_s: float,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
    axes: Any = None,
    title: str | None = None,
    baseline_s: float | None = None,
) -> Any:
    """Two panels: time vs concurrency with the model over it, and speedup vs concurrency.

    ``times`` is ``{label: {concurrency: seconds}}``; the model's inputs are those of
    :func:`model_time_s`. Speedups are ``baseline_s`` (e.g. a sequential run) divided by each time,
    or each label's own time at concurrency 1. Draws on ``axes`` (a pair) or a new figure, which
    it returns.

    Examples
    --------
    >>> fig = plot_scaling({"threads": {1: 6.5, 16: 0.45}}, n_chunks=64, latency_s=0.1)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    time_ax, speed_ax = axes
    fig = time_ax.figure
    all_c = sorted({c for series in times.values() for c in series})
    if not all_c:
        raise ValueError("nothing to plot: no measurements")
    dense = np.unique(np.round(np.geomspace(1, max(all_c) * 1.05, 200)).astype(int))
    model = [model_time_s(n_chunks, int(c), latency_s, total_bytes, bandwidth_mbps) for c in dense]
    capped = f" + {total_bytes / 1e6:.1f} MB / {bandwidth_mbps:g} Mbit/s" if bandwidth_mbps else ""
    time_ax.plot(
        dense,
        model,
        "k-",
        lw=1.5,
        label=f"model: ceil({n_chunks}/C) x {latency_s * 1e3:g} ms{capped}",
    )
    speed_ax.plot(
        dense,
        [ideal_speedup(n_chunks, int(c), latency_s, total_bytes, bandwidth_mbps) for c in dense],
        "k-",
        lw=1.5,
        label="ideal (model)",
    )
    markers = "osD^v<>ph*"
    for i, (label, series) in enumerate(times.items()):
        cs = sorted(series)
        ts = [series[c] for c in cs]
        marker = markers[i % len(markers)]
        time_ax.plot(cs, ts, marker=marker, ls="--", lw=1, label=label)
        base = baseline_s if baseline_s is not None else series.get(1)
        if base is not None:
            speed_ax.plot(cs, [base / t for t in ts], marker=marker, ls="--", lw=1, label=label)
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("concurrency C (requests in flight)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=10)  # 10 pt: readable when the notebook shrinks the figure to fit
    time_ax.set_ylabel("time for all chunks (s)")
    time_ax.set_title(f"Time to fetch {n_chunks} chunks")
    speed_ax.set_ylabel("speedup over one at a time (x)")
    speed_ax.set_title("Speedup against the ideal")
    if title:
        fig.suptitle(title)
    return fig
