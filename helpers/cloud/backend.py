"""The object store behind the proxy: moto's S3 server, run as a subprocess.

``python -m helpers.cloud.backend --port P --data DIR --public B --scratch S`` starts moto's server on
127.0.0.1, creates the public (anonymous read) and scratch (anonymous read/write) buckets, loads every
OME-Zarr store found under DIR into the public bucket (``DIR/a/b.zarr/...`` becomes ``s3://B/a/b.zarr/...``)
and prints ``READY <port> <objects> <bytes> <secret>``. Objects are put straight into moto's in-memory
backend (thousands per second) instead of over HTTP (hundreds per second), so the cloud starts in seconds.
Plain and single-range GETs are answered from moto's stored bytes (:class:`FastReads`), a quarter of
the CPU moto's own GET needs.

The proxy is the only door: the server answers ``403`` to every request without the per-run random
secret (header ``X-Course-Cloud-Secret``), which only its parent, the proxy, reads from the READY line
(never from the command line or the environment, which other processes can see). moto's dummy
credentials stay inside this process.

It exits when its parent process dies, so no orphan moto server outlives the cloud.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "READ_ACTIONS",
    "SECRET_ENVIRON_KEY",
    "WRITE_ACTIONS",
    "FastReads",
    "RequireSecret",
    "bucket_policy",
    "find_stores",
    "load_stores",
    "main",
]

SECRET_ENVIRON_KEY = "HTTP_X_COURSE_CLOUD_SECRET"
"""Where WSGI puts the ``X-Course-Cloud-Secret`` header the proxy adds."""
REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>the object store only answers the course's proxy: use the endpoint that "
    b"python -m helpers.cloud status prints</Message></Error>"
)


class RequireSecret:
    """WSGI middleware: pass a request to ``app`` only if it carries ``secret``, else answer 403.

    Examples
    --------
    >>> app = RequireSecret(lambda environ, start: [b"ok"], "s3cret")
    >>> app({SECRET_ENVIRON_KEY: "s3cret"}, lambda status, headers: None)
    [b'ok']
    >>> app({}, lambda status, headers: print(status))[0][:5]
    403 Forbidden
    b'<?xml'
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], secret: str) -> None:
        self.app = app
        self._secret = secret.encode()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one WSGI request."""
        given = str(environ.pop(SECRET_ENVIRON_KEY, "")).encode()
        if not hmac.compare_digest(given, self._secret):
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(REFUSAL)))],
            )
            return [REFUSAL]
        return self.app(environ, start_response)


class FastReads:
    """WSGI middleware: a plain GET of a stored object is answered straight from moto's buffer.

    moto answers every GET through its whole request machinery (routing, policy evaluation,
    response building): about 6 ms of CPU for a 69 kB chunk, four times what the answer itself
    costs, and this cloud shares the learner's cores with the client and the workers. A ranged
    GET is worse: moto reads the whole object and slices it, so a 100-byte range of a 64 MB object
    costs tens of milliseconds. This middleware answers, with moto's own headers, a ``GET`` that
    has no query string and no conditional (``If-*``) header: the whole object
    (``200``) or one ``bytes=a-b`` / ``a-`` / ``-n`` range (``206``). Anything else (HEAD, writes,
    listings, several or odd ranges, a missing key, the checksum botocore asks for with
    ``x-amz-checksum-mode`` when the object has one) goes to moto unchanged. Who may read was
    already decided by the proxy's guard and by :class:`RequireSecret`; both buckets allow
    anonymous reads.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], backend: Any) -> None:
        self.app = app
        self.backend = backend

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one WSGI request."""
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and not any(name.startswith(CONDITIONAL_HEADERS) for name in environ)
        ):
            answer = self._read(environ, str(environ.get("HTTP_RANGE", "")), start_response)
            if answer is not None:
                return answer
        return self.app(environ, start_response)

    def _read(
        self, environ: dict[str, Any], spec: str, start_response: Callable[..., Any]
    ) -> list[bytes] | None:
        bucket, _, key = str(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
        if not key:
            return None
        try:
            stored = self.backend.get_object(bucket, key)
            size = stored.size
        except Exception:  # noqa: BLE001 - no such bucket or key: moto answers
            return None
        if stored.multipart is not None:
            return None  # moto knows parts; the course never reads them
        if not spec and environ.get("HTTP_X_AMZ_CHECKSUM_MODE") and stored.checksum_algorithm:
            return None  # botocore asks for the stored checksum (of a PUT object): moto's job
        if spec:
            span = _single_range(spec, size)
            if span is None:
                return None  # several ranges, odd or unsatisfiable: moto answers as S3 does
            start, end = span
        else:
            start, end = 0, size - 1
        with stored.lock:
            stored._value_buffer.seek(start)
            body = stored._value_buffer.read(end - start + 1)
        headers: dict[str, str] = {"content-type": "binary/octet-stream"}  # lower-case names
        if stored.version_id != "null":
            headers["x-amz-version-id"] = str(stored.version_id)
        for name, value in (*stored.response_dict.items(), *stored.metadata.items()):
            headers[name.lower()] = str(value)  # ETag, Last-Modified, Content-Type, x-amz-meta-*
        headers["accept-ranges"] = "bytes"
        headers["content-length"] = str(len(body))
        if spec:
            headers["content-range"] = f"bytes {start}-{end}/{size}"
        start_response("206 Partial Content" if spec else "200 OK", list(headers.items()))
        return [body]


CONDITIONAL_HEADERS = "HTTP_IF_"
"""Start of the WSGI names of ``If-*`` request headers: :class:`FastReads` leaves those GETs to moto."""


def _single_range(spec: str, size: int) -> tuple[int, int] | None:
    """First and last byte of a single satisfiable ``bytes=`` range of ``size`` bytes, else None."""
    if not spec.startswith("bytes="):
        return None
    first, dash, last = spec[len("bytes=") :].partition("-")
    if not dash or "," in spec:
        return None
    try:
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
    except ValueError:
        return None
    return (start, end) if 0 <= start <= end else None


def bucket_policy(bucket: str, actions: list[str]) -> str:
    """An S3 bucket policy allowing anonymous ``actions`` on ``bucket`` and its objects."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AnonymousAccess",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": actions,
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


