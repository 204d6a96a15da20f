"""Every notebook runs top to bottom, in course order, as one session that fits mybinder.org's limits.

The notebooks run in the background as one Binder-shaped session (``tests/binder_session.py``,
``python -m course_tools binder``): 2 GiB of memory and 1 CPU, each notebook in a kernel of its own,
the kernels of the last two notebooks kept alive, the shared local cloud started by the first notebook
that needs it. Exercise solutions are ordinary code cells (tagged ``solution``), so they run too. New
notebooks are picked up automatically; a notebook's budget is ``metadata.course.budget_s`` (90 s
when absent), set for 2 cores, and at 1 CPU a notebook may take 1.5 times it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from binder_session import BackgroundSession

from course_tools import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_a_binder_session(path: Path, binder_session: BackgroundSession) -> None:
    report = binder_session.wait()
    run = next((r for r in report.runs if r.notebook == path.name), None)
    assert run is not None, f"{path.name} did not run in the session"
    assert not run.problems(), run.problems()


def test_the_session_started_one_local_cloud(binder_session: BackgroundSession) -> None:
    report = binder_session.wait()
    assert report.clouds_started == 1, report.clouds_started


def test_the_session_had_binders_limits(binder_session: BackgroundSession) -> None:
    """As root on Linux (CI) the session ran inside a cgroup of 2 GiB and 1 CPU; elsewhere it says not."""
    report = binder_session.wait()
    if os.geteuid() == 0 and Path("/sys/fs/cgroup").is_dir():
        assert report.sandbox.startswith("cgroup v"), report.sandbox
        assert "2 GiB, 1 CPU" in report.sandbox, report.sandbox
    else:
        assert report.sandbox.startswith("no cgroup"), report.sandbox


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/"
