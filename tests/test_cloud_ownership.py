"""One shared local cloud per session, and no cloud outlives the process it belongs to.

On Binder a kernel can be ended at any time (the out-of-memory killer, a crash, a cull), and a CPU
saturated by Dask workers makes the cloud slow to answer. These tests check, with every CPU of the
machine kept busy:

* a private cloud ends when its owner is killed (SIGKILL: no chance to clean up);
* the shared cloud belongs to the Jupyter server (``$JPY_PARENT_PID``), not to the kernel that
  started it: it outlives that kernel and ends with the server;
* ``ensure_cloud`` never starts a second cloud while one is alive, even one too slow (here: stopped)
  to answer, and several kernels asking at once get one cloud.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from course_tools import REPO_ROOT

GONE_WITHIN_S = 5.0
"""A cloud whose owner died must be gone this soon (it checks twice a second; the CPU is busy)."""


@pytest.fixture()
def busy_cpus() -> Iterator[None]:
    """Every CPU kept busy by two spinning processes each, as Dask workers on one CPU would."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(2 * (os.cpu_count() or 1))
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.fixture()
def session_dir(tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of its own (the samples shared), so the shared cloud's record is this test's."""
    (tmp_path / "samples").symlink_to(samples)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_ENDPOINT", raising=False)
    return tmp_path


def python(code: str, **env: str) -> subprocess.Popen[str]:
    """A Python child running ``code`` with the test's environment plus ``env``."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
    )


def cloud_processes(server_pid: int) -> list[psutil.Process]:
    server = psutil.Process(server_pid)
    return [server, *server.children(recursive=True)]


def assert_gone(processes: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(processes, timeout=GONE_WITHIN_S)
    assert not alive, f"still running {GONE_WITHIN_S:g} s after their owner died: {alive}"


def serve_processes() -> list[psutil.Process]:
    """Every local cloud server on this machine (``python -m course_tools.cloud``)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if "course_tools.cloud" in (process.info["cmdline"] or []):
            found.append(process)
    return found


START_PRIVATE = (
    "from course_tools.cloud.launch import start_cloud\n"
    "import pathlib, tempfile, time\n"
    "cloud = start_cloud(latency_ms=0, data=pathlib.Path(tempfile.mkdtemp()))\n"
    "print(cloud.process.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def test_a_private_cloud_ends_when_its_owner_is_killed(busy_cpus: None) -> None:
    owner = python(START_PRIVATE)
    server_pid = int(owner.stdout.readline())
    cloud = cloud_processes(server_pid)
    assert len(cloud) == 2  # the proxy and the object store behind it
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert_gone(cloud)


ENSURE = (
    "from helpers.cloud import ensure_cloud\n"
    "import time\n"
    "print(ensure_cloud(verbose=False).endpoint, flush=True)\n"
    "time.sleep(600)\n"
)


def test_the_shared_cloud_belongs_to_the_jupyter_server(session_dir: Path, busy_cpus: None) -> None:
    server = python("import time; time.sleep(600)")  # stands for the Jupyter server
    kernel = python(ENSURE, JPY_PARENT_PID=str(server.pid))
    endpoint = kernel.stdout.readline().strip()
    state = json.loads((session_dir / "cloud.json").read_text())
    assert state["endpoint"] == endpoint
    cloud = cloud_processes(state["pid"])
    kernel.kill()  # the kernel that started it dies (OOM killer, crash, shut down)
    kernel.wait()
    time.sleep(1.5)
    assert all(p.is_running() for p in cloud), (
        "the shared cloud died with the kernel that started it"
    )
    server.kill()  # the session ends
    server.wait()
    assert_gone(cloud)


def test_ensure_cloud_trusts_a_live_cloud_too_slow_to_answer(
    session_dir: Path, busy_cpus: None
) -> None:
    server = python("import time; time.sleep(600)")
    first = python(ENSURE, JPY_PARENT_PID=str(server.pid))
    endpoint = first.stdout.readline().strip()
    state = json.loads((session_dir / "cloud.json").read_text())
    proxy = psutil.Process(state["pid"])
    before = len(serve_processes())
    proxy.suspend()  # alive, holding its port, answering nothing
    try:
        second = python(
            "from helpers.cloud import ensure_cloud\n"
            "print(ensure_cloud(verbose=False).endpoint, flush=True)\n",
            JPY_PARENT_PID=str(server.pid),
        )
        out, _ = second.communicate(timeout=60)
        assert out.strip() == endpoint
        assert len(serve_processes()) == before, "a second cloud was started"
    finally:
        proxy.resume()
        for child in (first, server):
            child.kill()
            child.wait()
    assert_gone(cloud_processes(state["pid"]) if proxy.is_running() else [])


def test_kernels_asking_at_once_get_one_cloud(session_dir: Path, busy_cpus: None) -> None:
    server = python("import time; time.sleep(600)")
    before = len(serve_processes())
    kernels = [python(ENSURE, JPY_PARENT_PID=str(server.pid)) for _ in range(4)]
    try:
        endpoints = {kernel.stdout.readline().strip() for kernel in kernels}
        assert len(endpoints) == 1, endpoints
        assert len(serve_processes()) == before + 1
    finally:
        for child in (*kernels, server):
            child.kill()
            child.wait()
