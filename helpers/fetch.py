"""Download chunks over plain HTTP: one chunk = one object = one URL = one GET.

Lesson 03's three ways to fetch a list of URLs, as you would write them: :func:`fetch_sequential`, a
``for`` loop (each request pays the full latency); :func:`fetch_threads`, a ``ThreadPoolExecutor`` of
``concurrency`` threads; :func:`fetch_async`, an ``asyncio.Semaphore`` that lets ``concurrency``
requests run at once and ``asyncio.gather`` that waits for them all (the course's recommended way).
Each returns a :class:`FetchResult`: the bytes in URL order and one :class:`RequestTiming` per URL
(lesson 03 draws them). ``ranges=`` asks for part of each object (:class:`ByteRange`, lesson 08).

**When the network fails** (lesson 07), every request goes through one retry loop (:class:`Attempts`
under a :class:`RetryPolicy`): connection trouble, a truncated body or 408/429/5xx is retried after a
growing, jittered wait (or the server's ``Retry-After``); anything else (404, 403...) fails at once;
a URL gives up at its deadline, so nothing hangs. :class:`FetchError` names the URL, the fault and
the attempts; no partial result is returned. The loop is written out, not taken from a retry
library, because lesson 07 is about it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp
import fsspec.asyn
import urllib3

from .model import check_concurrency

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "Attempts",
    "ByteRange",
    "FetchError",
    "FetchResult",
    "PermanentError",
    "RangeError",
    "RequestTiming",
    "RetryPolicy",
    "RetryableError",
    "check_answer",
    "check_partial",
    "check_url",
    "fetch_all",
    "fetch_async",
    "fetch_sequential",
    "fetch_threads",
    "gather_at_most",
    "parse_content_range",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
"""Longest wait for a connection: an endpoint that does not answer fails fast."""
READ_TIMEOUT_S = 20.0
"""Longest silence while an answer arrives: a stalled transfer fails instead of hanging."""
DEADLINE_S = 30.0
"""Longest time for one URL, all its attempts and waits included."""
MARGIN_S = 0.05
"""A last attempt ends this long before the deadline, so the error comes within it."""


# --- what can go wrong -----------------------------------------------------------------------------
class FetchError(RuntimeError):
    """A URL (or a store key) could not be read, after retries if the fault was worth retrying.

    The message names what was read, the fault and the attempts; ``url``, ``reason``, ``attempts``,
    ``status`` and ``elapsed_s`` hold the same.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        attempts: int,
        status: int | None = None,
        elapsed_s: float | None = None,
        verb: str = "GET",
    ) -> None:
        self.url, self.reason, self.attempts, self.status = url, reason, attempts, status
        self.elapsed_s = elapsed_s
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        took = "" if elapsed_s is None else f" in {elapsed_s:.1f} s"
        super().__init__(f"{verb} {url} failed after {tries}{took}: {reason}")


class RetryableError(Exception):
    """One attempt failed in a way worth retrying; ``retry_after_s`` is the server's wish, if any."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after_s = reason, status, retry_after_s


class PermanentError(Exception):
    """One attempt got an answer that retrying cannot fix (404, 403, a range outside the object)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


