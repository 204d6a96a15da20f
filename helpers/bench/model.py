"""The latency model every measurement is compared with.

With ``C`` requests in flight, ``N`` chunks need ``ceil(N / C)`` rounds, and each round costs one
latency. A bandwidth cap adds the time to push all bytes through the link once:

    ideal = ceil(N / C) x latency  (+ total_bytes / bandwidth, when capped)
"""

from __future__ import annotations

import math

BYTES_PER_MBIT = 125_000


def model_time_s(
    n_requests: int,
    concurrency: int,
    latency_s: float,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
) -> float:
    """Ideal seconds to fetch ``n_requests`` objects with ``concurrency`` in flight (see module doc)."""
    if n_requests < 1:
        raise ValueError(f"n_requests must be >= 1, got {n_requests}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if latency_s < 0 or total_bytes < 0:
        raise ValueError("latency_s and total_bytes must be >= 0")
    if bandwidth_mbps is not None and bandwidth_mbps <= 0:
        raise ValueError(f"bandwidth_mbps must be > 0 or None, got {bandwidth_mbps}")
    seconds = math.ceil(n_requests / concurrency) * latency_s
    if bandwidth_mbps is not None:
        seconds += total_bytes / (bandwidth_mbps * BYTES_PER_MBIT)
    return seconds


def ideal_speedup(
    n_requests: int,
    concurrency: int,
    latency_s: float = 1.0,
    total_bytes: int = 0,
    bandwidth_mbps: float | None = None,
) -> float:
    """Speedup over one-at-a-time that the model allows (``N / ceil(N / C)`` without a cap)."""
    one = model_time_s(n_requests, 1, latency_s, total_bytes, bandwidth_mbps)
    return one / model_time_s(n_requests, concurrency, latency_s, total_bytes, bandwidth_mbps)
