"""helpers.reliable: zarr reads through open_image retry, keep their deadline, never read a lost chunk as zeros."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from fault_server import PERMANENT, TRANSIENT, FaultServer, running, write_image

from course_tools.cloud.launch import start_cloud
from helpers._compat import array_store
from helpers.catalog import is_course_location, open_image
from helpers.fetch import FetchError, PermanentError, RetryableError, RetryPolicy
from helpers.reliable import MissingChunkError, ReliableStore, classify_fault, missing_chunks
from helpers.storage import parse_location

CHUNK = "0/c/1/2/1/0"  # channel 1, z 2, the lower-left 32 x 32 chunk
PLANE = (1, 2)
DEADLINE_S = 2.0
FAST = RetryPolicy(attempts=4, backoff_s=0.01, max_backoff_s=0.2, deadline_s=DEADLINE_S, seed=7)
STALL_CUT = RetryPolicy(
    attempts=4, backoff_s=0.01, deadline_s=DEADLINE_S, attempt_timeout_s=0.4, seed=7
)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("reliable")
    data = write_image(root / "img.zarr", "0.5", labels=True)
    return root, data


@pytest.fixture()
def server(image_dir) -> Iterator[FaultServer]:
    with running(FaultServer()) as srv:
        srv.serve_dir("data", image_dir[0])
        yield srv


def url_of(server: FaultServer, scheme: str) -> str:
    return server.url("data/img.zarr") if scheme == "http" else "s3://data/img.zarr"


def open_on(server: FaultServer, scheme: str, **options):
    return open_image(url_of(server, scheme), endpoint=server.base, **options)


@pytest.mark.parametrize("scheme", ["http", "s3"])
@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_faults_recover_with_identical_pixels(server, image_dir, scheme, kind) -> None:
    _root, data = image_dir
    image = open_on(server, scheme, retry=STALL_CUT, strict=True)
    server.fault(kind, f"/data/img.zarr/{CHUNK}", times=2)
    start = time.monotonic()
    plane = image.levels[0][PLANE]
    elapsed = time.monotonic() - start
    assert np.array_equal(plane, data[PLANE])
    assert server.hits[f"/data/img.zarr/{CHUNK}"] == 3  # two faults, then the data
    assert elapsed < DEADLINE_S


@pytest.mark.parametrize("scheme", ["http", "s3"])
@pytest.mark.parametrize("kind", ["slowdown", "reset", "truncated"])
def test_persistent_faults_give_one_error_naming_key_fault_attempts(server, scheme, kind) -> None:
    image = open_on(server, scheme, retry=FAST)
    server.fault(kind, f"/data/img.zarr/{CHUNK}")
    start = time.monotonic()
    with pytest.raises(
        FetchError, match=rf"reading chunk '{CHUNK}' of .*img.zarr failed after 4 attempts"
    ) as info:
        image.levels[0][PLANE]
    assert time.monotonic() - start < DEADLINE_S + 0.5
    assert server.hits[f"/data/img.zarr/{CHUNK}"] == 4  # bounded: no hidden client retries
    expected = {"slowdown": "503", "reset": "Error", "truncated": "Error"}[kind]
    assert expected in info.value.reason


@pytest.mark.parametrize("scheme", ["http", "s3"])
def test_a_stalled_chunk_fails_within_the_deadline(server, scheme) -> None:
    # Open under the default policy: the first S3 request of a session builds its TLS context in a
    # thread, which took over 1 s once on a busy CI machine and failed the metadata read instead.
    image = open_on(server, scheme)
    store = image.levels[0].store
    assert isinstance(store, ReliableStore)
    store.retry = RetryPolicy(attempts=3, backoff_s=0.01, deadline_s=1.0)  # the chunk's deadline
    server.fault("stall", f"/data/img.zarr/{CHUNK}")
    start = time.monotonic()
    with pytest.raises(FetchError, match=rf"chunk '{CHUNK}'.*TimeoutError.*1 s deadline"):
        image.levels[0][PLANE]
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("scheme", ["http", "s3"])
def test_permanent_faults_are_not_retried(server, scheme) -> None:
    image = open_on(server, scheme, retry=FAST, strict=False)
    server.fault("forbidden", f"/data/img.zarr/{CHUNK}")
    with pytest.raises(FetchError, match=rf"chunk '{CHUNK}'.* 1 attempt.*HTTP 403.*not retried"):
        image.levels[0][PLANE]
    assert server.hits[f"/data/img.zarr/{CHUNK}"] == 1
    assert set(PERMANENT) == {"missing", "forbidden"}


@pytest.mark.parametrize("scheme", ["http", "s3"])
def test_a_404_chunk_is_an_error_in_strict_mode_and_zeros_otherwise(server, scheme) -> None:
    server.fault("missing", f"/data/img.zarr/{CHUNK}")
    strict = open_on(server, scheme, retry=FAST, strict=True)
    assert strict.strict
    with pytest.raises(
        MissingChunkError, match=rf"chunk '{CHUNK}' of .*img.zarr is missing.*strict=False"
    ) as info:
        strict.levels[0][PLANE]
    assert info.value.key == CHUNK
    assert server.hits[f"/data/img.zarr/{CHUNK}"] == 1  # absent is absent: not retried
    loose = open_on(server, scheme, retry=FAST, strict=False)
    assert not loose.strict
    assert not loose.levels[0][PLANE][32:, :32].any()  # Zarr's fill-value trap, as documented


def test_retry_after_is_honoured_and_capped(server, image_dir) -> None:
    _root, data = image_dir
    policy = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.5, deadline_s=5)
    image = open_on(server, "http", retry=policy)
    server.fault("slowdown", f"/data/img.zarr/{CHUNK}", times=1, retry_after="0.3")
    start = time.monotonic()
    assert np.array_equal(image.levels[0][PLANE], data[PLANE])
    assert 0.3 <= time.monotonic() - start < 1.0
    server.clear()
    server.fault("slowdown", f"/data/img.zarr/{CHUNK}", times=1, retry_after="120")
    start = time.monotonic()
    assert np.array_equal(image.levels[0][PLANE], data[PLANE])
    assert 0.5 <= time.monotonic() - start < 1.5  # capped by max_backoff_s


def test_metadata_reads_are_retried_too(server) -> None:
    fault = server.fault("slowdown", "/data/img.zarr/zarr.json", times=2)
    image = open_on(server, "s3", retry=FAST)
    assert image.axes == ["c", "z", "y", "x"]
    assert fault.applied == 2 and server.hits["/data/img.zarr/zarr.json"] >= 3


def test_missing_chunks_over_http_and_on_disk(server, image_dir, tmp_path) -> None:
    root, _data = image_dir
    server.fault("missing", f"/data/img.zarr/{CHUNK}")
    server.fault("slowdown", "/data/img.zarr/0/c/0/0/0/0", times=1)  # retried, not "absent"
    image = open_on(server, "http", retry=FAST, strict=False)
    assert missing_chunks(image) == [CHUNK.removeprefix("0/")]
    assert missing_chunks(image, region=(0, 0)) == []
    local = tmp_path / "img.zarr"
    write_image(local, "0.4")
    (local / "0" / "1.2.1.1").unlink()  # Zarr v2 keys: "."-separated
    assert missing_chunks(open_image(local, strict=False)) == ["1.2.1.1"]


def test_missing_chunks_and_strict_default_on_the_course_bucket(image_dir, tmp_path) -> None:
    """A private cloud serving a copy with one chunk deleted: the public bucket is read strictly."""
    import shutil

    shutil.copytree(image_dir[0] / "img.zarr", tmp_path / "img.zarr")
    (tmp_path / "img.zarr" / CHUNK).unlink()
    with start_cloud(latency_ms=0, data=tmp_path) as cloud:
        image = open_image(cloud.s3_url("img.zarr"), endpoint=cloud.endpoint, retry=FAST)
        assert image.strict and is_course_location(parse_location(cloud.s3_url("img.zarr")))
        assert missing_chunks(image) == [CHUNK.removeprefix("0/")]
        with pytest.raises(MissingChunkError, match=CHUNK):
            image.levels[0][PLANE]
        assert np.array_equal(image.levels[0][0, 0], image_dir[1][0, 0])  # the rest reads fine
        labels = image.open_labels()
        assert not labels.strict  # label images leave out their empty chunks on purpose
        assert np.max(labels.levels[0][0, 1]) == 7
        assert len(missing_chunks(labels)) == 11  # 12 chunks, one holds a label
        with pytest.raises(MissingChunkError, match=r"labels/cells/0/c/0/0/0/\d"):
            image.open_labels(strict=True).levels[0][0, 0]


def test_course_locations_are_strict_by_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert is_course_location(parse_location("s3://course-data/v0.4/x.zarr"))
    assert is_course_location(parse_location("http://127.0.0.1:9000/course-data/v0.4/x.zarr"))
    assert is_course_location(parse_location(str(tmp_path / "samples" / "x.zarr")))
    assert not is_course_location(parse_location("s3://course-scratch/labels.zarr"))
    assert not is_course_location(parse_location("https://example.org/course-data/x.zarr"))
    assert not is_course_location(parse_location(str(tmp_path / "elsewhere.zarr")))


def test_classify_fault_sorts_store_errors() -> None:
    import aiohttp

    assert isinstance(classify_fault(aiohttp.ClientPayloadError("cut")), RetryableError)
    assert isinstance(classify_fault(ConnectionResetError("reset")), RetryableError)
    assert isinstance(classify_fault(TimeoutError()), RetryableError)
    assert isinstance(classify_fault(FileNotFoundError("k")), PermanentError)
    assert classify_fault(KeyError("bug")) is None and classify_fault(ValueError("x")) is None
    slow = aiohttp.ClientResponseError(
        None,  # type: ignore[arg-type]
        (),
        status=503,
        message="Slow Down",
        headers={"Retry-After": "2"},  # type: ignore[arg-type]
    )
    fault = classify_fault(slow)
    assert isinstance(fault, RetryableError) and (fault.status, fault.retry_after_s) == (503, 2.0)
    wrapped = OSError(16, "SlowDown")
    cause: Any = type("ClientError", (Exception,), {})()  # botocore's, as s3fs chains it
    cause.response = {
        "Error": {"Code": "SlowDown"},
        "ResponseMetadata": {"HTTPStatusCode": 503, "HTTPHeaders": {}},
    }
    wrapped.__cause__ = cause
    assert classify_fault(wrapped).reason == "HTTP 503 (SlowDown)"  # type: ignore[union-attr]


def test_the_store_survives_pickling_as_in_a_dask_worker(server) -> None:
    image = open_on(server, "s3", retry=FAST, strict=True)
    store = array_store(image.levels[0])
    copy = pickle.loads(pickle.dumps(store))
    assert isinstance(copy, ReliableStore) and copy.strict and copy.retry == FAST
    assert copy._store.fs.retries == 1  # type: ignore[attr-defined]  # s3fs: no own retries
    assert zarr.open_array(copy, path="0", mode="r").shape == (2, 3, 64, 64)
    assert store.fs is copy._store.fs and store.path == "data/img.zarr"  # as FsspecStore's
