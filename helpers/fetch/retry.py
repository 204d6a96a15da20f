"""When a chunk request is good, worth retrying, or failed: the errors, the policy and the one loop.

Every HTTP answer goes through :func:`check_answer`, the one place deciding "good / retry / fail";
connection trouble counts as "retry". :class:`Attempts` is the one retry loop, shared by the blocking
and the asynchronous clients: it numbers the attempts, says how long to wait after a failure and
gives up with a :class:`FetchError` (naming the URL) when retrying cannot help or the attempts are
used up. The clients only do the waiting, each in its own way (``time.sleep`` or ``asyncio.sleep``).

Examples
--------
>>> policy = RetryPolicy(attempts=3, backoff_s=0.1)
>>> [policy.delay_s(n) for n in (1, 2)]
[0.1, 0.2]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "Attempts",
    "FetchError",
    "PermanentError",
    "RetryPolicy",
    "RetryableError",
    "check_answer",
]

logger = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A URL could not be fetched (after retries, if the failure was worth retrying).

    Parameters
    ----------
    url : str
        The URL (it holds the chunk key).
    reason : str
        What went wrong, e.g. ``"HTTP 404 Not Found (NoSuchKey) (not retried)"``.
    attempts : int
        Attempts made.
    status : int or None
        The HTTP status of the last answer, ``None`` when there was none (connection trouble).
    """

    def __init__(self, url: str, reason: str, attempts: int, status: int | None = None) -> None:
        self.url, self.reason, self.attempts, self.status = url, reason, attempts, status
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"GET {url} failed after {tries}: {reason}")


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (connection trouble, 503, truncated body...).

    Parameters
    ----------
    reason : str
        What went wrong.
    status : int or None
        The HTTP status, ``None`` when there was no answer.
    """

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


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


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request, and how long to wait between tries.

    Attributes
    ----------
    attempts : int
        Total tries per URL (1 = no retry).
    backoff_s : float
        Wait before the 2nd try; doubled for each further try, at most ``max_backoff_s``.
    max_backoff_s : float
        Longest wait between two tries.
    retry_statuses : frozenset of int
        HTTP statuses worth retrying (S3 answers 503 "SlowDown" when overloaded).

    Raises
    ------
    ValueError
        ``attempts`` is not an integer >= 1, or a backoff time is negative.

    Examples
    --------
    >>> policy = RetryPolicy(attempts=5, backoff_s=0.1, max_backoff_s=0.3)
    >>> [policy.delay_s(n) for n in (1, 2, 3, 4)]
    [0.1, 0.2, 0.3, 0.3]
    >>> from helpers.fetch import fetch_async
    >>> fetch_async(urls, 16, retry=policy)  # doctest: +SKIP
    """

    attempts: int = 3
    backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    retry_statuses: frozenset[int] = field(default=frozenset({408, 429, 500, 502, 503, 504}))

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must be >= 0")

    def delay_s(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures before the next try.

        Parameters
        ----------
        failed_attempts : int
            Attempts that failed so far (>= 1).

        Returns
        -------
        float
            ``backoff_s * 2 ** (failed_attempts - 1)``, at most ``max_backoff_s``.
        """
        return min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempts - 1))


DEFAULT_RETRY = RetryPolicy()
"""3 attempts, waiting 50 ms then 100 ms: rides out a brief fault without hiding a real one."""
NO_RETRY = RetryPolicy(attempts=1)
"""Fail on the first error (useful to see faults as they are)."""


def check_answer(
    status: int, reason: str, content_length: str | None, body: bytes, policy: RetryPolicy
) -> None:
    """Decide whether one HTTP answer is a good chunk; raise otherwise.

    Parameters
    ----------
    status : int
        HTTP status of the answer.
    reason : str
        Its reason phrase (``"Not Found"``...).
    content_length : str or None
        The ``Content-Length`` header, if any.
    body : bytes
        The body received.
    policy : RetryPolicy
        Gives the statuses worth retrying.

    Raises
    ------
    RetryableError
        A status in ``policy.retry_statuses``, or a body shorter or longer than its
        ``Content-Length``.
    PermanentError
        Any other non-2xx status.

    Examples
    --------
    >>> check_answer(200, "OK", "3", b"abc", DEFAULT_RETRY)  # a good answer: nothing happens
    >>> check_answer(404, "Not Found", None, b"<Code>NoSuchKey</Code>", DEFAULT_RETRY)
    Traceback (most recent call last):
    ...
    helpers.fetch.retry.PermanentError: HTTP 404 Not Found (NoSuchKey) (not retried)
    """
    if status in policy.retry_statuses:
        raise RetryableError(f"HTTP {status} {reason}{_s3_code(body)}", status)
    if not 200 <= status < 300:
        raise PermanentError(f"HTTP {status} {reason}{_s3_code(body)} (not retried)", status)
    if content_length is not None and content_length.isdigit() and int(content_length) != len(body):
        raise RetryableError(f"truncated body: got {len(body)} of {content_length} bytes")


def _s3_code(body: bytes) -> str:
    """The ``<Code>`` of an S3 error document (`` (SlowDown)``), or ``""``."""
    match = re.search(rb"<Code>([^<]{1,64})</Code>", body[:2000])
    return f" ({match.group(1).decode(errors='replace')})" if match else ""


class Attempts:
    """The retry loop of one URL: attempt numbers, the wait after a failure, and giving up.

    Iterate to get the attempt numbers 1, 2, ...; after a failed attempt call :meth:`failed`,
    which returns the seconds to wait before the next one or raises :class:`FetchError`. Both
    clients use it the same way (only their way of waiting differs)::

        attempts = Attempts(url, policy)
        for attempt in attempts:
            try:
                return get_once(url), attempt
            except (RetryableError, PermanentError) as err:
                time.sleep(attempts.failed(err))  # or: await asyncio.sleep(...)

    Parameters
    ----------
    url : str
        The URL being fetched (named in the :class:`FetchError`).
    policy : RetryPolicy
        How many attempts, and the waits between them.

    Attributes
    ----------
    made : int
        Attempts started so far.
    delays_s : list of float
        The waits :meth:`failed` asked for so far.

    Examples
    --------
    >>> attempts = Attempts("http://host/a/c/0", RetryPolicy(attempts=3, backoff_s=0.1))
    >>> for attempt in attempts:
    ...     try:
    ...         raise RetryableError("HTTP 503 Service Unavailable", 503)  # every GET fails
    ...     except RetryableError as err:
    ...         delay = attempts.failed(err)  # a client waits this long, then tries again
    Traceback (most recent call last):
    ...
    helpers.fetch.retry.FetchError: GET http://host/a/c/0 failed after 3 attempts: HTTP 503 Service Unavailable
    >>> attempts.delays_s
    [0.1, 0.2]
    """

    def __init__(self, url: str, policy: RetryPolicy) -> None:
        self.url, self.policy = url, policy
        self.made = 0
        self.delays_s: list[float] = []

    def __iter__(self) -> Iterator[int]:
        """Attempt numbers, from 1 to ``policy.attempts``."""
        while self.made < self.policy.attempts:
            self.made += 1
            yield self.made

    def failed(self, error: RetryableError | PermanentError) -> float:
        """Record that the current attempt failed with ``error``; return the seconds to wait.

        Parameters
        ----------
        error : RetryableError or PermanentError
            Why the attempt failed.

        Returns
        -------
        float
            Seconds to wait before the next attempt (``policy.delay_s``).

        Raises
        ------
        FetchError
            ``error`` is permanent, or it was the last attempt the policy allows.
        """
        if isinstance(error, PermanentError) or self.made >= self.policy.attempts:
            raise FetchError(self.url, error.reason, self.made, error.status) from None
        delay = self.policy.delay_s(self.made)
        self.delays_s.append(delay)
        logger.debug(
            "GET %s: attempt %d of %d failed (%s), retrying in %.3f s",
            self.url,
            self.made,
            self.policy.attempts,
            error.reason,
            delay,
        )
        return delay