# --- byte ranges -----------------------------------------------------------------------------------
class RangeError(ValueError):
    """A byte range that cannot be asked for, or an answer that does not hold the bytes asked for."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ByteRange:
    """Some bytes of an object: ``start:stop`` (stop excluded, as in Python), or the last ``suffix``.

    HTTP counts the last byte in: ``ByteRange.span(0, 100)`` is the header ``Range: bytes=0-99``.

    Examples
    --------
    >>> ByteRange.span(10, 20).header(), ByteRange.suffix_of(16).resolve(100)
    ('bytes=10-19', (84, 100))
    """

    start: int | None = None
    stop: int | None = None
    suffix: int | None = None

    def __post_init__(self) -> None:
        if self.suffix is not None:
            if self.start is not None or self.stop is not None:
                raise RangeError("a byte range is either start:stop or a suffix, not both")
            if not _is_int(self.suffix) or self.suffix < 1:
                raise RangeError(f"a suffix must be an integer >= 1, got {self.suffix!r}")
        elif not _is_int(self.start) or not _is_int(self.stop):
            raise RangeError(
                f"a byte range needs integer start and stop (or a suffix), got {self.start!r}:{self.stop!r}"
            )
        elif self.start < 0:  # type: ignore[operator]
            raise RangeError(f"negative start {self.start} (use ByteRange.suffix_of for the end)")
        elif self.stop <= self.start:  # type: ignore[operator]
            raise RangeError(f"empty byte range {self.start}:{self.stop} (stop must be > start)")

    @classmethod
    def span(cls, start: int, stop: int) -> ByteRange:
        """Bytes ``start`` to ``stop - 1``."""
        return cls(start=start, stop=stop)

    @classmethod
    def suffix_of(cls, n: int) -> ByteRange:
        """The last ``n`` bytes, whatever the object's size (how a shard's index is read)."""
        return cls(suffix=n)

    @property
    def is_suffix(self) -> bool:
        """True for "the last N bytes"."""
        return self.suffix is not None

    @property
    def length(self) -> int:
        """Bytes asked for."""
        return self.suffix if self.suffix is not None else self.stop - self.start  # type: ignore[operator]

    def header(self) -> str:
        """The value of the ``Range`` header."""
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.start}-{self.stop - 1}"  # type: ignore[operator]

    def __str__(self) -> str:
        return self.header()

    def resolve(self, size: int) -> tuple[int, int]:
        """``(start, stop)`` in an object of ``size`` bytes; ``RangeError`` if it does not fit."""
        start, stop = (
            (size - self.suffix, size) if self.suffix is not None else (self.start, self.stop)
        )
        if start < 0 or stop > size:  # type: ignore[operator]
            raise RangeError(f"{self.header()} does not fit in an object of {size} bytes")
        return start, stop  # type: ignore[return-value]


def parse_content_range(value: str | None) -> tuple[int, int, int | None]:
    """``(start, stop, total)`` of a ``Content-Range`` header (``stop`` excluded; total None: ``*``).

    Examples
    --------
    >>> parse_content_range("bytes 0-99/1000")
    (0, 100, 1000)
    """
    if value is None:
        raise RangeError("a partial answer (206) without a Content-Range header")
    text = value.strip()
    if match := re.fullmatch(r"bytes\s+\*/(\d+)", text):
        raise RangeError(
            f"the range asked for is outside the object (Content-Range {text!r}: it has "
            f"{match[1]} bytes)"
        )
    match = re.fullmatch(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", text)
    if not match:
        raise RangeError(f"malformed Content-Range {value!r} (expected 'bytes START-END/TOTAL')")
    start, last = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if last < start or (total is not None and last >= total):
        raise RangeError(f"inconsistent Content-Range {value!r}")
    return start, last + 1, total


def check_partial(
    requested: ByteRange, status: int, content_range: str | None, body: bytes
) -> bytes:
    """The bytes ``requested``, from an answer to a ``Range`` request; ``RangeError`` otherwise.

    A ``206`` answer must name exactly those bytes in its ``Content-Range`` and hold that many. A
    ``200`` answer is the whole object (the server ignored the header, which HTTP allows): the bytes
    are cut out of it, as S3 clients do.

    Examples
    --------
    >>> check_partial(ByteRange.span(2, 4), 206, "bytes 2-3/10", b"cd")
    b'cd'
    """
    if status == 200:
        start, stop = requested.resolve(len(body))
        return bytes(body[start:stop]) if (start, stop) != (0, len(body)) else body
    if status != 206:
        raise RangeError(f"HTTP {status} is not an answer to a range request (expected 206 or 200)")
    start, stop, total = parse_content_range(content_range)
    if total is not None:
        expected = requested.resolve(total)
    elif requested.suffix is not None:  # size unknown: only the length can be checked
        expected = (start, start + requested.suffix)
    else:
        expected = (requested.start or 0, requested.stop or 0)
    if (start, stop) != expected:
        of = f" of {total}" if total is not None else ""
        raise RangeError(
            f"asked for {requested.header()} but the answer holds bytes {start}-{stop - 1}{of}"
        )
    if len(body) != stop - start:
        raise RangeError(
            f"the answer to {requested.header()} has {len(body)} bytes, not {stop - start}"
        )
    return body


# --- the retry loop --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request, how long to wait between tries, and when to give up.

    The wait after the n-th failure is at most ``backoff_s * 2 ** (n - 1)``, capped at
    ``max_backoff_s`` (:meth:`delay_s`); ``jitter="full"`` draws it between 0 and that,
    ``"equal"`` between half and all of it, ``"none"`` takes it as is. A server's ``Retry-After``
    replaces it (capped too). A URL gives up after ``attempts`` tries or at ``deadline_s`` after its
    first one (``None``: no deadline); ``attempt_timeout_s`` cuts a single try short (``None``: only
    the read timeout and the deadline do). ``seed`` makes the jitter repeat.

    Examples
    --------
    >>> policy = RetryPolicy(attempts=5, backoff_s=0.1, max_backoff_s=0.3)
    >>> [policy.delay_s(n) for n in (1, 2, 3, 4)]
    [0.1, 0.2, 0.3, 0.3]
    """

    attempts: int = 3
    backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    deadline_s: float | None = DEADLINE_S
    attempt_timeout_s: float | None = None
    jitter: str = "full"
    seed: int | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 1
        ):
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must be >= 0")
        for name in ("deadline_s", "attempt_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 seconds (or None), got {value!r}")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"unknown jitter {self.jitter!r}: use one of full, equal, none")

    def delay_s(self, failed_attempts: int) -> float:
        """The longest wait after ``failed_attempts`` failures (the jitter picks up to this)."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempts - 1))

    def wait_s(self, failed_attempts: int, rng: random.Random) -> float:
        """The jittered wait after ``failed_attempts`` failures."""
        ceiling = self.delay_s(failed_attempts)
        if self.jitter == "full":
            return rng.uniform(0, ceiling)
        return rng.uniform(ceiling / 2, ceiling) if self.jitter == "equal" else ceiling


DEFAULT_RETRY = RetryPolicy()
"""3 attempts, waits of up to 50 ms then 100 ms (full jitter), 30 s in all at most per URL."""
NO_RETRY = RetryPolicy(attempts=1)
"""Fail on the first error (to see faults as they are)."""


class Attempts:
    """The retry loop of one URL: attempt numbers, the time left, the wait after a failure.

    Every read path uses it the same way (only the waiting differs: ``time.sleep`` or
    ``asyncio.sleep``); :meth:`failed` raises :class:`FetchError` when it is over.

    Examples
    --------
    >>> attempts = Attempts("http://host/a/c/0", RetryPolicy(backoff_s=0.1, jitter="none"))
    >>> for attempt in attempts:
    ...     try:
    ...         raise RetryableError("HTTP 503 Service Unavailable", 503)  # every GET fails
    ...     except RetryableError as err:
    ...         delay = attempts.failed(err)
    Traceback (most recent call last):
    ...
    helpers.fetch.FetchError: GET http://host/a/c/0 failed after 3 attempts in 0.0 s: HTTP 503 Service Unavailable
    >>> attempts.delays_s
    [0.1, 0.2]
    """

    def __init__(self, url: str, policy: RetryPolicy, verb: str = "GET") -> None:
        self.url, self.policy, self.verb = url, policy, verb
        self.made = 0
        self.delays_s: list[float] = []
        self.faults: list[str] = []
        self._start = self._attempt_start = time.monotonic()
        seed = policy.seed if policy.seed is not None else random.getrandbits(64)
        self._rng = random.Random(f"{seed}:{url}")

    @property
    def elapsed_s(self) -> float:
        """Seconds since the first attempt started."""
        return time.monotonic() - self._start

    def __iter__(self) -> Iterator[int]:
        """Attempt numbers 1, 2, ... up to the policy's attempts."""
        while self.made < self.policy.attempts:
            self.made += 1
            self._attempt_start = time.monotonic()
            yield self.made

    def timeout_s(self, usual_s: float) -> float:
        """``usual_s``, cut to the time left in this attempt and before the deadline (>= 1 ms)."""
        deadline = self.policy.deadline_s
        left = usual_s if deadline is None else min(usual_s, deadline - self.elapsed_s - MARGIN_S)
        if self.policy.attempt_timeout_s is not None:
            spent = time.monotonic() - self._attempt_start
            left = min(left, self.policy.attempt_timeout_s - spent)
        return max(0.001, left)

    def failed(self, error: RetryableError | PermanentError) -> float:
        """Record a failed attempt; the seconds to wait before the next, or raise :class:`FetchError`."""
        self.faults.append(error.reason)
        if isinstance(error, PermanentError) or self.made >= self.policy.attempts:
            raise self.give_up(error.reason, error.status)
        delay = self.policy.wait_s(self.made, self._rng)
        if isinstance(error, RetryableError) and error.retry_after_s is not None:
            delay = min(error.retry_after_s, self.policy.max_backoff_s)
        deadline = self.policy.deadline_s
        if deadline is not None and self.elapsed_s + delay + MARGIN_S >= deadline:
            reason = f"{error.reason} (gave up: the {deadline:g} s deadline was reached)"
            raise self.give_up(reason, error.status)
        self.delays_s.append(delay)
        logger.debug(
            "%s %s: attempt %d of %d failed (%s), retrying in %.3f s",
            *(self.verb, self.url, self.made, self.policy.attempts, error.reason, delay),
        )
        return delay

    def give_up(self, reason: str, status: int | None = None) -> FetchError:
        """The error that ends the loop (to raise), naming what was read and the attempts."""
        return FetchError(self.url, reason, self.made, status, self.elapsed_s, self.verb)


