"""The object store behind the proxy: moto's S3 server, run as a subprocess.

``python -m course_tools.cloud.backend --port P --data DIR --public B --scratch S [--private V]`` starts
moto's server on 127.0.0.1, creates the public (anonymous read) and scratch (anonymous read/write)
buckets, and the private one, empty (the proxy checks its requests' signatures: ``auth.py``), and prints
``READY <port> <objects> <bytes> <secret>``. moto holds only what is written (the scratch and private buckets); the
public bucket's reads are answered from the OME-Zarr stores under DIR on disk
(``DIR/a/b.zarr/...`` is ``s3://B/a/b.zarr/...``; see ``folder.py``), so the cloud starts at once and
its memory does not grow with the samples.

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

from course_tools._compat import moto_s3_backend
from course_tools.cloud.folder import FolderBucket, count_objects

__all__ = [
    "READ_ACTIONS",
    "SECRET_ENVIRON_KEY",
    "WRITE_ACTIONS",
    "RequireSecret",
    "bucket_policy",
    "main",
]

SECRET_ENVIRON_KEY = "HTTP_X_COURSE_CLOUD_SECRET"
"""Where WSGI puts the ``X-Course-Cloud-Secret`` header the proxy adds."""
REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>the object store only answers the course's proxy: use the endpoint that "
    b"python -m course_tools cloud status prints</Message></Error>"
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
    parser.add_argument("--private", default="")
    args = parser.parse_args(argv)

    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in cloud.log
    secret = secrets.token_urlsafe(32)
    backend = moto_s3_backend()
    moto_app = DomainDispatcherApplication(create_backend_app)
    app = RequireSecret(FolderBucket(moto_app, args.public, args.data), secret)
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend.create_bucket(args.public, "us-east-1")
    backend.put_bucket_policy(args.public, bucket_policy(args.public, READ_ACTIONS).encode())
    backend.create_bucket(args.scratch, "us-east-1")
    backend.put_bucket_policy(args.scratch, bucket_policy(args.scratch, WRITE_ACTIONS).encode())
    if args.private:
        backend.create_bucket(args.private, "us-east-1")  # no policy: the proxy lets signed ones in
    objects, nbytes = count_objects(args.data)
    print(f"READY {server.server_port} {objects} {nbytes} {secret}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
