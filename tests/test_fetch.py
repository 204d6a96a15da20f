"""helpers.fetch: the three fetchers, bounded concurrency, retries."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr
from fault_server import TRANSIENT, FaultServer, closed_port, running

from course_tools.cloud.launch import start_cloud
from helpers import fetch
from helpers.chunks import chunk_keys
from helpers.cloud import Cloud
from helpers.fetch import (
    DEFAULT_RETRY,
    NO_RETRY,
    Attempts,
    FetchError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    check_answer,
    fetch_async,
    fetch_sequential,
    fetch_threads,
    parse_retry_after,
)

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
        assert result.nbytes == sum(map(len, stored))
        assert len(result.data) == result.requests == N_CHUNKS
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
    assert result.max_in_flight == concurrency
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
        for bad in (0, -1, 1.5, True, "4", None):
            with pytest.raises(ValueError, match="concurrency must be an integer from 1 to 1024"):
                fetcher(urls, bad)
        with pytest.raises(
            ValueError, match="concurrency must be an integer from 1 to 1024, got 5000"
        ):
            fetcher(urls, 5000)
        for url, message in [
            (42, "a URL must be a string, got int 42"),
            (None, "a URL must be a string"),
            ("http://127.0.0.1:99999/k", "malformed URL .*Port out of range"),
            ("http://[::1/k", "malformed URL .*Invalid IPv6"),
            ("http:///k", "not an http"),
            ("http://h/a b", "white space"),
        ]:
            with pytest.raises(ValueError, match=message) as info:
                fetcher([*urls[:1], url], 2)
            assert "\n" not in str(info.value)
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


def test_fetch_all_is_a_coroutine_for_your_own_event_loop(private) -> None:
    _cloud, _root, urls = private
    result = asyncio.run(fetch.fetch_all(urls, 4))
    assert result.data == fetch_sequential(urls).data and result.max_in_flight == 4


# --------------------------------------------------------------------------------------------
# Faults: a tiny local HTTP server that misbehaves on purpose (tests/fault_server.py)
# --------------------------------------------------------------------------------------------

BODY = bytes(range(256)) * 40


@pytest.fixture()
def faults() -> Iterator[FaultServer]:
    with running(FaultServer()) as server:
        for name in ("ok/0", "ok/1", "ok/2", "k", "x"):
            server.files[f"/{name}"] = BODY
        yield server


def test_fault_server_serves_its_files(faults) -> None:
    assert fetch_sequential([faults.url("ok/1")]).data == [BODY]


FAST_RETRY = RetryPolicy(attempts=3, backoff_s=0.01, seed=1)
CUT = RetryPolicy(attempts=3, backoff_s=0.01, deadline_s=2.0, attempt_timeout_s=0.3, seed=1)


@pytest.mark.parametrize("name", list(FETCHERS))
@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_faults_are_retried_and_data_is_identical(faults, name, kind) -> None:
    urls = [faults.url(f"ok/{i}") for i in range(3)] + [faults.url("x")]
    faults.fault(kind, "/x", times=2)
    start = time.monotonic()
    result = FETCHERS[name](urls, 2, retry=CUT)
    assert time.monotonic() - start < CUT.deadline_s
    assert result.data == [BODY] * 4
    assert faults.hits["/x"] == 3
    assert result.timings[-1].attempts == 3
    assert result.requests == 3 + 3


@pytest.mark.parametrize("name", list(FETCHERS))
@pytest.mark.parametrize("kind", ["slowdown", "reset", "truncated"])
def test_persistent_faults_give_up_after_bounded_attempts(faults, name, kind) -> None:
    faults.fault(kind, "/k")
    with pytest.raises(
        FetchError, match=r"GET http://\S+/k failed after 3 attempts in [\d.]+ s: "
    ) as info:
        FETCHERS[name]([faults.url("ok/1"), faults.url("k")], 2, retry=FAST_RETRY)
    assert faults.hits["/k"] == 3
    if kind == "slowdown":
        assert info.value.status == 503 and "HTTP 503 Service Unavailable (SlowDown)" in str(
            info.value
        )
    else:  # the fault seen is named: a reset, or a body shorter than its Content-Length
        assert info.value.status is None
        assert re.search(r"Error|truncated|Incomplete|Payload", info.value.reason), (
            info.value.reason
        )
    with pytest.raises(FetchError, match="1 attempt"):
        FETCHERS[name]([faults.url("k")], 1, retry=NO_RETRY)


@pytest.mark.parametrize("name", list(FETCHERS))
def test_client_errors_are_not_retried(faults, name) -> None:
    faults.fault("forbidden", "/k")
    with pytest.raises(FetchError, match=r"HTTP 403.*AccessDenied.*not retried"):
        FETCHERS[name]([faults.url("k")], 1, retry=FAST_RETRY)
    assert faults.hits["/k"] == 1


@pytest.mark.parametrize("name", list(FETCHERS))
def test_a_stalled_server_times_out_instead_of_hanging(faults, name) -> None:
    faults.fault("stall", "/k")
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"/k failed after 1 attempt"):
        FETCHERS[name]([faults.url("k")], 1, retry=RetryPolicy(attempts=1, attempt_timeout_s=0.3))
    assert time.monotonic() - start < 2.5


@pytest.mark.parametrize("name", list(FETCHERS))
def test_the_deadline_bounds_all_attempts_of_a_stalled_url(faults, name) -> None:
    """The read timeout (20 s) is longer than the deadline (1 s): the deadline wins."""
    faults.fault("stall", "/k")
    policy = RetryPolicy(attempts=5, backoff_s=0.01, deadline_s=1.0)
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"/k failed after 1 attempt in 1\.0 s: .*1 s deadline"):
        FETCHERS[name]([faults.url("k")], 1, retry=policy)
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("name", list(FETCHERS))
def test_retry_after_is_honoured_and_capped_by_max_backoff(faults, name) -> None:
    policy = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.4, deadline_s=5)
    faults.fault("slowdown", "/k", times=1, retry_after="0.25")
    start = time.monotonic()
    assert FETCHERS[name]([faults.url("k")], 1, retry=policy).data == [BODY]
    assert 0.25 <= time.monotonic() - start < 0.8
    faults.fault("slowdown", "/x", times=1, retry_after="3600")
    start = time.monotonic()
    assert FETCHERS[name]([faults.url("x")], 1, retry=policy).data == [BODY]
    assert 0.4 <= time.monotonic() - start < 1.0
    # a Retry-After beyond the deadline: give up at once, saying so
    short = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=10, deadline_s=1)
    faults.fault("slowdown", "/ok/2", times=1, retry_after="5")
    start = time.monotonic()
    with pytest.raises(FetchError, match="1 s deadline was reached"):
        FETCHERS[name]([faults.url("ok/2")], 1, retry=short)
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize("name", list(FETCHERS))
def test_connection_refused_fails_fast_and_an_endpoint_coming_back_is_recovered(name) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/k"
    start = time.monotonic()
    with pytest.raises(
        FetchError,
        match=rf"127.0.0.1:{port}/k failed after 3 attempts.*(Refused|refused|Cannot connect)",
    ):
        FETCHERS[name]([url], 1, retry=FAST_RETRY)
    assert time.monotonic() - start < 1.0
    # the endpoint comes back 0.3 s later: retries with waits of 0.2, 0.4 s reach it
    server = FaultServer.__new__(FaultServer)
    back = threading.Timer(0.3, lambda: _serve_on(server, port))
    back.start()
    policy = RetryPolicy(attempts=5, backoff_s=0.2, jitter="none", deadline_s=3)
    try:
        result = FETCHERS[name]([url], 1, retry=policy)
        assert result.data == [BODY] and result.timings[0].attempts >= 2
    finally:
        back.join()
        server.shutdown()
        server.server_close()


def _serve_on(server: FaultServer, port: int) -> None:
    FaultServer.__init__(server, port)
    server.files["/k"] = BODY
    threading.Thread(target=server.serve_forever, daemon=True).start()


def test_jitter_is_seeded_per_url_and_stays_below_the_backoff() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=0.1, max_backoff_s=0.5, seed=42)

    def waits(url: str, p: RetryPolicy = policy) -> list[float]:
        attempts = Attempts(url, p)
        with pytest.raises(FetchError):
            for _attempt in attempts:
                attempts.failed(RetryableError("HTTP 503", 503))
        return attempts.delays_s

    assert waits("http://h/a") == waits("http://h/a")  # repeatable with a seed
    assert waits("http://h/a") != waits("http://h/b")  # but URLs do not retry in lock step
    assert all(0 <= w <= policy.delay_s(n) for n, w in enumerate(waits("http://h/a"), 1))
    unseeded = RetryPolicy(attempts=6, backoff_s=0.1)
    assert waits("http://h/a", unseeded) != waits("http://h/a", unseeded)
    equal = RetryPolicy(attempts=6, backoff_s=0.1, max_backoff_s=0.5, jitter="equal", seed=1)
    assert all(
        policy.delay_s(n) / 2 <= w <= policy.delay_s(n) for n, w in enumerate(waits("u", equal), 1)
    )
    assert waits("u", RetryPolicy(attempts=4, backoff_s=0.1, jitter="none")) == [0.1, 0.2, 0.4]
    for bad in (
        {"jitter": "some"},
        {"deadline_s": 0},
        {"attempt_timeout_s": -1},
        {"attempts": True},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RetryPolicy(**bad)


def test_parse_retry_after() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None
    assert parse_retry_after("-4") == 0.0 and parse_retry_after("later") is None
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after(soon) <= 30  # type: ignore[operator]


def test_default_policy_gives_a_stall_30_s_at_most() -> None:
    """Today's defaults: the deadline (30 s) caps every URL, whatever the read timeout (20 s)."""
    assert DEFAULT_RETRY.deadline_s == fetch.DEADLINE_S == 30.0
    attempts = Attempts("http://h/k", DEFAULT_RETRY)
    next(iter(attempts))
    assert attempts.timeout_s(fetch.READ_TIMEOUT_S) == fetch.READ_TIMEOUT_S
    attempts._start -= 25  # noqa: SLF001 - as if the first attempt had stalled for 25 s
    assert attempts.timeout_s(fetch.READ_TIMEOUT_S) == pytest.approx(
        5.0 - fetch.MARGIN_S, abs=0.05
    )  # the last timeout ends a little before the deadline


