"""The download benchmark: strategies x concurrencies x repeats, against the latency model.

Measurements are interleaved (for each concurrency and repeat, every strategy runs once, in turn),
so a slow moment on the machine hits all strategies alike rather than one of them. Each record keeps
its run times, their median and the model's ideal time (:func:`helpers.model.model_time_s`);
:func:`check_targets` compares the recommended helper with the speed targets of
:mod:`course_tools.bench.targets`.

Examples
--------
>>> from course_tools.bench import bench_target, run_benchmark, format_table
>>> with bench_target(n_chunks=8, latency_ms=20) as target:  # doctest: +SKIP
...     records = run_benchmark(target, concurrencies=[1, 8])
>>> print(format_table(records))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from course_tools.bench.strategies import RECOMMENDED, STRATEGIES, BenchTarget, Runner, Strategy
from course_tools.bench.targets import (
    DOWNLOAD_PEER_TOLERANCE,
    DOWNLOAD_RATIO_AT_16,
    DOWNLOAD_RATIO_AT_64,
    DOWNLOAD_SPEEDUP_AT_16,
)
from helpers.cloud import CloudError, cloud_status
from helpers.model import model_time_s

__all__ = [
    "DEFAULT_CONCURRENCIES",
    "BenchRecord",
    "TargetCheck",
    "check_targets",
    "format_checks",
    "format_table",
    "run_benchmark",
]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCIES = (1, 4, 16, 64)
"""Requests in flight the benchmark tries by default."""
MAX_RUNS = 25
"""Most runs of one measurement (quick ones repeat until ``min_time_s``, up to this)."""


@dataclass
class BenchRecord:
    """One strategy at one concurrency: its run times, their median, and the model's ideal time.

    Attributes
    ----------
    strategy, role : str
        The strategy's name and role (``sequential``, ``helper`` or ``peer``).
    concurrency : int
        Requests in flight.
    median_s, ideal_s : float
        Median of the run times, and the model's time for the same chunks.
    times_s : list of float
        Every run's time.
    chunks, bytes : int
        What one run read.
    latency_ms, bandwidth_mbps : float, float or None
        The conditions the model used.
    speedup : float or None
        The sequential baseline's median / this median (``None`` without a baseline).
    description : str
        What the strategy is.
    """

    strategy: str
    role: str
    concurrency: int
    median_s: float
    ideal_s: float
    times_s: list[float]
    chunks: int
    bytes: int
    latency_ms: float
    bandwidth_mbps: float | None
    speedup: float | None = None
    description: str = field(default="", repr=False)

    @property
    def ratio(self) -> float:
        """Median time / ideal time (1.0 = as fast as latency allows)."""
        return self.median_s / self.ideal_s if self.ideal_s > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (with the ratio)."""
        return {**asdict(self), "ratio": self.ratio}


def _check_plan(strategies: Sequence[str], concurrencies: Sequence[int], repeats: int) -> None:
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    if not strategies:
        raise ValueError("no strategies to run")
    if not concurrencies or any(
        isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in concurrencies
    ):
        raise ValueError(f"concurrencies must be integers >= 1, got {list(concurrencies)}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")


