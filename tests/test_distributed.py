"""The pipeline on a real ``dask scheduler`` + two ``dask worker`` processes: course_tools.cluster
and the benchmark's report and command line (course_tools.bench.segment).

The scheduler and workers are started from the venv's ``dask`` command on 127.0.0.1, without
``COURSE_ENDPOINT`` in their environment: the local cloud's endpoint must travel inside the graph.
Every process started here is stopped again, also when a test fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr

from course_tools import REPO_ROOT
from course_tools import cluster as dd
from course_tools.bench import segment as bench_segment
from helpers import segment as seg
from helpers.catalog import open_image

DASK = Path(sys.executable).with_name("dask")
NUCLEI_KEY = "v0.4/idr0062A/6001240.zarr"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def _wait_for_file(path: Path, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            return
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.1)
    raise RuntimeError(f"the dask scheduler did not start; see the logs in {logs}")


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a ``dask scheduler`` with two single-process ``dask worker`` s (2 threads each)."""
    folder = tmp_path_factory.mktemp("dask")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ENDPOINT", dd.SCHEDULER_ENV)}
    processes: list[subprocess.Popen] = []
    logs = []

    def launch(name: str, *args: str) -> None:
        log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        processes.append(
            subprocess.Popen(
                [str(DASK), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=REPO_ROOT,
            )
        )

    try:
        scheduler_file = folder / "scheduler.json"
        launch(
            "scheduler",
            "scheduler",
            "--host", "127.0.0.1",
            "--port", "0",
            "--no-dashboard",
            "--scheduler-file", str(scheduler_file),
        )  # fmt: skip
        _wait_for_file(scheduler_file, processes, folder)
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            launch(
                f"worker{i}",
                "worker", address,
                "--host", "127.0.0.1",
                "--nthreads", "2",
                "--no-nanny",
                "--no-dashboard",
                "--name", f"worker{i}",
                "--local-directory", str(folder / f"worker{i}"),
                "--death-timeout", "60",
            )  # fmt: skip
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)
        for log in logs:
            log.close()
    assert all(p.poll() is not None for p in processes)


@pytest.mark.timeout(240)
def test_pipeline_on_scheduler_and_two_workers(scheduler_address: str, cloud) -> None:
    from distributed import Client, get_task_stream

    image = open_image(cloud.s3_url(NUCLEI_KEY), endpoint=cloud.endpoint)
    threshold = seg.compute_threshold(image, "DAPI", level=-1, plane_step=4)
    url = cloud.s3_url("tests/distributed/nuclei_labels.zarr", bucket=cloud.scratch_bucket)
    with Client(scheduler_address, timeout=30) as client:
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        endpoints = client.run(lambda: os.environ.get("COURSE_ENDPOINT"))
        assert set(endpoints.values()) == {None}  # the endpoint travels in the graph
        assert dd.requests_in_flight(client) == 2 * 2 * seg.PLANES_PER_TASK
        cpu_before = dd.cpu_seconds(client)
        with get_task_stream(client) as stream:
            run = dd.run_pipeline(client, image, url, threshold, endpoint=cloud.endpoint)
        assert {task["worker"] for task in stream.data} == set(client.nthreads())
        assert dd.cpu_seconds(client)["workers"] > cpu_before["workers"]  # the workers did work
    assert (run.workers, run.threads) == (2, 4)
    written = open_image(url, endpoint=cloud.endpoint)
    with zarr.config.set({"async.concurrency": 64}):
        pixels = np.asarray(image.level(0)[seg.channel_selection(image, "DAPI")])
        labels = np.asarray(written.level(0))[0]
    expected = seg.segment_in_memory(pixels, threshold)
    assert expected.max() > 0
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.timeout(120)
def test_start_or_connect_uses_the_scheduler_named_in_the_environment(
    scheduler_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dd.SCHEDULER_ENV, scheduler_address)
    client, cluster = dd.start_or_connect()
    try:
        assert cluster is None
        assert client.scheduler.address == scheduler_address
    finally:
        dd.shutdown(client, cluster)
    assert client.status == "closed"


