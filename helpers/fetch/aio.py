"""asyncio + aiohttp fetches: a semaphore bounds the requests in flight over keep-alive connections.

:func:`fetch_many` is the coroutine (``await`` it in your own event loop); :func:`fetch_async` is a
plain function that runs it on a private event loop in a daemon thread, so it also works inside
Jupyter, whose own loop is already running (zarr and fsspec do the same). That loop keeps its
aiohttp sessions between calls (repeated fetches skip the connection set-up), starts afresh in a
forked child process, and closes its sessions at exit. Retries follow
:class:`~helpers.fetch.retry.Attempts`, the loop shared with the blocking client; byte ranges are
sent and checked by :mod:`~helpers.fetch.ranged`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp

from ..byteranges import ByteRange, check_ranges
from ..config import CONNECT_TIMEOUT_S, MAX_CONNECTIONS, READ_BUFFER, READ_TIMEOUT_S
from .ranged import checked_body, describe, range_headers
from .results import FetchResult, InFlight, RequestTiming, build_result
from .retry import DEFAULT_RETRY, Attempts, PermanentError, RetryableError, RetryPolicy
from .urls import check_arguments

__all__ = ["fetch_async", "fetch_many", "make_session"]

T = TypeVar("T")


async def _get_once(
    session: aiohttp.ClientSession,
    url: str,
    policy: RetryPolicy,
    attempts: Attempts,
    byte_range: ByteRange | None = None,
) -> bytes:
    """One attempt: GET ``url`` (its ``byte_range``); raise Retryable/PermanentError on a bad answer.

    The attempt as a whole ends by the URL's deadline; each read waits at most the session's read
    timeout.
    """
    read_timeout = session.timeout.sock_read or READ_TIMEOUT_S
    timeout = aiohttp.ClientTimeout(
        total=attempts.timeout_s(math.inf),
        connect=CONNECT_TIMEOUT_S,
        sock_connect=CONNECT_TIMEOUT_S,
        sock_read=attempts.timeout_s(read_timeout),
    )
    try:
        async with session.get(url, timeout=timeout, headers=range_headers(byte_range)) as answer:
            body = await answer.read()
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        detail = str(err) or f"no complete answer within {timeout.total:.1f} s"
        raise RetryableError(f"{err.__class__.__name__}: {detail}") from None
    return checked_body(
        byte_range, answer.status, answer.reason or "", answer.headers.get, body, policy
    )


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    policy: RetryPolicy,
    counter: InFlight,
    byte_range: ByteRange | None = None,
) -> tuple[bytes, int]:
    """GET ``url`` (its ``byte_range``) with retries; return the body and the attempts made."""
    attempts = Attempts(describe(url, byte_range), policy)
    for attempt in attempts:
        try:
            with counter:
                return await _get_once(session, url, policy, attempts, byte_range), attempt
        except (RetryableError, PermanentError) as err:
            await asyncio.sleep(attempts.failed(err))
    raise AssertionError("unreachable: Attempts.failed raises after the last attempt")


def make_session(
    limit: int = MAX_CONNECTIONS, timeout_s: float = READ_TIMEOUT_S
) -> aiohttp.ClientSession:
    """An aiohttp session keeping up to ``limit`` connections alive (call inside a running loop).

    Timeouts bound the connection set-up and the silence between reads, not the whole transfer (a
    slow but steady download on a capped link is fine; a stalled one fails). Each connection
    buffers up to :data:`~helpers.config.READ_BUFFER` bytes of an answer, so typical chunks arrive
    without pausing the socket.

    Parameters
    ----------
    limit : int
        Connections kept (in total and per host).
    timeout_s : float
        Longest silence between two reads of an answer.

    Returns
    -------
    aiohttp.ClientSession
        Close it (``async with make_session() as session:``) when done.
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
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """Coroutine behind :func:`fetch_async`: ``await fetch_many(urls, 16)`` in your own event loop.

    Parameters
    ----------
    urls : sequence of str
        http(s) URLs.
    concurrency : int
        Requests in flight at most (>= 1).
    session : aiohttp.ClientSession, optional
        Session to use (its connection limit must be >= ``concurrency``); by default a new one,
        closed afterwards.
    retry : RetryPolicy, optional
        Attempts and waits per URL (default :data:`~helpers.fetch.DEFAULT_RETRY`).
    timeout_s : float
        Longest silence between two reads of an answer (for a session made here).
    ranges : sequence of ByteRange or None, optional
        One per URL: the bytes to GET (``None``: the whole object), as in :func:`fetch_async`.

    Returns
    -------
    FetchResult
        The bytes in the order of the URLs, one timing per URL and a summary.

    Raises
    ------
    ValueError
        Bad arguments (as :func:`fetch_async`), or a session with fewer connections than
        ``concurrency``.
    FetchError
        A URL failed; the other requests are cancelled.
    """
    urls = check_arguments(urls, concurrency)
    byte_ranges = check_ranges(ranges, len(urls))
    policy = retry or DEFAULT_RETRY
    if session is None:
        async with make_session(max(concurrency, MAX_CONNECTIONS), timeout_s) as own:
            return await fetch_many(urls, concurrency, own, policy, timeout_s, ranges=byte_ranges)
    limit = session.connector.limit if session.connector is not None else 0
    if limit and limit < concurrency:
        raise ValueError(
            f"the session allows {limit} connections, fewer than concurrency={concurrency}"
        )
    semaphore = asyncio.Semaphore(concurrency)
    counter = InFlight()
    t0 = time.perf_counter()

    async def one(url: str, byte_range: ByteRange | None) -> tuple[bytes, RequestTiming]:
        async with semaphore:
            start = time.perf_counter() - t0
            body, attempts = await _get(session, url, policy, counter, byte_range)
            end = time.perf_counter() - t0
            return body, RequestTiming(url, start, end, len(body), attempts, byte_range)

    tasks = [asyncio.ensure_future(one(url, r)) for url, r in zip(urls, byte_ranges, strict=True)]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return build_result("async", concurrency, urls, results, counter, t0)


