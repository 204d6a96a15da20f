"""The public bucket, read from disk, lists its objects exactly as moto (S3) lists the same keys.

The same files are the data folder of a private cloud (its public bucket) and PUT into its scratch
bucket (moto). Every listing a client may ask for (ListObjectsV2 and the older ListObjects, prefix,
delimiter, page size, start-after, URL-encoded keys) must give the same pages from both.
"""

from __future__ import annotations

from collections.abc import Iterator

import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from course_tools.cloud.launch import start_cloud
from helpers.cloud import Cloud

KEYS = [
    "a.zarr/zarr.json",
    "a.zarr/0/c/0/0",
    "a.zarr/0/c/0/1",
    "a.zarr/0/c/1/0",
    "a.zarr/1/c/0/0",
    "a.zarr/labels/zarr.json",
    "b.zarr/.zattrs",
    "b.zarr/.zgroup",
    "b.zarr/0/0.0",
    "b.zarr/0/0.1",
    "b.zarr/0/.zarray",
    "name with spaces/é.bin",
    "plus+sign/x",
    "top-level-file",
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cloud, object]]:
    """A private cloud with ``KEYS`` in both buckets, and an anonymous S3 client of it."""
    data = tmp_path_factory.mktemp("listing")
    for number, key in enumerate(KEYS):
        (data / key).parent.mkdir(parents=True, exist_ok=True)
        (data / key).write_bytes(b"x" * number)
    (data / ".build-stamp.json").write_text("{}")  # bookkeeping: not an object
    with start_cloud(latency_ms=0, data=data) as cloud:
        s3 = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=cloud.endpoint,
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
        )
        for number, key in enumerate(KEYS):
            s3.put_object(Bucket=cloud.scratch_bucket, Key=key, Body=b"x" * number)
        yield cloud, s3


def pages(s3: object, operation: str, bucket: str, **params: object) -> list[dict]:
    """Every page of a listing, reduced to what a client reads from it."""
    paginator = s3.get_paginator(operation)  # type: ignore[attr-defined]
    return [
        {
            "keys": [(o["Key"], o["Size"]) for o in page.get("Contents", [])],
            "prefixes": [p["Prefix"] for p in page.get("CommonPrefixes", [])],
            "truncated": page["IsTruncated"],
        }
        for page in paginator.paginate(Bucket=bucket, **params)
    ]


def flat(listing: list[dict]) -> dict:
    return {
        "keys": [k for page in listing for k in page["keys"]],
        "prefixes": [p for page in listing for p in page["prefixes"]],
    }


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Delimiter": "/"},
        {"Prefix": "a.zarr/", "Delimiter": "/"},
        {"Prefix": "a.zarr/0/c/", "Delimiter": "/"},
        {"Prefix": "a.zarr/0"},
        {"Prefix": "b.zarr/", "PaginationConfig": {"PageSize": 2}},
        {"Delimiter": "/", "PaginationConfig": {"PageSize": 1}},
        {"Prefix": "name with"},
        {"Prefix": "nothing/"},
    ],
    ids=repr,
)
def test_a_listing_from_disk_equals_moto_s(both, operation: str, params: dict) -> None:
    cloud, s3 = both
    public = pages(s3, operation, cloud.public_bucket, **params)
    scratch = pages(s3, operation, cloud.scratch_bucket, **params)
    if operation == "list_objects":  # two places where moto's ListObjects (v1) is not S3's
        for page in scratch:  # it turns "+" in a common prefix into a space
            page["prefixes"] = [p.replace("plus sign", "plus+sign") for p in page["prefixes"]]
        size = params.get("PaginationConfig", {}).get("PageSize")
        if size and "Delimiter" in params:  # and ignores MaxKeys beside a delimiter: compare it all
            assert all(len(p["keys"]) + len(p["prefixes"]) <= size for p in public)
            public, scratch = flat(public), flat(scratch)
    assert public == scratch
    assert ".build-stamp.json" not in str(public)


def test_a_plus_sign_in_a_key_lists_as_itself(both) -> None:
    """moto's ListObjects (v1) turns ``+`` in a common prefix into a space; the disk bucket does not."""
    cloud, s3 = both
    for operation in ("list_objects_v2", "list_objects"):
        listing = pages(s3, operation, cloud.public_bucket, Delimiter="/")
        assert "plus+sign/" in listing[0]["prefixes"], listing


def test_start_after_skips_like_moto(both) -> None:
    cloud, s3 = both
    lists = [
        s3.list_objects_v2(Bucket=bucket, StartAfter="a.zarr/0/c/0/0", MaxKeys=3)
        for bucket in (cloud.public_bucket, cloud.scratch_bucket)
    ]
    keys = [[o["Key"] for o in listing["Contents"]] for listing in lists]
    assert keys[0] == keys[1] == ["a.zarr/0/c/0/1", "a.zarr/0/c/1/0", "a.zarr/1/c/0/0"]
    assert lists[0]["IsTruncated"] and lists[1]["IsTruncated"]
