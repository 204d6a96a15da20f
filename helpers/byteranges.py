"""Byte ranges of an object: what a ``Range`` request asks for, and checking what came back. Pure.

An HTTP GET may ask for part of an object with a ``Range`` header: ``bytes=0-99`` for the first 100
bytes (both ends included in HTTP, unlike Python), ``bytes=-20`` for the last 20 bytes (a
*suffix*). A server that honours it answers ``206 Partial Content`` with a ``Content-Range``
header, ``bytes 0-99/1000``, naming the bytes sent and the object's size. This is how a reader
gets one inner chunk out of a Zarr shard (:mod:`helpers.shards`) without downloading the shard.

:class:`ByteRange` uses Python's convention (``stop`` excluded) and writes the header for you;
:func:`check_partial` checks that an answer holds exactly the bytes asked for. Downloading is
:mod:`helpers.fetch`'s job.

Examples
--------
>>> ByteRange.span(0, 100).header(), ByteRange.suffix_of(20).header()
('bytes=0-99', 'bytes=-20')
>>> ByteRange.suffix_of(20).resolve(1000)
(980, 1000)
>>> parse_content_range("bytes 980-999/1000")
(980, 1000, 1000)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ByteRange", "RangeError", "check_partial", "check_ranges", "parse_content_range"]


class RangeError(ValueError):
    """A byte range that cannot be asked for, or an answer that does not hold the bytes asked for."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ByteRange:
    """Some bytes of an object: ``start:stop`` (stop excluded), or the last ``suffix`` bytes.

    Make one with :meth:`span` or :meth:`suffix_of`.

    Attributes
    ----------
    start, stop : int or None
        First byte and one past the last byte (``None`` for a suffix).
    suffix : int or None
        How many bytes at the end of the object (``None`` for a span).

    Raises
    ------
    RangeError
        Both or neither form given, a non-integer or negative bound, or an empty range.

    Examples
    --------
    >>> r = ByteRange.span(100, 150)
    >>> r.length, str(r)
    (50, 'bytes=100-149')
    >>> ByteRange.span(5, 5)
    Traceback (most recent call last):
    ...
    helpers.byteranges.RangeError: empty byte range 5:5 (stop must be > start)
    """

    start: int | None = None
    stop: int | None = None
    suffix: int | None = None

    def __post_init__(self) -> None:
        if self.suffix is not None:
            if self.start is not None or self.stop is not None:
                raise RangeError("a byte range is either start:stop or a suffix, not both")
            if not _is_int(self.suffix) or self.suffix < 1:
                raise RangeError(f"a suffix must be an integer >= 1, got {self.suffix!r}")
            return
        if not _is_int(self.start) or not _is_int(self.stop):
            raise RangeError(
                f"a byte range needs integer start and stop (or a suffix), got "
                f"{self.start!r}:{self.stop!r}"
            )
        assert self.start is not None and self.stop is not None  # for the type checker
        if self.start < 0:
            raise RangeError(f"negative start {self.start} (use ByteRange.suffix_of for the end)")
        if self.stop <= self.start:
            raise RangeError(f"empty byte range {self.start}:{self.stop} (stop must be > start)")

    @classmethod
    def span(cls, start: int, stop: int) -> ByteRange:
        """Bytes ``start`` to ``stop - 1`` (Python's convention: ``stop`` excluded).

        Examples
        --------
        >>> ByteRange.span(0, 16).header()
        'bytes=0-15'
        """
        return cls(start=start, stop=stop)

    @classmethod
    def suffix_of(cls, n: int) -> ByteRange:
        """The last ``n`` bytes, whatever the object's size (how a shard's end index is read).

        Examples
        --------
        >>> ByteRange.suffix_of(260).header()
        'bytes=-260'
        """
        return cls(suffix=n)

    @property
    def is_suffix(self) -> bool:
        """True for "the last N bytes"."""
        return self.suffix is not None

    @property
    def length(self) -> int:
        """Number of bytes asked for."""
        if self.suffix is not None:
            return self.suffix
        assert self.start is not None and self.stop is not None
        return self.stop - self.start

    def header(self) -> str:
        """The value of the HTTP ``Range`` header (HTTP counts the last byte in).

        Examples
        --------
        >>> ByteRange.span(10, 20).header()
        'bytes=10-19'
        """
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        assert self.start is not None and self.stop is not None
        return f"bytes={self.start}-{self.stop - 1}"

    def __str__(self) -> str:
        return self.header()

    def resolve(self, size: int) -> tuple[int, int]:
        """The absolute ``(start, stop)`` of this range in an object of ``size`` bytes.

        Raises
        ------
        RangeError
            The range does not fit in the object. (An HTTP server would shorten such a range;
            here it is an error, because a reader that asks for bytes it believes exist has the
            wrong idea of the object.)

        Examples
        --------
        >>> ByteRange.span(0, 10).resolve(100), ByteRange.suffix_of(10).resolve(100)
        ((0, 10), (90, 100))
        >>> ByteRange.span(90, 110).resolve(100)
        Traceback (most recent call last):
        ...
        helpers.byteranges.RangeError: bytes=90-109 does not fit in an object of 100 bytes
        """
        if not _is_int(size) or size < 0:
            raise RangeError(f"an object size must be an integer >= 0, got {size!r}")
        if self.suffix is not None:
            start, stop = size - self.suffix, size
        else:
            assert self.start is not None and self.stop is not None
            start, stop = self.start, self.stop
        if start < 0 or stop > size:
            raise RangeError(f"{self.header()} does not fit in an object of {size} bytes")
        return start, stop


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED = re.compile(r"bytes\s+\*/(\d+)")


