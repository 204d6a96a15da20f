"""Faults of the local cloud: each kind does what it says, at the HTTP level, only where it is aimed."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from course_tools import REPO_ROOT
from course_tools.cloud.faults import KINDS as FAULT_KINDS
from course_tools.cloud.faults import FaultSet, make_fault, parse_fault_spec
from course_tools.cloud.launch import start_cloud
from helpers.cloud import Cloud

BODY = os.urandom(100_000)
KEY = "img.zarr/0/0/0"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A private cloud at latency 0 with one 100 kB object in the scratch bucket."""
    with start_cloud(latency_ms=0, data=tmp_path_factory.mktemp("empty")) as cloud:
        for key in (KEY, "img.zarr/zarr.json", "other/0/0/0"):
            request = urllib.request.Request(
                cloud.url(key, bucket=cloud.scratch_bucket), data=BODY, method="PUT"
            )
            urllib.request.urlopen(request, timeout=10).close()
        yield cloud


@pytest.fixture()
def cloud(faulty: Cloud) -> Iterator[Cloud]:
    faulty.clear_faults()
    faulty.reset_stats()
    yield faulty
    faulty.clear_faults()


def path(cloud: Cloud, key: str = KEY) -> str:
    return f"/{cloud.scratch_bucket}/{key}"


def connect(cloud: Cloud, timeout: float = 10) -> http.client.HTTPConnection:
    address, port = cloud.endpoint.removeprefix("http://").rsplit(":", 1)
    return http.client.HTTPConnection(address, int(port), timeout=timeout)


def get(cloud: Cloud, key: str = KEY, method: str = "GET") -> tuple[int, dict, bytes]:
    conn = connect(cloud)
    try:
        conn.request(method, path(cloud, key))
        answer = conn.getresponse()
        return answer.status, dict(answer.headers), answer.read()
    finally:
        conn.close()


# -- the fault definitions ---------------------------------------------------------------------
def test_unknown_kinds_and_bad_parameters_are_one_clear_line() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'flood'; kinds: latency_spike, "):
        make_fault("flood")
    with pytest.raises(ValueError, match="has no parameter 'ms' .its parameters: retry_after_s"):
        make_fault("slowdown", ms=3)
    with pytest.raises(ValueError, match="rate must be between 0 and 1, got 2"):
        make_fault("reset", rate=2)
    with pytest.raises(ValueError, match="fraction must be below 1"):
        make_fault("truncate", fraction=1.0)
    with pytest.raises(ValueError, match="mode=refuse needs duration_s > 0"):
        make_fault("down", mode="refuse")
    with pytest.raises(ValueError, match="no rate or keys"):
        make_fault("down", rate=0.5)
    with pytest.raises(ValueError, match="retry_after_s must be an integer >= 0"):
        parse_fault_spec("slowdown:retry_after_s=-1")
    with pytest.raises(ValueError, match="expected KIND"):
        parse_fault_spec("slowdown:rate")
    assert FAULT_KINDS == (
        "latency_spike",
        "slowdown",
        "reset",
        "truncate",
        "not_found",
        "stall",
        "down",
    )


def test_a_seed_makes_the_choice_of_requests_repeatable_and_keys_aim_it() -> None:
    def hits(seed: int) -> list[bool]:
        faults = FaultSet()
        faults.add(make_fault("slowdown", rate=0.3, seed=seed, keys="*/0/*"))
        return [faults.plan("GET", f"a/0/{i}").answer is not None for i in range(200)]

    assert hits(1) == hits(1) and hits(1) != hits(2)
    assert 40 < sum(hits(1)) < 80  # about 30 %
    faults = FaultSet()
    spike = faults.add(make_fault("latency_spike", ms=200, keys="*/0/*"))
    assert faults.plan("GET", "a/1/0").delay_s == 0 and faults.plan("GET", "a/0/1").delay_s == 0.2
    assert faults.plan("HEAD", "a/0/1").delay_s == 0 and faults.plan("GET", "").delay_s == 0
    assert (spike.fired, spike.seen) == (1, 1)
    limited = faults.add(make_fault("not_found", limit=2))
    assert [faults.plan("GET", "k").answer is not None for _ in range(4)] == [1, 1, 0, 0]
    assert limited.fired == 2
    assert faults.add(make_fault("not_found")).name == "not_found-2"  # default names are numbered
    faults.add(make_fault("reset", name="mine"))
    with pytest.raises(ValueError, match="a fault named 'mine' exists"):
        faults.add(make_fault("stall", name="mine"))


