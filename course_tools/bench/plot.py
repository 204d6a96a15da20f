"""Plot download benchmark records against the latency model (:func:`course_tools.plots.plot_scaling`).

Examples
--------
>>> from course_tools.bench import plot_benchmark
>>> fig = plot_benchmark(records)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from course_tools.bench.download import BenchRecord
from course_tools.plots import plot_scaling

__all__ = ["plot_benchmark"]


def plot_benchmark(
    records: Sequence[BenchRecord], axes: Any = None, title: str | None = None
) -> Any:
    """Time and speedup against concurrency for each strategy, with the model's lines.

    Parameters
    ----------
    records : sequence of BenchRecord
        What :func:`course_tools.bench.run_benchmark` returned (one run: same chunks and conditions).
    axes : pair of matplotlib axes, optional
        Where to draw (a new figure when ``None``).
    title : str, optional
        Title above both panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; speedups are over the sequential baseline when it was measured.

    Raises
    ------
    ValueError
        No records.
    """
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
