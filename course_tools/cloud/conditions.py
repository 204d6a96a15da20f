"""Network conditions that the local cloud's proxy imposes: latency, jitter and a bandwidth cap.

Kept apart from the proxy so the same record can be read and changed at run time (from a notebook,
through the proxy's ``/_cloud/conditions`` control path). Faults (503s, resets, stalls...) are
``faults.py``'s business; the argparse types here also serve the cloud's other command lines.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import asdict, dataclass, field

from course_tools.cli import non_negative_arg, positive_number_arg
from helpers.cloud import DEFAULT_LATENCY_MS
from helpers.model import BYTES_PER_MBIT

__all__ = ["NetworkConditions", "add_condition_arguments"]


@dataclass
class NetworkConditions:
    """What every request through the local cloud experiences.

    Attributes
    ----------
    latency_ms : float
        Time from a request's arrival until the first byte of its answer may leave (the answer
        never leaves earlier, even when the store behind answers faster).
    jitter_ms : float
        Each request's latency is drawn uniformly from ``latency_ms +/- jitter_ms``.
    bandwidth_mbps : float or None
        Cap on the bytes sent back, shared by all connections, in megabits per second
        (1 Mbit/s = 125,000 bytes/s); ``None`` means no cap.
    seed : int
        Seed of the jitter's random numbers, so runs are repeatable.
    """

    latency_ms: float = DEFAULT_LATENCY_MS
    jitter_ms: float = 0.0
    bandwidth_mbps: float | None = None
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        self._rng.seed(self.seed)

    def validate(self) -> None:
        """Raise ``ValueError`` on settings that make no sense."""
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.jitter_ms < 0:
            raise ValueError(f"jitter_ms must be >= 0, got {self.jitter_ms}")
        if self.bandwidth_mbps is not None and self.bandwidth_mbps <= 0:
            raise ValueError(f"bandwidth_mbps must be > 0 or None, got {self.bandwidth_mbps}")

    def sample_latency_s(self) -> float:
        """One request's latency in seconds (jitter applied, never negative)."""
        jitter = self._rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.latency_ms + jitter) / 1000.0

    @property
    def bytes_per_second(self) -> float | None:
        """The bandwidth cap in bytes per second, or ``None``."""
        return None if self.bandwidth_mbps is None else self.bandwidth_mbps * BYTES_PER_MBIT

    def update(self, **changes: float | None) -> None:
        """Change some settings (unknown names raise ``ValueError``), validating the result."""
        allowed = {"latency_ms", "jitter_ms", "bandwidth_mbps"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown condition(s) {sorted(unknown)}; known: {sorted(allowed)}")
        old = self.as_dict()
        for name, value in changes.items():
            setattr(self, name, None if value is None else float(value))
        try:
            self.validate()
        except ValueError:
            for name, value in old.items():
                setattr(self, name, value)
            raise

    def as_dict(self) -> dict[str, float | None]:
        """The settings as plain JSON-able values."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k in ("latency_ms", "jitter_ms", "bandwidth_mbps")
        }


def add_condition_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--latency-ms``, ``--jitter-ms`` and ``--bandwidth-mbps`` to a command line."""
    parser.add_argument(
        "--latency-ms",
        type=non_negative_arg,
        default=DEFAULT_LATENCY_MS,
        help=f"per-request latency (default {DEFAULT_LATENCY_MS:g})",
    )
    parser.add_argument(
        "--jitter-ms",
        type=non_negative_arg,
        default=0.0,
        help="latency varies by +/- this (default 0)",
    )
    parser.add_argument(
        "--bandwidth-mbps",
        type=positive_number_arg,
        default=None,
        help="shared bandwidth cap in Mbit/s (default: none)",
    )