READ_ACTIONS = ["s3:GetObject", "s3:HeadObject", "s3:ListBucket", "s3:GetBucketLocation"]
WRITE_ACTIONS = READ_ACTIONS + ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


def find_stores(data: Path) -> list[Path]:
    """The ``*.zarr`` folders under ``data`` (not looking inside a store for more stores)."""
    stores: list[Path] = []
    for root, dirs, _files in os.walk(data):
        for name in sorted(dirs):
            if name.endswith(".zarr"):
                stores.append(Path(root) / name)
        dirs[:] = sorted(d for d in dirs if not d.endswith(".zarr"))
    return sorted(stores)


def load_stores(backend, bucket: str, data: Path) -> tuple[int, int]:
    """Put every file of every store under ``data`` into ``bucket``; return (objects, bytes)."""
    objects = nbytes = 0
    prefix = len(str(data)) + 1
    for store in find_stores(data):
        files = []  # os.walk and plain strings: about twice as fast as Path.rglob for ~9,000 files
        for root, _dirs, names in os.walk(store):
            files += [os.path.join(root, name) for name in names]
        for path in sorted(files):
            with open(path, "rb") as file:
                value = file.read()
            backend.put_object(bucket, path[prefix:].replace(os.sep, "/"), value)
            objects += 1
            nbytes += len(value)
    return objects, nbytes


def _exit_with_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    """Start moto, fill the buckets, print ``READY <port> <objects> <bytes> <secret>``, serve forever."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--public", required=True)
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args(argv)

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in cloud.log
    secret = secrets.token_urlsafe(32)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    app = RequireSecret(FastReads(DomainDispatcherApplication(create_backend_app), backend), secret)
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend.create_bucket(args.public, "us-east-1")
    backend.put_bucket_policy(args.public, bucket_policy(args.public, READ_ACTIONS).encode())
    backend.create_bucket(args.scratch, "us-east-1")
    backend.put_bucket_policy(args.scratch, bucket_policy(args.scratch, WRITE_ACTIONS).encode())
    objects, nbytes = load_stores(backend, args.public, args.data)
    print(f"READY {server.server_port} {objects} {nbytes} {secret}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
