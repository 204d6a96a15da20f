"""Blocking fetches with :mod:`http.client`: one keep-alive connection per thread.

:func:`fetch_sequential` sends one request after another (every request pays the full latency);
:func:`fetch_threads` runs a pool of ``concurrency`` threads, each keeping its own connection alive.
Retries follow :class:`~helpers.fetch.retry.Attempts`, the loop shared with the asyncio client;
byte ranges are sent and checked by :mod:`~helpers.fetch.ranged`.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ..byteranges import ByteRange, check_ranges
from ..config import READ_TIMEOUT_S
from .ranged import checked_body, describe, range_headers
from .results import FetchResult, InFlight, RequestTiming, build_result
from .retry import DEFAULT_RETRY, Attempts, PermanentError, RetryableError, RetryPolicy
from .urls import check_arguments

__all__ = ["fetch_sequential", "fetch_threads"]

_PIECE = 2**16
"""Bytes read from a socket at once (the deadline is checked between pieces)."""


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

    def get_once(
        self, url: str, policy: RetryPolicy, attempts: Attempts, byte_range: ByteRange | None
    ) -> bytes:
        """One attempt: GET ``url`` (its ``byte_range``); raise Retryable/PermanentError on a bad answer.

        Every wait for the server (connecting, each read) lasts at most ``timeout_s`` and never
        past the URL's deadline, so a stalled or trickling answer ends in time.
        """
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        try:
            conn.timeout = attempts.timeout_s(self.timeout_s)
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            conn.request("GET", path or "/", headers=range_headers(byte_range))
            answer = conn.getresponse()
            body = self._read(conn, answer, attempts)
        except (OSError, http.client.HTTPException) as err:
            self._drop(parts.scheme, parts.netloc)
            raise RetryableError(f"{err.__class__.__name__}: {err}") from None
        if answer.will_close:
            self._drop(parts.scheme, parts.netloc)
        try:
            return checked_body(
                byte_range, answer.status, answer.reason, answer.getheader, body, policy
            )
        except RetryableError:  # e.g. a truncated body: the connection is not to be trusted
            self._drop(parts.scheme, parts.netloc)
            raise

    def _read(
        self, conn: http.client.HTTPConnection, answer: http.client.HTTPResponse, attempts: Attempts
    ) -> bytes:
        """The body of ``answer``, read in pieces so that the deadline holds between pieces."""
        parts: list[bytes] = []
        while True:
            if attempts.timeout_s(math.inf) <= 0.001:
                raise TimeoutError("no complete answer before the attempt's time ran out")
            if conn.sock is not None:
                conn.sock.settimeout(attempts.timeout_s(self.timeout_s))
            part = answer.read(_PIECE)
            if not part:
                return b"".join(parts)
            parts.append(part)

    def get(
        self, url: str, policy: RetryPolicy, counter: InFlight, byte_range: ByteRange | None = None
    ) -> tuple[bytes, int]:
        """GET ``url`` (its ``byte_range``) with retries; return the body and the attempts made."""
        attempts = Attempts(describe(url, byte_range), policy)
        for attempt in attempts:
            try:
                with counter:
                    return self.get_once(url, policy, attempts, byte_range), attempt
            except (RetryableError, PermanentError) as err:
                time.sleep(attempts.failed(err))
        raise AssertionError("unreachable: Attempts.failed raises after the last attempt")

    def close(self) -> None:
        """Close every connection this client opened (in any thread)."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def fetch_sequential(
    urls: Sequence[str],
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """GET each URL in turn over one keep-alive connection: time ~ N x latency.

    Parameters
    ----------
    urls : sequence of str
        http(s) URLs, e.g. from :func:`~helpers.fetch.chunk_urls`.
    retry : RetryPolicy, optional
        Attempts and waits per URL (default :data:`~helpers.fetch.DEFAULT_RETRY`).
    timeout_s : float
        Longest wait for a connection or between two reads of an answer; never past the retry
        policy's ``deadline_s`` (30 s per URL by default, all attempts included).
    ranges : sequence of ByteRange or None, optional
        One per URL: the bytes to GET (``None``: the whole object). See :func:`fetch_threads`.

    Returns
    -------
    FetchResult
        The bytes in the order of the URLs, one timing per URL and a summary.

    Raises
    ------
    ValueError
        An empty list, a URL that is not a well-formed http(s) URL, or not one range per URL.
    FetchError
        A URL failed (after ``retry``'s attempts); nothing is returned then.

    Examples
    --------
    >>> from helpers.fetch import chunk_urls, fetch_sequential
    >>> urls = chunk_urls(level_url, (0, slice(0, 4)))  # doctest: +SKIP
    >>> print(fetch_sequential(urls))  # doctest: +SKIP
    sequential: 4 chunks, 4 requests, 0.52 MB in 0.412 s (concurrency 1, at most 1 in flight)
    """
    return fetch_threads(urls, 1, retry, timeout_s, ranges=ranges, _strategy="sequential")


