"""The local cloud serves byte ranges like S3 and counts them (readers of sharded Zarr rely on it).

A shard is one object holding many inner chunks; a reader fetches each inner chunk with an HTTP
``Range`` request. These tests check, against a real local cloud (moto behind the latency proxy, a
private one so the counters are exact), that ranges are answered as S3 does, that the status
counts them and the bytes actually sent, and that the bandwidth cap throttles range answers too.

What moto does (checked here or noted): ``206 Partial Content`` with ``Content-Range`` for
``bytes=a-b``, ``bytes=-N`` (suffix) and ``bytes=a-`` (open), an end past the object clipped to it;
``416 InvalidRange`` for a start past the end; HEAD says ``Accept-Ranges: bytes``. Like S3, it
answers ``200`` with the whole object for several ranges at once (``bytes=0-9,20-29``) or a
malformed one (``bytes=5-3``). Unlike S3, it also honours a unit other than bytes (``items=0-9``
gives ``206``); no client sends that, so the proxy leaves it alone.
"""

from __future__ import annotations

import dataclasses
import http.client
import time
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import pytest

from course_tools.cloud.launch import start_cloud
from helpers.cloud import Cloud, CloudStatus

SIZE = 1_000_000
BODY = np.random.default_rng(10).bytes(SIZE)
KEY = "ranges/one-megabyte"


class Served(NamedTuple):
    """A cloud, and the bucket of it a test reads."""

    cloud: Cloud
    bucket: str


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A private cloud without latency, a 1 MB object of known bytes in both buckets.

    In the public bucket it is a file of the cloud's data folder; in the scratch bucket, PUT into moto.
    """
    data = tmp_path_factory.mktemp("data")
    (data / KEY).parent.mkdir(parents=True)
    (data / KEY).write_bytes(BODY)
    with start_cloud(latency_ms=0, data=data) as running:
        status, _, _ = request(Served(running, running.scratch_bucket), "PUT", body=BODY)
        assert status == 200
        yield running


@pytest.fixture(
    params=["public", "scratch"], ids=["public bucket, from disk", "scratch bucket, moto"]
)
def ranged(private: Cloud, request: pytest.FixtureRequest) -> Served:
    """The 1 MB object as each bucket serves it: the same answers are expected from both."""
    return Served(private, getattr(private, f"{request.param}_bucket"))


def request(
    served: Served,
    method: str,
    range_: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    key: str = KEY,
) -> tuple[int, dict[str, str], bytes]:
    """One request for ``key`` in the bucket of ``served``: (status, headers, body)."""
    where = urlparse(served.cloud.endpoint)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        headers = dict(headers or {}) | ({} if range_ is None else {"Range": range_})
        connection.request(method, f"/{served.bucket}/{key}", body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("range_", "first", "last"),
    [
        ("bytes=100-199", 100, 199),
        ("bytes=0-0", 0, 0),
        ("bytes=-100", SIZE - 100, SIZE - 1),  # suffix: the last 100 bytes
        ("bytes=999000-", 999_000, SIZE - 1),  # open: to the end
        ("bytes=999990-2000000", 999_990, SIZE - 1),  # an end past the object is clipped
    ],
)
def test_a_range_is_answered_206_with_its_bytes(
    ranged: Cloud, range_: str, first: int, last: int
) -> None:
    status, headers, body = request(ranged, "GET", range_)
    assert status == 206
    assert headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert int(headers["content-length"]) == last - first + 1
    assert body == BODY[first : last + 1]


def test_a_range_past_the_end_is_416(ranged: Cloud) -> None:
    status, _, body = request(ranged, "GET", f"bytes={SIZE}-{SIZE + 100}")
    assert status == 416
    assert b"<Code>InvalidRange</Code>" in body


@pytest.mark.parametrize("range_", ["bytes=0-9,20-29", "bytes=5-3"])
def test_several_or_malformed_ranges_give_the_whole_object_like_s3(
    ranged: Cloud, range_: str
) -> None:
    status, headers, body = request(ranged, "GET", range_)
    assert status == 200 and "content-range" not in headers
    assert body == BODY


def test_head_says_ranges_are_accepted_and_the_size(ranged: Cloud) -> None:
    status, headers, body = request(ranged, "HEAD")
    assert status == 200 and body == b""
    assert headers["accept-ranges"] == "bytes"
    assert int(headers["content-length"]) == SIZE


def test_status_counts_ranges_and_the_bytes_actually_sent(ranged: Cloud) -> None:
    ranged.cloud.reset_stats()
    for start in (0, 500_000, 999_900):
        assert request(ranged, "GET", f"bytes={start}-{start + 99}")[0] == 206
    status = ranged.cloud.status()
    assert status.requests_by_method == {"GET": 3}
    assert status.range_requests == 3
    assert status.range_bytes == 300
    assert status.bytes_sent == 300  # not 3 MB: only the ranges left the proxy

    assert request(ranged, "GET")[0] == 200  # a whole object: bytes, but no range
    assert request(ranged, "HEAD", "bytes=0-9")[0] == 206  # a HEAD sends no body
    status = ranged.cloud.status()
    assert (status.range_requests, status.range_bytes) == (3, 300)
    assert status.bytes_sent == 300 + SIZE
    assert status.requests_by_method == {"GET": 4, "HEAD": 1}

    assert request(ranged, "GET", "bytes=-1000")[0] == 206
    assert (ranged.cloud.status().range_requests, ranged.cloud.status().range_bytes) == (4, 1300)
    after = ranged.cloud.reset_stats()
    assert (after.requests, after.bytes_sent, after.range_requests, after.range_bytes) == (0,) * 4


def test_the_public_bucket_answers_conditional_gets_like_moto(private: Cloud) -> None:
    """The public bucket is read from disk, the scratch bucket by moto: S3's rules hold for both."""
    for bucket in (private.public_bucket, private.scratch_bucket):
        served = Served(private, bucket)
        status, headers, body = request(served, "GET")
        assert (status, body, headers["accept-ranges"]) == (200, BODY, "bytes")
        etag, modified = headers["etag"], headers["last-modified"]
        assert request(served, "GET", headers={"If-None-Match": etag})[0] == 304
        assert request(served, "GET", headers={"If-None-Match": '"other"'})[0] == 200
        assert request(served, "GET", headers={"If-Match": etag})[0] == 200
        assert request(served, "GET", headers={"If-Match": '"other"'})[0] == 412
        assert request(served, "GET", headers={"If-Modified-Since": modified})[0] == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert request(served, "GET", headers={"If-Unmodified-Since": old})[0] == 412
        missing = request(served, "GET", key="ranges/absent")
        assert missing[0] == 404 and b"<Code>NoSuchKey</Code>" in missing[2], bucket
        assert request(served, "HEAD", key="ranges/absent")[:3:2] == (404, b"")


