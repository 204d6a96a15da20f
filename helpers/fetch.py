"""Download Zarr chunks over plain HTTP: one chunk = one object = one URL = one GET.

Three ways to fetch the same list of URLs, each returning a :class:`FetchResult` (the bytes in the
order of the URLs, one :class:`RequestTiming` per URL, and a :class:`FetchStats` summary):

- :func:`fetch_sequential` -- one request after another (every request pays the full latency);
- :func:`fetch_threads` -- a pool of ``concurrency`` threads, each with its own keep-alive connection;
- :func:`fetch_async` -- asyncio + aiohttp, at most ``concurrency`` requests in flight (an
  ``asyncio.Semaphore``) over a pool of keep-alive connections. The course's recommended path.

The URLs to fetch come from :mod:`helpers.chunks` (:func:`~helpers.chunks.chunk_urls`).

Reliability: every request has timeouts (connect and between reads: nothing hangs); connection
errors, truncated bodies and "try again" answers (408, 429, 5xx) are retried a bounded number of
times (:class:`RetryPolicy`); other 4xx answers (404...) fail at once. A chunk that cannot be fetched
raises :class:`FetchError` naming its URL (which holds the key): no partial result is ever returned.
Every answer goes through :func:`check_answer`, the one place deciding "good / retry / fail".
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.client
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
"""Default limit on the silence between two reads of one answer (a stalled transfer fails)."""
READ_BUFFER = 2 * 1024 * 1024
DEFAULT_POOL = 64
"""fetch_async keeps at least this many keep-alive connections per session (more if asked)."""


# =============================================================================================
# Results and errors
# =============================================================================================


@dataclass(frozen=True)
class RequestTiming:
    """One URL's download: ``start_s``/``end_s`` are seconds since the fetch started."""

    url: str
    start_s: float
    end_s: float
    nbytes: int
    attempts: int = 1

    @property
    def duration_s(self) -> float:
        """Time from the first attempt's start to the last byte."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class FetchStats:
    """What one fetch did: URLs, HTTP requests sent (retries included), bytes, wall time."""

    strategy: str
    concurrency: int
    urls: int
    requests: int
    bytes: int
    wall_s: float
    max_in_flight: int

    def __str__(self) -> str:
        return (
            f"{self.strategy}: {self.urls} chunks, {self.requests} requests, "
            f"{self.bytes / 1e6:.2f} MB in {self.wall_s:.3f} s "
            f"(concurrency {self.concurrency}, at most {self.max_in_flight} in flight)"
        )


@dataclass
class FetchResult:
    """The bytes of every URL (same order as the URLs), per-request timings and a summary."""

    data: list[bytes]
    timings: list[RequestTiming]
    stats: FetchStats

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds for the whole fetch."""
        return self.stats.wall_s

    def __str__(self) -> str:
        return str(self.stats)


