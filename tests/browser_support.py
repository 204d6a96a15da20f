"""Run JupyterLab and Chromium for real-browser tests (see tests/test_browser.py).

- :func:`chromium_or_skip` finds Debian's ``chromium`` (Playwright cannot download browsers here); a
  missing browser fails the test when ``CI`` is set, and skips it (with the reason) otherwise.
- :class:`JupyterLab` serves a temporary copy of the notebooks with a random token, temporary settings
  and workspaces (``autoStartDefaultKernel`` on, so no "Select Kernel" dialog), and
  ``expose_app_in_browser`` so a test can ask the app whether the kernel is connected and idle.
- :func:`open_notebook`, :func:`run_all_cells`: drive a notebook through the JupyterLab app object;
  :func:`check_answers_stay_hidden`: after Run All, no solution shows its code or its output.

Every process started here is stopped again, also when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from course_tools.answers import ANSWER_TITLE

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAB_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0

# Settings written to the temporary user-settings folder before JupyterLab starts.
LAB_SETTINGS = {
    # No "Select Kernel" dialog; every cell rendered (no windowing), so outputs below the fold
    # exist in the page and can be read.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def chromium_or_skip() -> str:
    """Path of the ``chromium`` executable; fail (CI) or skip (elsewhere) when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = (
        "Debian's chromium is not installed (apt-get install -y chromium; `make test` installs it "
        "where apt is available)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}: the real-browser test must not be skipped in CI")
    pytest.skip(message)
    raise AssertionError("unreachable")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 serving a copy of ``notebooks`` (use as a context manager).

    Args:
        notebooks: folder whose ``*.ipynb`` files are copied into the server's root folder.
        workdir: an empty temporary folder for the copy, settings, workspaces and the log.
        env: extra environment variables for the server and its kernels (e.g. ``COURSE_ENDPOINT``).
    """

    def __init__(self, notebooks: Path, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.root = workdir / "root"
        self.settings = workdir / "settings"
        self.workspaces = workdir / "workspaces"
        self.runtime = workdir / "runtime"
        self.log_path = workdir / "jupyterlab.log"
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.root.mkdir(parents=True)
        for notebook in sorted(notebooks.glob("*.ipynb")):
            shutil.copy2(notebook, self.root / notebook.name)
        for name, values in LAB_SETTINGS.items():
            plugin, _, file = name.rpartition("/")
            target = self.settings / plugin / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        self.workspaces.mkdir()
        self.runtime.mkdir()

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            f"--LabServerApp.user_settings_dir={self.settings}",
            f"--LabServerApp.workspaces_dir={self.workspaces}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.disable_check_xsrf=False",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self) -> JupyterLab:
        """Start the server and wait until its API answers (``RuntimeError`` with the log if not)."""
        env = {**os.environ, **self.env, "JUPYTER_RUNTIME_DIR": str(self.runtime)}
        env.pop("JUPYTERLAB_WORKSPACES_DIR", None)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            env=env,
            start_new_session=True,  # its own process group: the kernels are stopped with it
        )
        deadline = time.monotonic() + LAB_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer within {LAB_START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Shut the server (and its kernels) down; kill its process group if it does not stop."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                request = urllib.request.Request(
                    f"{self.url}/api/shutdown?token={self.token}", method="POST"
                )
                urllib.request.urlopen(request, timeout=5).close()
                process.wait(timeout=STOP_TIMEOUT_S)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        try:  # kernels left behind in the server's own process group (started by this class)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# JavaScript run in the page, through the JupyterLab app object (expose_app_in_browser).
KERNEL_IDLE_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
    && panel.content && panel.content.widgets && panel.content.widgets.length > 0;
}"""

CELLS_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  cells.forEach((c, i) => {
    const outputs = c.model.outputs.toJSON();
    outputs.filter(o => o.output_type === 'error').forEach(o => errors.push(
      `code cell ${i + 1}: ${o.ename}: ${o.evalue}`));
  });
  return {
    kernel: kernel ? kernel.status : 'none',
    total: cells.length,
    done: cells.filter(c => c.model.executionCount !== null
                        && !c.node.querySelector('.jp-InputPrompt').textContent.includes('*')).length,
    errors: errors,
  };
}"""


def open_notebook(page, lab: JupyterLab, name: str, timeout_s: float = 90.0) -> None:
    """Open notebook ``name`` and wait until its kernel is connected and idle."""
    page.goto(lab.notebook_url(name), timeout=timeout_s * 1000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=250)


def run_all_cells(page, timeout_s: float = 150.0) -> dict:
    """Run every cell (JupyterLab's "Run All Cells") and wait until all have run; fail on errors."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_s
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(CELLS_STATE_JS)
        if state["errors"]:
            pytest.fail("the notebook raised in the browser: " + "; ".join(state["errors"]))
        if state["done"] == state["total"] and state["kernel"] == "idle":
            return state
        page.wait_for_timeout(500)  # poll interval while the kernel works
    pytest.fail(f"Run All did not finish within {timeout_s:.0f} s (state {state})")
    raise AssertionError("unreachable")


SOLUTIONS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(c => c.model.type === 'code' && (c.model.getMetadata('tags') || []).includes('solution'))
  .map(c => {
    const editor = c.node.querySelector('.jp-Cell-inputWrapper .jp-InputArea-editor');
    const out = c.node.querySelector('.jp-Cell-outputWrapper');
    return {
      codeVisible: !!editor && editor.getBoundingClientRect().height > 0,
      shown: out ? out.innerText.trim() : '',
      outputs: c.model.outputs.length,
    };
  })"""


def check_answers_stay_hidden(page) -> None:
    """After Run All, a solution shows neither its code nor its output: only the closed accordion."""
    solutions = page.evaluate(SOLUTIONS_JS)
    assert solutions, "no solution cell found"
    for i, cell in enumerate(solutions):
        assert cell["outputs"] >= 1, f"solution {i + 1} did not run"
        assert not cell["codeVisible"], f"solution {i + 1} shows its code"
        assert cell["shown"] == ANSWER_TITLE, f"solution {i + 1} shows {cell['shown'][:200]!r}"
