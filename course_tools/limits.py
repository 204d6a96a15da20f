"""The lower bounds on a pipeline run's time, and what one run cost: pure data, no I/O.

A run that reads a remote image can never be faster than the largest of three limits:

* **request-bound**: every request waits one latency, and only so many are in flight at once:
  ``ceil(requests / requests in flight) x latency`` (:func:`helpers.model.model_time_s`);
* **bandwidth-bound**: ``bytes / bandwidth`` (only when the link has a cap);
* **compute-bound**: the same pipeline on data already in the workers' memory.

Not a limit, but worth printing next to them: the CPU seconds a run used (workers, client and the
local cloud, which all share this computer's cores: :attr:`Run.cpu_s`). On a small machine the
serving and HTTP work for every request can make that the real floor.

:class:`Limits` holds the figures and computes the bounds; :class:`Run` records one timed run.
:mod:`course_tools.cluster` measures both on a Dask cluster.

Examples
--------
>>> Limits(0.1, requests=264, in_flight=64, bytes_sent=0, bandwidth_mbps=None, compute_s=1.0).largest
('compute-bound', 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.model import BYTES_PER_MBIT, model_time_s

__all__ = ["READ_METHODS", "WRITE_METHODS", "Limits", "Run"]

READ_METHODS = ("GET", "HEAD")
"""HTTP methods counted as reads."""
WRITE_METHODS = ("PUT", "POST", "DELETE")
"""HTTP methods counted as writes."""


@dataclass
class Limits:
    """The three lower bounds on a run's time (see the module docstring)."""

    latency_s: float
    requests: int
    in_flight: int
    bytes_sent: int
    bandwidth_mbps: float | None
    compute_s: float

    @property
    def request_bound_s(self) -> float:
        """Rounds of ``in_flight`` requests, one latency each."""
        return model_time_s(max(self.requests, 1), self.in_flight, self.latency_s)

    @property
    def bandwidth_bound_s(self) -> float:
        """Bytes over the capped link (0 without a cap)."""
        if not self.bandwidth_mbps:
            return 0.0
        return self.bytes_sent / (self.bandwidth_mbps * BYTES_PER_MBIT)

    @property
    def largest(self) -> tuple[str, float]:
        """Name and value of the largest limit."""
        bounds = {
            "request-bound": self.request_bound_s,
            "bandwidth-bound": self.bandwidth_bound_s,
            "compute-bound": self.compute_s,
        }
        name = max(bounds, key=bounds.__getitem__)
        return name, bounds[name]


@dataclass
class Run:
    """One timed pipeline run and what it cost on the network."""

    seconds: float
    workers: int
    threads: int
    requests_by_method: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    max_in_flight: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds used meanwhile by the workers, this client and (if known) the local cloud."""

    @property
    def reads(self) -> int:
        """GET and HEAD requests."""
        return sum(self.requests_by_method.get(m, 0) for m in READ_METHODS)

    @property
    def writes(self) -> int:
        """PUT, POST and DELETE requests."""
        return sum(self.requests_by_method.get(m, 0) for m in WRITE_METHODS)