class FetchError(RuntimeError):
    """A URL could not be fetched (after retries, if the failure was worth retrying).

    Attributes: ``url``, ``reason`` (text), ``attempts`` made, ``status`` (HTTP status or None).
    """

    def __init__(self, url: str, reason: str, attempts: int, status: int | None = None) -> None:
        self.url, self.reason, self.attempts, self.status = url, reason, attempts, status
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"GET {url} failed after {tries}: {reason}")


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (connection trouble, 503, truncated body...)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class PermanentError(Exception):
    """One attempt got an answer that retrying cannot fix (404, 403...)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request, and how long to wait between tries.

    Attributes:
        attempts: total tries per URL (1 = no retry).
        backoff_s: wait before the 2nd try; doubled for each further try, at most ``max_backoff_s``.
        retry_statuses: HTTP statuses worth retrying (S3 answers 503 "SlowDown" when overloaded).
    """

    attempts: int = 3
    backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    retry_statuses: frozenset[int] = field(default=frozenset({408, 429, 500, 502, 503, 504}))

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must be >= 0")

    def delay_s(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures before the next try."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempts - 1))


DEFAULT_RETRY = RetryPolicy()
"""3 attempts, waiting 50 ms then 100 ms: rides out a brief fault without hiding a real one."""
NO_RETRY = RetryPolicy(attempts=1)
"""Fail on the first error (useful to see faults as they are)."""


def check_answer(
    status: int, reason: str, content_length: str | None, body: bytes, policy: RetryPolicy
) -> None:
    """Decide whether one HTTP answer is a good chunk; raise otherwise.

    Raises :class:`RetryableError` for statuses in ``policy.retry_statuses`` and for a body shorter
    or longer than its ``Content-Length``; :class:`PermanentError` for any other non-2xx status.
    """
    if status in policy.retry_statuses:
        raise RetryableError(f"HTTP {status} {reason}{_s3_code(body)}", status)
    if not 200 <= status < 300:
        raise PermanentError(f"HTTP {status} {reason}{_s3_code(body)} (not retried)", status)
    if content_length is not None and content_length.isdigit() and int(content_length) != len(body):
        raise RetryableError(f"truncated body: got {len(body)} of {content_length} bytes")


def _s3_code(body: bytes) -> str:
    match = re.search(rb"<Code>([^<]{1,64})</Code>", body[:2000])
    return f" ({match.group(1).decode(errors='replace')})" if match else ""


def check_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host; raise ``ValueError`` otherwise."""
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).hostname
    ):
        raise ValueError(
            f"not an http(s) URL: {url!r} (for the local cloud use cloud.url(key); s3:// URLs "
            "need an S3 client such as s3fs)"
        )
    return url


def _check_args(urls: Sequence[str], concurrency: int) -> list[str]:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if isinstance(urls, str):
        raise ValueError("urls must be a list of URLs, not one string")
    urls = list(urls)
    if not urls:
        raise ValueError("no URLs to fetch (the key list is empty)")
    for url in urls:
        check_url(url)
    return urls


class _InFlight:
    """Counts requests in flight (thread-safe) and remembers the maximum."""

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


def _result(strategy, concurrency, urls, data, timings, counter, t0) -> FetchResult:
    stats = FetchStats(
        strategy,
        concurrency,
        len(urls),
        counter.requests,
        sum(len(d) for d in data),
        time.perf_counter() - t0,
        counter.max,
    )
    return FetchResult(list(data), list(timings), stats)


# =============================================================================================
# Blocking fetches: one keep-alive http.client connection per thread
# =============================================================================================


class _BlockingClient:
    """Keeps one HTTP(S) connection per (thread, host) open between requests (keep-alive)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, netloc))
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = cls(netloc, timeout=self.timeout_s)
            pool[(scheme, netloc)] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, scheme: str, netloc: str) -> None:
        conn = self._local.__dict__.get("pool", {}).pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def get_once(self, url: str, policy: RetryPolicy) -> bytes:
        """One attempt: GET ``url``; raise Retryable/PermanentError on a bad answer."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        try:
            conn.request("GET", path or "/")
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as err:
            self._drop(parts.scheme, parts.netloc)
            raise RetryableError(f"{err.__class__.__name__}: {err}") from None
        if answer.will_close:
            self._drop(parts.scheme, parts.netloc)
        check_answer(answer.status, answer.reason, answer.getheader("Content-Length"), body, policy)
        return body

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def _get_with_retries(client: _BlockingClient, url: str, policy: RetryPolicy, counter: _InFlight):
    for attempt in range(1, policy.attempts + 1):
        try:
            with counter:
                return client.get_once(url, policy), attempt
        except PermanentError as err:
            raise FetchError(url, err.reason, attempt, err.status) from None
        except RetryableError as err:
            if attempt == policy.attempts:
                raise FetchError(url, err.reason, attempt, err.status) from None
            time.sleep(policy.delay_s(attempt))
    raise AssertionError("unreachable")


def fetch_sequential(
    urls: Sequence[str], retry: RetryPolicy | None = None, timeout_s: float = READ_TIMEOUT_S
) -> FetchResult:
    """GET each URL in turn over one keep-alive connection: time ~ N x latency.

    Raises ``ValueError`` for an empty list or a non-HTTP URL, :class:`FetchError` for a URL that
    failed (after ``retry``'s attempts); nothing is returned then.
    """
    return fetch_threads(urls, 1, retry, timeout_s, _strategy="sequential")


def fetch_threads(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
    *,
    _strategy: str = "threads",
) -> FetchResult:
    """GET the URLs with a pool of ``concurrency`` threads (each keeps its own connection alive).

    At most ``concurrency`` requests are in flight; time ~ ceil(N / concurrency) x latency.
    Same errors as :func:`fetch_sequential`; on the first failed URL the remaining ones are cancelled.
    """
    urls = _check_args(urls, concurrency)
    retry = retry or DEFAULT_RETRY
    client = _BlockingClient(timeout_s)
    counter = _InFlight()
    t0 = time.perf_counter()

    def one(url: str) -> tuple[bytes, RequestTiming]:
        start = time.perf_counter() - t0
        body, attempts = _get_with_retries(client, url, retry, counter)
        return body, RequestTiming(url, start, time.perf_counter() - t0, len(body), attempts)

    try:
        if concurrency == 1:
            results = [one(url) for url in urls]
        else:
            pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch")
            try:
                futures = [pool.submit(one, url) for url in urls]
                results = [f.result() for f in futures]
            finally:  # on a failure, drop the queued URLs; running requests end (timeouts)
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        client.close()
    return _result(
        _strategy, concurrency, urls, [r[0] for r in results], [r[1] for r in results], counter, t0
    )


# =============================================================================================
# asyncio + aiohttp: a semaphore bounds the requests in flight
# =============================================================================================


async def _get_async(
    session: aiohttp.ClientSession, url: str, policy: RetryPolicy, counter: _InFlight
) -> tuple[bytes, int]:
    for attempt in range(1, policy.attempts + 1):
        try:
            with counter:
                try:
                    async with session.get(url) as answer:
                        body = await answer.read()
                except (TimeoutError, aiohttp.ClientError, OSError) as err:
                    raise RetryableError(f"{err.__class__.__name__}: {err}") from None
                check_answer(
                    answer.status,
                    answer.reason or "",
                    answer.headers.get("Content-Length"),
                    body,
                    policy,
                )
            return body, attempt
        except PermanentError as err:
            raise FetchError(url, err.reason, attempt, err.status) from None
        except RetryableError as err:
            if attempt == policy.attempts:
                raise FetchError(url, err.reason, attempt, err.status) from None
            await asyncio.sleep(policy.delay_s(attempt))
    raise AssertionError("unreachable")


def make_session(
    limit: int = DEFAULT_POOL, timeout_s: float = READ_TIMEOUT_S
) -> aiohttp.ClientSession:
    """An aiohttp session keeping up to ``limit`` connections alive (call inside a running loop).

    Timeouts bound the connection set-up and the silence between reads, not the whole transfer (a
    slow but steady download on a capped link is fine; a stalled one fails). Each connection
    buffers up to 2 MiB of an answer, so typical chunks arrive without pausing the socket.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(
        total=None, connect=CONNECT_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S, sock_read=timeout_s
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False, read_bufsize=READ_BUFFER
    )


async def fetch_many(
    urls: Sequence[str],
    concurrency: int,
    session: aiohttp.ClientSession | None = None,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> FetchResult:
    """Coroutine behind :func:`fetch_async`: ``await fetch_many(urls, 16)`` in your own event loop.

    Uses ``session`` if given (its connection limit must be >= ``concurrency``), else a new one
    that is closed afterwards.
    """
    urls = _check_args(urls, concurrency)
    retry = retry or DEFAULT_RETRY
    if session is None:
        async with make_session(max(concurrency, DEFAULT_POOL), timeout_s) as own:
            return await fetch_many(urls, concurrency, own, retry, timeout_s)
    limit = session.connector.limit if session.connector is not None else 0
    if limit and limit < concurrency:
        raise ValueError(
            f"the session allows {limit} connections, fewer than concurrency={concurrency}"
        )
    semaphore = asyncio.Semaphore(concurrency)
    counter = _InFlight()
    t0 = time.perf_counter()

    async def one(url: str) -> tuple[bytes, RequestTiming]:
        async with semaphore:
            start = time.perf_counter() - t0
            body, attempts = await _get_async(session, url, retry, counter)
            return body, RequestTiming(url, start, time.perf_counter() - t0, len(body), attempts)

    tasks = [asyncio.ensure_future(one(url)) for url in urls]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return _result(
        "async", concurrency, urls, [r[0] for r in results], [r[1] for r in results], counter, t0
    )


class _IOLoop:
    """A private event loop in a daemon thread, with cached sessions (keep-alive across calls).

    Running our own loop makes :func:`fetch_async` a plain function that also works inside
    Jupyter (whose own loop is already running), the same way zarr and fsspec do it.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._sessions: dict[tuple[int, float], aiohttp.ClientSession] = {}
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._pid != os.getpid():  # a forked child (e.g. a worker): the thread is gone
                self._loop, self._thread, self._pid = None, None, os.getpid()
                self._sessions = {}
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="fetch-io", daemon=True
                )
                self._thread.start()
            if threading.current_thread() is self._thread:
                raise RuntimeError("fetch_async called from its own event loop: await fetch_many()")
            return self._loop

    async def session(self, limit: int, timeout_s: float) -> aiohttp.ClientSession:
        key = (limit, timeout_s)
        session = self._sessions.get(key)
        if session is None or session.closed:
            session = self._sessions[key] = make_session(limit, timeout_s)
        return session

    def run(self, coro_factory):
        loop = self.loop()
        future = asyncio.run_coroutine_threadsafe(coro_factory(), loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Close the cached sessions and stop the loop (called at exit)."""
        if self._loop is None or self._loop.is_closed():
            return

        async def close_all() -> None:
            for session in self._sessions.values():
                await session.close()
            self._sessions.clear()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)


_IO = _IOLoop()
atexit.register(_IO.close)


def fetch_async(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> FetchResult:
    """GET the URLs with asyncio, at most ``concurrency`` in flight: time ~ ceil(N / C) x latency.

    The requests share a pool of keep-alive connections (at least ``concurrency`` of them) that
    stays open between calls, so repeated fetches skip the connection set-up. Works in scripts and
    in Jupyter. Raises ``ValueError`` for ``concurrency`` < 1, an empty list or a non-HTTP URL;
    :class:`FetchError` naming the URL when one fails after ``retry``'s attempts (the other requests
    are cancelled and nothing is returned).
    """
    urls = _check_args(urls, concurrency)
    limit = max(concurrency, DEFAULT_POOL)

    async def run() -> FetchResult:
        session = await _IO.session(limit, timeout_s)
        return await fetch_many(urls, concurrency, session, retry, timeout_s)

    return _IO.run(run)


__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "FetchError",
    "FetchResult",
    "FetchStats",
    "PermanentError",
    "RequestTiming",
    "RetryPolicy",
    "RetryableError",
    "check_answer",
    "check_url",
    "fetch_async",
    "fetch_many",
    "fetch_sequential",
    "fetch_threads",
    "make_session",
]