def test_check_answer_decides_good_retry_or_fail() -> None:
    policy = RetryPolicy()
    assert check_answer(200, "OK", {"content-length": "3"}, b"abc", policy) == b"abc"
    assert check_answer(200, "OK", {}, b"abc", policy) == b"abc"  # no length: nothing to compare
    with pytest.raises(RetryableError, match="truncated.*2 of 3"):
        check_answer(200, "OK", {"content-length": "3"}, b"ab", policy)
    for status in (500, 502, 503, 504, 429):
        with pytest.raises(RetryableError):
            check_answer(status, "x", {}, b"", policy)
    for status in (400, 403, 404, 301):
        with pytest.raises(PermanentError):
            check_answer(status, "x", {}, b"", policy)
    assert [policy.delay_s(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert RetryPolicy(backoff_s=1, max_backoff_s=1.5).delay_s(5) == 1.5


def test_the_retry_loop_counts_waits_and_gives_up() -> None:
    policy = RetryPolicy(attempts=4, backoff_s=0.1, max_backoff_s=0.25, jitter="none")
    # a URL that keeps failing: the waits double up to the cap, then FetchError after 4 attempts
    attempts = Attempts("http://h/k", policy)
    seen, delays = [], []
    with pytest.raises(
        FetchError, match=r"GET http://h/k failed after 4 attempts in 0\.0 s: HTTP 503"
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
    with pytest.raises(FetchError, match=r"failed after 1 attempt in 0\.0 s: HTTP 404") as info:
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
    policy = RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.08, jitter="none")
    faults.files["/always503/k"] = faults.files["/slowdown2/k"] = BODY
    outcomes = {}
    for name, fetcher in FETCHERS.items():
        calls.clear()
        caplog.clear()
        faults.clear()
        faults.fault("slowdown", "/always503/k")
        faults.fault("slowdown", "/slowdown2/k", times=2)
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            fetcher([f"{faults.base}/always503/k"], 1, retry=policy)
        elapsed = time.monotonic() - start
        assert elapsed >= (0.05 + 0.08 + 0.08) * 0.95, name  # the waits were really waited
        retried = fetcher([f"{faults.base}/slowdown2/k"], 1, retry=policy)
        assert retried.data == [BODY] and retried.timings[0].attempts == 3, name
        assert faults.hits["/always503/k"] == 4 and faults.hits["/slowdown2/k"] == 3, name
        outcomes[name] = (
            re.sub(r" in [\d.]+ s:", ":", str(info.value)),
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
    queue.put(fetch_async(urls, 2).nbytes)


def test_fetch_async_works_in_a_forked_child(private) -> None:
    """A forked worker inherits the helper's state but not its I/O thread: it must not hang."""
    import multiprocessing

    _cloud, _root, urls = private
    expected = fetch_async(urls[:4], 2).nbytes  # the parent's I/O loop is running now
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
