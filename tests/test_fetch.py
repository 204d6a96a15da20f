"""helpers.fetch: the three fetchers, bounded concurrency, retries."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import zarr

from helpers import fetch
from helpers.chunks import chunk_keys
from helpers.cloud import Cloud, start_cloud
from helpers.fetch import (
    NO_RETRY,
    FetchError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    check_answer,
    fetch_async,
    fetch_sequential,
    fetch_threads,
)
from helpers.fetch.retry import Attempts

FETCHERS = {
    "sequential": lambda urls, c=1, **kw: fetch_sequential(urls, **kw),
    "threads": fetch_threads,
    "async": fetch_async,
}

# --------------------------------------------------------------------------------------------
# Fetching from a private cloud
# --------------------------------------------------------------------------------------------

N_CHUNKS = 24


@pytest.fixture(scope="module")
def private(tmp_path_factory) -> Iterator[tuple[Cloud, Path, list[str]]]:
    """A private cloud (50 ms) serving one small array whose chunks have different sizes."""
    data = tmp_path_factory.mktemp("fetchdata")
    root = data / "t" / "a.zarr"
    array = zarr.create_array(
        root,
        shape=(N_CHUNKS, 64, 64),
        chunks=(1, 64, 64),
        dtype="u2",
        zarr_format=3,
        config={"write_empty_chunks": True},
    )
    rng = np.random.default_rng(3)
    # plane i has i + 1 distinct values: chunks compress to different sizes
    array[...] = np.stack([rng.integers(0, i + 1, size=(64, 64)) for i in range(N_CHUNKS)]).astype(
        "u2"
    )
    with start_cloud(latency_ms=50, data=data) as cloud:
        yield cloud, root, [cloud.url(f"t/a.zarr/{k}") for k in chunk_keys(array)]


def test_all_fetchers_return_the_stored_bytes_in_order(private) -> None:
    cloud, root, urls = private
    stored = [(root / url.split("a.zarr/", 1)[1]).read_bytes() for url in urls]
    assert len(set(map(len, stored))) > 5  # the test data really has chunks of different sizes
    for name, fetcher in FETCHERS.items():
        result = fetcher(urls, 5)
        assert result.data == stored, name
        assert [t.url for t in result.timings] == urls
        assert result.stats.bytes == sum(map(len, stored))
        assert result.stats.urls == result.stats.requests == N_CHUNKS
        assert all(
            t.attempts == 1 and t.nbytes == len(b)
            for t, b in zip(result.timings, stored, strict=True)
        )
        assert all(0 <= t.start_s < t.end_s <= result.wall_s for t in result.timings)


@pytest.mark.parametrize("name", ["threads", "async"])
@pytest.mark.parametrize("concurrency", [1, 4, 7])
def test_concurrency_is_bounded_and_used(private, name, concurrency) -> None:
    cloud, _root, urls = private
    cloud.reset_stats()
    result = FETCHERS[name](urls, concurrency)
    status = cloud.status()
    # the server saw exactly `concurrency` requests at once: never more, and the pool was used
    assert status.max_in_flight == concurrency
    assert status.requests == N_CHUNKS
    assert result.stats.max_in_flight == concurrency
    # and the time follows the model: no faster than ceil(N/C) rounds of latency (a looser
    # bound would mean more than C in flight), clearly faster than sequential when C > 1
    rounds = math.ceil(N_CHUNKS / concurrency)
    assert result.wall_s >= rounds * 0.050 * 0.95
    assert result.wall_s <= rounds * 0.050 + 0.5 + 0.01 * N_CHUNKS


def test_timings_show_at_most_c_overlapping(private) -> None:
    _cloud, _root, urls = private
    result = fetch_async(urls, 3)
    events = sorted(
        [(t.start_s, 1) for t in result.timings] + [(t.end_s, -1) for t in result.timings]
    )
    running = list(itertools.accumulate(step for _, step in events))
    assert max(running) == 3


def test_missing_chunk_fails_at_once_naming_the_url(private) -> None:
    cloud, _root, urls = private
    missing = cloud.url("t/a.zarr/c/999/0/0")
    for name, fetcher in FETCHERS.items():
        cloud.reset_stats()
        with pytest.raises(FetchError, match=r"c/999/0/0.*1 attempt.*404") as info:
            fetcher([*urls[:3], missing, *urls[3:6]], 2)
        assert info.value.status == 404 and info.value.attempts == 1, name
        assert info.value.url == missing
        assert cloud.status().requests <= 7  # the missing key was asked once, not retried


def test_invalid_arguments_raise_value_error(private) -> None:
    _cloud, _root, urls = private
    for fetcher in (fetch_threads, fetch_async):
        for bad in (0, -1, 1.5, True, "4"):
            with pytest.raises(ValueError, match="concurrency"):
                fetcher(urls, bad)
        with pytest.raises(ValueError, match="empty"):
            fetcher([], 4)
        with pytest.raises(ValueError, match="http"):
            fetcher(["s3://course-data/x"], 4)
        with pytest.raises(ValueError, match="list of URLs"):
            fetcher(urls[0], 4)
    with pytest.raises(ValueError, match="empty"):
        fetch_sequential([])
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_fetch_async_works_inside_a_running_event_loop(private) -> None:
    """As in Jupyter, where a loop is already running in the main thread."""
    _cloud, _root, urls = private

    async def notebook_cell() -> list[bytes]:
        return fetch_async(urls[:4], 2).data

    assert asyncio.run(notebook_cell()) == fetch_sequential(urls[:4]).data


def test_fetch_many_coroutine_with_own_session(private) -> None:
    _cloud, _root, urls = private

    async def main() -> fetch.FetchResult:
        async with fetch.make_session(limit=4) as session:
            with pytest.raises(ValueError, match="fewer than concurrency"):
                await fetch.fetch_many(urls, 8, session)
            return await fetch.fetch_many(urls, 4, session)

    result = asyncio.run(main())
    assert result.data == fetch_sequential(urls).data


# --------------------------------------------------------------------------------------------
# Faults: a tiny local HTTP server that misbehaves on purpose
# --------------------------------------------------------------------------------------------

BODY = bytes(range(256)) * 40


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        """Clients that gave up (timeouts) leave broken pipes behind: expected here, stay quiet."""


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server: FaultServer = self.server  # type: ignore[assignment]
        kind, _, key = self.path.strip("/").partition("/")
        with server.lock:
            server.hits[self.path] += 1
            hit = server.hits[self.path]
        if kind == "ok":
            self._send(200, BODY)
        elif kind == "slowdown2":  # 503 SlowDown twice, then the data
            if hit <= 2:
                self._send(503, b"<Error><Code>SlowDown</Code></Error>")
            else:
                self._send(200, BODY)
        elif kind == "always503":
            self._send(503, b"<Error><Code>SlowDown</Code></Error>")
        elif kind == "truncated1":  # first answer promises more bytes than it sends, then closes
            if hit == 1:
                self._send(200, BODY[:1000], length=len(BODY))
                self.close_connection = True
            else:
                self._send(200, BODY)
        elif kind == "reset1":  # first request: connection closed without an answer
            if hit == 1:
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                self._send(200, BODY)
        elif kind == "forbidden":
            self._send(403, b"<Error><Code>AccessDenied</Code></Error>")
        elif kind == "hang":
            time.sleep(3)
            self._send(200, BODY)
        else:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")


@pytest.fixture()
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01)


@pytest.mark.parametrize("name", list(FETCHERS))
@pytest.mark.parametrize("kind", ["slowdown2", "truncated1", "reset1"])
def test_transient_faults_are_retried_and_data_is_identical(faults, name, kind) -> None:
    urls = [f"{faults.base}/ok/{i}" for i in range(3)] + [f"{faults.base}/{kind}/x"]
    result = FETCHERS[name](urls, 2, retry=FAST_RETRY)
    assert result.data == [BODY] * 4
    expected_attempts = 3 if kind == "slowdown2" else 2
    assert faults.hits[f"/{kind}/x"] == expected_attempts
    if kind == "reset1" and name == "async":
        # aiohttp itself retries once, silently, when a reused keep-alive connection is closed
        assert result.timings[-1].attempts in (1, 2)
    else:
        assert result.timings[-1].attempts == expected_attempts
        assert result.stats.requests == 3 + expected_attempts


@pytest.mark.parametrize("name", list(FETCHERS))
def test_persistent_5xx_gives_up_after_bounded_attempts(faults, name) -> None:
    url = f"{faults.base}/always503/k"
    with pytest.raises(
        FetchError, match=r"always503/k failed after 3 attempts: HTTP 503.*SlowDown"
    ) as info:
        FETCHERS[name]([f"{faults.base}/ok/1", url], 2, retry=FAST_RETRY)
    assert info.value.status == 503
    assert faults.hits["/always503/k"] == 3
    with pytest.raises(FetchError, match="1 attempt"):
        FETCHERS[name]([url], 1, retry=NO_RETRY)


@pytest.mark.parametrize("name", list(FETCHERS))
def test_client_errors_are_not_retried(faults, name) -> None:
    with pytest.raises(FetchError, match=r"HTTP 403.*AccessDenied.*not retried"):
        FETCHERS[name]([f"{faults.base}/forbidden/k"], 1, retry=FAST_RETRY)
    assert faults.hits["/forbidden/k"] == 1


@pytest.mark.parametrize("name", list(FETCHERS))
def test_a_stalled_server_times_out_instead_of_hanging(faults, name) -> None:
    start = time.monotonic()
    with pytest.raises(FetchError, match="hang/k"):
        FETCHERS[name]([f"{faults.base}/hang/k"], 1, retry=NO_RETRY, timeout_s=0.3)
    assert time.monotonic() - start < 2.5


def test_check_answer_decides_good_retry_or_fail() -> None:
    policy = RetryPolicy()
    check_answer(200, "OK", "3", b"abc", policy)
    check_answer(200, "OK", None, b"abc", policy)  # no length given: nothing to compare
    with pytest.raises(RetryableError, match="truncated.*2 of 3"):
        check_answer(200, "OK", "3", b"ab", policy)
    for status in (500, 502, 503, 504, 429):
        with pytest.raises(RetryableError):
            check_answer(status, "x", None, b"", policy)
    for status in (400, 403, 404, 301):
        with pytest.raises(PermanentError):
            check_answer(status, "x", None, b"", policy)
    assert [policy.delay_s(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert RetryPolicy(backoff_s=1, max_backoff_s=1.5).delay_s(5) == 1.5


def test_the_retry_loop_counts_waits_and_gives_up() -> None:
    policy = RetryPolicy(attempts=4, backoff_s=0.1, max_backoff_s=0.25)
    # a URL that keeps failing: the waits double up to the cap, then FetchError after 4 attempts
    attempts = Attempts("http://h/k", policy)
    seen, delays = [], []
    with pytest.raises(
        FetchError, match=r"GET http://h/k failed after 4 attempts: HTTP 503"
    ) as info:
        for attempt in attempts:
            seen.append(attempt)
            delays.append(attempts.failed(RetryableError("HTTP 503 Slow Down", 503)))
    assert seen == [1, 2, 3, 4]
    assert delays == attempts.delays_s == [0.1, 0.2, 0.25]
    assert (info.value.url, info.value.attempts, info.value.status) == ("http://h/k", 4, 503)
    assert info.value.reason == "HTTP 503 Slow Down"
    # a permanent error ends the loop at once, whatever the policy allows
    attempts = Attempts("http://h/missing", policy)
    with pytest.raises(FetchError, match="failed after 1 attempt: HTTP 404") as info:
        for _attempt in attempts:
            attempts.failed(PermanentError("HTTP 404 Not Found (not retried)", 404))
    assert info.value.status == 404 and attempts.delays_s == []
    # a success on the second attempt: one wait, attempt number 2 reported
    attempts = Attempts("http://h/k", policy)
    for attempt in attempts:
        if attempt == 2:
            break
        attempts.failed(RetryableError("ConnectionResetError: reset"))
    assert (attempt, attempts.made, attempts.delays_s) == (2, 2, [0.1])
    # no retry: the first failure is the last
    attempts = Attempts("http://h/k", NO_RETRY)
    with pytest.raises(FetchError, match="1 attempt"):
        for _attempt in attempts:
            attempts.failed(RetryableError("HTTP 503", 503))


def test_blocking_and_async_clients_share_one_retry_loop(faults, monkeypatch, caplog) -> None:
    """Same policy, same faults: the same attempts, waits, log lines and FetchError everywhere."""
    calls: list[tuple[str, int, str]] = []
    failed = Attempts.failed

    def spy(self: Attempts, error: RetryableError | PermanentError) -> float:
        calls.append((self.url.rsplit("/", 2)[-2], self.made, error.reason))
        return failed(self, error)

    monkeypatch.setattr(Attempts, "failed", spy)  # the one loop: every client goes through it
    caplog.set_level(logging.DEBUG, logger="helpers.fetch")
    policy = RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.08)
    outcomes = {}
    for name, fetcher in FETCHERS.items():
        calls.clear()
        caplog.clear()
        faults.hits.clear()
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            fetcher([f"{faults.base}/always503/k"], 1, retry=policy)
        elapsed = time.monotonic() - start
        assert elapsed >= (0.05 + 0.08 + 0.08) * 0.95, name  # the waits were really waited
        retried = fetcher([f"{faults.base}/slowdown2/k"], 1, retry=policy)
        assert retried.data == [BODY] and retried.timings[0].attempts == 3, name
        assert faults.hits["/always503/k"] == 4 and faults.hits["/slowdown2/k"] == 3, name
        outcomes[name] = (
            str(info.value),
            info.value.attempts,
            info.value.status,
            list(calls),
            [
                r.getMessage().replace(faults.base, "")
                for r in caplog.records
                if r.name.startswith("helpers.fetch")
            ],
        )
    assert outcomes["sequential"] == outcomes["threads"] == outcomes["async"]
    message, attempts, status, seen, logged = outcomes["async"]
    assert message.endswith("failed after 4 attempts: HTTP 503 Service Unavailable (SlowDown)")
    assert (attempts, status) == (4, 503)
    assert [(k, n) for k, n, _ in seen] == [("always503", n) for n in (1, 2, 3, 4)] + [
        ("slowdown2", 1),
        ("slowdown2", 2),
    ]
    assert logged[:3] == [
        f"GET /always503/k: attempt {n} of 4 failed (HTTP 503 Service Unavailable (SlowDown)), "
        f"retrying in {wait:.3f} s"
        for n, wait in ((1, 0.05), (2, 0.08), (3, 0.08))
    ]


def _fetch_in_child(urls: list[str], queue) -> None:
    queue.put(fetch_async(urls, 2).stats.bytes)


def test_fetch_async_works_in_a_forked_child(private) -> None:
    """A forked worker inherits the helper's state but not its I/O thread: it must not hang."""
    import multiprocessing

    _cloud, _root, urls = private
    expected = fetch_async(urls[:4], 2).stats.bytes  # the parent's I/O loop is running now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fetch_in_child, args=(urls[:4], queue))
    child.start()
    try:
        assert queue.get(timeout=30) == expected
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
