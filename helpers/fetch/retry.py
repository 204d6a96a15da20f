"""When a chunk request is good, worth retrying, or failed: the errors, the policy and the one loop.

Every HTTP answer goes through :func:`check_answer`, the one place deciding "good / retry / fail";
connection trouble counts as "retry". :class:`Attempts` is the one retry loop, shared by the blocking
and the asynchronous clients: it numbers the attempts, says how long to wait after a failure and
gives up with a :class:`FetchError` (naming the URL, the fault and the attempts) when retrying cannot
help, the attempts are used up or the URL's deadline has passed. Waits are jittered (seeded if you
want repeatable runs) and honour a server's ``Retry-After``. The zarr store layer
(:mod:`helpers.reliable`) uses the same loop for every chunk key. The clients only do the waiting,
each in its own way (``time.sleep`` or ``asyncio.sleep``). The errors live in
:mod:`~helpers.fetch.errors`.

Examples
--------
>>> policy = RetryPolicy(attempts=3, backoff_s=0.1)
>>> [policy.delay_s(n) for n in (1, 2)]  # the longest waits; full jitter picks up to these
[0.1, 0.2]
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..config import DEADLINE_MARGIN_S, TOTAL_DEADLINE_S
from .errors import FetchError, PermanentError, RetryableError, parse_retry_after, s3_error_code

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "Attempts",
    "FetchError",
    "PermanentError",
    "RetryPolicy",
    "RetryableError",
    "check_answer",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try a request, how long to wait between tries, and when to give up.

    The wait after the n-th failure grows as ``backoff_s * 2 ** (n - 1)`` up to ``max_backoff_s``
    (:meth:`delay_s`); with ``jitter="full"`` (the default) the actual wait is drawn uniformly
    between 0 and that value, so many clients hit by the same fault do not retry in lock step.
    A ``Retry-After`` header (on 429/503) replaces the wait, capped by ``max_backoff_s``. Whatever
    the attempts left, a URL gives up once ``deadline_s`` has passed since its first attempt.

    Attributes
    ----------
    attempts : int
        Total tries per URL (1 = no retry).
    backoff_s : float
        Wait before the 2nd try; doubled for each further try, at most ``max_backoff_s``.
    max_backoff_s : float
        Longest wait between two tries (also caps a server's ``Retry-After``).
    retry_statuses : frozenset of int
        HTTP statuses worth retrying (S3 answers 503 "SlowDown" when overloaded).
    deadline_s : float or None
        Longest time for one URL, all attempts and waits included (default
        :data:`~helpers.config.TOTAL_DEADLINE_S`); ``None`` for no deadline.
    attempt_timeout_s : float or None
        Longest time for one attempt (``None``: only the clients' read timeouts, which bound the
        silence between two reads, and the deadline). Set it to cut stalled attempts early.
    jitter : {"full", "equal", "none"}
        How waits are randomised: uniform in ``[0, d]``, in ``[d / 2, d]``, or not at all.
    seed : int or None
        Seed of the jitter (per URL), for repeatable runs; ``None``: different every run.

    Raises
    ------
    ValueError
        ``attempts`` is not an integer >= 1, a time is negative, or ``jitter`` is unknown.

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
    deadline_s: float | None = TOTAL_DEADLINE_S
    attempt_timeout_s: float | None = None
    jitter: str = "full"
    seed: int | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 1
        ):
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must be >= 0")
        for name in ("deadline_s", "attempt_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 seconds (or None), got {value!r}")
        if self.jitter not in JITTERS:
            raise ValueError(f"unknown jitter {self.jitter!r}: use one of {', '.join(JITTERS)}")

    def delay_s(self, failed_attempts: int) -> float:
        """The longest wait after ``failed_attempts`` failures (the jitter picks up to this).

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

    def wait_s(self, failed_attempts: int, rng: random.Random) -> float:
        """The jittered wait after ``failed_attempts`` failures.

        Parameters
        ----------
        failed_attempts : int
            Attempts that failed so far (>= 1).
        rng : random.Random
            Source of the jitter.

        Returns
        -------
        float
            A wait between 0 and :meth:`delay_s` (see ``jitter``).

        Examples
        --------
        >>> RetryPolicy(backoff_s=0.1, jitter="none").wait_s(2, random.Random(0))
        0.2
        >>> 0.1 <= RetryPolicy(backoff_s=0.1, jitter="equal").wait_s(2, random.Random(0)) <= 0.2
        True
        """
        ceiling = self.delay_s(failed_attempts)
        if self.jitter == "full":
            return rng.uniform(0, ceiling)
        if self.jitter == "equal":
            return rng.uniform(ceiling / 2, ceiling)
        return ceiling


