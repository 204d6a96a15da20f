"""The local cloud's only door is the proxy, and the public bucket stays read-only whatever the request.

Each test sends one kind of attack as raw HTTP (so nothing normalises it on the way), asserts the refusal
(status and S3 error code) and that the public bucket is unchanged afterwards.
"""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import psutil
import pytest
import s3fs

from course_tools import REPO_ROOT
from helpers.catalog import open_image
from helpers.cloud import Cloud

IMAGE = "v0.4/idr0062A/6001240.zarr"
EXISTING = f"{IMAGE}/.zattrs"


@dataclass
class Answer:
    status: int
    code: str
    body: bytes
    headers: http.client.HTTPMessage


def send(
    endpoint: str,
    method: str,
    path: str,
    body: bytes = b"",
    host: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One raw HTTP request: the path and Host header go out exactly as given."""
    address, port = endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(address, int(port), timeout=15)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"{address}:{port}")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    code = re.search(rb"<Code>(.*?)</Code>", data)
    return Answer(answer.status, code.group(1).decode() if code else "", data, answer.headers)


def first_page(cloud: Cloud) -> list[tuple[str, str]]:
    """(key, ETag) of the public bucket's first 50 objects, in S3's order (new keys like K sort first)."""
    answer = send(cloud.endpoint, "GET", f"/{cloud.public_bucket}?list-type=2&max-keys=50")
    assert answer.status == 200, answer
    keys = re.findall(rb"<Key>(.*?)</Key>", answer.body)
    etags = re.findall(rb"<ETag>(.*?)</ETag>", answer.body)
    return list(zip([k.decode() for k in keys], [e.decode() for e in etags], strict=True))


def etag(cloud: Cloud, key: str) -> str | None:
    """The ETag of a public object over HEAD, or ``None`` if it does not exist."""
    answer = send(cloud.endpoint, "HEAD", f"/{cloud.public_bucket}/{key}")
    assert answer.status in (200, 404), answer
    return None if answer.status == 404 else answer.headers["ETag"]


@pytest.fixture(scope="module")
def public(cloud: Cloud) -> Iterator[dict]:
    """The public bucket's state before the attacks; after them, checked once in full.

    The session's cloud runs at latency 0 meanwhile (the rules do not depend on it), to keep this fast.
    """
    latency = cloud.status().latency_ms
    cloud.set_conditions(latency_ms=0)
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    before = {k: v["ETag"] for k, v in fs.find(cloud.public_bucket, detail=True).items()}
    try:
        yield {"page": first_page(cloud), "existing": etag(cloud, EXISTING)}
        fs.invalidate_cache()
        after = {k: v["ETag"] for k, v in fs.find(cloud.public_bucket, detail=True).items()}
        assert after == before, "the public bucket changed during the security tests"
    finally:
        cloud.set_conditions(latency_ms=latency)


@pytest.fixture()
def unchanged(cloud: Cloud, public: dict) -> Iterator[None]:
    """Assert after the test that the public bucket holds what it held (no new K, no deletions)."""
    yield
    assert first_page(cloud) == public["page"]
    assert etag(cloud, EXISTING) == public["existing"]
    for key in ("K", "course-data/K", "intruder", "x/K"):
        assert etag(cloud, key) is None, f"{key} was created in the public bucket"


def refused(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer
    assert b"<Message>" in answer.body


@pytest.mark.parametrize(
    "path",
    [
        "/course-scratch/../course-data/K",
        "/course-scratch/x/../../course-data/K",
        "/course-data/./K",
        "/course-scratch/..",
    ],
)
def test_dot_segments_are_refused(cloud: Cloud, unchanged: None, path: str) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize(
    "path",
    [
        "/course-scratch/%2e%2e/course-data/K",
        "/course-scratch/%2E%2E/course-data/K",
        "/course-scratch/.%2e/course-data/K",
        "/course-scratch/%252e%252e/course-data/K",  # encoded twice
        "/course-data/%2e/K",
    ],
)
def test_percent_encoded_dot_segments_are_refused(cloud: Cloud, unchanged: None, path: str) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize(
    "path",
    [
        "/course-scratch%2f..%2fcourse-data/K",
        "/course-scratch/..%2Fcourse-data%2FK",
        "/course-scratch/%5c..%5ccourse-data/K",
        "/course-scratch/%252fK",
    ],
)
def test_encoded_slashes_are_refused(cloud: Cloud, unchanged: None, path: str) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize("path", ["/course-scratch/..\\course-data\\K", "/course-data\\K"])
def test_backslashes_are_refused(cloud: Cloud, unchanged: None, path: str) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize("path", ["//course-data/K", "/course-scratch//K", "/course-data//K"])
def test_double_slashes_are_refused(cloud: Cloud, unchanged: None, path: str) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize(
    "host", ["course-data.example", "course-data.127.0.0.1", "course-data.localhost:{port}"]
)
def test_virtual_host_style_host_headers_are_refused(
    cloud: Cloud, unchanged: None, host: str
) -> None:
    host = host.format(port=cloud.endpoint.rsplit(":", 1)[1])
    refused(send(cloud.endpoint, "PUT", "/K", b"no", host=host), 400, "InvalidRequest")
    refused(send(cloud.endpoint, "GET", f"/{EXISTING}", host=host), 400, "InvalidRequest")
    answer = send(cloud.endpoint, "GET", "/_cloud/status", host=host)  # no DNS-rebinding control
    assert answer.status == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/moto-api/reset"), ("GET", "/moto-api/data.json"), ("GET", "/moto-api/")],
)
def test_moto_api_is_not_reachable(cloud: Cloud, unchanged: None, method: str, path: str) -> None:
    answer = send(cloud.endpoint, method, path)
    refused(answer, 403, "AccessDenied")
    assert b"course-data" not in answer.body.split(b"<Message>")[0]  # no state dumped


@pytest.mark.parametrize("path", ["/other-bucket/K", "/favicon.ico", "/course-data-2/K"])
def test_paths_outside_the_two_buckets_are_refused(
    cloud: Cloud, unchanged: None, path: str
) -> None:
    refused(send(cloud.endpoint, "PUT", path, b"no"), 403, "AccessDenied")
    refused(send(cloud.endpoint, "GET", path), 403, "AccessDenied")


def test_absolute_form_request_targets_are_refused(cloud: Cloud, unchanged: None) -> None:
    path = "http://course-data.example/K"
    refused(send(cloud.endpoint, "PUT", path, b"no"), 400, "InvalidRequest")


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "put", "Delete", "OPTIONS"])
def test_public_bucket_refuses_every_write_whatever_the_spelling(
    cloud: Cloud, unchanged: None, method: str
) -> None:
    for path in ("/course-data/K", f"/course-data/{EXISTING}", "/course-data", "/course-data/"):
        answer = send(cloud.endpoint, method, path, b"no")
        if method.isupper():
            refused(answer, 403, "AccessDenied")
        else:  # not a method HTTP knows: the server's parser refuses it before the proxy sees it
            assert answer.status == 400, answer


def test_delete_of_an_existing_public_object_is_refused(cloud: Cloud, unchanged: None) -> None:
    refused(send(cloud.endpoint, "DELETE", f"/course-data/{EXISTING}"), 403, "AccessDenied")
    delete = (
        b"<Delete><Object><Key>" + EXISTING.encode() + b"</Key></Object></Delete>"
    )  # DeleteObjects
    refused(send(cloud.endpoint, "POST", "/course-data?delete", delete), 403, "AccessDenied")
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    with pytest.raises(PermissionError):
        fs.rm(f"{cloud.public_bucket}/{EXISTING}")


def test_multipart_upload_to_the_public_bucket_is_refused(cloud: Cloud, unchanged: None) -> None:
    refused(send(cloud.endpoint, "POST", "/course-data/K?uploads"), 403, "AccessDenied")
    refused(
        send(cloud.endpoint, "PUT", "/course-data/K?partNumber=1&uploadId=x", b"no"),
        403,
        "AccessDenied",
    )
    refused(send(cloud.endpoint, "POST", "/course-data/K?uploadId=x"), 403, "AccessDenied")
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    with pytest.raises(PermissionError), fs.open("course-data/K", "wb", block_size=5 * 2**20) as f:
        f.write(b"x" * (6 * 2**20))  # more than one block: a multipart upload


def test_method_override_headers_do_not_turn_a_read_into_a_write(
    cloud: Cloud, unchanged: None
) -> None:
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X_HTTP_Method_Override"):
        answer = send(cloud.endpoint, "GET", "/course-data/K", b"", headers={header: "PUT"})
        assert answer.status == 404, answer


def test_buckets_themselves_cannot_be_changed(cloud: Cloud, unchanged: None) -> None:
    for method, path in [
        ("DELETE", "/course-scratch"),
        ("PUT", "/course-scratch?policy"),
        ("DELETE", "/course-scratch/?policy"),
        ("PUT", "/new-bucket"),
        ("PUT", "/"),
        ("DELETE", "/"),
    ]:
        answer = send(cloud.endpoint, method, path, b"{}")
        assert answer.status == 403 and answer.code == "AccessDenied", (method, path, answer)
    assert send(cloud.endpoint, "HEAD", "/course-scratch").status == 200


def backend_ports(cloud: Cloud) -> list[int]:
    assert cloud.process is not None
    proxy_port = int(cloud.endpoint.rsplit(":", 1)[1])
    children = psutil.Process(cloud.process.pid).children(recursive=True)
    return [
        c.laddr.port
        for p in children
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port != proxy_port
    ]


def test_the_backend_refuses_requests_that_skip_the_proxy(cloud: Cloud, unchanged: None) -> None:
    ports = backend_ports(cloud)
    assert ports, "moto listens somewhere"
    for port in ports:
        direct = f"http://127.0.0.1:{port}"
        refused(send(direct, "GET", f"/course-data/{EXISTING}"), 403, "AccessDenied")
        refused(send(direct, "PUT", "/course-data/K", b"no"), 403, "AccessDenied")
        refused(send(direct, "PUT", "/course-scratch/direct", b"no"), 403, "AccessDenied")
        refused(send(direct, "POST", "/moto-api/reset"), 403, "AccessDenied")
        guess = {"X-Course-Cloud-Secret": "guess"}
        refused(send(direct, "GET", "/", headers=guess), 403, "AccessDenied")
    assert send(cloud.endpoint, "GET", "/course-scratch/direct").status == 404


def test_a_secret_header_sent_by_a_client_is_not_needed_nor_used(cloud: Cloud) -> None:
    headers = {"X-Course-Cloud-Secret": "wrong"}
    assert send(cloud.endpoint, "GET", f"/course-data/{EXISTING}", headers=headers).status == 200


def test_s3fs_reads_lists_and_scratch_writes_still_work(cloud: Cloud, unchanged: None) -> None:
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    buckets = send(cloud.endpoint, "GET", "/")  # ListBuckets (s3fs does not send it when anonymous)
    assert buckets.status == 200 and b"<Name>course-scratch</Name>" in buckets.body
    assert fs.exists(cloud.public_bucket)  # HEAD bucket
    assert f"{cloud.public_bucket}/{EXISTING}" in fs.ls(f"{cloud.public_bucket}/{IMAGE}")
    assert b"multiscales" in fs.cat(f"{cloud.public_bucket}/{EXISTING}")
    assert fs.cat(f"{cloud.public_bucket}/{EXISTING}", start=2, end=10)  # ranged GET
    scratch = f"{cloud.scratch_bucket}/security-test"
    fs.pipe({f"{scratch}/a.txt": b"a", f"{scratch}/b c+d.txt": b"b"})  # spaces and plus signs
    with fs.open(f"{scratch}/big.bin", "wb", block_size=5 * 2**20) as f:
        f.write(b"y" * (6 * 2**20))  # multipart upload to the scratch bucket
    assert fs.cat(f"{scratch}/b c+d.txt") == b"b"
    assert fs.size(f"{scratch}/big.bin") == 6 * 2**20
    fs.rm(scratch, recursive=True)  # DeleteObjects on the scratch bucket
    fs.invalidate_cache()
    assert not fs.exists(f"{scratch}/a.txt")


def test_zarr_reads_through_open_image_still_work(cloud: Cloud, unchanged: None, samples) -> None:
    reference = open_image(samples / IMAGE).levels[1][1, 100:102]
    for url in (cloud.s3_url(IMAGE), cloud.url(IMAGE)):
        assert np.array_equal(open_image(url).levels[1][1, 100:102], reference), url


def test_serving_beyond_loopback_needs_the_flag_and_warns(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "course_tools", "cloud", "serve", "--host", "0.0.0.0"]
            + ["--port", str(port), "--data", str(tmp_path), "--no-state-file"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
    lines = out.stderr.splitlines()
    assert lines[0].startswith("warning: serving on 0.0.0.0, not 127.0.0.1"), out.stderr
    assert lines[1].startswith("error: port") and out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