def test_the_bandwidth_cap_slows_range_answers(ranged: Cloud) -> None:
    ranged.cloud.set_conditions(bandwidth_mbps=16)  # 2 MB/s
    try:
        started = time.perf_counter()
        status, _, body = request(ranged, "GET", "bytes=0-499999")
        elapsed = time.perf_counter() - started
        assert status == 206 and len(body) == 500_000
        assert 0.22 <= elapsed < 1.5, elapsed  # 500 kB at 2 MB/s: 0.25 s
        started = time.perf_counter()
        assert len(request(ranged, "GET", "bytes=0-99")[2]) == 100
        assert time.perf_counter() - started < 0.2  # 100 bytes: no wait worth measuring
    finally:
        ranged.cloud.set_conditions(bandwidth_mbps=None)


def test_status_of_an_older_cloud_without_range_counters_still_parses() -> None:
    old = {
        "endpoint": "http://127.0.0.1:1",
        "public_bucket": "course-data",
        "scratch_bucket": "course-scratch",
        "latency_ms": 100.0,
        "jitter_ms": 0.0,
        "bandwidth_mbps": None,
        "requests": 2,
        "requests_by_method": {"GET": 2},
        "bytes_sent": 10,
        "max_in_flight": 1,
    }
    status = CloudStatus.from_dict(old)
    assert (status.range_requests, status.range_bytes) == (0, 0)
    assert CloudStatus.from_dict(dataclasses.asdict(status)) == status
    assert CloudStatus.from_dict({**old, "range_requests": 5, "range_bytes": 7}).range_bytes == 7
