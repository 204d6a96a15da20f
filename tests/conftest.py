"""Shared fixtures: the sample data (built once) and one local cloud for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.catalog import remote_available
from helpers.cloud import Cloud, start_cloud
from helpers.samples import build_samples


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``online`` when the public host does not answer (they need real data)."""
    online = [item for item in items if item.get_closest_marker("online")]
    if online and not remote_available():
        skip = pytest.mark.skip(
            reason="public IDR host unreachable (offline); online tests need the internet"
        )
        for item in online:
            item.add_marker(skip)
