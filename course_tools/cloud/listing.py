"""Listing a bucket as S3 does (ListObjectsV2 and ListObjects): pages of keys and common prefixes.

Pure: the keys come in sorted, the answer goes out as S3's XML; :mod:`course_tools.cloud.folder` feeds it
the files of a folder. Keys and common prefixes are listed in S3's order (bytes of UTF-8); a delimiter
groups the keys that share what comes before it into one common prefix; ``max-keys`` counts both; a
continuation token (V2) or marker (V1) says where the next page starts; ``encoding-type=url``
percent-encodes keys and prefixes in the answer.

Examples
--------
>>> keys = ["a.zarr/0/0", "a.zarr/0/1", "a.zarr/zarr.json", "b.zarr/zarr.json"]
>>> paginate(keys, ListRequest(v2=True, prefix="", delimiter="/", after="", max_keys=1000))
Page(keys=[], prefixes=['a.zarr/', 'b.zarr/'], truncated=False, last='b.zarr/')
>>> paginate(keys, ListRequest(v2=True, prefix="a.zarr/", delimiter="", after="a.zarr/0/0", max_keys=1))
Page(keys=['a.zarr/0/1'], prefixes=[], truncated=True, last='a.zarr/0/1')
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

__all__ = ["LISTING_QUERY", "MAX_KEYS", "ListRequest", "Listed", "Page", "listing_xml", "paginate"]

MAX_KEYS = 1000
"""Most keys one listing answers, as on S3."""
NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
LISTING_QUERY = {
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "marker",
    "encoding-type",
    "fetch-owner",
    "x-id",
}
"""Query parameters of a listing (ListObjectsV2 and ListObjects); other bucket requests are not."""


@dataclass(frozen=True)
class ListRequest:
    """What a listing asks for: V2 or V1, prefix, delimiter, where to start, page size."""

    v2: bool
    prefix: str
    delimiter: str
    after: str
    max_keys: int

    @classmethod
    def parse(cls, query: dict[str, list[str]]) -> ListRequest:
        """The request in a parsed query string; ``ValueError`` for a bad ``max-keys``."""

        def one(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        v2 = one("list-type") == "2"
        try:
            max_keys = min(int(one("max-keys", str(MAX_KEYS))), MAX_KEYS)
        except ValueError:
            max_keys = -1
        if max_keys < 0:
            raise ValueError("max-keys must be an integer >= 0")
        token = one("continuation-token")
        after = _decode_token(token) if token else one("start-after" if v2 else "marker")
        return cls(v2, one("prefix"), one("delimiter"), after, max_keys)


@dataclass(frozen=True)
class Page:
    """One page of a listing: its keys, its common prefixes, whether more follow, the last entry."""

    keys: list[str]
    prefixes: list[str]
    truncated: bool
    last: str


@dataclass(frozen=True)
class Listed:
    """What a listing says of one key: its size, when it was modified, its ETag."""

    size: int
    modified: datetime
    etag: str


def paginate(keys: list[str], request: ListRequest) -> Page:
    """The page of ``keys`` (sorted, all starting with the prefix) that ``request`` asks for."""
    after = request.after.encode()
    entries: list[tuple[str, bool]] = []  # (key or common prefix, is a prefix)
    for key in keys:
        if after and key.encode() <= after:
            continue
        cut = key.find(request.delimiter, len(request.prefix)) if request.delimiter else -1
        if cut < 0:
            entries.append((key, False))
        else:
            common = key[: cut + len(request.delimiter)]
            if (entries and entries[-1][0] == common) or (after and common.encode() <= after):
                continue
            entries.append((common, True))
        if len(entries) > request.max_keys:
            break
    shown = entries[: request.max_keys]
    return Page(
        [name for name, is_prefix in shown if not is_prefix],
        [name for name, is_prefix in shown if is_prefix],
        len(entries) > request.max_keys,
        shown[-1][0] if shown else "",
    )


def listing_xml(
    bucket: str,
    query: dict[str, list[str]],
    request: ListRequest,
    page: Page,
    describe: Callable[[str], Listed],
) -> bytes:
    """S3's ``ListBucketResult`` for ``page``; ``describe`` gives each key's size, time and ETag."""
    encode = query.get("encoding-type", [""])[0] == "url"

    def text(value: str) -> str:
        return escape(quote(value, safe="/") if encode else value)

    lines = [f"<Name>{escape(bucket)}</Name>", f"<Prefix>{text(request.prefix)}</Prefix>"]
    if "delimiter" in query:
        lines.append(f"<Delimiter>{text(request.delimiter)}</Delimiter>")
    if "encoding-type" in query:
        lines.append(f"<EncodingType>{escape(query['encoding-type'][0])}</EncodingType>")
    lines.append(f"<MaxKeys>{request.max_keys}</MaxKeys>")
    lines.append(f"<IsTruncated>{'true' if page.truncated else 'false'}</IsTruncated>")
    lines += _v2_lines(query, page) if request.v2 else _v1_lines(query, page, text)
    for key in page.keys:
        listed = describe(key)
        lines.append(
            f"<Contents><Key>{text(key)}</Key>"
            f"<LastModified>{listed.modified.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</LastModified>"
            f"<ETag>{escape(listed.etag)}</ETag><Size>{listed.size}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
        )
    lines += [f"<CommonPrefixes><Prefix>{text(p)}</Prefix></CommonPrefixes>" for p in page.prefixes]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ListBucketResult xmlns="{NAMESPACE}">{"".join(lines)}</ListBucketResult>'
    ).encode()


def _v2_lines(query: dict[str, list[str]], page: Page) -> list[str]:
    lines = [f"<KeyCount>{len(page.keys) + len(page.prefixes)}</KeyCount>"]
    for name, tag in (("continuation-token", "ContinuationToken"), ("start-after", "StartAfter")):
        if name in query:
            lines.append(f"<{tag}>{escape(query[name][0])}</{tag}>")
    if page.truncated:
        lines.append(f"<NextContinuationToken>{_token(page.last)}</NextContinuationToken>")
    return lines


def _v1_lines(query: dict[str, list[str]], page: Page, text: Callable[[str], str]) -> list[str]:
    lines = [f"<Marker>{text(query.get('marker', [''])[0])}</Marker>"]
    if page.truncated and "delimiter" in query:
        lines.append(f"<NextMarker>{text(page.last)}</NextMarker>")
    return lines


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return token
