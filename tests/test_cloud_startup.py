"""The local cloud's start-up deadlines fire even when a child process stays silent."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import helpers.cloud as client
from course_tools.cloud import launch, serve
from course_tools.cloud.launch import read_announcement
from helpers.cloud import CloudError as StartupError


def child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def test_announcement_lines_are_collected_until_ready() -> None:
    process = child("print('ENDPOINT http://x'); print('BUCKET b', flush=True); print('READY go')")
    assert read_announcement(process, "READY", 10, "a child") == {
        "ENDPOINT": "http://x",
        "BUCKET": "b",
        "READY": "go",
    }
    process.wait()


def test_a_silent_child_is_killed_at_the_deadline() -> None:
    process = child("import time; time.sleep(60)")
    start = time.monotonic()
    with pytest.raises(StartupError, match="did not start within 1 s"):
        read_announcement(process, "READY", 1.0, "a silent child")
    assert time.monotonic() - start < 5
    assert process.poll() is not None  # killed, not left behind


def test_a_child_that_exits_early_is_reported_with_its_code() -> None:
    process = child("print('HELLO there'); raise SystemExit(3)")
    with pytest.raises(StartupError, match="exited with code 3 before it was ready"):
        read_announcement(process, "READY", 10, "an early child")


def test_start_cloud_fails_within_its_deadline_when_the_server_hangs(monkeypatch) -> None:
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(launch, "START_TIMEOUT_S", 1.0)
    real_popen = subprocess.Popen
    monkeypatch.setattr(launch.subprocess, "Popen", lambda cmd, **kw: real_popen(hang, **kw))
    start = time.monotonic()
    with pytest.raises(client.CloudError, match="did not start within 1 s"):
        launch.start_cloud()
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import time; time.sleep(60)", "did not start within 1 s"),
        ("raise SystemExit(3)", "exited with code 3"),
    ],
)
def test_the_session_cloud_fails_within_its_deadline(monkeypatch, tmp_path, code, message) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(client.ENDPOINT_ENV, raising=False)
    monkeypatch.setattr(client, "START_TIMEOUT_S", 1.0)
    real_popen = subprocess.Popen
    fake = [sys.executable, "-c", code]
    monkeypatch.setattr(client.subprocess, "Popen", lambda cmd, **kw: real_popen(fake, **kw))
    start = time.monotonic()
    with pytest.raises(client.CloudError, match=message) as caught:
        client.ensure_cloud(verbose=False)
    assert time.monotonic() - start < 5
    assert str(tmp_path / "cloud.log") in str(caught.value)  # where to look


def test_backend_start_fails_within_its_deadline_when_moto_hangs(monkeypatch, tmp_path) -> None:
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(serve, "BACKEND_START_TIMEOUT_S", 1.0)
    real_popen = subprocess.Popen
    monkeypatch.setattr(serve.subprocess, "Popen", lambda cmd, **kw: real_popen(hang, **kw))
    with pytest.raises(RuntimeError, match="moto backend did not start within 1 s"):
        serve.start_backend(tmp_path)
