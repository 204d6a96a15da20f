"""When a Binder-shaped session runs out of memory, it loses a greedy process, never the local cloud.

A sandbox (``course_tools.sandbox``: a cgroup, as on mybinder.org) with little memory holds a local
cloud and a process that keeps allocating, as a learner's forgotten kernels do. The out-of-memory killer
must end the greedy process; the cloud must go on answering. Before that, ``memory_warning`` (printed by
``ensure_cloud`` at the top of every lesson) says that memory is short and what to shut down.
The sandbox needs root on Linux (as in CI).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from course_tools import REPO_ROOT
from course_tools.sandbox import Sandbox, SandboxUnavailable
from helpers.cloud import cloud_status

LIMIT = 700 * 10**6


@pytest.fixture()
def sandbox() -> Iterator[Sandbox]:
    try:
        made = Sandbox.create(f"course-test-{os.getpid()}", LIMIT, 1.0)
    except SandboxUnavailable as why:
        if os.geteuid() == 0:
            raise  # CI runs as root: the sandbox must work there
        pytest.skip(f"a cgroup needs root: {why}")
    try:
        yield made
    finally:
        made.close()


def inside(sandbox: Sandbox, code: str) -> subprocess.Popen[str]:
    """A Python process started inside the sandbox."""
    join = [sys.executable, "-m", "course_tools.sandbox", "join"]
    join += [str(path) for path in sandbox.procs_files] + ["--"]
    return subprocess.Popen(
        [*join, sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"},
    )


CLOUD = (
    "from course_tools.cloud.launch import start_cloud\n"
    "import pathlib, tempfile, time\n"
    "cloud = start_cloud(latency_ms=0, data=pathlib.Path(tempfile.mkdtemp()))\n"
    "print(cloud.endpoint, flush=True)\n"
    "time.sleep(600)\n"
)
HOLD = "import numpy, sys, time\nheld = numpy.ones({size} // 8)\nprint('holding', flush=True)\ntime.sleep(600)\n"
GREEDY = "import numpy\nheld = []\nwhile True:\n    held.append(numpy.ones(20_000_000 // 8))\n"
WARN = "from course_tools.session import memory_warning\nprint(memory_warning())\n"


def test_out_of_memory_kills_the_greedy_process_not_the_cloud(sandbox: Sandbox) -> None:
    owner = inside(sandbox, CLOUD)
    endpoint = owner.stdout.readline().strip()
    cloud = [p for p in psutil.Process(owner.pid).children(recursive=True)]
    kernel = inside(sandbox, HOLD.format(size=400 * 10**6))  # a forgotten kernel
    assert kernel.stdout.readline().strip() == "holding"
    try:
        warning = inside(sandbox, WARN).communicate(timeout=60)[0]
        assert "Memory is short" in warning and "Shut down the kernels" in warning, warning
        greedy = inside(sandbox, GREEDY)
        greedy.wait(timeout=60)
        assert greedy.returncode == -signal.SIGKILL
        assert sandbox.oom_kills() >= 1
        time.sleep(0.5)
        assert all(p.is_running() for p in cloud), "the local cloud was killed"
        assert cloud_status(endpoint).requests >= 0  # and it still answers
    finally:
        for child in (kernel, owner):
            child.kill()
            child.wait()


def test_a_session_with_room_to_spare_gives_no_warning(sandbox: Sandbox) -> None:
    assert inside(sandbox, WARN).communicate(timeout=60)[0].strip() == "None"