# -- each kind, through the proxy ----------------------------------------------------------------
def test_slowdown_answers_s3s_503_with_retry_after(cloud: Cloud) -> None:
    cloud.add_fault("slowdown", retry_after_s=2, limit=1)
    status, headers, body = get(cloud)
    assert status == 503 and headers["Retry-After"] == "2"
    assert b"<Code>SlowDown</Code>" in body and headers["Content-Type"].startswith(
        "application/xml"
    )
    assert get(cloud)[2] == BODY  # limit=1: the next one passes
    assert [(f.name, f.fired) for f in cloud.faults()] == [("slowdown", 1)]


def test_not_found_answers_404_for_an_object_that_exists_but_not_for_head(cloud: Cloud) -> None:
    cloud.add_fault("not_found", keys="img.zarr/0/*")
    status, _, body = get(cloud)
    assert status == 404 and b"<Code>NoSuchKey</Code>" in body and KEY.encode() in body
    assert get(cloud, method="HEAD")[0] == 200  # only GETs are hit
    assert get(cloud, "img.zarr/zarr.json")[0] == 200  # only the keys aimed at
    assert cloud.status().requests == 3  # the control paths are never hit


def test_reset_sends_part_of_the_body_then_resets_the_connection(cloud: Cloud) -> None:
    cloud.add_fault("reset", fraction=0.25)
    conn = connect(cloud)
    conn.request("GET", path(cloud))
    answer = conn.getresponse()
    assert answer.status == 200 and int(answer.headers["Content-Length"]) == len(BODY)
    received = b""
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        while block := answer.read1(65536):
            received += block
        answer.read()
    assert received == BODY[: len(received)] and len(received) <= len(BODY) // 4
    conn.close()


def test_truncate_sends_fewer_bytes_than_content_length_then_closes(cloud: Cloud) -> None:
    cloud.add_fault("truncate", fraction=0.5)
    conn = connect(cloud)
    conn.request("GET", path(cloud))
    answer = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as cut:
        answer.read()
    assert cut.value.partial == BODY[: len(BODY) // 2]
    assert int(answer.headers["Content-Length"]) == len(BODY)
    conn.close()


def test_stall_sends_headers_then_silence_until_the_client_gives_up(cloud: Cloud) -> None:
    cloud.add_fault("stall", max_s=5)
    conn = connect(cloud, timeout=0.5)
    start = time.monotonic()
    conn.request("GET", path(cloud))
    answer = conn.getresponse()
    assert answer.status == 200 and time.monotonic() - start < 0.4  # headers at once
    with pytest.raises(TimeoutError):
        answer.read()
    assert 0.4 < time.monotonic() - start < 2
    conn.close()
    cloud.remove_fault("stall")
    cloud.add_fault("stall", name="short", max_s=0.3, keys="other/*")
    conn = connect(cloud, timeout=5)
    conn.request("GET", path(cloud, "other/0/0/0"))
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        conn.getresponse().read()  # max_s passed: the proxy drops the connection
    assert time.monotonic() - start < 3
    conn.close()


def test_latency_spike_delays_the_answer_and_keeps_it_intact(cloud: Cloud) -> None:
    cloud.add_fault("latency_spike", ms=300)
    start = time.monotonic()
    status, _, body = get(cloud)
    assert status == 200 and body == BODY and 0.3 <= time.monotonic() - start < 1.5


def test_down_drops_every_request_until_removed_while_control_still_works(cloud: Cloud) -> None:
    cloud.add_fault("down")
    for _ in range(2):
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            get(cloud, "img.zarr/zarr.json")
    assert cloud.faults()[0].fired == 2
    cloud.remove_fault("down")
    assert get(cloud)[2] == BODY


def test_down_refuse_stops_listening_then_comes_back(cloud: Cloud) -> None:
    with cloud.fault("down", mode="refuse", duration_s=1.0):
        time.sleep(0.2)
        start = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            get(cloud)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(cloud.endpoint.rsplit(":", 1)[1])), 1)
    assert time.monotonic() - start < 2.5
    assert get(cloud)[2] == BODY and cloud.faults() == []