def parse_content_range(value: str | None) -> tuple[int, int, int | None]:
    """``(start, stop, total)`` of a ``Content-Range`` header (``stop`` excluded).

    Parameters
    ----------
    value : str or None
        The header, e.g. ``"bytes 0-99/1000"``; the total may be ``*`` (unknown: ``None``).

    Raises
    ------
    RangeError
        No header, a malformed one, or ``bytes */1000`` (the range asked for was not satisfiable:
        the object has 1000 bytes).

    Examples
    --------
    >>> parse_content_range("bytes 0-99/1000")
    (0, 100, 1000)
    >>> parse_content_range("bytes */1000")
    Traceback (most recent call last):
    ...
    helpers.byteranges.RangeError: the range asked for is outside the object (Content-Range 'bytes */1000': it has 1000 bytes)
    """
    if value is None:
        raise RangeError("a partial answer (206) without a Content-Range header")
    text = value.strip()
    unsatisfied = _UNSATISFIED.fullmatch(text)
    if unsatisfied:
        raise RangeError(
            f"the range asked for is outside the object (Content-Range {text!r}: it has "
            f"{unsatisfied.group(1)} bytes)"
        )
    match = _CONTENT_RANGE.fullmatch(text)
    if not match:
        raise RangeError(f"malformed Content-Range {value!r} (expected 'bytes START-END/TOTAL')")
    start, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < start or (total is not None and last >= total):
        raise RangeError(f"inconsistent Content-Range {value!r}")
    return start, last + 1, total


def check_partial(
    requested: ByteRange, status: int, content_range: str | None, body: bytes
) -> bytes:
    """The bytes ``requested``, from a good answer to a ``Range`` request; raise otherwise.

    A ``206`` answer must name exactly the requested bytes in its ``Content-Range`` and carry that
    many. A ``200`` answer is the whole object (the server ignored the ``Range`` header, which
    HTTP allows): the requested bytes are sliced out of it, as S3 clients do. Any other status
    should have been handled before (:func:`helpers.fetch.check_answer`).

    Parameters
    ----------
    requested : ByteRange
        What the request asked for.
    status : int
        HTTP status of the answer.
    content_range : str or None
        Its ``Content-Range`` header.
    body : bytes
        Its body.

    Returns
    -------
    bytes
        Exactly ``requested.length`` bytes.

    Raises
    ------
    RangeError
        Another status, a missing or different ``Content-Range``, or a body of the wrong length.

    Examples
    --------
    >>> check_partial(ByteRange.suffix_of(2), 206, "bytes 8-9/10", b"ij")
    b'ij'
    >>> check_partial(ByteRange.span(2, 4), 200, None, b"abcdefghij")  # the whole object came
    b'cd'
    >>> check_partial(ByteRange.span(2, 4), 206, "bytes 0-1/10", b"ab")
    Traceback (most recent call last):
    ...
    helpers.byteranges.RangeError: asked for bytes=2-3 but the answer holds bytes 0-1 of 10
    """
    if status == 200:
        start, stop = requested.resolve(len(body))
        return bytes(body[start:stop]) if (start, stop) != (0, len(body)) else body
    if status != 206:
        raise RangeError(f"HTTP {status} is not an answer to a range request (expected 206 or 200)")
    start, stop, total = parse_content_range(content_range)
    if total is not None:
        expected = requested.resolve(total)
    elif requested.suffix is not None:  # size unknown: only the length can be checked
        expected = (start, start + requested.suffix)
    else:
        expected = (requested.start or 0, requested.stop or 0)
    if (start, stop) != expected:
        of = f" of {total}" if total is not None else ""
        raise RangeError(
            f"asked for {requested.header()} but the answer holds bytes {start}-{stop - 1}{of}"
        )
    if len(body) != stop - start:
        raise RangeError(
            f"the answer to {requested.header()} has {len(body)} bytes, not {stop - start}"
        )
    return body


def check_ranges(ranges: Sequence[ByteRange | None] | None, n: int) -> list[ByteRange | None]:
    """The byte range of each of ``n`` requests (``None``: the whole object).

    Parameters
    ----------
    ranges : sequence of ByteRange or None, or None
        One item per request, in order; ``None`` for "whole objects only".
    n : int
        Number of requests (URLs).

    Raises
    ------
    RangeError
        Not one item per request, or an item that is neither a :class:`ByteRange` nor ``None``.

    Examples
    --------
    >>> check_ranges(None, 2)
    [None, None]
    >>> check_ranges([ByteRange.span(0, 4)], 2)
    Traceback (most recent call last):
    ...
    helpers.byteranges.RangeError: 1 byte ranges for 2 URLs: give one ByteRange (or None) per URL
    """
    if ranges is None:
        return [None] * n
    if isinstance(ranges, ByteRange) or not isinstance(ranges, Sequence):
        raise RangeError("ranges must be a list with one ByteRange (or None) per URL")
    items = list(ranges)
    if len(items) != n:
        raise RangeError(
            f"{len(items)} byte ranges for {n} URLs: give one ByteRange (or None) per URL"
        )
    for item in items:
        if item is not None and not isinstance(item, ByteRange):
            raise RangeError(f"a byte range must be a ByteRange or None, got {item!r}")
    return items
