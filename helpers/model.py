"""The latency model every measurement in the course is compared with.

With ``C`` requests in flight, ``N`` objects need ``ceil(N / C)`` rounds, and each round costs one
latency. A bandwidth cap adds the time to push all bytes through the link once::

    ideal = ceil(N / C) x latency  (+ total_bytes / bandwidth, when capped)

Lessons, benchmarks, the viewer and the cluster code all use :func:`model_time_s` (lesson 03's plot
of it is drawn by ``course_tools/plots.py``). The checks of
counts, times and bandwidths that every helper applies to its inputs live here too.

Examples
--------
>>> model_time_s(64, 16, 0.1)  # 64 chunks, 16 in flight, 100 ms each round
0.4
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "check_bandwidth",
    "check_concurrency",
    "check_count",
    "check_non_negative",
    "ideal_speedup",
    "model_time_s",
]

MAX_CONCURRENCY = 1024
"""More requests in flight than this is a typo, not a speed-up."""
BYTES_PER_MBIT = 125_000
"""Bytes in one megabit (10**6 bits / 8): bandwidths are given in Mbit/s, like network links."""


# --- checking the model's inputs (also used by the viewer, the pipeline and every CLI) -----------
def _named(name: str) -> str:
    return f"{name} must be" if name else "must be"


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


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
    if not (_finite(value) and value >= 0):
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
    if not (_finite(value) and value > 0):
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
