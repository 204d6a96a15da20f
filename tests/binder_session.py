"""The suite's notebook run: every notebook, in order, as one Binder-shaped session, in the background.

``python -m course_tools binder`` runs the notebooks inside a sandbox of 2 GiB and 1 CPU. It starts
as soon as the tests are collected and runs beside the other tests: when the machine has two CPUs or
more, the session keeps to the last one and the other tests to the rest, so neither slows the other
and the session has exactly one CPU, as on mybinder.org. ``tests/test_notebooks.py`` (run last) waits
for its report.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from course_tools import REPO_ROOT
from course_tools.binder import SessionReport, format_report

ARTIFACTS = REPO_ROOT / "test-artifacts"
REPORT = ARTIFACTS / "binder-session.json"
LOG = ARTIFACTS / "binder-session.log"
EXECUTED = ARTIFACTS / "executed"


def split_cpus() -> tuple[set[int], set[int]]:
    """(CPUs for the session, CPUs for the other tests); the session gets none on a 1-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return set(), set(cpus)
    return {cpus[-1]}, set(cpus[:-1])


@dataclass
class BackgroundSession:
    """The Binder-shaped session running in the background, and the CPUs it took."""

    notebooks: list[Path]
    process: subprocess.Popen | None = None
    all_cpus: set[int] = field(default_factory=set)
    report: SessionReport | None = None

    def start(self) -> None:
        """Start the session; keep the tests off its CPU while it runs."""
        ARTIFACTS.mkdir(exist_ok=True)
        REPORT.unlink(missing_ok=True)
        session_cpus, test_cpus = split_cpus()
        command = [sys.executable, "-m", "course_tools", "binder", "--json", str(REPORT)]
        command += ["--executed", str(EXECUTED), *map(str, self.notebooks)]
        if session_cpus:
            command += ["--cpu-list", ",".join(map(str, sorted(session_cpus)))]
            self.all_cpus = session_cpus | test_cpus
            os.sched_setaffinity(0, test_cpus)
        with open(LOG, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait(self) -> SessionReport:
        """The session's report, once it has finished (the tests get every CPU back)."""
        if self.report is None:
            assert self.process is not None, "the session was not started"
            self.process.wait()
            self._give_back_cpus()
            if not REPORT.exists():
                raise AssertionError(
                    f"the session wrote no report; see {LOG}:\n{LOG.read_text()[-3000:]}"
                )
            self.report = SessionReport.from_dict(json.loads(REPORT.read_text()))
        return self.report

    def stop(self) -> None:
        """End the session if it still runs (the tests were interrupted)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        self._give_back_cpus()

    def _give_back_cpus(self) -> None:
        if not self.all_cpus:
            return
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                process.cpu_affinity(sorted(self.all_cpus))
        self.all_cpus = set()

    def table(self) -> str:
        """The report as printed at the end of the test run."""
        return format_report(self.report) if self.report else f"(no report: see {LOG})"
