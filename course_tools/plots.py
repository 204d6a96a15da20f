"""The lessons' figure of the latency model: measured times and speedups against it.

Lesson 03 and the download benchmark draw their measurements with :func:`plot_scaling`; the model
itself is :func:`helpers.model.model_time_s`, which the lesson teaches. Drawing the figure is the
course's machinery: the lesson uses it, it does not teach it.

Examples
--------
>>> fig = plot_scaling({"threads": {1: 6.5, 16: 0.45}}, n_chunks=64, latency_s=0.1)
>>> [ax.get_title() for ax in fig.axes]
['Time to fetch 64 chunks', 'Speedup against the ideal']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from helpers.model import ideal_speedup, model_time_s

__all__ = ["plot_scaling"]


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
    for ax in axes:
        _log_axes(ax)
    time_ax.set_ylabel("time for all chunks (s)")
    time_ax.set_title(f"Time to fetch {n_chunks} chunks")
    speed_ax.set_ylabel("speedup over one at a time (x)")
    speed_ax.set_title("Speedup against the ideal")
    if title:
        fig.suptitle(title)
    return fig


def _log_axes(ax: Any) -> None:
    """Log axes with plain numbers (8, not 2^3), a grid and a readable legend."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("concurrency C (requests in flight)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=10)  # 10 pt: readable when the notebook shrinks the figure to fit
