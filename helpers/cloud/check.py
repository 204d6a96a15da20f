"""Measure what the local cloud really does: per-request latency at 1, 16 and 64 in flight, and the
time for 64 concurrent ~1 MB GETs. Run with ``python -m helpers.cloud check``."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass

import aiohttp

BIG_OBJECT_BYTES = 1_000_000


@dataclass
class LatencyFigure:
    in_flight: int
    median_ms: float
    p90_ms: float
    setting_ms: float

    @property
    def ratio(self) -> float:
        return self.median_ms / self.setting_ms if self.setting_ms else float("nan")


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
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def put(key: str, body: bytes) -> None:
            async with session.put(f"{endpoint}/{bucket}/{key}", data=body) as answer:
                answer.raise_for_status()

        await put("check/tiny", b"x" * 100)
        blob = rng.randbytes(BIG_OBJECT_BYTES)
        await asyncio.gather(*(put(f"check/big-{i}", blob[i:] + blob[:i]) for i in range(64)))

        figures = []
        for in_flight in (1, 16, 64):
            times: list[float] = []
            for _ in range(max(repeats, 10 if in_flight == 1 else repeats)):
                times += await asyncio.gather(
                    *(
                        _timed_get(session, f"{endpoint}/{bucket}/check/tiny")
                        for _ in range(in_flight)
                    )
                )
            ms = sorted(t * 1000 for t in times)
            figures.append(
                LatencyFigure(
                    in_flight, statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], latency_ms
                )
            )

        walls = []
        for _ in range(repeats):
            start = time.perf_counter()
            await asyncio.gather(
                *(_timed_get(session, f"{endpoint}/{bucket}/check/big-{i}") for i in range(64))
            )
            walls.append(time.perf_counter() - start)
    return figures, walls


def run_check(endpoint: str, bucket: str, latency_ms: float, repeats: int = 5) -> bool:
    """Print the figures and whether they meet the course's targets; return True when they do."""
    figures, walls = asyncio.run(_measure(endpoint, bucket, latency_ms, repeats))
    print(f"Local cloud at {endpoint}, latency setting {latency_ms:g} ms")
    print(f"{'in flight':>9} | {'median ms':>9} | {'p90 ms':>7} | {'median/setting':>14} | target")
    ok = True
    for fig in figures:
        limit = 1.05 if fig.in_flight <= 16 else 1.25
        good = (0.95 <= fig.ratio <= limit) if latency_ms else True
        ok &= good
        target = f"{0.95 if fig.in_flight <= 16 else 1.0:.2f}-{limit:.2f}"
        print(
            f"{fig.in_flight:>9} | {fig.median_ms:>9.1f} | {fig.p90_ms:>7.1f} | {fig.ratio:>14.3f} | {target} {'ok' if good else 'MISSED'}"
        )
    wall = statistics.median(walls)
    budget = 3 * latency_ms / 1000 if latency_ms else None
    good = budget is None or wall <= budget
    ok &= good
    print(
        f"64 concurrent GETs of {BIG_OBJECT_BYTES / 1e6:.0f} MB: median {wall * 1000:.0f} ms over {len(walls)} runs "
        f"(runs: {', '.join(f'{w * 1000:.0f}' for w in walls)} ms); "
        + (
            f"target <= {budget * 1000:.0f} ms {'ok' if good else 'MISSED'}"
            if budget
            else "no target at 0 latency"
        )
    )
    return ok
