"""The private bucket: only requests signed (AWS Signature V4) with a course key get in, each key as far
as its rights go, and nothing else changes.

One test per rule, against a cloud of its own without latency. Requests are signed by botocore (as s3fs and
boto3 sign them) and sent as raw HTTP, so a test can change one thing after signing. Each test asserts the
status (and S3 error code) and that the private bucket's objects are what they were (or, for the writes that
are allowed, that exactly the written object changed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import numpy as np
import pytest
import s3fs
import zarr
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from course_tools.cloud.cors import ALLOWED_HEADERS
from course_tools.cloud.launch import start_cloud
from helpers.cloud import PRIVATE_REGION, READER_KEY, WRITER_KEY, Cloud

BUCKET = "course-private"
SEED = "seed/a.txt"
SEED_BYTES = b"the private bucket's first object\n"
PUBLIC_FILE = "open/hello.txt"
PUBLIC_BYTES = b"anyone may read this\n"
ORIGIN = "http://127.0.0.1:1"


@dataclass
class Answer:
    status: int
    code: str
    body: bytes
    headers: dict[str, str]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A cloud of its own without latency; the private bucket holds ``SEED``, the public one a file."""
    data = tmp_path_factory.mktemp("private-data")
    (data / PUBLIC_FILE).parent.mkdir()
    (data / PUBLIC_FILE).write_bytes(PUBLIC_BYTES)
    with start_cloud(latency_ms=0, data=Path(data)) as running:
        client(running, WRITER_KEY).put_object(Bucket=BUCKET, Key=SEED, Body=SEED_BYTES)
        yield running


def client(
    cloud: Cloud, key: tuple[str, str], region: str = PRIVATE_REGION, v4: bool = True
) -> Any:
    """A boto3 S3 client signing with ``key`` (no retries: a refusal is seen at once)."""
    config = Config(retries={"max_attempts": 1}, signature_version="s3v4" if v4 else None)
    return boto3.client(
        "s3",
        endpoint_url=cloud.endpoint,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name=region,
        config=config,
    )


def contents(cloud: Cloud) -> dict[str, bytes]:
    """Every object of the private bucket and its bytes (read with the writer's key)."""
    s3 = client(cloud, WRITER_KEY)
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture()
def unchanged(cloud: Cloud) -> Iterator[dict[str, bytes]]:
    """Assert after the test that the private bucket holds exactly what it held before."""
    before = contents(cloud)
    assert before[SEED] == SEED_BYTES
    yield before
    assert contents(cloud) == before, "the private bucket changed"


