"""Plot measured times against the latency model, and speedup against the ideal line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .model import ideal_speedup, model_time_s


def plot_scaling(
    times: Mapping[str, Mapping[int, float]],
    n_chunks: int,
    latency_s: float,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
    axes=None,
    title: str | None = None,
    baseline_s: float | None = None,
):
    """Two panels: time vs concurrency with the model over it, and speedup vs concurrency.

    Args:
        times: ``{label: {concurrency: seconds}}``, e.g. ``{"fetch_async": {1: 6.5, 16: 0.44}}``.
        n_chunks, latency_s, total_bytes, bandwidth_mbps: the model's inputs (see
            :func:`helpers.bench.model.model_time_s`).
        axes: two matplotlib axes to draw into (a new figure when ``None``).

    Speedup is ``baseline_s`` (e.g. a sequential run) divided by each time; without it, each
    label's own time at concurrency 1 (labels without one are left out of the speedup panel).
    Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
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
        ax.legend(fontsize=8)
    time_ax.set_ylabel("time for all chunks (s)")
    time_ax.set_title(f"Time to fetch {n_chunks} chunks")
    speed_ax.set_ylabel("speedup over one at a time (x)")
    speed_ax.set_title("Speedup against the ideal")
    if title:
        fig.suptitle(title)
    return fig


def plot_benchmark(records: Sequence, axes=None, title: str | None = None):
    """Plot :class:`~helpers.bench.run.BenchRecord` s (see :func:`plot_scaling`); returns the figure."""
    if not records:
        raise ValueError("nothing to plot: no records")
    times: dict[str, dict[int, float]] = {}
    for r in records:
        if r.role != "sequential":
            times.setdefault(r.strategy, {})[r.concurrency] = r.median_s
    sequential = [r.median_s for r in records if r.role == "sequential"]
    first = records[0]
    return plot_scaling(
        times,
        first.chunks,
        first.latency_ms / 1000,
        first.bytes,
        first.bandwidth_mbps,
        axes,
        title,
        baseline_s=sequential[0] if sequential else None,
    )
