"""Checks of what a fetcher is asked to do: http(s) URLs, a non-empty list, a valid concurrency.

Examples
--------
>>> check_url("http://127.0.0.1:9000/course-data/a.zarr/zarr.json")
'http://127.0.0.1:9000/course-data/a.zarr/zarr.json'
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

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
        Not a string, not http(s) (e.g. ``s3://``), or no host.

    Examples
    --------
    >>> check_url("s3://course-data/x")
    Traceback (most recent call last):
    ...
    ValueError: not an http(s) URL: 's3://course-data/x' (for the local cloud use cloud.url(key); s3:// URLs need an S3 client such as s3fs)
    """
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).hostname
    ):
        raise ValueError(
            f"not an http(s) URL: {url!r} (for the local cloud use cloud.url(key); s3:// URLs "
            "need an S3 client such as s3fs)"
        )
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
        ``concurrency`` is not an integer >= 1, ``urls`` is one string or empty, or a URL is not
        http(s).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if isinstance(urls, str):
        raise ValueError("urls must be a list of URLs, not one string")
    urls = list(urls)
    if not urls:
        raise ValueError("no URLs to fetch (the key list is empty)")
    for url in urls:
        check_url(url)
    return urls
