"""Put the three files on the local cloud, and change its conditions for a while.

Two ways to serve a build (:class:`~course_tools.formats.build.FormatFiles`):

- :func:`serve_formats` without an endpoint starts a **private** local cloud (about a second) whose
  public bucket is the build folder itself, read from disk: the Zarr store, the TIFF, HDF5, one-byte
  and probe files. Changing its latency disturbs nobody else's notebook.
- :func:`serve_formats` with an endpoint (or :func:`upload_formats`) PUTs everything into a running
  cloud's scratch bucket under ``formats/<spec>/``; the 4,096 Zarr chunks take about half a minute
  the first time, as the store behind the cloud accepts about a hundred PUTs a second. A marker
  object makes later uploads of the same build a no-op.

Examples
--------
>>> from course_tools.formats import SMALL, build_formats, serve_formats
>>> with serve_formats(build_formats(SMALL), latency_ms=10) as served:  # doctest: +SKIP
...     print(served.remote.url("tiff"))
http://127.0.0.1:PORT/course-scratch/formats/small/image.ome.tiff
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from course_tools.cloud.launch import start_cloud
from course_tools.config import FORMATS_PROBE_BYTES
from course_tools.formats.build import FILE_NAMES, STAMP_NAME, FormatFiles
from course_tools.formats.spec import FormatSpec
from helpers.cloud import CONTROL_TIMEOUT_S, DEFAULT_LATENCY_MS, Cloud, CloudError, cloud_status
from helpers.storage import MAX_CONNECTIONS

__all__ = [
    "PROBE_NAME",
    "RemoteFormats",
    "ServedFormats",
    "cloud_conditions",
    "serve_formats",
    "upload_formats",
]

logger = logging.getLogger(__name__)

PROBE_NAME = "probe-4MiB"
"""An object of :data:`~course_tools.config.FORMATS_PROBE_BYTES` random bytes: timing its GET measures the
link's bandwidth."""
MARKER_NAME = ".uploaded.json"
"""Object written last by :func:`upload_formats`: the build stamp of what was uploaded."""


@dataclass(frozen=True)
class RemoteFormats:
    """Where the files of one build are served: an HTTP URL per format.

    Attributes
    ----------
    spec : FormatSpec
        The image they hold.
    endpoint : str
        The cloud serving them.
    urls : dict
        Format name -> plain HTTP URL (``zarr`` -> the store's root; ``probe`` -> the bandwidth probe).
    sizes : dict
        Format name -> bytes (the Zarr store: all its objects).
    """

    spec: FormatSpec
    endpoint: str
    urls: dict[str, str]
    sizes: dict[str, int] = field(default_factory=dict)

    def url(self, fmt: str) -> str:
        """The URL of format ``fmt``.

        Raises
        ------
        ValueError
            Unknown format.
        """
        if fmt not in self.urls:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(self.urls)}")
        return self.urls[fmt]


