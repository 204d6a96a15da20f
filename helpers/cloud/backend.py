"""The object store behind the proxy: moto's S3 server, run as a subprocess.

``python -m helpers.cloud.backend --port P --data DIR --public B --scratch S`` starts moto's server on
127.0.0.1, creates the public (anonymous read) and scratch (anonymous read/write) buckets, loads every
OME-Zarr store found under DIR into the public bucket (``DIR/a/b.zarr/...`` becomes ``s3://B/a/b.zarr/...``)
and prints ``READY <port> <objects> <bytes>``. Objects are put straight into moto's in-memory backend
(thousands per second) instead of over HTTP (hundreds per second), so the cloud starts in seconds.

It exits when its parent process dies, so no orphan moto server outlives the cloud.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

__all__ = ["READ_ACTIONS", "WRITE_ACTIONS", "bucket_policy", "find_stores", "load_stores", "main"]


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
    for store in find_stores(data):
        for path in sorted(p for p in store.rglob("*") if p.is_file()):
            value = path.read_bytes()
            backend.put_object(bucket, path.relative_to(data).as_posix(), value)
            objects += 1
            nbytes += len(value)
    return objects, nbytes


def _exit_with_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    """Start moto, fill the buckets, print ``READY <port> <objects> <bytes>``, then serve forever."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--public", required=True)
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args(argv)

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    port = args.port or _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(args.public, "us-east-1")
    backend.put_bucket_policy(args.public, bucket_policy(args.public, READ_ACTIONS).encode())
    backend.create_bucket(args.scratch, "us-east-1")
    backend.put_bucket_policy(args.scratch, bucket_policy(args.scratch, WRITE_ACTIONS).encode())
    objects, nbytes = load_stores(backend, args.public, args.data)
    print(f"READY {port} {objects} {nbytes}", flush=True)
    while True:
        time.sleep(3600)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main(sys.argv[1:])
