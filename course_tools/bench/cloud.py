"""Measure what the local cloud really does: request latency at 1, 16 and 64 in flight, and 64 big GETs.

The check writes a tiny object and 64 objects of ~1 MB to a bucket, then times

- GETs of the tiny object with 1, 16 and 64 in flight: the median should be the latency setting
  (:data:`~course_tools.bench.targets.CLOUD_LATENCY_RATIO`), whatever the number in flight;
- 64 concurrent GETs of the big objects: they should finish within
  :data:`~course_tools.bench.targets.CLOUD_BIG_GET_ROUNDS` latencies.

Run it with ``python -m course_tools bench cloud`` (or ``python -m course_tools bench cloud``): without
``--endpoint`` a fresh cloud with empty buckets is started (in about a second).

Examples
--------
>>> from course_tools.bench.cloud import measure_cloud, format_check
>>> check = measure_cloud(cloud.endpoint, cloud.scratch_bucket, 100.0)  # doctest: +SKIP
>>> print(format_check(check))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from course_tools.bench.targets import CLOUD_BIG_GET_ROUNDS, cloud_latency_range
from course_tools.cli import positive_arg
from course_tools.cloud.conditions import add_condition_arguments
from course_tools.cloud.launch import start_cloud
from helpers.cloud import SCRATCH_BUCKET, CloudError, cloud_status
from helpers.storage import MAX_CONNECTIONS

PROG = "python -m course_tools bench cloud"

__all__ = ["CloudCheck", "LatencyFigure", "format_check", "main", "measure_cloud", "run_check"]

IN_FLIGHT = (1, 16, 64)
"""Requests in flight at which the latency is measured."""
BIG_GETS = 64
"""Concurrent GETs of big objects in the throughput measurement."""
BIG_OBJECT_BYTES = 1_000_000
"""Size of each big object (~1 MB)."""
MIN_SINGLE_ROUNDS = 10
"""Rounds at 1 in flight, at least (one request per round: more rounds for a steady median)."""


@dataclass(frozen=True)
class LatencyFigure:
    """Request times of the tiny object at one number of requests in flight.

    Attributes
    ----------
    in_flight : int
        Requests in flight.
    median_ms, p90_ms : float
        Median and 90th percentile of the request times.
    setting_ms : float
        The cloud's latency setting.
    target : tuple of float
        Allowed range of ``median_ms / setting_ms`` (from :mod:`course_tools.bench.targets`).
    """

    in_flight: int
    median_ms: float
    p90_ms: float
    setting_ms: float
    target: tuple[float, float]

    @property
    def ratio(self) -> float:
        """Median / latency setting (NaN at 0 latency)."""
        return self.median_ms / self.setting_ms if self.setting_ms else float("nan")

    @property
    def met(self) -> bool:
        """The ratio is inside the target range (always True at 0 latency: no target)."""
        low, high = self.target
        return low <= self.ratio <= high if self.setting_ms else True


@dataclass(frozen=True)
class CloudCheck:
    """The whole check: the latency figures and the big GETs.

    Attributes
    ----------
    endpoint : str
        The cloud measured.
    latency_ms : float
        Its latency setting.
    figures : tuple of LatencyFigure
        One per number of requests in flight.
    big_walls_s : tuple of float
        Wall time of each run of 64 concurrent big GETs.
    """

    endpoint: str
    latency_ms: float
    figures: tuple[LatencyFigure, ...]
    big_walls_s: tuple[float, ...]

    @property
    def big_median_s(self) -> float:
        """Median wall time of the big GETs."""
        return statistics.median(self.big_walls_s)

    @property
    def big_budget_s(self) -> float | None:
        """Time allowed for the big GETs (``None`` at 0 latency: no target)."""
        return CLOUD_BIG_GET_ROUNDS * self.latency_ms / 1000 if self.latency_ms else None

    @property
    def big_met(self) -> bool:
        """The big GETs finished within their budget."""
        budget = self.big_budget_s
        return budget is None or self.big_median_s <= budget

    @property
    def ok(self) -> bool:
        """Every target is met."""
        return all(f.met for f in self.figures) and self.big_met


async def _timed_get(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with session.get(url) as answer:
        answer.raise_for_status()
        await answer.read()
    return time.perf_counter() - start


async def _measure(
    endpoint: str, bucket: str, latency_ms: float, repeats: int
) -> tuple[list[LatencyFigure], list[float]]:
    rng = random.Random(0)
    connector = aiohttp.TCPConnector(limit=max(MAX_CONNECTIONS, BIG_GETS))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def put(key: str, body: bytes) -> None:
            async with session.put(f"{endpoint}/{bucket}/{key}", data=body) as answer:
                answer.raise_for_status()

        await put("check/tiny", b"x" * 100)
        blob = rng.randbytes(BIG_OBJECT_BYTES)
        await asyncio.gather(*(put(f"check/big-{i}", blob[i:] + blob[:i]) for i in range(BIG_GETS)))

        figures = []
        for in_flight in IN_FLIGHT:
            times: list[float] = []
            rounds = max(repeats, MIN_SINGLE_ROUNDS) if in_flight == 1 else repeats
            for _ in range(rounds):
                times += await asyncio.gather(
                    *(
                        _timed_get(session, f"{endpoint}/{bucket}/check/tiny")
                        for _ in range(in_flight)
                    )
                )
            ms = sorted(t * 1000 for t in times)
            figures.append(
                LatencyFigure(
                    in_flight,
                    statistics.median(ms),
                    ms[int(0.9 * (len(ms) - 1))],
                    latency_ms,
                    cloud_latency_range(in_flight),
                )
            )

        walls = []
        for _ in range(repeats):
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    _timed_get(session, f"{endpoint}/{bucket}/check/big-{i}")
                    for i in range(BIG_GETS)
                )
            )
            walls.append(time.perf_counter() - start)
    return figures, walls


def measure_cloud(endpoint: str, bucket: str, latency_ms: float, repeats: int = 5) -> CloudCheck:
    """Write the test objects to ``bucket`` and time the GETs (see the module docstring).

    Parameters
    ----------
    endpoint : str
        The cloud, e.g. ``cloud.endpoint``.
    bucket : str
        A writable bucket on it (the scratch bucket).
    latency_ms : float
        The cloud's latency setting (what the figures are compared with).
    repeats : int, optional
        Rounds per measurement (at least 10 at 1 in flight).

    Returns
    -------
    CloudCheck
        The figures and whether they meet the targets.

    Raises
    ------
    aiohttp.ClientError
        A request failed.
    """
    figures, walls = asyncio.run(_measure(endpoint, bucket, latency_ms, repeats))
    return CloudCheck(endpoint, latency_ms, tuple(figures), tuple(walls))


def format_check(check: CloudCheck) -> str:
    """The check as the table ``python -m course_tools bench cloud`` prints.

    Parameters
    ----------
    check : CloudCheck
        What :func:`measure_cloud` returned.

    Returns
    -------
    str
        A heading, one line per latency figure and one line for the big GETs.
    """
    lines = [
        f"Local cloud at {check.endpoint}, latency setting {check.latency_ms:g} ms",
        f"{'in flight':>9} | {'median ms':>9} | {'p90 ms':>7} | {'median/setting':>14} | target",
    ]
    for fig in check.figures:
        low, high = fig.target
        lines.append(
            f"{fig.in_flight:>9} | {fig.median_ms:>9.1f} | {fig.p90_ms:>7.1f} | "
            f"{fig.ratio:>14.3f} | {low:.2f}-{high:.2f} {'ok' if fig.met else 'MISSED'}"
        )
    walls = check.big_walls_s
    budget = check.big_budget_s
    lines.append(
        f"{BIG_GETS} concurrent GETs of {BIG_OBJECT_BYTES / 1e6:.0f} MB: median "
        f"{check.big_median_s * 1000:.0f} ms over {len(walls)} runs "
        f"(runs: {', '.join(f'{w * 1000:.0f}' for w in walls)} ms); "
        + (
            f"target <= {budget * 1000:.0f} ms {'ok' if check.big_met else 'MISSED'}"
            if budget
            else "no target at 0 latency"
        )
    )
    return "\n".join(lines)


def run_check(endpoint: str, bucket: str, latency_ms: float, repeats: int = 5) -> bool:
    """Measure the cloud, print the table and return True when every target is met.

    Parameters
    ----------
    endpoint, bucket, latency_ms, repeats
        As for :func:`measure_cloud`.

    Returns
    -------
    bool
        :attr:`CloudCheck.ok`.
    """
    check = measure_cloud(endpoint, bucket, latency_ms, repeats)
    print(format_check(check))
    return check.ok


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command line of the cloud check.

    Parameters
    ----------
    prog : str, optional
        The command shown in the usage line.

    Returns
    -------
    argparse.ArgumentParser
        Flags ``--endpoint --latency-ms --jitter-ms --bandwidth-mbps --repeats``.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Measure latency and throughput of a local cloud: request times at "
            f"{', '.join(map(str, IN_FLIGHT))} in flight and {BIG_GETS} concurrent GETs of "
            f"{BIG_OBJECT_BYTES / 1e6:.0f} MB. Without --endpoint a fresh cloud is started."
        ),
    )
    p.add_argument("--endpoint", default=None, help="cloud to measure (default: start a fresh one)")
    add_condition_arguments(p)
    p.add_argument("--repeats", type=positive_arg, default=5, help="rounds per figure (default 5)")
    return p


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """``python -m course_tools bench cloud``: check a cloud (a fresh one without ``--endpoint``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line).
    prog : str, optional
        The command shown in the usage line.

    Returns
    -------
    int
        0 when every target is met, 1 when one is missed, 2 on an error.
    """
    args = parser(prog).parse_args(argv)
    try:
        if args.endpoint:
            latency = cloud_status(args.endpoint).latency_ms
            ok = run_check(args.endpoint, SCRATCH_BUCKET, latency, args.repeats)
        else:
            with (
                tempfile.TemporaryDirectory(prefix="cloud-check-") as empty,
                start_cloud(
                    args.latency_ms, args.jitter_ms, args.bandwidth_mbps, data=Path(empty)
                ) as cloud,
            ):
                ok = run_check(cloud.endpoint, SCRATCH_BUCKET, args.latency_ms, args.repeats)
    except (CloudError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if ok else 1
