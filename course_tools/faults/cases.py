"""What the fault suite runs: its settings, and the faults it injects (transient or permanent).

:class:`SuiteSettings` holds the short retry settings the suite reads with (a deadline of 2 s per
chunk, attempts cut after 0.5 s, ...) and the region it reads. :func:`fault_cases` turns them into
the faults, one :class:`FaultCase` each: every kind of the local cloud's faults
(:data:`helpers.cloud.FAULT_KINDS`) at least once, a *transient* version of it where one exists (it
strikes a few attempts, later ones succeed: the read must recover the exact bytes) and a *permanent*
version where one exists (it never lets up: the read must fail with one clear error).

Examples
--------
>>> settings = SuiteSettings()
>>> [(case.name, case.transient) for case in fault_cases(settings)][:2]
[('latency_spike', True), ('slowdown', True)]
>>> settings.policy().deadline_s
2.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from course_tools.config import (
    FAULT_STALL_MAX_S,
    FAULT_SUITE_ATTEMPT_TIMEOUT_S,
    FAULT_SUITE_DEADLINE_S,
    FAULT_SUITE_SLACK_S,
)
from helpers.fetch import RetryPolicy

__all__ = ["TRANSIENT_HITS", "FaultCase", "SuiteSettings", "fault_cases"]

TRANSIENT_HITS = 2
"""A transient fault strikes this many requests of the read at most (its ``limit``), then lets up."""


@dataclass(frozen=True)
class SuiteSettings:
    """The fault suite's retry settings, the region it reads, and how long a read may take.

    Attributes
    ----------
    deadline_s : float
        Deadline per chunk (all attempts and waits).
    attempt_timeout_s : float
        Longest time for one attempt: a stall or a latency spike is cut after this and retried.
    attempts : int
        Attempts per chunk.
    backoff_s, max_backoff_s : float
        First wait, and the longest wait (also caps a ``Retry-After``).
    jitter : str
        ``"equal"`` (the default here): each wait is at least half its ceiling, so the retries of
        a chunk are sure to outlast a short outage (``"full"`` may retry at once).
    seed : int
        Seed of the jitter and of the faults, so runs repeat.
    slack_s : float
        A read still running ``deadline_s + slack_s`` after it started is a hang.
    latency_ms : float
        Latency of the private local cloud.
    level, channel : int
        Which level and channel of the nuclei image are read.
    planes : tuple of int
        ``(first, stop)``: the z planes read (one chunk each).

    Raises
    ------
    ValueError
        A time that is not positive, an attempt timeout not below the deadline, or an empty
        plane range (and whatever :class:`~helpers.fetch.RetryPolicy` refuses).
    """

    deadline_s: float = FAULT_SUITE_DEADLINE_S
    attempt_timeout_s: float = FAULT_SUITE_ATTEMPT_TIMEOUT_S
    attempts: int = 6
    backoff_s: float = 0.1
    max_backoff_s: float = 0.5
    jitter: str = "equal"
    seed: int = 1
    slack_s: float = FAULT_SUITE_SLACK_S
    latency_ms: float = 0.0
    level: int = 1
    channel: int = 1
    planes: tuple[int, int] = field(default=(100, 104))

    def __post_init__(self) -> None:
        self.policy()  # RetryPolicy's own checks, with its messages
        if not self.attempt_timeout_s < self.deadline_s:
            raise ValueError(
                f"the attempt timeout ({self.attempt_timeout_s:g} s) must be shorter than the "
                f"deadline ({self.deadline_s:g} s), or no attempt could be retried"
            )
        if self.slack_s < 0 or self.latency_ms < 0:
            raise ValueError("slack_s and latency_ms must be >= 0")
        if not 0 <= self.planes[0] < self.planes[1]:
            raise ValueError(f"planes must be (first, stop) with first < stop, got {self.planes}")

    def policy(self) -> RetryPolicy:
        """The retry policy every read path of the suite uses.

        Returns
        -------
        RetryPolicy
            Built from these settings.
        """
        return RetryPolicy(
            attempts=self.attempts,
            backoff_s=self.backoff_s,
            max_backoff_s=self.max_backoff_s,
            deadline_s=self.deadline_s,
            attempt_timeout_s=self.attempt_timeout_s,
            jitter=self.jitter,
            seed=self.seed,
        )

    @property
    def watchdog_s(self) -> float:
        """Seconds after which a read that has not finished is a hang."""
        return self.deadline_s + self.slack_s

    def guaranteed_wait_s(self) -> float:
        """The least time a chunk's retries wait in all (0 with full jitter).

        Returns
        -------
        float
            The sum of the shortest waits after each failed attempt but the last.
        """
        share = {"full": 0.0, "equal": 0.5, "none": 1.0}[self.jitter]
        policy = self.policy()
        return share * sum(policy.delay_s(n) for n in range(1, self.attempts))

    def describe(self) -> str:
        """The settings in one line, as the suite prints them.

        Returns
        -------
        str
            E.g. ``"deadline 2 s per chunk, attempts cut after 0.5 s, ..."``.
        """
        return (
            f"deadline {self.deadline_s:g} s per chunk, attempts cut after "
            f"{self.attempt_timeout_s:g} s, {self.attempts} attempts, backoff {self.backoff_s:g}-"
            f"{self.max_backoff_s:g} s ({self.jitter} jitter, seed {self.seed}), hang after "
            f"{self.watchdog_s:g} s; cloud latency {self.latency_ms:g} ms; reading level "
            f"{self.level}, channel {self.channel}, planes {self.planes[0]}-{self.planes[1] - 1}"
        )


@dataclass(frozen=True)
class FaultCase:
    """One fault the suite injects, and what every read path must make of it.

    Attributes
    ----------
    name : str
        Its name in the table (also its name in the cloud).
    kind : str
        The cloud's fault kind (:data:`helpers.cloud.FAULT_KINDS`).
    transient : bool
        True: the read must recover the exact bytes; False: it must fail with a clear error.
    what : str
        What happens, in words.
    aim : str
        Which requests it strikes: ``"region"`` (every chunk read), ``"one"`` (one chunk of
        them) or ``"endpoint"`` (every request: ``down``).
    settings : dict
        ``rate``, ``seed``, ``limit`` and the kind's parameters (``keys`` comes from ``aim``).
    """

    name: str
    kind: str
    transient: bool
    what: str
    aim: str
    settings: dict[str, Any]

    @property
    def expected(self) -> str:
        """The outcome every read path must reach: ``"recovered"`` or ``"clear error"``."""
        return "recovered" if self.transient else "clear error"

    def fault_arguments(self, region_keys: str, one_key: str) -> dict[str, Any]:
        """The keyword arguments of :meth:`helpers.cloud.Cloud.fault` for this case.

        Parameters
        ----------
        region_keys : str
            Glob pattern matching the object keys of every chunk read.
        one_key : str
            The object key of one chunk read.

        Returns
        -------
        dict
            ``name``, ``keys`` (unless ``down``) and the settings.
        """
        arguments: dict[str, Any] = {"name": self.name, **self.settings}
        if self.aim != "endpoint":
            arguments["keys"] = region_keys if self.aim == "region" else one_key
        return arguments


def fault_cases(settings: SuiteSettings) -> list[FaultCase]:
    """The suite's faults, transient ones first, sized to ``settings``.

    A transient fault strikes at most :data:`TRANSIENT_HITS` requests (fewer than the attempts,
    and their time fits in the deadline); a spike lasts twice the attempt timeout; the short
    outage lasts 60 % of the least time the retries must wait (:meth:`SuiteSettings.guaranteed_wait_s`).

    Parameters
    ----------
    settings : SuiteSettings
        The retry settings the faults are sized to.

    Returns
    -------
    list of FaultCase
        Nine cases: six transient, three permanent; every fault kind is among them.
    """
    hits = {"rate": 1.0, "seed": settings.seed, "limit": TRANSIENT_HITS}
    spike_ms = round(2000 * settings.attempt_timeout_s)
    outage_s = round(max(0.2, 0.6 * settings.guaranteed_wait_s()), 2)
    stall = f"headers, then silence (up to {FAULT_STALL_MAX_S:g} s)"
    return [
        FaultCase(
            "latency_spike",
            "latency_spike",
            True,
            f"{TRANSIENT_HITS} answers {spike_ms} ms late: the attempts are cut, then retried",
            "region",
            {**hits, "ms": spike_ms},
        ),
        FaultCase(
            "slowdown",
            "slowdown",
            True,
            f"{TRANSIENT_HITS} answers 503 SlowDown, Retry-After: 1 (capped at {settings.max_backoff_s:g} s)",
            "region",
            {**hits, "retry_after_s": 1},
        ),
        FaultCase(
            "reset",
            "reset",
            True,
            f"{TRANSIENT_HITS} connections reset after half the body",
            "region",
            {**hits, "fraction": 0.5},
        ),
        FaultCase(
            "truncate",
            "truncate",
            True,
            f"{TRANSIENT_HITS} bodies cut in half, then a clean close",
            "region",
            {**hits, "fraction": 0.5},
        ),
        FaultCase(
            "stall", "stall", True, f"{TRANSIENT_HITS} answers stall: {stall}", "region", hits
        ),
        FaultCase(
            "down",
            "down",
            True,
            f"the endpoint drops every request for {outage_s:g} s, then comes back",
            "endpoint",
            {"duration_s": outage_s, "mode": "reset"},
        ),
        FaultCase(
            "not_found",
            "not_found",
            False,
            "one chunk answers 404 NoSuchKey although it exists",
            "one",
            {"seed": settings.seed},
        ),
        FaultCase(
            "stall_long",
            "stall",
            False,
            f"one chunk stalls on every attempt: {stall}",
            "one",
            {"seed": settings.seed},
        ),
        FaultCase(
            "down_long",
            "down",
            False,
            "the endpoint drops every request until the read is over",
            "endpoint",
            {"mode": "reset"},
        ),
    ]
