"""The public bucket, answered from the files on disk instead of from moto's memory.

moto keeps every object it holds in memory: the sample stores (about 300 MB) would cost the local
cloud as much RAM, which a Binder session (2 GB in all) cannot spare. The public bucket is read-only,
so it needs no object store at all: :class:`FolderBucket`, a WSGI middleware in the backend, answers
its reads from the folder of stores (``DIR/a/b.zarr/...`` is ``s3://BUCKET/a/b.zarr/...``), as S3 would:

* ``GET`` and ``HEAD`` of an object: the whole file (``200``), one byte range (``206`` with
  ``Content-Range``; several or malformed ranges give the whole object, as on S3; a start past the end
  ``416 InvalidRange``), the conditional headers (``If-Match``, ``If-None-Match``,
  ``If-Modified-Since``, ``If-Unmodified-Since``: ``304``/``412``), ``404 NoSuchKey`` for a missing key;
* listing (``ListObjectsV2`` and ``ListObjects``): prefix, delimiter, ``max-keys``, continuation,
  ``start-after``/``marker`` and ``encoding-type=url``, keys in S3's (byte) order.

Every file under the folder is an object, except the folder's own bookkeeping at its top level
(names starting with ``.``: build stamps, locks). Everything else (the bucket's location, ``HEAD`` of the bucket, the scratch bucket) goes to moto,
which holds the public bucket empty. The guard in front has already refused writes and odd paths.

No library does this: moto has no "serve a folder" mode (moto issue #8362). werkzeug, which moto's
server runs on, parses the ``Range`` header, ETags and dates, and streams the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from werkzeug.http import http_date, parse_date, parse_etags, parse_range_header
from werkzeug.wsgi import wrap_file

from course_tools.cloud.listing import LISTING_QUERY, Listed, ListRequest, listing_xml, paginate

__all__ = ["FolderBucket", "StoredFile", "count_objects", "is_object", "list_keys"]

FILE_BLOCK = 256 * 1024
OBJECT_QUERY = {"x-id"}
"""Query parameters a GET or HEAD of an object may carry (botocore names the operation in ``x-id``)."""

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class StoredFile:
    """One object of the folder: its path, size, modification time and ETag."""

    path: Path
    size: int
    modified: datetime
    etag: str

    @classmethod
    def of(cls, path: Path) -> StoredFile:
        """The object stored in file ``path`` (``OSError`` if it is not a readable file)."""
        info = path.stat()
        modified = datetime.fromtimestamp(int(info.st_mtime), UTC)
        # Like nginx: size and time, not an MD5 (which would read every byte of a 60 MB shard).
        return cls(path, info.st_size, modified, f'"{info.st_mtime_ns:x}-{info.st_size:x}"')


def is_object(key: str) -> bool:
    """Whether the file ``key`` is an object (top-level names starting with ``.`` are bookkeeping).

    Examples
    --------
    >>> is_object("v0.4/a.zarr/.zattrs"), is_object(".build-stamp.json"), is_object("")
    (True, False, False)
    """
    return bool(key) and not key.startswith(".")


def list_keys(root: Path, prefix: str = "") -> list[str]:
    """Every object key under ``prefix`` in the folder ``root``, in S3's order (bytes of UTF-8).

    Only the part of the tree the prefix can match is walked.
    """
    top = root / prefix.rpartition("/")[0] if "/" in prefix else root
    if not top.is_dir():
        return []
    keys = []
    cut = len(str(root)) + 1
    for folder, _dirs, names in os.walk(top):
        base = folder[cut:].replace(os.sep, "/")
        keys += [f"{base}/{name}" if base else name for name in names]
    return sorted((k for k in keys if k.startswith(prefix) and is_object(k)), key=str.encode)


def count_objects(root: Path) -> tuple[int, int]:
    """``(objects, bytes)`` of the folder ``root`` as a bucket."""
    keys = list_keys(root)
    return len(keys), sum((root / key).stat().st_size for key in keys)


class FolderBucket:
    """WSGI middleware: the reads of ``bucket`` answered from the folder ``root``; the rest to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], bucket: str, root: Path) -> None:
        self.app = app
        self.bucket = bucket
        self.root = root.resolve()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one WSGI request."""
        method = environ.get("REQUEST_METHOD", "")
        bucket, _, key = unquote(str(environ.get("PATH_INFO", ""))).lstrip("/").partition("/")
        if bucket != self.bucket or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        if key:
            if set(query) - OBJECT_QUERY:
                return _error(start_response, 501, "NotImplemented", _unsupported(query))
            return self._object(environ, key, start_response)
        if method == "GET" and set(query) <= LISTING_QUERY:
            return self._listing(query, start_response)
        if "versions" in query:
            return _error(start_response, 501, "NotImplemented", _unsupported(query))
        return self.app(environ, start_response)  # location, HEAD bucket, policy...: moto

    # -- objects ------------------------------------------------------------------------------
    def _object(
        self, environ: dict[str, Any], key: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        stored = self._stored(key)
        if stored is None:
            answer = _error(
                start_response, 404, "NoSuchKey", "The specified key does not exist.", key
            )
            return [] if environ["REQUEST_METHOD"] == "HEAD" else answer
        status = _precondition(environ, stored)
        headers = {
            "Content-Type": "binary/octet-stream",
            "ETag": stored.etag,
            "Last-Modified": http_date(stored.modified),
            "Accept-Ranges": "bytes",
        }
        if status is not None:
            start_response(status, list(headers.items()))
            return []
        start, end = 0, stored.size - 1
        try:
            span = _single_range(environ.get("HTTP_RANGE"), stored.size)
        except _Unsatisfiable:
            return _error(
                start_response,
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
                headers={"Content-Range": f"bytes */{stored.size}"},  # RFC 9110: the size
            )
        if span is not None:
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
        headers["Content-Length"] = str(end - start + 1)
        start_response("206 Partial Content" if span else "200 OK", list(headers.items()))
        if environ["REQUEST_METHOD"] == "HEAD" or end < start:
            return []
        return _file_part(environ, stored.path, start, end - start + 1)

    def _stored(self, key: str) -> StoredFile | None:
        if not is_object(key):
            return None
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):  # the guard refuses '..'; never leave the folder
            return None
        try:
            return StoredFile.of(path) if path.is_file() else None
        except OSError:
            return None

    # -- listings ----------------------------------------------------------------------------
    def _listing(self, query: dict[str, list[str]], start_response: StartResponse) -> list[bytes]:
        try:
            request = ListRequest.parse(query)
        except ValueError as err:
            return _error(start_response, 400, "InvalidArgument", str(err))
        keys = list_keys(self.root, request.prefix)
        body = listing_xml(self.bucket, query, request, paginate(keys, request), self._describe)
        start_response(
            "200 OK",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _describe(self, key: str) -> Listed:
        stored = StoredFile.of(self.root / key)
        return Listed(stored.size, stored.modified, stored.etag)


class _Unsatisfiable(ValueError):
    """A range that starts past the end of the object (S3 answers 416)."""


def _single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of one satisfiable range, or None: the whole object.

    Raises ``_Unsatisfiable`` for a range past the end.
    """
    if not header:
        return None
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None  # S3 ignores several or malformed ranges and answers the whole object
    start, stop = parsed.ranges[0]
    if start < 0:  # a suffix: the last -start bytes
        if not size:
            raise _Unsatisfiable(header)
        return max(size + start, 0), size - 1
    if start >= size:
        raise _Unsatisfiable(header)
    return start, min(stop if stop is not None else size, size) - 1


