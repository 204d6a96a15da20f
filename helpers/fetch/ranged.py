"""Range requests in the fetchers: the header a request sends and the one check of its answer.

A fetcher given a :class:`~helpers.byteranges.ByteRange` for a URL sends ``Range: bytes=...`` and
passes the answer to :func:`checked_body`: the usual checks (:func:`~helpers.fetch.check_answer`:
retry a 503, fail on a 404...) plus the range's own (:func:`~helpers.byteranges.check_partial`: a
``206`` must hold exactly the bytes asked for; a ``200`` is the whole object, sliced). A ``416``
(the range lies outside the object) fails at once with a message naming the range and the
object's size. Retries, deadlines and errors are those of whole objects.

Examples
--------
>>> from helpers.byteranges import ByteRange
>>> range_headers(ByteRange.suffix_of(260)), describe("http://h/a/c/0", ByteRange.span(0, 8))
({'Range': 'bytes=-260'}, 'http://h/a/c/0 (Range: bytes=0-7)')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from ..byteranges import ByteRange, RangeError, check_partial
from .retry import PermanentError, RetryPolicy, check_answer

__all__ = ["checked_body", "describe", "range_headers"]

logger = logging.getLogger(__name__)


def range_headers(byte_range: ByteRange | None) -> dict[str, str]:
    """The request headers for ``byte_range``: ``{"Range": ...}``, or none for a whole object."""
    return {} if byte_range is None else {"Range": byte_range.header()}


def describe(url: str, byte_range: ByteRange | None) -> str:
    """What a request reads, as errors name it: the URL, and its range if any."""
    return url if byte_range is None else f"{url} (Range: {byte_range.header()})"


def _object_size(content_range: str | None, body: bytes) -> str:
    """The object's size as a 416 answer gives it (``Content-Range: bytes */N`` or S3's XML)."""
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", content_range or "")
    if match is not None:
        return f" of {match.group(1)} bytes"
    xml = re.search(rb"<ActualObjectSize>(\d+)</ActualObjectSize>", body[:2000])
    return f" of {xml.group(1).decode()} bytes" if xml is not None else ""


def checked_body(
    byte_range: ByteRange | None,
    status: int,
    reason: str,
    header: Callable[[str], str | None],
    body: bytes,
    policy: RetryPolicy,
) -> bytes:
    """The bytes asked for, from one HTTP answer; raise Retryable/PermanentError otherwise.

    Parameters
    ----------
    byte_range : ByteRange or None
        The range the request asked for (``None``: the whole object).
    status : int
        HTTP status of the answer.
    reason : str
        Its reason phrase.
    header : callable
        Gives a header of the answer by name (``None`` if absent).
    body : bytes
        The body received.
    policy : RetryPolicy
        Gives the statuses worth retrying.

    Returns
    -------
    bytes
        The whole body, or exactly the bytes of ``byte_range``.

    Raises
    ------
    RetryableError
        As :func:`~helpers.fetch.check_answer` (503, a truncated body...).
    PermanentError
        As :func:`~helpers.fetch.check_answer` (404...), a ``416``, or an answer that does not
        hold the bytes asked for.

    Examples
    --------
    >>> from helpers.fetch import DEFAULT_RETRY
    >>> headers = {"Content-Range": "bytes 2-3/10", "Content-Length": "2"}
    >>> checked_body(ByteRange.span(2, 4), 206, "Partial Content", headers.get, b"cd", DEFAULT_RETRY)
    b'cd'
    >>> checked_body(ByteRange.span(20, 24), 416, "Range Not Satisfiable", {}.get, b"", DEFAULT_RETRY)
    Traceback (most recent call last):
    ...
    helpers.fetch.errors.PermanentError: HTTP 416 Range Not Satisfiable: bytes=20-23 is outside the object (not retried)
    """
    if byte_range is not None and status == 416:
        size = _object_size(header("Content-Range"), body)
        raise PermanentError(
            f"HTTP 416 {reason}: {byte_range.header()} is outside the object{size} (not retried)",
            status,
        )
    check_answer(status, reason, header("Content-Length"), body, policy, header("Retry-After"))
    if byte_range is None:
        return body
    try:
        part = check_partial(byte_range, status, header("Content-Range"), body)
    except RangeError as err:
        raise PermanentError(
            f"bad answer to a range request: {err} (not retried)", status
        ) from None
    if status == 200:
        logger.info(
            "the server ignored Range %s and sent the whole object (%d bytes): sliced",
            byte_range.header(),
            len(body),
        )
    return part
