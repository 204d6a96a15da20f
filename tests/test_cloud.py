"""The local cloud behaves like a remote, public, read-only object store on loopback only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest
import s3fs

from course_tools import REPO_ROOT
from course_tools.cloud.conditions import NetworkConditions
from helpers.cloud import Cloud, cloud_status


def timed_get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = answer.read()
    return time.perf_counter() - start, body


def put(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_latency_is_applied_to_every_request(empty_cloud: Cloud) -> None:
    key_url = empty_cloud.url("tiny", bucket=empty_cloud.scratch_bucket)
    assert put(key_url, b"hello") == 200
    times = [timed_get(key_url)[0] for _ in range(5)]
    assert min(times) >= 0.045, times  # setting: 50 ms
    assert sorted(times)[2] < 0.050 + 0.150, times
    empty_cloud.set_conditions(latency_ms=0)
    assert sorted(timed_get(key_url)[0] for _ in range(5))[2] < 0.040


def test_bandwidth_cap_slows_big_answers(empty_cloud: Cloud) -> None:
    url = empty_cloud.url("one-megabyte", bucket=empty_cloud.scratch_bucket)
    assert put(url, os.urandom(1_000_000)) == 200
    empty_cloud.set_conditions(latency_ms=0, bandwidth_mbps=16)  # 2 MB/s -> 0.5 s
    elapsed, body = timed_get(url)
    assert len(body) == 1_000_000
    assert 0.45 <= elapsed < 2.0, elapsed
    empty_cloud.set_conditions(bandwidth_mbps=None)
    assert timed_get(url)[0] < 0.3


def test_public_bucket_is_anonymous_and_read_only(cloud: Cloud) -> None:
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    store = f"{cloud.public_bucket}/v0.4/idr0062A/6001240.zarr"
    assert f"{store}/.zattrs" in fs.ls(store)  # anonymous LIST
    assert fs.info(f"{store}/.zattrs")["size"] > 0  # anonymous HEAD
    assert b"multiscales" in fs.cat(f"{store}/.zattrs")  # anonymous GET
    with pytest.raises(PermissionError):
        fs.pipe(f"{cloud.public_bucket}/intruder.txt", b"no")
    assert put(cloud.url("intruder.txt"), b"no") == 403
    assert not fs.exists(f"{cloud.public_bucket}/intruder.txt")
    fs.pipe(f"{cloud.scratch_bucket}/mine.txt", b"yes")
    assert fs.cat(f"{cloud.scratch_bucket}/mine.txt") == b"yes"


def test_plain_http_path_style_urls_work(cloud: Cloud) -> None:
    _, body = timed_get(cloud.url("v0.5/idr0062A/6001240_labels.zarr/zarr.json"))
    assert b'"ome"' in body


def test_status_counts_requests_and_bytes(empty_cloud: Cloud) -> None:
    url = empty_cloud.url("counted", bucket=empty_cloud.scratch_bucket)
    put(url, b"x" * 1000)
    empty_cloud.reset_stats()
    for _ in range(3):
        timed_get(url)
    status = empty_cloud.status()
    assert status.requests_by_method == {"GET": 3}
    assert status.bytes_sent == 3000


def test_invalid_conditions_are_refused(empty_cloud: Cloud) -> None:
    with pytest.raises(ValueError, match="latency_ms must be >= 0"):
        empty_cloud.set_conditions(latency_ms=-1)
    with pytest.raises(ValueError, match="unknown condition"):
        empty_cloud.set_conditions(latency=5)
    assert cloud_status(empty_cloud.endpoint).latency_ms == 50
    with pytest.raises(ValueError, match="bandwidth_mbps must be > 0"):
        NetworkConditions(bandwidth_mbps=0)


def non_loopback_addresses() -> list[str]:
    return [
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family.name == "AF_INET" and not a.address.startswith("127.")
    ]


def test_listens_on_loopback_only(cloud: Cloud) -> None:
    assert cloud.process is not None
    server = psutil.Process(cloud.process.pid)
    processes = [server, *server.children(recursive=True)]
    listening = [
        c
        for p in processes
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 2  # the proxy and moto behind it
    assert all(c.laddr.ip == "127.0.0.1" for c in listening), listening
    port = int(cloud.endpoint.rsplit(":", 1)[1])
    for address in non_loopback_addresses():  # this machine's own other addresses
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://{address}:{port}/_cloud/status", timeout=3)


def test_serve_cli_prints_endpoint_first_and_stops_cleanly(tmp_path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_tools",
            "cloud",
            "serve",
            "--data",
            str(tmp_path),
            "--no-state-file",
            "--latency-ms",
            "10",
        ],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
        text=True,
    )
    assert process.stdout is not None
    try:
        first, second = process.stdout.readline().split(), process.stdout.readline().split()
        assert first[0] == "ENDPOINT" and first[1].startswith("http://127.0.0.1:")
        assert second == ["BUCKET", "course-data"]
        while "READY" not in process.stdout.readline():
            pass
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "moto runs as a subprocess"
        assert cloud_status(first[1]).latency_ms == 10
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"orphan processes left: {alive}"
    finally:
        process.kill()


def test_cli_help_works() -> None:
    for command in ([], ["serve"], ["set"]):
        out = subprocess.run(
            [sys.executable, "-m", "course_tools", "cloud", *command, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
        assert out.returncode == 0 and "usage" in out.stdout


def test_ensure_cloud_starts_one_shared_cloud_and_then_reuses_it(
    tmp_path, samples, monkeypatch
) -> None:
    import json

    import helpers.cloud as client

    (tmp_path / "samples").symlink_to(samples)  # up to date: serve must not rebuild
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_ENDPOINT", raising=False)
    assert client.find_cloud() is None
    first = client.ensure_cloud(verbose=False)
    try:
        state = json.loads(client.state_file().read_text())
        assert state["endpoint"] == first.endpoint
        second = client.ensure_cloud(verbose=False)  # another notebook: same cloud, nothing started
        assert second.endpoint == first.endpoint
        assert first.status().public_bucket == "course-data"
    finally:
        server = psutil.Process(state["pid"])
        children = server.children(recursive=True)
        server.terminate()
        gone, alive = psutil.wait_procs([server, *children], timeout=15)
        assert not alive
    assert not client.state_file().exists()  # a stopped cloud removes its record


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "course_tools", "cloud", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI run in this process (fast): its exit code and output, as if run as a command."""
    from course_tools.cloud.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit:
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def assert_one_line_error(out: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert out.returncode == 2, out
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    for text in expected:
        assert text in out.stderr, out.stderr


def test_serve_on_a_busy_port_is_one_line_error(tmp_path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli("serve", "--port", str(port), "--data", str(tmp_path), "--no-state-file")
    assert_one_line_error(out, f"port {port} on 127.0.0.1 is busy", "choose another --port")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--port", "-1"], "--port must be between 0 and 65535"),
        (["--port", "http"], "argument --port: invalid int value: 'http'"),
        (["--latency-ms", "-5"], "argument --latency-ms: must be a finite number >= 0, got -5.0"),
        (["--jitter-ms", "-1"], "argument --jitter-ms: must be a finite number >= 0"),
        (["--latency-ms", "inf"], "argument --latency-ms: must be a finite number >= 0"),
        (["--bandwidth-mbps", "-2"], "argument --bandwidth-mbps: must be a finite number > 0"),
        (["--bandwidth-mbps", "0"], "argument --bandwidth-mbps: must be a finite number > 0"),
        (["--data", "/no/such/folder"], "--data /no/such/folder: no such folder"),
        (["--fault", "flood"], "unknown fault kind 'flood'; kinds: latency_spike"),
    ],
)
def test_bad_serve_arguments_are_one_line_errors(capsys, args: list[str], expected: str) -> None:
    assert_one_line_error(run_main(capsys, "serve", "--no-state-file", *args), expected)


@pytest.mark.parametrize("option", ["--latency-ms", "--jitter-ms", "--bandwidth-mbps"])
def test_bad_set_arguments_are_one_line_errors(capsys, option: str) -> None:
    out = run_main(capsys, "set", option, "-1")
    assert_one_line_error(out, f"argument {option}: must be a finite number >= 0")


def test_the_cloud_answers_the_memory_question_of_ensure_cloud(cloud: Cloud) -> None:
    """``ensure_cloud`` asks the cloud (which runs in the session) whether memory is short."""
    url = f"{cloud.endpoint}/_cloud/memory?pid={os.getpid()}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        warning = json.loads(answer.read())["warning"]
    assert warning is None or "Memory is short" in warning