def _precondition(environ: dict[str, Any], stored: StoredFile) -> str | None:
    """``"304 Not Modified"`` or ``"412 Precondition Failed"`` by the conditional headers, else None."""
    match = environ.get("HTTP_IF_MATCH")
    if match is not None and not parse_etags(match).contains_raw(stored.etag):
        return "412 Precondition Failed"
    since = parse_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
    if match is None and since is not None and stored.modified > since:
        return "412 Precondition Failed"
    none_match = environ.get("HTTP_IF_NONE_MATCH")
    if none_match is not None:
        return "304 Not Modified" if parse_etags(none_match).contains_raw(stored.etag) else None
    modified_since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    if modified_since is not None and stored.modified <= modified_since:
        return "304 Not Modified"
    return None


def _file_part(environ: dict[str, Any], path: Path, start: int, length: int) -> Iterable[bytes]:
    file = open(path, "rb")  # noqa: SIM115 - closed by the WSGI server through wrap_file
    file.seek(start)
    return wrap_file(environ, _Limited(file, length), FILE_BLOCK)


class _Limited:
    """A file object that reads at most ``length`` bytes from where it stands."""

    def __init__(self, file: Any, length: int) -> None:
        self.file = file
        self.left = length

    def read(self, size: int = -1) -> bytes:
        want = self.left if size < 0 else min(size, self.left)
        block = self.file.read(want) if want > 0 else b""
        self.left -= len(block)
        return block

    def close(self) -> None:
        self.file.close()


def _unsupported(query: dict[str, list[str]]) -> str:
    names = ", ".join(sorted(query))
    return f"the course's public bucket is a read-only folder: ?{names} is not supported"


def _error(
    start_response: StartResponse,
    status: int,
    code: str,
    message: str,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> list[bytes]:
    extra = "" if key is None else f"<Key>{escape(key)}</Key>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
    ).encode()
    reasons = {
        400: "Bad Request",
        404: "Not Found",
        416: "Requested Range Not Satisfiable",
        501: "Not Implemented",
    }
    start_response(
        f"{status} {reasons[status]}",
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            *(headers or {}).items(),
        ],
    )
    return [body]