def send(
    cloud: Cloud, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """One raw HTTP request (path and headers exactly as given; Host is the endpoint's)."""
    where = urlsplit(cloud.endpoint)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    code = re.search(rb"<Code>(.*?)</Code>", data)
    found = code.group(1).decode() if code else ""
    return Answer(answer.status, found, data, {k.lower(): v for k, v in answer.getheaders()})


def signed(
    cloud: Cloud,
    method: str,
    path: str,
    key: tuple[str, str],
    body: bytes = b"",
    region: str = PRIVATE_REGION,
) -> dict[str, str]:
    """The headers botocore adds to sign ``method path`` with ``key`` (body hash included)."""
    request = AWSRequest(method=method, url=cloud.endpoint + path, data=body)
    S3SigV4Auth(Credentials(*key), "s3", region).add_auth(request)
    return dict(request.headers.items())


def presigned(cloud: Cloud, key: tuple[str, str], expires: int = 60, op: str = "get_object") -> str:
    """A presigned URL's path and query for ``op`` of ``SEED`` (SigV4, botocore)."""
    url = client(cloud, key).generate_presigned_url(
        op, Params={"Bucket": BUCKET, "Key": SEED}, ExpiresIn=expires
    )
    return url.removeprefix(cloud.endpoint)


def refused(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer


# --- anonymous ------------------------------------------------------------------------------------
def test_anonymous_get_head_and_list_are_refused(cloud: Cloud, unchanged: dict) -> None:
    refused(send(cloud, "GET", f"/{BUCKET}/{SEED}"), 403, "AccessDenied")
    refused(send(cloud, "GET", f"/{BUCKET}?list-type=2"), 403, "AccessDenied")
    assert send(cloud, "HEAD", f"/{BUCKET}/{SEED}").status == 403  # HEAD answers carry no body
    assert send(cloud, "HEAD", f"/{BUCKET}").status == 403
    refused(send(cloud, "PUT", f"/{BUCKET}/{SEED}", b"anonymous"), 403, "AccessDenied")


# --- the read-only key ----------------------------------------------------------------------------
def test_reader_may_get_head_and_list(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    answer = send(cloud, "GET", path, headers=signed(cloud, "GET", path, READER_KEY))
    assert (answer.status, answer.body) == (200, SEED_BYTES)
    head = send(cloud, "HEAD", path, headers=signed(cloud, "HEAD", path, READER_KEY))
    assert head.status == 200 and int(head.headers["content-length"]) == len(SEED_BYTES)
    listing = f"/{BUCKET}?list-type=2&prefix=seed%2F"
    answer = send(cloud, "GET", listing, headers=signed(cloud, "GET", listing, READER_KEY))
    assert answer.status == 200 and f"<Key>{SEED}</Key>".encode() in answer.body


def test_reader_put_is_refused_and_the_object_is_unchanged(cloud: Cloud, unchanged: dict) -> None:
    for key in (SEED, "seed/new.txt"):
        path, body = f"/{BUCKET}/{key}", b"overwritten"
        headers = signed(cloud, "PUT", path, READER_KEY, body)
        answer = send(cloud, "PUT", path, body, headers)
        refused(answer, 403, "AccessDenied")
        assert b"may only read" in answer.body


def test_reader_delete_and_multipart_are_refused(cloud: Cloud, unchanged: dict) -> None:
    deletion = f"<Delete><Object><Key>{SEED}</Key></Object></Delete>".encode()
    for method, path, body in [
        ("DELETE", f"/{BUCKET}/{SEED}", b""),
        ("POST", f"/{BUCKET}?delete", deletion),  # DeleteObjects
        ("POST", f"/{BUCKET}/{SEED}?uploads", b""),  # CreateMultipartUpload
    ]:
        answer = send(cloud, method, path, body, signed(cloud, method, path, READER_KEY, body))
        refused(answer, 403, "AccessDenied")


# --- the read-write key ---------------------------------------------------------------------------
def test_writer_put_then_reader_get_returns_the_exact_bytes(cloud: Cloud) -> None:
    before = contents(cloud)
    data = np.random.default_rng(0).bytes(100_000)
    client(cloud, WRITER_KEY).put_object(Bucket=BUCKET, Key="shared/blob.bin", Body=data)
    try:
        got = client(cloud, READER_KEY).get_object(Bucket=BUCKET, Key="shared/blob.bin")
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["Body"].read() == data
        assert contents(cloud) == {**before, "shared/blob.bin": data}  # that object only
    finally:
        client(cloud, WRITER_KEY).delete_object(Bucket=BUCKET, Key="shared/blob.bin")
    assert contents(cloud) == before


def test_zarr_array_written_by_the_writer_reads_back_with_the_reader(cloud: Cloud) -> None:
    before = contents(cloud)
    url = f"s3://{BUCKET}/shared/tiny.zarr"
    values = np.arange(24, dtype="uint16").reshape(4, 6)
    written = zarr.create_array(
        url, shape=values.shape, chunks=(2, 3), dtype=values.dtype,
        storage_options=cloud.storage_options(WRITER_KEY),
    )  # fmt: skip
    written[:] = values
    try:
        read = zarr.open_array(url, mode="r", storage_options=cloud.storage_options(READER_KEY))
        assert np.array_equal(read[:], values)
        added = set(contents(cloud)) - set(before)
        assert "shared/tiny.zarr/zarr.json" in added and len(added) == 5  # metadata + 4 chunks
    finally:
        s3fs.S3FileSystem(**cloud.storage_options(WRITER_KEY)).rm(url, recursive=True)
    assert contents(cloud) == before


# --- bad signatures -------------------------------------------------------------------------------
def test_unknown_access_key_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    headers = signed(cloud, "PUT", path, ("course-nobody", "secret"), b"x")
    refused(send(cloud, "PUT", path, b"x", headers), 403, "InvalidAccessKeyId")


def test_wrong_secret_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    for method, body in (("GET", b""), ("PUT", b"x")):
        headers = signed(cloud, method, path, (WRITER_KEY[0], "not-the-secret"), body)
        refused(send(cloud, method, path, body, headers), 403, "SignatureDoesNotMatch")


def test_tampered_signature_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path, body = f"/{BUCKET}/{SEED}", b"x"
    headers = signed(cloud, "PUT", path, WRITER_KEY, body)
    last = headers["Authorization"][-1]
    headers["Authorization"] = headers["Authorization"][:-1] + ("0" if last != "0" else "1")
    refused(send(cloud, "PUT", path, body, headers), 403, "SignatureDoesNotMatch")


def test_tampered_body_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    headers = signed(cloud, "PUT", path, WRITER_KEY, b"what was signed")
    assert headers["X-Amz-Content-SHA256"] == hashlib.sha256(b"what was signed").hexdigest()
    answer = send(cloud, "PUT", path, b"what was sent!!", headers)
    refused(answer, 403, "SignatureDoesNotMatch")
    assert b"SHA-256" in answer.body


def test_tampered_path_and_query_are_refused(cloud: Cloud, unchanged: dict) -> None:
    headers = signed(cloud, "GET", f"/{BUCKET}/{SEED}", READER_KEY)
    refused(
        send(cloud, "GET", f"/{BUCKET}/seed/b.txt", headers=headers), 403, "SignatureDoesNotMatch"
    )
    listing = f"/{BUCKET}?list-type=2&prefix=seed%2F"
    headers = signed(cloud, "GET", listing, READER_KEY)
    other = listing.replace("seed", "other")
    refused(send(cloud, "GET", other, headers=headers), 403, "SignatureDoesNotMatch")


def test_stale_header_signature_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    an_hour_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    with mock.patch("botocore.auth.get_current_datetime", return_value=an_hour_ago):
        headers = signed(cloud, "GET", path, READER_KEY)  # a valid signature, replayed later
    refused(send(cloud, "GET", path, headers=headers), 403, "RequestTimeTooSkewed")


def test_a_signature_for_another_region_is_refused(cloud: Cloud, unchanged: dict) -> None:
    path = f"/{BUCKET}/{SEED}"
    headers = signed(cloud, "GET", path, READER_KEY, region="eu-west-1")
    answer = send(cloud, "GET", path, headers=headers)
    refused(answer, 400, "AuthorizationHeaderMalformed")
    assert b"expecting 'us-east-1'" in answer.body


def test_signature_version_2_is_refused_with_a_hint(cloud: Cloud, unchanged: dict) -> None:
    s3 = client(cloud, READER_KEY, v4=False)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": SEED})
    assert "AWSAccessKeyId=" in url  # botocore's default for presigned S3 URLs
    answer = send(cloud, "GET", url.removeprefix(cloud.endpoint))
    refused(answer, 400, "InvalidRequest")
    assert b"signature_version='s3v4'" in answer.body


# --- presigned URLs -------------------------------------------------------------------------------
def test_presigned_get_returns_the_exact_bytes(cloud: Cloud, unchanged: dict) -> None:
    answer = send(cloud, "GET", presigned(cloud, READER_KEY))
    assert (answer.status, answer.body) == (200, SEED_BYTES)


def test_tampered_path_of_a_presigned_url_is_refused(cloud: Cloud, unchanged: dict) -> None:
    url = presigned(cloud, READER_KEY)
    assert SEED in url
    refused(send(cloud, "GET", url.replace(SEED, "seed/b.txt")), 403, "SignatureDoesNotMatch")
    longer = url.replace("X-Amz-Expires=60", "X-Amz-Expires=600")
    refused(send(cloud, "GET", longer), 403, "SignatureDoesNotMatch")


def test_expired_presigned_url_is_refused(cloud: Cloud, unchanged: dict) -> None:
    url = presigned(cloud, READER_KEY, expires=1)
    time.sleep(2.1)
    answer = send(cloud, "GET", url)
    refused(answer, 403, "AccessDenied")
    assert b"Request has expired" in answer.body


def test_presigned_put_with_the_reader_key_is_refused(cloud: Cloud, unchanged: dict) -> None:
    url = presigned(cloud, READER_KEY, op="put_object")
    refused(send(cloud, "PUT", url, b"overwritten"), 403, "AccessDenied")


# --- what the learner sees, CORS, the other buckets ---------------------------------------------
def test_s3fs_says_why_in_one_line_and_does_not_hang(cloud: Cloud, unchanged: dict) -> None:
    reader = s3fs.S3FileSystem(**cloud.storage_options(READER_KEY), skip_instance_cache=True)
    anonymous = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    for attempt, says in [
        (lambda: reader.pipe(f"{BUCKET}/{SEED}", b"x"), "may only read bucket course-private"),
        (lambda: anonymous.ls(BUCKET), "bucket course-private is private"),
    ]:
        started = time.monotonic()
        with pytest.raises(PermissionError) as error:
            attempt()
        assert time.monotonic() - started < 5
        assert says in str(error.value) and "\n" not in str(error.value), error.value


def test_cors_on_the_private_bucket(cloud: Cloud, unchanged: dict) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-amz-date, x-amz-content-sha256",
    }
    answer = send(cloud, "OPTIONS", f"/{BUCKET}/{SEED}", headers=preflight)
    assert answer.status == 204 and answer.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-amz-date", "x-amz-content-sha256"} <= allowed
    assert allowed == {h.lower() for h in ALLOWED_HEADERS}
    answer = send(
        cloud,
        "OPTIONS",
        f"/{BUCKET}/x",
        headers={**preflight, "Access-Control-Request-Method": "PUT"},
    )
    assert answer.status == 204 and "PUT" in answer.headers["access-control-allow-methods"]
    for headers in ({"Origin": ORIGIN}, signed(cloud, "GET", f"/{BUCKET}/{SEED}", READER_KEY)):
        answer = send(cloud, "GET", f"/{BUCKET}/{SEED}", headers={"Origin": ORIGIN, **headers})
        assert answer.status in (200, 403)
        assert answer.headers["access-control-allow-origin"] == "*", answer
        assert "Content-Range" in answer.headers["access-control-expose-headers"]


def test_public_bucket_reads_and_scratch_writes_stay_anonymous(
    cloud: Cloud, unchanged: dict
) -> None:
    fs = s3fs.S3FileSystem(anon=True, endpoint_url=cloud.endpoint, skip_instance_cache=True)
    assert fs.cat(f"{cloud.public_bucket}/{PUBLIC_FILE}") == PUBLIC_BYTES
    refused(send(cloud, "PUT", f"/{cloud.public_bucket}/{PUBLIC_FILE}", b"no"), 403, "AccessDenied")
    fs.pipe(f"{cloud.scratch_bucket}/mine.txt", b"scratch")
    assert send(cloud, "GET", f"/{cloud.scratch_bucket}/mine.txt").body == b"scratch"
    fs.rm(f"{cloud.scratch_bucket}/mine.txt")
    status = cloud.status()
    assert status.private_bucket == BUCKET
    assert json.loads(json.dumps(dataclasses.asdict(status)))["private_bucket"] == BUCKET
