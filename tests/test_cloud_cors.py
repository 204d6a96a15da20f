"""The local cloud speaks CORS, so browser viewers (Neuroglancer, vizarr) can read it from any page.

Against a private cloud (moto behind the latency proxy) holding one tiny public store: every answer
carries ``Access-Control-Allow-Origin: *`` and exposes ``Content-Range``, ``Content-Length``,
``ETag`` and ``Accept-Ranges`` -- a 200, a 206 range, a HEAD, a 404, a refused write, a refused path,
a 503 fault and the control paths alike -- and preflights (``OPTIONS`` with
``Access-Control-Request-Method``) are answered by the proxy itself after the door rules judged the
announced request: a GET with ``Range`` passes, a PUT to the public bucket is refused, a plain
``OPTIONS`` is still refused, and a preflight waits for the latency like any request.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from course_tools.cloud.cors import ALLOWED_HEADERS, EXPOSED_HEADERS
from course_tools.cloud.launch import start_cloud
from helpers.cloud import Cloud

STORE = "tiny.zarr"
BLOB = f"{STORE}/0/c/0/0"
BODY = bytes(range(256)) * 4  # 1024 known bytes
ORIGIN = "http://127.0.0.1:1"  # a page on another origin (another port is another origin)


@pytest.fixture(scope="module")
def cors_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A private cloud without latency; its public bucket holds ``tiny.zarr`` (metadata + 1 KB)."""
    data = tmp_path_factory.mktemp("cors-data")
    store = data / STORE
    (store / "0" / "c" / "0").mkdir(parents=True)
    (store / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group"}))
    (data / BLOB).write_bytes(BODY)
    with start_cloud(latency_ms=0, data=Path(data)) as running:
        yield running


def send(
    cloud: Cloud, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request as a browser page on ``ORIGIN`` sends it: (status, lower-case headers, body)."""
    where = urlparse(cloud.endpoint)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Origin": ORIGIN, **(headers or {})})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def assert_cors(headers: dict[str, str]) -> None:
    assert headers.get("access-control-allow-origin") == "*", headers
    exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
    assert {"content-range", "content-length", "etag", "accept-ranges"} <= exposed, exposed


def preflight(cloud: Cloud, path: str, method: str = "GET", headers: str = "range") -> tuple:
    return send(
        cloud,
        "OPTIONS",
        path,
        {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_a_preflight_for_a_range_get_is_answered_by_the_proxy(cors_cloud: Cloud) -> None:
    before = cors_cloud.reset_stats()
    assert before.requests == 0
    status, headers, body = preflight(cors_cloud, f"/{cors_cloud.public_bucket}/{BLOB}")
    assert (status, body) == (204, b"")
    assert_cors(headers)
    methods = {m.strip() for m in headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "HEAD"}
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert "range" in allowed and allowed == {h.lower() for h in ALLOWED_HEADERS}
    assert int(headers["access-control-max-age"]) >= 600
    assert "access-control-allow-private-network" not in headers  # not asked for
    assert cors_cloud.status().requests_by_method == {"OPTIONS": 1}


def test_a_preflight_from_a_public_page_may_read_the_private_address(cors_cloud: Cloud) -> None:
    status, headers, _ = send(
        cors_cloud,
        "OPTIONS",
        f"/{cors_cloud.public_bucket}/{BLOB}",
        {"Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"},
    )
    assert status == 204 and headers["access-control-allow-private-network"] == "true"


def test_a_preflight_is_never_forwarded_to_the_store(cors_cloud: Cloud) -> None:
    # moto has no CORS rules: a forwarded preflight would come back 403 or 404, not 204.
    for key in (BLOB, "no/such/key"):
        status, headers, _ = preflight(cors_cloud, f"/{cors_cloud.public_bucket}/{key}")
        assert status == 204, key
        assert_cors(headers)


def test_a_preflight_passes_the_door_rules_as_the_request_it_announces(cors_cloud: Cloud) -> None:
    public, scratch = cors_cloud.public_bucket, cors_cloud.scratch_bucket
    status, headers, body = preflight(cors_cloud, f"/{public}/{BLOB}", "PUT", "content-type")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"read-only" in body
    assert_cors(headers)
    status, headers, _ = preflight(cors_cloud, f"/{scratch}/results/a.png", "PUT", "content-type")
    assert status == 204  # the scratch bucket takes writes: the preflight allows the PUT
    assert headers["access-control-allow-methods"] == "GET, HEAD, PUT"
    status, headers, body = preflight(cors_cloud, f"/{public}/%2e%2e/{scratch}/K")
    assert status == 400 and b"InvalidRequest" in body  # the path rules apply to preflights too
    assert_cors(headers)
    status, headers, body = send(cors_cloud, "OPTIONS", f"/{public}/{BLOB}")  # not a preflight
    assert status == 403 and b"AccessDenied" in body
    assert_cors(headers)


def test_a_preflight_waits_for_the_latency(cors_cloud: Cloud) -> None:
    cors_cloud.set_conditions(latency_ms=150)
    try:
        started = time.perf_counter()
        status, _, _ = preflight(cors_cloud, f"/{cors_cloud.public_bucket}/{BLOB}")
        elapsed = time.perf_counter() - started
    finally:
        cors_cloud.set_conditions(latency_ms=0)
    assert status == 204
    assert 0.14 <= elapsed < 1.0, elapsed


@pytest.mark.parametrize(
    ("method", "where", "headers", "expected"),
    [
        ("GET", f"public/{BLOB}", {}, 200),
        ("GET", f"public/{BLOB}", {"Range": "bytes=100-199"}, 206),
        ("HEAD", f"public/{BLOB}", {}, 200),
        ("GET", f"public/{STORE}/missing", {}, 404),
        ("PUT", f"public/{STORE}/new", {}, 403),  # the public bucket is read-only
        ("DELETE", f"public/{BLOB}", {}, 403),
        ("GET", "other-bucket/K", {}, 403),  # a path outside the two buckets
        ("GET", "public/a//b", {}, 400),  # a malformed path
        ("GET", "/_cloud/status", {}, 200),  # the control paths
        ("GET", "/_cloud/nothing", {}, 404),
    ],
)
def test_every_answer_carries_the_cors_headers(
    cors_cloud: Cloud, method: str, where: str, headers: dict[str, str], expected: int
) -> None:
    path = where if where.startswith("/") else "/" + where
    path = path.replace("/public/", f"/{cors_cloud.public_bucket}/", 1)
    status, got, body = send(cors_cloud, method, path, headers, b"x" if method == "PUT" else b"")
    assert status == expected, body[:300]
    assert_cors(got)
    if status == 206:
        assert got["content-range"] == f"bytes 100-199/{len(BODY)}"
        assert body == BODY[100:200]
    if status == 200 and "/_cloud/" not in path:
        assert got["etag"] and int(got["content-length"]) == len(BODY)
        assert body == (BODY if method == "GET" else b"")


def test_fault_answers_and_scratch_writes_carry_the_cors_headers(cors_cloud: Cloud) -> None:
    with cors_cloud.fault("slowdown", keys=BLOB, retry_after_s=1):
        status, headers, _ = send(cors_cloud, "GET", f"/{cors_cloud.public_bucket}/{BLOB}")
    assert status == 503 and headers["retry-after"] == "1"
    assert_cors(headers)
    assert "retry-after" in headers["access-control-expose-headers"].lower()
    path = f"/{cors_cloud.scratch_bucket}/cors/k"
    status, headers, _ = send(cors_cloud, "PUT", path, {}, b"written")
    assert status == 200
    assert_cors(headers)
    assert send(cors_cloud, "DELETE", path)[0] == 204


def test_the_exposed_headers_are_the_documented_ones() -> None:
    assert {"Content-Range", "Content-Length", "ETag", "Accept-Ranges"} <= set(EXPOSED_HEADERS)
