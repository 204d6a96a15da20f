"""Shared fixtures: the sample data (built once) and one local cloud for the whole test session.

The notebooks run as one Binder-shaped session in the background from the moment the tests are
collected (``tests/binder_session.py``); their tests run last and wait for its report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from binder_session import BackgroundSession

from course_tools import REPO_ROOT
from course_tools.cloud.launch import start_cloud
from course_tools.samples import build_samples
from helpers.catalog import remote_available
from helpers.cloud import Cloud


@pytest.fixture(scope="session")
def samples() -> Path:
    """The sample data folder, built if missing or stale."""
    return build_samples(progress=False)


@pytest.fixture(scope="session")
def cloud(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A local cloud at the course's default 100 ms latency, serving the samples.

    ``COURSE_ENDPOINT`` points at it, so ``open_image`` and notebook kernels started by the tests use
    it (and never start a cloud of their own).
    """
    log = tmp_path_factory.mktemp("cloud") / "cloud.log"
    with start_cloud(latency_ms=100, data=samples, log=log) as running:
        old = os.environ.get("COURSE_ENDPOINT")
        os.environ["COURSE_ENDPOINT"] = running.endpoint
        try:
            yield running
        finally:
            if old is None:
                os.environ.pop("COURSE_ENDPOINT", None)
            else:
                os.environ["COURSE_ENDPOINT"] = old


@pytest.fixture()
def empty_cloud(tmp_path: Path) -> Iterator[Cloud]:
    """A private cloud with empty buckets and 50 ms latency (starts in about a second)."""
    with start_cloud(latency_ms=50, data=tmp_path) as running:
        yield running


SESSION = pytest.StashKey[BackgroundSession]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``online`` tests when the public host does not answer; run the notebooks' tests last.

    The tests that wait for the notebooks' session (those using the ``binder_session`` fixture) go
    last, so the session runs beside all the others.
    """
    waiting = [item for item in items if "binder_session" in getattr(item, "fixturenames", ())]
    items[:] = [item for item in items if item not in waiting] + waiting
    online = [item for item in items if item.get_closest_marker("online")]
    if online and not remote_available():
        skip = pytest.mark.skip(
            reason="public IDR host unreachable (offline); online tests need the internet"
        )
        for item in online:
            item.add_marker(skip)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the notebooks' Binder-shaped session in the background, if a selected test needs it.

    The notebooks' own tests run the notebooks they select; another test waiting for the session
    (the site's, which reuses the executed notebooks) runs all of them.
    """
    paths = sorted(
        {
            item.callspec.params["path"]
            for item in session.items
            if item.path.name == "test_notebooks.py" and hasattr(item, "callspec")
        }
    )
    waiting = any("binder_session" in getattr(item, "fixturenames", ()) for item in session.items)
    if not paths and waiting:
        paths = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if paths and not session.config.option.collectonly:
        background = BackgroundSession(paths)
        background.start()
        session.config.stash[SESSION] = background


@pytest.fixture(scope="session")
def binder_session(request: pytest.FixtureRequest) -> BackgroundSession:
    """The notebooks' session, started at collection (see :mod:`binder_session`)."""
    return request.config.stash[SESSION]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """End the background session if the tests stopped before it did."""
    background = session.config.stash.get(SESSION, None)
    if background is not None:
        background.stop()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    """Print the notebooks' table: seconds, peak memory and OOM kills in the Binder-shaped session."""
    background = config.stash.get(SESSION, None)
    if background is not None and background.report is not None:
        terminalreporter.section("notebooks in a Binder-shaped session")
        terminalreporter.write_line(background.table())