def test_a_rate_with_a_seed_repeats_after_reset_stats_which_zeroes_the_counters(
    cloud: Cloud,
) -> None:
    cloud.add_fault("not_found", rate=0.5, seed=7)
    first = [get(cloud)[0] for _ in range(12)]
    assert set(first) == {200, 404}
    fired = cloud.faults()[0].fired
    assert fired == first.count(404)
    status = cloud.reset_stats()
    assert status.faults[0].fired == 0 and status.requests == 0
    assert [get(cloud)[0] for _ in range(12)] == first


def test_the_context_manager_removes_its_fault_and_reports_the_final_count(cloud: Cloud) -> None:
    with cloud.fault("slowdown", retry_after_s=0, keys="img.zarr/*") as storm:
        assert [get(cloud)[0] for _ in range(3)] == [503, 503, 503]
        assert get(cloud, "other/0/0/0")[0] == 200
    assert (storm.fired, storm.seen) == (3, 3) and cloud.faults() == []
    with pytest.raises(ValueError, match="unknown fault kind 'slow'; kinds: latency_spike"):
        cloud.add_fault("slow")
    with pytest.raises(ValueError, match="no fault named 'nope'"):
        cloud.remove_fault("nope")


def test_control_path_lists_adds_and_removes_faults(cloud: Cloud) -> None:
    def control(method: str, action: str, payload: dict | None = None) -> tuple[int, dict]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{cloud.endpoint}/_cloud/{action}", data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    assert control("POST", "faults", {"kind": "reset", "rate": 0.5, "name": "r"})[1]["name"] == "r"
    assert control("POST", "faults", {"kind": "stall", "max_s": 1})[0] == 200
    status, listed = control("GET", "faults")
    assert [f["name"] for f in listed["faults"]] == ["r", "stall"]
    assert control("DELETE", "faults/r")[1]["kind"] == "reset"
    code, error = control("POST", "faults", {"kind": "boom"})
    assert code == 400 and "kinds: latency_spike" in error["error"]
    assert control("DELETE", "faults") == (200, {"faults": []})


# -- the command line ------------------------------------------------------------------------------
def cli(*args: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COURSE_ENDPOINT": endpoint} if endpoint else None
    return subprocess.run(
        [sys.executable, "-m", "course_tools", "cloud", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60,
    )


def test_cli_sets_lists_and_clears_faults(cloud: Cloud) -> None:
    out = cli("set", "--fault", "slowdown:rate=0.5,seed=3,name=storm", endpoint=cloud.endpoint)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["faults"][0]["name"] == "storm"
    out = cli("faults", endpoint=cloud.endpoint)
    assert out.stdout.startswith("storm") and "rate=0.5" in out.stdout
    out = cli("set", "--clear-faults", "--fault", "reset", endpoint=cloud.endpoint)
    assert [f.name for f in cloud.faults()] == ["reset"], out.stderr
    out = cli("set", "--fault", "reset:fraction=2", endpoint=cloud.endpoint)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert out.stderr.startswith(
        "error: the local cloud refused it: fault reset: fraction must be between"
    )


def test_a_cloud_can_start_with_faults(tmp_path) -> None:
    with start_cloud(latency_ms=0, data=tmp_path, faults=["not_found:keys=*.json"]) as cloud:
        assert [(f.kind, f.keys) for f in cloud.faults()] == [("not_found", "*.json")]