def check_answer(
    status: int,
    reason: str,
    headers: dict[str, str],
    body: bytes,
    policy: RetryPolicy,
    byte_range: ByteRange | None = None,
) -> bytes:
    """The bytes asked for, if one HTTP answer holds them; else raise Retryable- or PermanentError.

    The one place that decides "good, retry or fail" (``headers`` with lower-case names).

    Examples
    --------
    >>> check_answer(404, "Not Found", {}, b"<Code>NoSuchKey</Code>", DEFAULT_RETRY)
    Traceback (most recent call last):
    ...
    helpers.fetch.PermanentError: HTTP 404 Not Found (NoSuchKey) (not retried)
    """
    code = re.search(rb"<Code>([^<]{1,64})</Code>", body[:2000]) if status >= 300 else None
    what = f"HTTP {status} {reason}" + (f" ({code[1].decode(errors='replace')})" if code else "")
    if byte_range is not None and status == 416:
        size = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", headers.get("content-range", ""))
        of = f" of {size[1]} bytes" if size else ""
        raise PermanentError(
            f"{what}: {byte_range.header()} is outside the object{of} (not retried)", 416
        )
    if status in policy.retry_statuses:
        raise RetryableError(what, status, parse_retry_after(headers.get("retry-after")))
    if not 200 <= status < 300:
        raise PermanentError(f"{what} (not retried)", status)
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) != len(body):
        raise RetryableError(f"truncated body: got {len(body)} of {length} bytes")
    if byte_range is None:
        return body
    if status == 200:
        logger.info("the server ignored Range %s and sent the whole object: sliced", byte_range)
    try:
        return check_partial(byte_range, status, headers.get("content-range"), body)
    except RangeError as err:
        raise PermanentError(
            f"bad answer to a range request: {err} (not retried)", status
        ) from None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (seconds or an HTTP date); None if unreadable.

    Examples
    --------
    >>> parse_retry_after("2"), parse_retry_after("0.5"), parse_retry_after("soon")
    (2.0, 0.5, None)
    """
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return None if when.tzinfo is None else max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- what a fetch returns --------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestTiming:
    """One URL's download: its first attempt's start and last byte, in seconds since the fetch began."""

    url: str
    start_s: float
    end_s: float
    nbytes: int
    attempts: int = 1
    byte_range: ByteRange | None = None

    @property
    def duration_s(self) -> float:
        """From the first attempt's start to the last byte."""
        return self.end_s - self.start_s