def fetch_threads(
    urls: Sequence[str],
    concurrency: int,
    retry: RetryPolicy | None = None,
    timeout_s: float = READ_TIMEOUT_S,
    *,
    ranges: Sequence[ByteRange | None] | None = None,
    _strategy: str = "threads",
) -> FetchResult:
    """GET the URLs with a pool of ``concurrency`` threads (each keeps its own connection alive).

    At most ``concurrency`` requests are in flight: time ~ ceil(N / concurrency) x latency.

    Parameters
    ----------
    urls : sequence of str
        http(s) URLs, e.g. from :func:`~helpers.fetch.chunk_urls`.
    concurrency : int
        Threads, hence requests in flight (>= 1).
    retry : RetryPolicy, optional
        Attempts and waits per URL (default :data:`~helpers.fetch.DEFAULT_RETRY`).
    timeout_s : float
        Longest wait for a connection or between two reads of an answer; never past the retry
        policy's ``deadline_s`` (30 s per URL by default, all attempts included).
    ranges : sequence of ByteRange or None, optional
        One per URL, same order: the bytes to GET with a ``Range`` header (``None``: the whole
        object). A ``206`` answer must hold exactly those bytes; a server that ignores the header
        and answers ``200`` with the whole object is accepted (the bytes are sliced out).

    Returns
    -------
    FetchResult
        The bytes in the order of the URLs, one timing per URL and a summary.

    Raises
    ------
    ValueError
        ``concurrency`` not an integer in 1..1024, an empty list, a malformed or non-HTTP URL,
        or not one range per URL.
    FetchError
        A URL failed (after ``retry``'s attempts; a ``416``, a range outside the object, is not
        retried); the remaining URLs are cancelled and nothing is returned.

    Examples
    --------
    >>> from helpers.fetch import chunk_urls, fetch_threads
    >>> urls = chunk_urls(level_url, (0, slice(0, 16)))  # doctest: +SKIP
    >>> fetch_threads(urls, 8).stats.max_in_flight  # doctest: +SKIP
    8
    """
    urls = check_arguments(urls, concurrency)
    byte_ranges = check_ranges(ranges, len(urls))
    policy = retry or DEFAULT_RETRY
    client = _BlockingClient(timeout_s)
    counter = InFlight()
    t0 = time.perf_counter()

    def one(url: str, byte_range: ByteRange | None) -> tuple[bytes, RequestTiming]:
        start = time.perf_counter() - t0
        body, attempts = client.get(url, policy, counter, byte_range)
        end = time.perf_counter() - t0
        return body, RequestTiming(url, start, end, len(body), attempts, byte_range)

    try:
        if concurrency == 1:
            results = [one(url, r) for url, r in zip(urls, byte_ranges, strict=True)]
        else:
            pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch")
            try:
                futures = [
                    pool.submit(one, url, r) for url, r in zip(urls, byte_ranges, strict=True)
                ]
                results = [f.result() for f in futures]
            finally:  # on a failure, drop the queued URLs; running requests end (timeouts)
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        client.close()
    return build_result(_strategy, concurrency, urls, results, counter, t0)
