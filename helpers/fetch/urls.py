"""Checks of what a fetcher is asked to do: http(s) URLs, a non-empty list, a valid concurrency.

Examples
--------
>>> check_url("http://127.0.0.1:9000/course-data/a.zarr/zarr.json")
'http://127.0.0.1:9000/course-data/a.zarr/zarr.json'
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..config import MAX_CONCURRENCY

__all__ = ["check_arguments", "check_url"]


def check_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host.

    Parameters
    ----------
    url : str
        The URL to check.

    Returns
    -------
    str
        ``url`` itself.

    Raises
    ------
    ValueError
        Not a string, not http(s) (e.g. ``s3://``), no host, a bad port or white space.

    Examples
    --------
    >>> check_url("s3://course-data/x")
    Traceback (most recent call last):
    ...
    ValueError: not an http(s) URL: 's3://course-data/x' (for the local cloud use cloud.url(key); s3:// URLs need an S3 client such as s3fs)
    >>> check_url("http://127.0.0.1:99999/a")
    Traceback (most recent call last):
    ...
    ValueError: malformed URL 'http://127.0.0.1:99999/a' (Port out of range 0-65535): expected http(s)://HOST[:PORT]/PATH
    """
    if not isinstance(url, str):
        raise ValueError(f"a URL must be a string, got {type(url).__name__} {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise ValueError(
            f"malformed URL {url!r} ({err}): expected http(s)://HOST[:PORT]/PATH"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"not an http(s) URL: {url!r} (for the local cloud use cloud.url(key); s3:// URLs "
            "need an S3 client such as s3fs)"
        )
    if any(c.isspace() for c in url):
        raise ValueError(f"malformed URL {url!r}: it contains white space (quote it as %20)")
    return url


def check_arguments(urls: Sequence[str], concurrency: int) -> list[str]:
    """Check a fetcher's URLs and concurrency; return the URLs as a list.

    Parameters
    ----------
    urls : sequence of str
        The URLs to fetch.
    concurrency : int
        Requests allowed in flight.

    Returns
    -------
    list of str
        The URLs.

    Raises
    ------
    ValueError
        ``concurrency`` is not an integer from 1 to :data:`~helpers.config.MAX_CONCURRENCY`,
        ``urls`` is one string or empty, or a URL is not a well-formed http(s) URL.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if concurrency > MAX_CONCURRENCY:
        raise ValueError(
            f"concurrency={concurrency} is too large: use at most {MAX_CONCURRENCY} (gains stop "
            "long before: see the latency model)"
        )
    if isinstance(urls, str):
        raise ValueError("urls must be a list of URLs, not one string")
    urls = list(urls)
    if not urls:
        raise ValueError("no URLs to fetch (the key list is empty)")
    for url in urls:
        check_url(url)
    return urls