class _IOLoop:
    """A private event loop in a daemon thread, with cached sessions (keep-alive across calls)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._sessions: dict[tuple[int, float], aiohttp.ClientSession] = {}
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running private loop (started, or restarted in a forked child, if needed)."""
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
        """The cached session for ``(limit, timeout_s)`` (call on the private loop)."""
        key = (limit, timeout_s)
        session = self._sessions.get(key)
        if session is None or session.closed:
            session = self._sessions[key] = make_session(limit, timeout_s)
        return session

    def run(self, coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``coro_factory()`` on the private loop and wait for its result."""
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
    *,
    ranges: Sequence[ByteRange | None] | None = None,
) -> FetchResult:
    """GET the URLs with asyncio, at most ``concurrency`` in flight: time ~ ceil(N / C) x latency.

    The requests share a pool of keep-alive connections (at least ``concurrency`` of them) that
    stays open between calls, so repeated fetches skip the connection set-up. Works in scripts and
    in Jupyter. The course's recommended way to download many chunks.

    Parameters
    ----------
    urls : sequence of str
        http(s) URLs, e.g. from :func:`~helpers.fetch.chunk_urls`.
    concurrency : int
        Requests in flight at most (>= 1).
    retry : RetryPolicy, optional
        Attempts and waits per URL (default :data:`~helpers.fetch.DEFAULT_RETRY`).
    timeout_s : float
        Longest silence between two reads of an answer.
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
        A URL failed after ``retry``'s attempts (named in the message; a ``416``, a range outside
        the object, is not retried); the other requests are cancelled and nothing is returned.
    RuntimeError
        Called from a coroutine running on the private loop itself (``await fetch_many`` there).

    Examples
    --------
    >>> from helpers.fetch import chunk_urls, fetch_async
    >>> urls = chunk_urls(level_url)  # doctest: +SKIP
    >>> result = fetch_async(urls, 16)  # doctest: +SKIP
    >>> len(result.data) == len(urls), result.stats.max_in_flight  # doctest: +SKIP
    (True, 16)
    """
    urls = check_arguments(urls, concurrency)
    byte_ranges = check_ranges(ranges, len(urls))
    limit = max(concurrency, MAX_CONNECTIONS)

    async def run() -> FetchResult:
        session = await _IO.session(limit, timeout_s)
        return await fetch_many(urls, concurrency, session, retry, timeout_s, ranges=byte_ranges)

    return _IO.run(run)
