"""A tiny HTTP server that misbehaves on purpose: named faults, per key pattern, repeatable.

It serves files (``/<bucket>/<key>``: plain HTTP GETs, and enough of S3's GetObject for s3fs with
an ``endpoint_url``) and applies faults to the keys that match a glob pattern, for a number of
hits or for ever. The behaviours, by name:

- ``slowdown``: 503 with S3's ``SlowDown`` XML body (and ``Retry-After`` if given);
- ``reset``: headers and half the body, then the connection is reset (RST);
- ``truncated``: headers promising the whole body, half of it, then the connection is closed;
- ``missing``: 404 ``NoSuchKey`` for a key that exists;
- ``forbidden``: 403 ``AccessDenied``;
- ``stall``: the headers, then silence (for ``stall_s`` seconds, or until the server stops).

Connection refused is :func:`closed_port`: a port nothing listens on (start a
:class:`FaultServer` on it later to model an endpoint coming back).
"""

from __future__ import annotations

import fnmatch
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import numpy as np
import zarr

KINDS = ("slowdown", "reset", "truncated", "missing", "forbidden", "stall")
TRANSIENT = ("slowdown", "reset", "truncated", "stall")
PERMANENT = ("missing", "forbidden")


@dataclass
class Fault:
    """One named fault on the keys matching ``pattern``, for ``times`` hits (``None``: always)."""

    kind: str
    pattern: str = "*"
    times: int | None = None
    retry_after: str | None = None
    stall_s: float = 30.0
    applied: int = 0

    def takes(self, path: str) -> bool:
        if not fnmatch.fnmatchcase(path, self.pattern):
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.applied += 1
        return True


class FaultServer(ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes) and directories, applying the faults added by :meth:`fault`."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.files: dict[str, bytes] = {}
        self.dirs: dict[str, Path] = {}
        self.faults: list[Fault] = []
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def serve_dir(self, bucket: str, directory: Path) -> None:
        """Serve the files below ``directory`` as ``/<bucket>/<relative path>``."""
        self.dirs[bucket] = Path(directory)

    def fault(self, kind: str, pattern: str = "*", times: int | None = None, **options) -> Fault:
        """Add a fault on the paths matching ``pattern`` (e.g. ``"/data/img.zarr/0/c/*"``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {KINDS}")
        added = Fault(kind, pattern, times, **options)
        with self.lock:
            self.faults.append(added)
        return added

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.hits.clear()

    def lookup(self, path: str) -> bytes | None:
        if path in self.files:
            return self.files[path]
        bucket, _, key = path.strip("/").partition("/")
        root = self.dirs.get(bucket)
        if root is None or not key or ".." in key.split("/"):
            return None
        file = root / key
        return file.read_bytes() if file.is_file() else None

    def applicable(self, path: str) -> Fault | None:
        with self.lock:
            self.hits[path] += 1
            for fault in self.faults:
                if fault.takes(path):
                    return fault
        return None

    def handle_error(self, request, client_address) -> None:
        """Clients that gave up leave broken pipes behind: expected here, stay quiet."""

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()


def _s3_error(code: str, message: str, key: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message><Key>{key}</Key></Error>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def _headers(self, status: int, length: int, kind: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _error(self, status: int, code: str, message: str, path: str, **headers: str) -> None:
        body = _s3_error(code, message, path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = unquote(urlsplit(self.path).path)
        fault = self.server.applicable(path)
        body = self.server.lookup(path)
        if body is None or (fault is not None and fault.kind == "missing"):
            self._error(404, "NoSuchKey", "The specified key does not exist.", path)
            return
        if fault is None:
            self._headers(200, len(body))
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        if fault.kind == "slowdown":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._error(503, "SlowDown", "Please reduce your request rate.", path, **extra)
        elif fault.kind == "forbidden":
            self._error(403, "AccessDenied", "Access Denied", path)
        elif fault.kind == "stall":
            self._headers(200, len(body))
            self.wfile.flush()
            self.server.stopping.wait(fault.stall_s)
            self.close_connection = True
        elif fault.kind in ("reset", "truncated"):
            self._headers(200, len(body))
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            if fault.kind == "reset":  # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(server: FaultServer) -> Iterator[FaultServer]:
    """Serve in a daemon thread; stop (and wake stalled handlers) on exit."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def write_image(path: Path, version: str = "0.5", labels: bool = False) -> np.ndarray:
    """A small OME-Zarr image (c, z, y, x) = (2, 3, 64, 64), chunks (1, 1, 32, 32), every chunk
    written; with ``labels``, a label image ``labels/cells`` that omits its all-zero chunks.
    """
    fmt: Literal[2, 3] = 2 if version == "0.4" else 3
    rng = np.random.default_rng(9)
    data = rng.integers(1, 60000, size=(2, 3, 64, 64), dtype="uint16")
    group = zarr.open_group(path, mode="w", zarr_format=fmt)
    array = group.create_array(
        "0",
        shape=data.shape,
        chunks=(1, 1, 32, 32),
        dtype="uint16",
        fill_value=0,
        config={"write_empty_chunks": True},
    )
    array[...] = data
    axes = [{"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"
    ]
    multiscale: dict[str, Any] = {
        "axes": axes,
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * 4}]}
        ],
    }
    if labels:
        label_group = group.create_group("labels")
        cells = label_group.create_group("cells")
        mask = np.zeros((1, 3, 64, 64), dtype="uint8")
        mask[0, 1, 5:20, 5:20] = 7  # one chunk holds a label; the others are all fill value
        cells.create_array("0", shape=mask.shape, chunks=(1, 1, 32, 32), dtype="uint8")[...] = mask
        label_meta: dict[str, Any] = {
            "multiscales": [dict(multiscale, axes=[{"name": "c", "type": "channel"}, *axes[1:]])],
            "image-label": {"source": {"image": "../../"}},
        }
    if version == "0.4":
        group.attrs["multiscales"] = [dict(multiscale, version="0.4")]
        if labels:
            label_group.attrs["labels"] = ["cells"]
            label_meta["multiscales"][0]["version"] = "0.4"
            cells.attrs.update(label_meta)
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
        if labels:
            label_group.attrs["ome"] = {"version": "0.5", "labels": ["cells"]}
            cells.attrs["ome"] = {"version": "0.5", **label_meta}
    return data