@pytest.mark.timeout(120)
def test_local_cluster_workers_know_the_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dd.SCHEDULER_ENV, raising=False)
    endpoint = "http://127.0.0.1:9"
    with zarr.config.set({"async.concurrency": 6}):
        client, cluster = dd.start_or_connect(n_workers=1, threads_per_worker=3, endpoint=endpoint)
    try:
        assert cluster is not None
        assert "127.0.0.1" in client.dashboard_link
        assert set(client.run(lambda: os.environ.get("COURSE_ENDPOINT")).values()) == {endpoint}
        assert dd.requests_in_flight(client, planes_per_task=8) == 3 * 6
    finally:
        dd.shutdown(client, cluster)
    assert cluster.status.name == "closed"


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_cluster_size_must_be_positive(bad, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dd.SCHEDULER_ENV, raising=False)
    with pytest.raises(ValueError, match="n_workers must be an integer from 1 to 64"):
        dd.start_or_connect(n_workers=bad)


def test_limits_arithmetic() -> None:
    limits = dd.Limits(
        latency_s=0.1,
        requests=264,
        in_flight=64,
        bytes_sent=13_000_000,
        bandwidth_mbps=50,
        compute_s=1.0,
    )
    assert limits.request_bound_s == pytest.approx(5 * 0.1)  # ceil(264 / 64) rounds
    assert limits.bandwidth_bound_s == pytest.approx(13e6 * 8 / 50e6)
    assert limits.largest == ("bandwidth-bound", pytest.approx(2.08))
    limits.bandwidth_mbps = None
    assert limits.bandwidth_bound_s == 0 and limits.largest[0] == "compute-bound"
    limits.in_flight = 8
    assert limits.largest == ("request-bound", pytest.approx(33 * 0.1))


def test_report_prints_the_targets_figures(capsys) -> None:
    limits = dd.Limits(0.1, 267, 64, 13_300_000, 50.0, 1.0)
    run = dd.Run(
        seconds=3.0,
        workers=2,
        threads=8,
        requests_by_method={"GET": 238},
        bytes_sent=13_300_000,
        max_in_flight=63,
        cpu_s={"workers": 1.2, "client": 0.1, "cloud": 0.7},
    )
    result = bench_segment.SegmentBenchResult(
        workers=2,
        threads_per_worker=4,
        threshold=900.0,
        seconds=3.0,
        all_seconds=[3.2, 3.0],
        run=run,
        limits=limits,
        largest_limit=limits.largest[0],
        ratio=3.0 / limits.largest[1],
        identical=True,
        objects=19,
        serve_s=0.8,
        cores=2,
        compute_cpu_s=0.9,
    )
    assert result.met
    bench_segment.print_report(result)
    out = capsys.readouterr().out
    assert "2 workers x 4 threads; latency 100 ms, 50 Mbit/s" in out
    assert "request-bound 0.50 s (267 requests / 64 in flight x 100 ms)" in out
    assert "bandwidth-bound 2.13 s" in out and "compute-bound 1.00 s" in out
    assert "(bandwidth-bound) = 1.41 (<= 1.5)" in out and "-> OK" in out
    assert "workers 1.20 + client 0.10 + cloud 0.70 = 2.00 s on 2 cores: at least 1.00 s" in out
    assert "(the in-memory run used 0.90 s)" in out
    assert "need 0.80 s for the chunk reads alone" in out
    missed = dataclasses.replace(result, identical=False)
    assert not missed.met
    bench_segment.print_report(missed)
    assert "-> MISSED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args", [["--repeats", "0"], ["--bandwidth-mbps", "-5"], ["--workers", "two"]]
)
def test_bench_cli_rejects_bad_arguments(args, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_segment.main(args)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bench_cli_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_segment.main(["--help"])
    assert exit_info.value.code == 0
    assert "request-, bandwidth- and compute-bound" in capsys.readouterr().out
