"""What a fetch returns: the bytes, one timing per URL and a summary; and how it is put together.

Every fetcher returns a :class:`FetchResult`: the bytes in the order of the URLs, one
:class:`RequestTiming` per URL and a :class:`FetchStats` summary. :class:`InFlight` counts the
requests in flight while a fetch runs and :func:`build_result` assembles the result.

Examples
--------
>>> timing = RequestTiming("http://host/a/c/0", start_s=0.0, end_s=0.1, nbytes=3)
>>> round(timing.duration_s, 3)
0.1
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..byteranges import ByteRange
from ..text import plural

__all__ = ["FetchResult", "FetchStats", "InFlight", "RequestTiming", "build_result"]


@dataclass(frozen=True)
class RequestTiming:
    """One URL's download; times are seconds since the fetch started.

    Attributes
    ----------
    url : str
        The URL.
    start_s : float
        When its first attempt started.
    end_s : float
        When its last byte arrived.
    nbytes : int
        Bytes received (for a range request, the bytes of the range).
    attempts : int
        Attempts made (1 = no retry).
    byte_range : ByteRange or None
        The range asked for (``None``: the whole object).
    """

    url: str
    start_s: float
    end_s: float
    nbytes: int
    attempts: int = 1
    byte_range: ByteRange | None = None

    @property
    def duration_s(self) -> float:
        """Time from the first attempt's start to the last byte."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class FetchStats:
    """What one fetch did: URLs, HTTP requests sent (retries included), bytes, wall time.

    Attributes
    ----------
    strategy : str
        ``"sequential"``, ``"threads"`` or ``"async"``.
    concurrency : int
        Requests allowed in flight.
    urls : int
        URLs fetched.
    requests : int
        HTTP requests sent (more than ``urls`` when some were retried).
    bytes : int
        Bytes received.
    wall_s : float
        Wall-clock seconds for the whole fetch.
    max_in_flight : int
        Most requests that were in flight at once.
    """

    strategy: str
    concurrency: int
    urls: int
    requests: int
    bytes: int
    wall_s: float
    max_in_flight: int

    def __str__(self) -> str:
        return (
            f"{self.strategy}: {plural(self.urls, 'chunk')}, {plural(self.requests, 'request')}, "
            f"{self.bytes / 1e6:.2f} MB in {self.wall_s:.3f} s "
            f"(concurrency {self.concurrency}, at most {self.max_in_flight} in flight)"
        )


@dataclass
class FetchResult:
    """The bytes of every URL (same order as the URLs), per-request timings and a summary.

    Attributes
    ----------
    data : list of bytes
        One body per URL, in the order of the URLs.
    timings : list of RequestTiming
        One per URL, in the order of the URLs.
    stats : FetchStats
        The summary (``str(result)`` prints it).
    """

    data: list[bytes]
    timings: list[RequestTiming]
    stats: FetchStats

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds for the whole fetch."""
        return self.stats.wall_s

    def __str__(self) -> str:
        return str(self.stats)


class InFlight:
    """Counts requests in flight (thread-safe) and remembers the maximum.

    Use ``with counter:`` around each HTTP request (each attempt).

    Attributes
    ----------
    now : int
        Requests in flight now.
    max : int
        Most requests in flight at once so far.
    requests : int
        Requests started so far.
    """

    def __init__(self) -> None:
        self.now = self.max = self.requests = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.requests += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


def build_result(
    strategy: str,
    concurrency: int,
    urls: Sequence[str],
    results: Sequence[tuple[bytes, RequestTiming]],
    counter: InFlight,
    t0: float,
) -> FetchResult:
    """Assemble a :class:`FetchResult` at the end of a fetch that started at ``t0``.

    Parameters
    ----------
    strategy : str
        Name of the fetcher.
    concurrency : int
        Requests it allowed in flight.
    urls : sequence of str
        The URLs, in order.
    results : sequence of (bytes, RequestTiming)
        Body and timing of each URL, in the order of ``urls``.
    counter : InFlight
        The counter the fetch used.
    t0 : float
        ``time.perf_counter()`` when the fetch started.

    Returns
    -------
    FetchResult
        The bytes, timings and summary.
    """
    data = [body for body, _ in results]
    stats = FetchStats(
        strategy,
        concurrency,
        len(urls),
        counter.requests,
        sum(len(body) for body in data),
        time.perf_counter() - t0,
        counter.max,
    )
    return FetchResult(data, [timing for _, timing in results], stats)