@dataclass
class FetchResult:
    """The bytes of every URL (in the order of the URLs), their timings, and what the fetch did.

    ``requests`` counts HTTP requests (retries included), ``max_in_flight`` the most at once.
    """

    data: list[bytes]
    timings: list[RequestTiming]
    strategy: str
    concurrency: int
    requests: int
    max_in_flight: int
    wall_s: float

    @property
    def nbytes(self) -> int:
        """Bytes received in all."""
        return sum(map(len, self.data))

    def __str__(self) -> str:
        n, mb = len(self.data), self.nbytes / 1e6
        return (
            f"{self.strategy}: {n} chunk{'s' * (n != 1)}, {self.requests} request"
            f"{'s' * (self.requests != 1)}, {mb:.2f} MB in {self.wall_s:.3f} s "
            f"(concurrency {self.concurrency}, at most {self.max_in_flight} in flight)"
        )


class _InFlight:
    """One fetch's clock and requests: how many in flight (threads or tasks), the most at once."""

    def __init__(self) -> None:
        self.now = self.max = self.requests = 0
        self._lock = threading.Lock()
        self.t0 = time.perf_counter()

    def __enter__(self) -> None:
        with self._lock:
            self.now, self.requests = self.now + 1, self.requests + 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1

    def timing(
        self, url: str, start: float, body: bytes, attempts: int, byte_range: ByteRange | None
    ) -> RequestTiming:
        """The timing of a URL whose first attempt began at ``start`` and whose body came now."""
        end = time.perf_counter() - self.t0
        return RequestTiming(url, start, end, len(body), attempts, byte_range)

    def result(
        self, results: Sequence[tuple[bytes, RequestTiming]], strategy: str, concurrency: int
    ) -> FetchResult:
        """The :class:`FetchResult` of ``(bytes, timing)`` pairs, in the order of the URLs."""
        wall = time.perf_counter() - self.t0
        data, timings = [body for body, _ in results], [timing for _, timing in results]
        return FetchResult(data, timings, strategy, concurrency, self.requests, self.max, wall)


