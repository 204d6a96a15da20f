"""What a local cloud reports about itself: settings, counters and faults (:class:`CloudStatus`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .faults import Fault

__all__ = ["CloudStatus"]


@dataclass(frozen=True)
class CloudStatus:
    """A local cloud's settings and counters, as its ``/_cloud/status`` control path reports them.

    Attributes
    ----------
    endpoint, public_bucket, scratch_bucket : str
        Where the cloud is and its two buckets.
    latency_ms, jitter_ms : float
        The latency every request waits, and its spread.
    bandwidth_mbps : float or None
        The shared bandwidth cap in Mbit/s (``None``: no cap).
    requests : int
        Requests served since the counters were last reset.
    requests_by_method : dict
        The same, by HTTP method (``{"GET": 236, "PUT": 12}``).
    bytes_sent : int
        Bytes of answers sent (the bytes that left the proxy, not the objects' sizes).
    max_in_flight : int
        The most requests it handled at once.
    range_requests : int
        GETs that carried a ``Range`` header (counted in ``requests`` too): byte-range reads, e.g.
        the inner chunks of a shard. 0 when reading the status of an older cloud.
    range_bytes : int
        Bytes of the answers to those GETs (counted in ``bytes_sent`` too): a 100-byte range of a
        1 MB object adds about 100, not 1 MB.
    refused : dict
        Requests the door rules refused, by S3 error code (``{"AccessDenied": 2}``).
    faults : list of Fault
        The faults in force, with how often each fired.

    Examples
    --------
    >>> cloud = ensure_cloud()  # doctest: +SKIP
    >>> cloud.status().latency_ms  # doctest: +SKIP
    100.0
    """

    endpoint: str
    public_bucket: str
    scratch_bucket: str
    latency_ms: float
    jitter_ms: float
    bandwidth_mbps: float | None
    requests: int
    requests_by_method: dict[str, int]
    bytes_sent: int
    max_in_flight: int
    range_requests: int = 0
    range_bytes: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CloudStatus:
        """Read the JSON the control path answers (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["faults"] = [Fault.from_dict(f) for f in data.get("faults", [])]
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what ``python -m helpers.cloud status`` prints)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["faults"] = [fault.as_dict() for fault in self.faults]
        return values