def _probe_body() -> bytes:
    """Pseudo-random, incompressible, identical bytes on every call."""
    block = hashlib.sha256(b"probe").digest()
    return (block * (FORMATS_PROBE_BYTES // len(block) + 1))[:FORMATS_PROBE_BYTES]


def _stamp(files: FormatFiles) -> dict[str, Any]:
    return json.loads((files.folder / STAMP_NAME).read_text())


def _already_uploaded(url: str, stamp: dict[str, Any]) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=CONTROL_TIMEOUT_S) as answer:
            return json.loads(answer.read()) == stamp
    except (OSError, ValueError, urllib.error.URLError):
        return False


async def _put_all(items: list[tuple[str, Callable[[], bytes]]]) -> None:
    limit = asyncio.Semaphore(MAX_CONNECTIONS)
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def put(url: str, body: Callable[[], bytes]) -> None:
            async with limit, session.put(url, data=body()) as answer:
                if answer.status >= 300:
                    raise CloudError(f"PUT {url} answered {answer.status}: {await answer.text()}")

        await asyncio.gather(*(put(url, body) for url, body in items))


def _run_apart(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` in a thread of its own (a notebook's thread already runs an event loop)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as pool:
        pool.submit(asyncio.run, coroutine).result()


def upload_formats(
    cloud: Cloud,
    files: FormatFiles,
    progress: Callable[[str], None] = logger.info,
) -> RemoteFormats:
    """PUT a build into ``cloud``'s scratch bucket under ``formats/<spec name>/`` (once per build).

    Parameters
    ----------
    cloud : Cloud
        A running local cloud.
    files : FormatFiles
        What :func:`~course_tools.formats.build_formats` returned.
    progress : callable, optional
        Receives a line of text per step.

    Returns
    -------
    RemoteFormats
        The URLs.

    Raises
    ------
    CloudError
        The cloud refused a PUT.
    """
    prefix = f"formats/{files.spec.name}"

    def url(name: str) -> str:
        return cloud.url(f"{prefix}/{name}", bucket=cloud.scratch_bucket)

    urls = {fmt: url(name) for fmt, name in FILE_NAMES.items()}
    urls["probe"] = url(PROBE_NAME)
    sizes = {fmt: files.size(fmt) for fmt in FILE_NAMES}
    sizes["probe"] = FORMATS_PROBE_BYTES
    stamp = _stamp(files)
    remote = RemoteFormats(files.spec, cloud.endpoint, urls, sizes)
    if _already_uploaded(url(MARKER_NAME), stamp):
        return remote
    items: list[tuple[str, Callable[[], bytes]]] = [(urls["probe"], _probe_body)]
    for fmt in ("tiff", "hdf5", "overhead"):
        items.append((urls[fmt], files.path(fmt).read_bytes))
    root = files.zarr
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        items.append((f"{urls['zarr']}/{path.relative_to(root).as_posix()}", path.read_bytes))
    progress(
        f"uploading {len(items)} objects to {cloud.endpoint}/{cloud.scratch_bucket}/{prefix}..."
    )
    _run_apart(_put_all(items))
    _run_apart(_put_all([(url(MARKER_NAME), lambda: json.dumps(stamp).encode())]))
    return remote


@contextlib.contextmanager
def cloud_conditions(cloud: Cloud, **changes: float | None) -> Iterator[Cloud]:
    """Change ``cloud``'s ``latency_ms`` / ``jitter_ms`` / ``bandwidth_mbps`` inside a ``with`` block.

    The previous settings come back on exit, whatever happened inside.

    Examples
    --------
    >>> with cloud_conditions(cloud, latency_ms=10):  # doctest: +SKIP
    ...     read_something()
    """
    before = cloud.status()
    cloud.set_conditions(**changes)
    try:
        yield cloud
    finally:
        cloud.set_conditions(
            latency_ms=before.latency_ms,
            jitter_ms=before.jitter_ms,
            bandwidth_mbps=before.bandwidth_mbps,
        )


@dataclass
class ServedFormats:
    """A build served by a local cloud; :meth:`stop` stops the cloud if it is a private one.

    Attributes
    ----------
    cloud : Cloud
        The cloud (its counters, its conditions).
    remote : RemoteFormats
        The URLs of the files.
    private : bool
        Whether the cloud was started for these files (and is stopped by :meth:`stop`).
    """

    cloud: Cloud
    remote: RemoteFormats
    private: bool

    def stop(self) -> None:
        """Stop the private cloud (a shared one keeps running, the files stay in its bucket)."""
        if self.private:
            self.cloud.stop()

    def __enter__(self) -> ServedFormats:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_formats(
    files: FormatFiles,
    endpoint: str | None = None,
    latency_ms: float = DEFAULT_LATENCY_MS,
    progress: Callable[[str], None] = logger.info,
) -> ServedFormats:
    """Serve a build from a private local cloud (default) or from the running cloud at ``endpoint``.

    Parameters
    ----------
    files : FormatFiles
        What :func:`~course_tools.formats.build_formats` returned.
    endpoint : str, optional
        A running course cloud: the files are uploaded to its scratch bucket, its conditions are
        left as they are. Default: start a private cloud (stop it with ``.stop()`` or ``with``).
    latency_ms : float, optional
        The private cloud's latency (default 100 ms).
    progress : callable, optional
        Receives a line of text per step.

    Returns
    -------
    ServedFormats
        The cloud and the URLs.

    Raises
    ------
    ValueError
        ``endpoint`` does not name a running course cloud.
    """
    if endpoint is not None:
        try:
            status = cloud_status(endpoint)
        except CloudError as err:
            raise ValueError(f"no course cloud at {endpoint}: {err}") from None
        cloud = Cloud(endpoint, status.public_bucket, status.scratch_bucket)
        return ServedFormats(cloud, upload_formats(cloud, files, progress=progress), private=False)
    progress(f"starting a private local cloud serving {files.folder}...")
    probe = files.folder / PROBE_NAME
    if not probe.is_file() or probe.stat().st_size != FORMATS_PROBE_BYTES:
        probe.write_bytes(_probe_body())
    cloud = start_cloud(latency_ms=latency_ms, data=files.folder)  # its files, from disk
    urls = {fmt: cloud.url(name) for fmt, name in FILE_NAMES.items()}
    urls["probe"] = cloud.url(PROBE_NAME)
    sizes = {fmt: files.size(fmt) for fmt in FILE_NAMES}
    sizes["probe"] = FORMATS_PROBE_BYTES
    remote = RemoteFormats(files.spec, cloud.endpoint, urls, sizes)
    return ServedFormats(cloud, remote, private=True)