JITTERS = ("full", "equal", "none")
DEFAULT_RETRY = RetryPolicy()
"""3 attempts, waits of up to 50 ms then 100 ms (full jitter), 30 s in all at most per URL."""
NO_RETRY = RetryPolicy(attempts=1)
"""Fail on the first error (useful to see faults as they are)."""


def check_answer(
    status: int,
    reason: str,
    content_length: str | None,
    body: bytes,
    policy: RetryPolicy,
    retry_after: str | None = None,
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
    retry_after : str or None
        The ``Retry-After`` header, if any (honoured on a status worth retrying).

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
    helpers.fetch.errors.PermanentError: HTTP 404 Not Found (NoSuchKey) (not retried)
    """
    if status in policy.retry_statuses:
        raise RetryableError(
            f"HTTP {status} {reason}{s3_error_code(body)}", status, parse_retry_after(retry_after)
        )
    if not 200 <= status < 300:
        raise PermanentError(f"HTTP {status} {reason}{s3_error_code(body)} (not retried)", status)
    if content_length is not None and content_length.isdigit() and int(content_length) != len(body):
        raise RetryableError(f"truncated body: got {len(body)} of {content_length} bytes")


class Attempts:
    """The retry loop of one URL: attempt numbers, time left, the wait after a failure, giving up.

    Iterate to get the attempt numbers 1, 2, ...; bound each attempt by :meth:`timeout_s`; after a
    failed attempt call :meth:`failed`, which returns the seconds to wait before the next one or
    raises :class:`FetchError`. Every read path uses it the same way (only the waiting differs)::

        attempts = Attempts(url, policy)
        for attempt in attempts:
            try:
                return get_once(url, timeout=attempts.timeout_s(READ_TIMEOUT_S)), attempt
            except (RetryableError, PermanentError) as err:
                time.sleep(attempts.failed(err))  # or: await asyncio.sleep(...)

    Parameters
    ----------
    url : str
        What is read (named in the :class:`FetchError`): a URL, or a store key's description.
    policy : RetryPolicy
        How many attempts, the waits between them and the deadline.
    verb : str
        First word of the error message (``"GET"``, or ``"reading"`` for a store key).

    Attributes
    ----------
    made : int
        Attempts started so far.
    delays_s : list of float
        The waits :meth:`failed` asked for so far.
    faults : list of str
        The fault of each failed attempt, in order.

    Examples
    --------
    >>> policy = RetryPolicy(attempts=3, backoff_s=0.1, jitter="none")
    >>> attempts = Attempts("http://host/a/c/0", policy)
    >>> for attempt in attempts:
    ...     try:
    ...         raise RetryableError("HTTP 503 Service Unavailable", 503)  # every GET fails
    ...     except RetryableError as err:
    ...         delay = attempts.failed(err)  # a client waits this long, then tries again
    Traceback (most recent call last):
    ...
    helpers.fetch.errors.FetchError: GET http://host/a/c/0 failed after 3 attempts in 0.0 s: HTTP 503 Service Unavailable
    >>> attempts.delays_s
    [0.1, 0.2]
    """

    def __init__(self, url: str, policy: RetryPolicy, verb: str = "GET") -> None:
        self.url, self.policy, self.verb = url, policy, verb
        self.made = 0
        self.delays_s: list[float] = []
        self.faults: list[str] = []
        self._start = self._attempt_start = time.monotonic()
        seed = policy.seed if policy.seed is not None else random.getrandbits(64)
        self._rng = random.Random(f"{seed}:{url}")

    @property
    def elapsed_s(self) -> float:
        """Seconds since the loop began."""
        return time.monotonic() - self._start

    def remaining_s(self) -> float:
        """Seconds left before the deadline (``inf`` without one)."""
        if self.policy.deadline_s is None:
            return math.inf
        return self.policy.deadline_s - self.elapsed_s

    def timeout_s(self, per_attempt_s: float) -> float:
        """A timeout for (part of) the current attempt: ``per_attempt_s``, cut to the time left.

        Parameters
        ----------
        per_attempt_s : float
            The usual timeout (e.g. the read timeout; ``math.inf`` for none).

        Returns
        -------
        float
            ``per_attempt_s``, at most the time left before the deadline and before the end of
            the attempt (``policy.attempt_timeout_s``), less a small margin
            (:data:`~helpers.config.DEADLINE_MARGIN_S`) so the error comes within the deadline;
            at least 1 ms.
        """
        # cut a little before the deadline, so that the error is raised within it
        left = min(per_attempt_s, self.remaining_s() - DEADLINE_MARGIN_S)
        if self.policy.attempt_timeout_s is not None:
            attempt_left = self.policy.attempt_timeout_s - (time.monotonic() - self._attempt_start)
            left = min(left, attempt_left)
        return max(0.001, left)

    def __iter__(self) -> Iterator[int]:
        """Attempt numbers, from 1 to ``policy.attempts``."""
        while self.made < self.policy.attempts:
            self.made += 1
            self._attempt_start = time.monotonic()
            yield self.made

    def give_up(self, reason: str, status: int | None = None) -> FetchError:
        """The error that ends the loop: names what was read, ``reason`` and the attempts.

        Parameters
        ----------
        reason : str
            The last fault (and why no further attempt is made).
        status : int or None
            The HTTP status of the last answer, if any.

        Returns
        -------
        FetchError
            To be raised by the caller.
        """
        return FetchError(self.url, reason, self.made, status, self.elapsed_s, self.verb)

    def failed(self, error: RetryableError | PermanentError) -> float:
        """Record that the current attempt failed with ``error``; return the seconds to wait.

        Parameters
        ----------
        error : RetryableError or PermanentError
            Why the attempt failed.

        Returns
        -------
        float
            Seconds to wait before the next attempt: the jittered backoff, or the server's
            ``Retry-After`` capped by ``policy.max_backoff_s``.

        Raises
        ------
        FetchError
            ``error`` is permanent, it was the last attempt the policy allows, or the wait would
            leave no time for another attempt before the deadline.
        """
        self.faults.append(error.reason)
        if isinstance(error, PermanentError) or self.made >= self.policy.attempts:
            raise self.give_up(error.reason, error.status) from None
        delay = self.policy.wait_s(self.made, self._rng)
        if isinstance(error, RetryableError) and error.retry_after_s is not None:
            delay = min(error.retry_after_s, self.policy.max_backoff_s)
        if delay + DEADLINE_MARGIN_S >= self.remaining_s():  # no time left for another attempt
            deadline = f"{self.policy.deadline_s:g} s deadline"
            raise self.give_up(
                f"{error.reason} (gave up: the {deadline} was reached)", error.status
            )
        self.delays_s.append(delay)
        logger.debug(
            "%s %s: attempt %d of %d failed (%s), retrying in %.3f s",
            self.verb,
            self.url,
            self.made,
            self.policy.attempts,
            error.reason,
            delay,
        )
        return delay
