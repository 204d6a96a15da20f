"""Dataset locations, fast anonymous stores for them, and the stores' lifetime.

With its defaults, s3fs sends a HEAD request before every whole-object GET (``max_concurrency`` > 1
makes it ask for the size first) and botocore keeps at most ``max_pool_connections`` connections
(notebook 03 prints both defaults in your versions): :func:`s3_filesystem` sets ``max_concurrency=1`` (one plain GET per chunk),
``max_pool_connections=64``, and short connect timeouts so an unreachable endpoint fails fast.

Asynchronous filesystems hold aiohttp sessions: :func:`close_store` (or ``with open_image(...) as
image:``) closes them at once, and whatever is still open is closed at exit, so no "Unclosed client
session" warning appears.

Examples
--------
>>> parse_location("s3://course-data/v0.4/x.zarr/").path
'course-data/v0.4/x.zarr'
"""

from __future__ import annotations

import atexit
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import fsspec
import s3fs
import zarr
from zarr.abc.store import Store

from ._compat import cached_async_filesystems, close_filesystem_sessions
from .fetch import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

__all__ = [
    "Location",
    "check_reachable",
    "close_filesystem",
    "close_filesystems",
    "close_store",
    "http_filesystem",
    "parse_location",
    "s3_filesystem",
    "zarr_store",
]

MAX_CONNECTIONS = 64
"""Connections one s3fs filesystem keeps open (botocore's own default is 10: it caps parallelism)."""

SCHEMES = ("s3", "http", "https", "file", "")
_ASYNC_FILESYSTEMS: dict[int, fsspec.AbstractFileSystem] = {}  # closed at exit


@dataclass(frozen=True)
class Location:
    """Where a Zarr store lives: ``scheme`` is s3, http, https or file; ``path`` has no scheme.

    For s3 the path is ``bucket/key`` and ``endpoint`` the S3 server (``None``: AWS); for http(s) the
    path is the full URL; for file it is an absolute local path.
    """

    scheme: str
    path: str
    endpoint: str | None = None

    @property
    def url(self) -> str:
        """The location written as one URL."""
        if self.scheme == "s3":
            return f"s3://{self.path}"
        return self.path if self.scheme in ("http", "https") else str(self.path)


def parse_location(url: str, endpoint: str | None = None) -> Location:
    """Check ``url`` (s3://bucket/key, http(s)://host/..., or a local path) and split it.

    Raises ``ValueError`` with a one-line explanation for URLs that cannot name a store.
    """
    if not isinstance(url, str | Path) or not str(url).strip():
        raise ValueError(
            f"not a dataset location: {url!r} (give a catalog name, an s3:// or https:// URL, or a path)"
        )
    url = str(url).strip()
    parts = urlparse(url)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"unsupported URL scheme {parts.scheme!r} in {url!r}: use s3://, https://, http:// or a local path"
        )
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"malformed S3 URL {url!r}: expected s3://BUCKET/KEY")
        return Location("s3", f"{parts.netloc}{parts.path}".rstrip("/"), endpoint)
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"malformed URL {url!r}: no host name (expected {scheme}://HOST/PATH)")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"malformed URL {url!r}: bad port number") from None
        return Location(scheme, url.rstrip("/"))
    path = Path(parts.path if scheme == "file" else url).expanduser().resolve()
    return Location("file", str(path))


def check_reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the host of ``url``; ``ConnectionError`` if that fails.

    "Nothing answers" becomes a clear error within ``timeout`` seconds, not a library's long retries.
    """
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as err:
        raise ConnectionError(
            f"cannot reach {parts.hostname}:{port} ({err.__class__.__name__}: {err})"
        ) from None


def s3_filesystem(
    endpoint: str | None, asynchronous: bool = False, client_retries: bool = True, **options: Any
) -> s3fs.S3FileSystem:
    """An anonymous s3fs filesystem tuned for many small GETs (see the module docstring).

    ``endpoint`` is the S3 server (``None``: AWS). ``client_retries`` lets botocore retry on its
    own (up to 3 retries); ``False`` means one try per call, for a caller that retries itself
    (:class:`helpers.reliable.ReliableStore`), so attempts and deadlines are counted once.
    ``options`` go to ``s3fs.S3FileSystem`` and override the tuned settings.

    Examples
    --------
    >>> fs = s3_filesystem("http://127.0.0.1:9000")
    >>> fs.ls("course-data")  # doctest: +SKIP
    ['course-data/synthetic', 'course-data/v0.4', 'course-data/v0.5']
    """
    config = {
        "max_pool_connections": MAX_CONNECTIONS,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": READ_TIMEOUT_S,
        "retries": {"max_attempts": 3, "mode": "standard"}  # 3 retries: 4 attempts in all
        if client_retries
        else {"total_max_attempts": 1, "mode": "standard"},
    }
    kwargs = dict(anon=True, max_concurrency=1, config_kwargs=config, asynchronous=asynchronous)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    kwargs.update(options)
    return s3fs.S3FileSystem(**kwargs)


def http_filesystem(asynchronous: bool = False) -> fsspec.AbstractFileSystem:
    """An fsspec HTTP filesystem with a connect timeout (plain GETs, one per chunk)."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S)
    return fsspec.filesystem(
        "http",
        asynchronous=asynchronous,
        client_kwargs={"timeout": timeout},
        skip_instance_cache=True,
    )


def zarr_store(location: Location, client_retries: bool = True) -> Store:
    """A read-only zarr 3 store for ``location`` (tuned s3fs, fsspec HTTP or the local disk).

    ``client_retries`` as in :func:`s3_filesystem`.
    """
    if location.scheme == "file":
        return zarr.storage.LocalStore(location.path, read_only=True)
    if location.scheme == "s3":
        fs = s3_filesystem(location.endpoint, asynchronous=True, client_retries=client_retries)
    else:
        fs = http_filesystem(asynchronous=True)
    _ASYNC_FILESYSTEMS[id(fs)] = fs  # closed at exit
    return zarr.storage.FsspecStore(fs, path=location.path, read_only=True)


def close_filesystem(fs: fsspec.AbstractFileSystem) -> None:
    """Close an asynchronous filesystem's HTTP sessions now (no "Unclosed client session" warnings)."""
    close_filesystem_sessions(fs)
    _ASYNC_FILESYSTEMS.pop(id(fs), None)


def close_store(store: Store) -> None:
    """Close the HTTP sessions of ``store``'s filesystem, if it has one (reading again reopens them)."""
    fs = getattr(store, "fs", None)
    if fs is not None and getattr(fs, "asynchronous", False):
        close_filesystem(fs)


@atexit.register
def close_filesystems() -> None:
    """Close the HTTP sessions of every asynchronous filesystem this process used (run at exit).

    fsspec's cached instances count too: stores that arrived pickled (e.g. in a Dask worker) come
    back as cached instances that nobody tracked.
    """
    found = dict(_ASYNC_FILESYSTEMS)
    found.update((id(fs), fs) for fs in cached_async_filesystems())
    for fs in found.values():
        close_filesystem(fs)