def run_benchmark(
    target: BenchTarget,
    strategies: Sequence[str] | None = None,
    concurrencies: Sequence[int] = DEFAULT_CONCURRENCIES,
    repeats: int = 3,
    min_time_s: float = 2.0,
    latency_ms: float | None = None,
    bandwidth_mbps: float | None = None,
    progress: Callable[[str], None] | None = logger.info,
) -> list[BenchRecord]:
    """Time every strategy at every concurrency; one record (with the median) per pair.

    Each measurement runs at least ``repeats`` times, and more (up to 25) while a strategy's runs
    add up to less than ``min_time_s`` (like ``timeit``): quick measurements get more runs, so their
    medians are steadier on a busy machine. The sequential baseline runs at concurrency 1 only;
    every other record gets its speedup over it. Each run's result is checked (same number of
    bytes as the reference fetch).

    Parameters
    ----------
    target : BenchTarget
        The chunks to read (see :func:`course_tools.bench.bench_target`).
    strategies : sequence of str, optional
        Names from :data:`~course_tools.bench.strategies.STRATEGIES` (default: all).
    concurrencies : sequence of int, optional
        Requests in flight to try.
    repeats : int, optional
        Least number of runs per measurement; the median is kept.
    min_time_s : float, optional
        Repeat quick measurements until each strategy ran this long.
    latency_ms, bandwidth_mbps : float or None, optional
        The model's conditions; by default read from the cloud at ``target.endpoint``.
    progress : callable or None, optional
        Receives one line per measurement (default: the module's logger; ``None``: silent).

    Returns
    -------
    list of BenchRecord
        One per (strategy, concurrency), in the order measured.

    Raises
    ------
    ValueError
        An unknown strategy, a bad concurrency or repeat count, or no latency to model (the cloud
        does not answer and ``latency_ms`` is not given).
    RuntimeError
        A run read a different number of bytes than the reference.
    """
    strategies = list(STRATEGIES) if strategies is None else list(strategies)
    concurrencies = sorted(set(concurrencies))
    _check_plan(strategies, concurrencies, repeats)
    say = progress or (lambda _text: None)
    if latency_ms is None:
        try:
            status = cloud_status(target.endpoint)
        except CloudError as err:
            raise ValueError(f"give latency_ms: {err}") from None
        latency_ms, bandwidth_mbps = status.latency_ms, status.bandwidth_mbps

    from helpers.fetch import fetch_async

    reference = fetch_async(target.urls, max(concurrencies))  # also checks every key exists
    n, total = len(reference.data), reference.nbytes
    say(
        f"{n} chunks, {total / 1e6:.1f} MB, latency {latency_ms:g} ms, "
        f"bandwidth {'unlimited' if bandwidth_mbps is None else f'{bandwidth_mbps:g} Mbit/s'}; "
        f"{len(strategies)} strategies x {len(concurrencies)} concurrencies x {repeats} repeats"
    )
    runners: dict[str, Runner] = {}
    records: list[BenchRecord] = []
    try:
        for name in strategies:
            runners[name] = STRATEGIES[name].open(target)
        plan = [
            (c, [s for s in strategies if STRATEGIES[s].scales or c == 1]) for c in concurrencies
        ]
        if 1 not in concurrencies and not all(STRATEGIES[s].scales for s in strategies):
            plan.insert(0, (1, [s for s in strategies if not STRATEGIES[s].scales]))
        for concurrency, names in plan:
            times = _measure(runners, names, concurrency, repeats, min_time_s, total)
            ideal = model_time_s(n, concurrency, latency_ms / 1000, total, bandwidth_mbps)
            for name in names:
                strategy: Strategy = STRATEGIES[name]
                median = statistics.median(times[name])
                records.append(
                    BenchRecord(
                        name,
                        strategy.role,
                        concurrency,
                        median,
                        ideal,
                        times[name],
                        n,
                        total,
                        latency_ms,
                        bandwidth_mbps,
                        description=strategy.description,
                    )
                )
                say(
                    f"  C={concurrency:<3d} {name:<18s} median {median:7.3f} s of "
                    f"{len(times[name]):2d} runs (ideal {ideal:.3f} s, x{median / ideal:.2f})"
                )
    finally:
        for runner in runners.values():
            runner.close()
    baseline = [r.median_s for r in records if r.role == "sequential"]
    if baseline:
        for record in records:
            record.speedup = baseline[0] / record.median_s
    return records


def _measure(
    runners: dict[str, Runner],
    names: list[str],
    concurrency: int,
    repeats: int,
    min_time_s: float,
    expected: int,
) -> dict[str, list[float]]:
    for name in names:
        runners[name].warm_up(concurrency)
    times: dict[str, list[float]] = {name: [] for name in names}
    while True:
        done = min(len(t) for t in times.values())
        enough_time = all(sum(t) >= min_time_s for t in times.values())
        if done >= MAX_RUNS or (done >= repeats and enough_time):
            break
        for name in names:
            start = time.perf_counter()
            got = runners[name].run(concurrency)
            times[name].append(time.perf_counter() - start)
            if got != expected:
                raise RuntimeError(
                    f"{name} at concurrency {concurrency} read {got} bytes, expected {expected}"
                )
    return times