def _describe(url: str, byte_range: ByteRange | None) -> str:
    return url if byte_range is None else f"{url} (Range: {byte_range.header()})"


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; else ``ValueError`` saying what is wrong.

    Examples
    --------
    >>> check_url("s3://course-data/x")
    Traceback (most recent call last):
    ...
    ValueError: not an http(s) URL: 's3://course-data/x' (for the local cloud use cloud.url(key); s3:// URLs need an S3 client such as s3fs)
    """
    if not isinstance(url, str):
        raise ValueError(f"a URL must be a string, got {type(url).__name__} {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as err:
        raise ValueError(
            f"malformed URL {url!r} ({err}): expected http(s)://HOST[:PORT]/PATH"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"not an http(s) URL: {url!r} (for the local cloud use cloud.url(key); s3:// URLs "
            "need an S3 client such as s3fs)"
        )
    if any(c.isspace() for c in url):
        raise ValueError(f"malformed URL {url!r}: it contains white space (quote it as %20)")
    return url


def _checked(
    urls: Sequence[str], concurrency: int, ranges: Sequence[ByteRange | None] | None
) -> tuple[list[str], list[ByteRange | None]]:
    """The URLs and one range (or None) per URL; ``ValueError`` saying what is wrong."""
    check_concurrency(concurrency)
    if isinstance(urls, str):
        raise ValueError("urls must be a list of URLs, not one string")
    urls = [check_url(url) for url in urls]
    if not urls:
        raise ValueError("no URLs to fetch (the key list is empty)")
    if isinstance(ranges, ByteRange):
        raise RangeError("ranges must be a list with one ByteRange (or None) per URL")
    byte_ranges: list[ByteRange | None] = [None] * len(urls) if ranges is None else list(ranges)
    if len(byte_ranges) != len(urls):
        raise RangeError(f"{len(byte_ranges)} byte ranges for {len(urls)} URLs: give one per URL")
    if any(r is not None and not isinstance(r, ByteRange) for r in byte_ranges):
        raise RangeError("each range must be a ByteRange or None (the whole object)")
    return urls, byte_ranges


# --- blocking: a for loop, and a pool of threads ----------------------------------------------------
def _get(
    http: urllib3.PoolManager,
    url: str,
    byte_range: ByteRange | None,
    policy: RetryPolicy,
    counter: _InFlight,
) -> tuple[bytes, RequestTiming]:
    """GET one URL with retries (urllib3); its bytes and timing (seconds since ``counter.t0``)."""
    start = time.perf_counter() - counter.t0
    attempts = Attempts(_describe(url, byte_range), policy)
    for attempt in attempts:
        try:
            timeout = urllib3.Timeout(
                connect=attempts.timeout_s(CONNECT_TIMEOUT_S),
                read=attempts.timeout_s(READ_TIMEOUT_S),
            )
            headers = {"Range": byte_range.header()} if byte_range else {}
            with counter:
                answer = http.request("GET", url, headers=headers, timeout=timeout, retries=False)
            body = check_answer(
                answer.status,
                answer.reason or "",
                {k.lower(): v for k, v in answer.headers.items()},
                answer.data,
                policy,
                byte_range,
            )
            return body, counter.timing(url, start, body, attempt, byte_range)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            time.sleep(attempts.failed(RetryableError(f"{type(err).__name__}: {err}")))
        except (RetryableError, PermanentError) as err:
            time.sleep(attempts.failed(err))
    raise AssertionError("unreachable: Attempts.failed raises after the last attempt")


def fetch_sequential(
    urls: Sequence[str],
    retry: RetryPolicy | None = None,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """GET each URL in turn, in a ``for`` loop: time ~ N x latency.

    ``retry`` defaults to :data:`DEFAULT_RETRY`; ``ranges`` has one :class:`ByteRange` (or None:
    the whole object) per URL. ``ValueError`` for bad URLs or ranges; :class:`FetchError` when a
    URL fails (after the retries): nothing is returned then.

    Examples
    --------
    >>> print(fetch_sequential(chunk_urls(level_url, (0, slice(0, 4)))))  # doctest: +SKIP
    sequential: 4 chunks, 4 requests, 0.52 MB in 0.412 s (concurrency 1, at most 1 in flight)
    """
    urls, byte_ranges = _checked(urls, 1, ranges)
    policy, counter = retry or DEFAULT_RETRY, _InFlight()
    results = []
    with urllib3.PoolManager(maxsize=1) as http:  # one connection, kept alive
        for url, byte_range in zip(urls, byte_ranges, strict=True):
            results.append(_get(http, url, byte_range, policy, counter))
    return counter.result(results, "sequential", 1)


def fetch_threads(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """GET the URLs with a pool of ``concurrency`` threads: time ~ ceil(N / concurrency) x latency.

    Same arguments, result and errors as :func:`fetch_sequential`, plus ``concurrency`` (threads,
    hence requests in flight: 1 to 1024). When a URL fails, the URLs not started yet are dropped.

    Examples
    --------
    >>> fetch_threads(chunk_urls(level_url, (0, slice(0, 16))), 8).max_in_flight  # doctest: +SKIP
    8
    """
    urls, byte_ranges = _checked(urls, concurrency, ranges)
    policy, counter = retry or DEFAULT_RETRY, _InFlight()
    with urllib3.PoolManager(maxsize=concurrency) as http:  # one connection per thread
        with ThreadPoolExecutor(concurrency, thread_name_prefix="fetch") as pool:
            futures = [
                pool.submit(_get, http, url, r, policy, counter)
                for url, r in zip(urls, byte_ranges, strict=True)
            ]
            try:
                results = [future.result() for future in futures]
            finally:  # on a failure, drop the URLs not started yet
                pool.shutdown(wait=True, cancel_futures=True)
    return counter.result(results, "threads", concurrency)


# --- asyncio: a semaphore and gather --------------------------------------------------------------
async def _get_async(
    session: aiohttp.ClientSession,
    url: str,
    byte_range: ByteRange | None,
    policy: RetryPolicy,
    counter: _InFlight,
) -> tuple[bytes, RequestTiming]:
    """GET one URL with retries (aiohttp); its bytes and timing (seconds since ``counter.t0``)."""
    start = time.perf_counter() - counter.t0
    attempts = Attempts(_describe(url, byte_range), policy)
    for attempt in attempts:
        try:
            timeout = aiohttp.ClientTimeout(
                total=attempts.timeout_s(math.inf),
                sock_connect=attempts.timeout_s(CONNECT_TIMEOUT_S),
                sock_read=attempts.timeout_s(READ_TIMEOUT_S),
            )
            headers = {"Range": byte_range.header()} if byte_range else {}
            with counter:
                async with session.get(url, headers=headers, timeout=timeout) as answer:
                    raw, status, reason = await answer.read(), answer.status, answer.reason or ""
                    answer_headers = {k.lower(): v for k, v in answer.headers.items()}
            body = check_answer(status, reason, answer_headers, raw, policy, byte_range)
            return body, counter.timing(url, start, body, attempt, byte_range)
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            detail = str(err) or "no complete answer in time"
            await asyncio.sleep(attempts.failed(RetryableError(f"{type(err).__name__}: {detail}")))
        except (RetryableError, PermanentError) as err:
            await asyncio.sleep(attempts.failed(err))
    raise AssertionError("unreachable: Attempts.failed raises after the last attempt")


async def fetch_all(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """The coroutine behind :func:`fetch_async`: ``await fetch_all(urls, 16)`` in your own loop."""
    urls, byte_ranges = _checked(urls, concurrency, ranges)
    policy, counter = retry or DEFAULT_RETRY, _InFlight()
    semaphore = asyncio.Semaphore(concurrency)  # at most `concurrency` requests at once

    async def one(url: str, byte_range: ByteRange | None) -> tuple[bytes, RequestTiming]:
        async with semaphore:
            return await _get_async(session, url, byte_range, policy, counter)

    connector = aiohttp.TCPConnector(limit=concurrency)  # connections kept alive between requests
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        tasks = [
            asyncio.ensure_future(one(url, r)) for url, r in zip(urls, byte_ranges, strict=True)
        ]
        try:
            results = await asyncio.gather(*tasks)
        finally:  # on a failure, cancel the others
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return counter.result(results, "async", concurrency)


async def gather_at_most(concurrency: int, coroutines: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``coroutines`` together, at most ``concurrency`` at a time; their results, in order.

    The pattern of :func:`fetch_all` (a ``Semaphore`` and ``gather``) for any coroutines: the chunk
    reads of a view, the existence checks of :func:`helpers.reliable.missing_chunks`.
    """
    limit = asyncio.Semaphore(concurrency)

    async def one(coroutine: Awaitable[T]) -> T:
        async with limit:
            return await coroutine

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


def fetch_async(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """GET the URLs with asyncio, at most ``concurrency`` at once: time ~ ceil(N / C) x latency.

    Same arguments, result and errors as :func:`fetch_threads`. The coroutine :func:`fetch_all`
    runs on fsspec's event loop (a thread of its own), so this works in scripts and in Jupyter,
    whose own loop is already busy running the notebook.

    Examples
    --------
    >>> result = fetch_async(chunk_urls(level_url), 16)  # doctest: +SKIP
    >>> result.max_in_flight  # doctest: +SKIP
    16
    """
    return fsspec.asyn.sync(
        fsspec.asyn.get_loop(), fetch_all, urls, concurrency, retry, ranges=ranges
    )
