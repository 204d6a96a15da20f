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

import base64
import http.client
import time
import zlib
from collections.abc import Iterator
from urllib.parse import urlparse

import numpy as np
import pytest

from helpers.cloud import Cloud, CloudStatus, start_cloud

SIZE = 1_000_000
BODY = np.random.default_rng(10).bytes(SIZE)
KEY = "ranges/one-megabyte"


@pytest.fixture(scope="module")
def ranged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A private cloud without latency, a 1 MB object of known bytes in its scratch bucket."""
    with start_cloud(latency_ms=0, data=tmp_path_factory.mktemp("no-samples")) as running:
        status, _, _ = request(running, "PUT", body=BODY)
        assert status == 200
        yield running


def request(
    cloud: Cloud,
    method: str,
    range_: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    key: str = KEY,
) -> tuple[int, dict[str, str], bytes]:
    """One request for ``key`` in the scratch bucket: (status, headers, body)."""
    where = urlparse(cloud.endpoint)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        headers = dict(headers or {}) | ({} if range_ is None else {"Range": range_})
        connection.request(method, f"/{cloud.scratch_bucket}/{key}", body=body, headers=headers)
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
    ranged.reset_stats()
    for start in (0, 500_000, 999_900):
        assert request(ranged, "GET", f"bytes={start}-{start + 99}")[0] == 206
    status = ranged.status()
    assert status.requests_by_method == {"GET": 3}
    assert status.range_requests == 3
    assert status.range_bytes == 300
    assert status.bytes_sent == 300  # not 3 MB: only the ranges left the proxy

    assert request(ranged, "GET")[0] == 200  # a whole object: bytes, but no range
    assert request(ranged, "HEAD", "bytes=0-9")[0] == 206  # a HEAD sends no body
    status = ranged.status()
    assert (status.range_requests, status.range_bytes) == (3, 300)
    assert status.bytes_sent == 300 + SIZE
    assert status.requests_by_method == {"GET": 4, "HEAD": 1}

    assert request(ranged, "GET", "bytes=-1000")[0] == 206
    assert (ranged.status().range_requests, ranged.status().range_bytes) == (4, 1300)
    after = ranged.reset_stats()
    assert (after.requests, after.bytes_sent, after.range_requests, after.range_bytes) == (0,) * 4


def test_a_plain_get_has_the_headers_moto_gives(ranged: Cloud) -> None:
    """The backend answers plain and ranged GETs from the stored bytes (FastReads), not via moto.

    A query string sends the same GET through moto: both answers must agree, stored metadata
    included, and conditional GETs stay moto's (304 for a matching ETag).
    """
    stored = {"Content-Type": "text/plain", "Cache-Control": "no-cache", "x-amz-meta-stain": "DAPI"}
    assert request(ranged, "PUT", body=b"nuclei", headers=stored, key="meta/k")[0] == 200
    fast = request(ranged, "GET", key="meta/k")
    moto = request(ranged, "GET", key="meta/k?x-id=GetObject")
    assert fast[0] == moto[0] == 200 and fast[2] == moto[2] == b"nuclei"
    compared = ["content-type", "cache-control", "x-amz-meta-stain", "etag", "last-modified"]
    compared += ["content-length", "accept-ranges"]
    assert {h: fast[1].get(h) for h in compared} == {h: moto[1].get(h) for h in compared}
    assert fast[1]["content-type"] == "text/plain" and fast[1]["x-amz-meta-stain"] == "DAPI"
    assert "x-amzn-requestid" in moto[1] and "x-amzn-requestid" not in fast[1]  # who answered
    part = request(ranged, "GET", "bytes=1-3", key="meta/k")
    assert (part[0], part[2], part[1]["content-range"]) == (206, b"ucl", "bytes 1-3/6")
    assert part[1]["x-amz-meta-stain"] == "DAPI"
    etag = fast[1]["etag"]
    assert request(ranged, "GET", headers={"If-None-Match": etag}, key="meta/k")[0] == 304
    assert request(ranged, "GET", headers={"If-Match": '"other"'}, key="meta/k")[0] == 412
    assert request(ranged, "GET", key="meta/absent")[0] == 404
    # botocore asks for the stored checksum on every GET: an object PUT with one gets it back
    crc = base64.b64encode(zlib.crc32(b"nuclei").to_bytes(4, "big")).decode()
    sums = {"x-amz-checksum-crc32": crc, "x-amz-sdk-checksum-algorithm": "CRC32"}
    assert request(ranged, "PUT", body=b"nuclei", headers=sums, key="meta/sum")[0] == 200
    ask = {"x-amz-checksum-mode": "ENABLED"}
    assert request(ranged, "GET", headers=ask, key="meta/sum")[1]["x-amz-checksum-crc32"] == crc
    assert "x-amz-checksum-crc32" not in request(ranged, "GET", headers=ask, key="meta/k")[1]


def test_the_bandwidth_cap_slows_range_answers(ranged: Cloud) -> None:
    ranged.set_conditions(bandwidth_mbps=16)  # 2 MB/s
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
        ranged.set_conditions(bandwidth_mbps=None)


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
    assert CloudStatus.from_dict(status.as_dict()) == status
    assert CloudStatus.from_dict({**old, "range_requests": 5, "range_bytes": 7}).range_bytes == 7
