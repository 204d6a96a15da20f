"""What can go wrong reading one URL or key: the two kinds of failed attempt, and the final error.

A failed attempt is a :class:`RetryableError` (connection trouble, 503, a truncated body, a timeout)
or a :class:`PermanentError` (404, 403...); when the retry loop (:class:`helpers.fetch.retry.Attempts`)
gives up it raises one :class:`FetchError` naming what was read, the fault and the attempts.

Examples
--------
>>> print(FetchError("http://h/a.zarr/c/0", "HTTP 503 Service Unavailable (SlowDown)", 3, 503, 0.42))
GET http://h/a.zarr/c/0 failed after 3 attempts in 0.4 s: HTTP 503 Service Unavailable (SlowDown)
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

__all__ = ["FetchError", "PermanentError", "RetryableError", "parse_retry_after", "s3_error_code"]


class FetchError(RuntimeError):
    """A URL (or a store key) could not be read, after retries if the fault was worth retrying.

    The message names what was read, the fault seen and the attempts made, e.g. ``GET
    http://h/a.zarr/c/0/0 failed after 3 attempts in 0.4 s: HTTP 503 Service Unavailable
    (SlowDown)``.

    Parameters
    ----------
    url : str
        The URL (it holds the chunk key), or a description such as ``"chunk 'c/0/0' of s3://..."``.
    reason : str
        What went wrong, e.g. ``"HTTP 404 Not Found (NoSuchKey) (not retried)"``.
    attempts : int
        Attempts made.
    status : int or None
        The HTTP status of the last answer, ``None`` when there was none (connection trouble).
    elapsed_s : float or None
        Seconds spent on all attempts and waits (``None``: not measured).
    verb : str
        What was attempted, ``"GET"`` for a URL, ``"reading"`` for a store key.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        attempts: int,
        status: int | None = None,
        elapsed_s: float | None = None,
        verb: str = "GET",
    ) -> None:
        self.url, self.reason, self.attempts, self.status = url, reason, attempts, status
        self.elapsed_s = elapsed_s
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        took = "" if elapsed_s is None else f" in {elapsed_s:.1f} s"
        super().__init__(f"{verb} {url} failed after {tries}{took}: {reason}")


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (connection trouble, 503, truncated body...).

    Parameters
    ----------
    reason : str
        What went wrong.
    status : int or None
        The HTTP status, ``None`` when there was no answer.
    retry_after_s : float or None
        The wait the server asked for (its ``Retry-After`` header), if any.
    """

    def __init__(
        self, reason: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after_s = reason, status, retry_after_s


class PermanentError(Exception):
    """One attempt got an answer that retrying cannot fix (404, 403...).

    Parameters
    ----------
    reason : str
        What went wrong.
    status : int or None
        The HTTP status.
    """

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or ``None``.

    Parameters
    ----------
    value : str or None
        The header's value.

    Returns
    -------
    float or None
        Seconds (>= 0); ``None`` for no header or an unreadable one.

    Examples
    --------
    >>> parse_retry_after("2"), parse_retry_after("0.5"), parse_retry_after("soon")
    (2.0, 0.5, None)
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def s3_error_code(body: bytes) -> str:
    """The ``<Code>`` of an S3 error document, as `` (SlowDown)``, or ``""``.

    Parameters
    ----------
    body : bytes
        An answer's body.

    Returns
    -------
    str
        `` (CODE)`` or ``""``.

    Examples
    --------
    >>> s3_error_code(b"<Error><Code>SlowDown</Code></Error>")
    ' (SlowDown)'
    """
    match = re.search(rb"<Code>([^<]{1,64})</Code>", body[:2000])
    return f" ({match.group(1).decode(errors='replace')})" if match else ""