def format_table(records: Sequence[BenchRecord]) -> str:
    """The records as a fixed-width text table (recommended helper marked with *).

    Parameters
    ----------
    records : sequence of BenchRecord
        What :func:`run_benchmark` returned.

    Returns
    -------
    str
        One line per record, sorted by concurrency then strategy, under a header.
    """
    header = f"{'strategy':<20s} {'role':<10s} {'C':>3s} {'median s':>9s} {'ideal s':>8s} {'x ideal':>8s} {'speedup':>8s}"
    lines = [header, "-" * len(header)]
    for r in sorted(records, key=lambda r: (r.concurrency, list(STRATEGIES).index(r.strategy))):
        mark = "*" if r.strategy == RECOMMENDED else " "
        speedup = "" if r.speedup is None else f"{r.speedup:7.1f}x"
        lines.append(
            f"{r.strategy + mark:<20s} {r.role:<10s} {r.concurrency:>3d} {r.median_s:>9.3f} "
            f"{r.ideal_s:>8.3f} {r.ratio:>8.2f} {speedup:>8s}"
        )
    lines.append(f"* {RECOMMENDED}: the helpers' recommended parallel path")
    return "\n".join(lines)


@dataclass(frozen=True)
class TargetCheck:
    """One speed target: what it asks, what was measured, and whether it is met.

    Attributes
    ----------
    target : str
        The target in words, e.g. ``"fetch_async at 16 in flight <= 1.2 x ideal"``.
    measured : str
        The measurement in words.
    met : bool
        Whether the measurement meets the target.
    """

    target: str
    measured: str
    met: bool


def check_targets(
    records: Sequence[BenchRecord], recommended: str = RECOMMENDED
) -> list[TargetCheck]:
    """Check the download speed targets for ``recommended`` against the records (where measured).

    The targets (:mod:`course_tools.bench.targets`): at 16 in flight at most
    ``DOWNLOAD_RATIO_AT_16`` x ideal and ``DOWNLOAD_SPEEDUP_AT_16`` x faster than sequential; at 64
    at most ``DOWNLOAD_RATIO_AT_64`` x ideal; at every concurrency no slower than the fastest peer
    (within ``DOWNLOAD_PEER_TOLERANCE``).

    Parameters
    ----------
    records : sequence of BenchRecord
        What :func:`run_benchmark` returned.
    recommended : str, optional
        The strategy the targets apply to.

    Returns
    -------
    list of TargetCheck
        One per target that the records measure (empty when none applies).
    """
    mine = {r.concurrency: r for r in records if r.strategy == recommended}
    checks = []
    if 16 in mine:
        r = mine[16]
        checks.append(
            TargetCheck(
                f"{recommended} at 16 in flight <= {DOWNLOAD_RATIO_AT_16} x ideal",
                f"{r.median_s:.3f} s = {r.ratio:.2f} x ideal",
                r.ratio <= DOWNLOAD_RATIO_AT_16,
            )
        )
        if r.speedup is not None:
            checks.append(
                TargetCheck(
                    f"{recommended} at 16 in flight >= {DOWNLOAD_SPEEDUP_AT_16:g} x faster than sequential",
                    f"{r.speedup:.1f} x",
                    r.speedup >= DOWNLOAD_SPEEDUP_AT_16,
                )
            )
    if 64 in mine:
        r = mine[64]
        checks.append(
            TargetCheck(
                f"{recommended} at 64 in flight <= {DOWNLOAD_RATIO_AT_64} x ideal",
                f"{r.median_s:.3f} s = {r.ratio:.2f} x ideal",
                r.ratio <= DOWNLOAD_RATIO_AT_64,
            )
        )
    for c, r in sorted(mine.items()):
        peers = [p for p in records if p.role == "peer" and p.concurrency == c]
        if peers:
            best = min(peers, key=lambda p: p.median_s)
            excess = r.median_s / best.median_s - 1
            checks.append(
                TargetCheck(
                    f"{recommended} at {c} in flight no slower than the fastest peer "
                    f"(ties within {DOWNLOAD_PEER_TOLERANCE:.0%})",
                    f"{r.median_s:.3f} s vs {best.strategy} {best.median_s:.3f} s ({excess:+.1%})",
                    excess <= DOWNLOAD_PEER_TOLERANCE,
                )
            )
    return checks


def format_checks(checks: Sequence[TargetCheck]) -> str:
    """The target checks as text lines: MET / MISSED, target, measurement.

    Parameters
    ----------
    checks : sequence of TargetCheck
        What :func:`check_targets` returned.

    Returns
    -------
    str
        One line per check.
    """
    return "\n".join(f"{'MET   ' if c.met else 'MISSED'} {c.target}: {c.measured}" for c in checks)
