"""Faults the local cloud can inject, modelled on toxiproxy's "toxics": named, typed, added at run time.

A :class:`ActiveFault` says *what* goes wrong (its ``kind`` and parameters), *how often* (``rate``: the
probability that a matching request is hit, drawn from a generator seeded with ``seed`` so runs repeat),
*where* (``keys``: a glob pattern matched against object keys, e.g. ``"*/0/0/*"``) and *how many times*
at most (``limit``, 0 = no limit); ``fired`` counts how often it struck. The proxy asks a
:class:`FaultSet` what to do with each request and acts at the HTTP level (see ``proxy.py``).

Kinds (and their parameters, with defaults):

* ``latency_spike`` (``ms=1000``): the answer leaves ``ms`` later than the latency alone would allow;
* ``slowdown`` (``retry_after_s=1``): ``503 SlowDown`` with S3's XML body and a ``Retry-After`` header;
* ``reset`` (``fraction=0.5``): headers and that fraction of the body, then the connection is reset;
* ``truncate`` (``fraction=0.5``): ``Content-Length`` says N, fewer bytes are sent, then a clean close;
* ``not_found`` : ``404 NoSuchKey`` for an object that exists;
* ``stall`` (``max_s=60``): headers, then silence until the client gives up (or ``max_s``);
* ``down`` (``duration_s=0``, ``mode="reset"``): the endpoint is down (``duration_s`` = 0: until removed).
  ``mode="reset"`` drops every S3 request's connection without an answer while the control paths keep
  working; ``mode="refuse"`` stops listening, so connections are refused (control paths too), and needs
  ``duration_s`` > 0 after which the endpoint comes back by itself.

Only GET requests of object keys are hit (never listings, HEADs, writes or the control paths); ``down``
hits every S3 request and takes no ``rate`` or ``keys``.

Examples
--------
>>> fault = make_fault("slowdown", rate=0.5, keys="*/0/*", seed=1, retry_after_s=0)
>>> fault.name, fault.params
('slowdown', {'retry_after_s': 0, 'limit': 0})
>>> parse_fault_spec("reset:fraction=0.25,keys=v0.4/*").keys
'v0.4/*'
"""

from __future__ import annotations

import fnmatch
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from course_tools.config import FAULT_STALL_MAX_S

__all__ = [
    "KINDS",
    "ActiveFault",
    "FaultPlan",
    "FaultSet",
    "fault_settings",
    "make_fault",
    "parse_fault_spec",
]

ParamValue = float | int | str
KIND_PARAMS: dict[str, dict[str, ParamValue]] = {
    "latency_spike": {"ms": 1000.0},
    "slowdown": {"retry_after_s": 1},
    "reset": {"fraction": 0.5},
    "truncate": {"fraction": 0.5},
    "not_found": {},
    "stall": {"max_s": FAULT_STALL_MAX_S},
    "down": {"duration_s": 0.0, "mode": "reset"},
}
KINDS = tuple(KIND_PARAMS)
"""The fault kinds, in the order the docs list them."""
DOWN_MODES = ("reset", "refuse")
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass
class ActiveFault:
    """One named fault and how often it struck.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    name : str
        Unique among the cloud's faults (letters, digits, ``_.-``); used to remove it.
    rate : float
        Probability (0-1) that a matching request is hit.
    keys : str
        Glob pattern (``fnmatch``) that the object key (without the bucket) must match.
    seed : int
        Seed of the generator that decides which requests are hit (repeatable runs).
    params : dict
        The kind's parameters (see the module docstring) and ``limit`` (most hits; 0 = no limit).
    fired : int
        How many requests it hit.
    seen : int
        How many requests matched its kind and keys (hit or not).
    """

    kind: str
    name: str
    rate: float = 1.0
    keys: str = "*"
    seed: int = 0
    params: dict[str, ParamValue] = field(default_factory=dict)
    fired: int = 0
    seen: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _added_at: float = field(default_factory=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    @property
    def ends_in_s(self) -> float:
        """Seconds until a timed ``down`` fault ends (0 when it has no end or has ended)."""
        duration = float(self.params.get("duration_s", 0))
        return max(0.0, self._added_at + duration - time.monotonic()) if duration > 0 else 0.0

    @property
    def active(self) -> bool:
        """False once a ``down`` fault's ``duration_s`` has passed (the endpoint is back)."""
        return float(self.params.get("duration_s", 0)) <= 0 or self.ends_in_s > 0

    def strikes(self, key: str) -> bool:
        """Whether this fault hits a request for ``key`` (counts ``seen`` and ``fired``)."""
        if not fnmatch.fnmatchcase(key, self.keys):
            return False
        limit = int(self.params.get("limit", 0))
        if limit and self.fired >= limit:
            return False
        self.seen += 1
        if self.rate >= 1.0 or self._rng.random() < self.rate:
            self.fired += 1
            return True
        return False

    def reset_counters(self) -> None:
        """Zero ``fired`` and ``seen`` and restart the generator from ``seed``."""
        self.fired = self.seen = 0
        self._rng.seed(self.seed)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what ``GET /_cloud/faults`` answers)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "rate": self.rate,
            "keys": self.keys,
            "seed": self.seed,
            "params": dict(self.params),
            "fired": self.fired,
            "seen": self.seen,
            "active": self.active,
            "ends_in_s": round(self.ends_in_s, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActiveFault:
        """Read :meth:`as_dict`'s form back (counters included)."""
        return cls(
            kind=data["kind"],
            name=data["name"],
            rate=data.get("rate", 1.0),
            keys=data.get("keys", "*"),
            seed=data.get("seed", 0),
            params=dict(data.get("params", {})),
            fired=data.get("fired", 0),
            seen=data.get("seen", 0),
        )


def _kinds_hint() -> str:
    return "kinds: " + ", ".join(KINDS)


def _number(kind: str, name: str, value: object, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fault {kind}: {name} must be a number, got {value!r}")
    if not (low <= value and (high is None or value <= high)):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise ValueError(f"fault {kind}: {name} must be {bound}, got {value!r}")
    return value


def _integer(kind: str, name: str, value: object, low: int | None = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = "an integer" if low is None else f"an integer >= {low}"
        raise ValueError(f"fault {kind}: {name} must be {bound}, got {value!r}")


def make_fault(
    kind: str,
    name: str | None = None,
    rate: float = 1.0,
    keys: str = "*",
    seed: int = 0,
    **params: ParamValue,
) -> ActiveFault:
    """Build and validate a fault (see the module docstring for the kinds and their parameters).

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    name : str, optional
        Its name (default: the kind).
    rate, keys, seed
        Which requests it hits (see :class:`ActiveFault`).
    **params
        The kind's parameters, and ``limit`` (most hits, 0 = no limit).

    Returns
    -------
    ActiveFault
        With ``fired`` = 0.

    Raises
    ------
    ValueError
        Unknown kind (the message lists the kinds), unknown parameter or a value out of range.

    Examples
    --------
    >>> make_fault("latency_spike", ms=250).params["ms"]
    250
    >>> make_fault("flood")
    Traceback (most recent call last):
    ...
    ValueError: unknown fault kind 'flood'; kinds: latency_spike, slowdown, reset, truncate, not_found, stall, down
    """
    if kind not in KIND_PARAMS:
        raise ValueError(f"unknown fault kind {kind!r}; {_kinds_hint()}")
    defaults = KIND_PARAMS[kind]
    unknown = sorted(set(params) - set(defaults) - {"limit"})
    if unknown:
        own = ", ".join([*defaults, "limit"])
        raise ValueError(
            f"fault {kind} has no parameter {unknown[0]!r} (its parameters: {own}; "
            f"and for every kind: name, rate, keys, seed)"
        )
    name = kind if name is None else name
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"fault name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")
    rate = _number(kind, "rate", rate, 0.0, 1.0)
    if not isinstance(keys, str) or not keys:
        raise ValueError(f"fault {kind}: keys must be a glob pattern such as '*/0/*', got {keys!r}")
    _integer(kind, "seed", seed, low=None)
    values: dict[str, ParamValue] = {**defaults, "limit": 0, **params}
    _integer(kind, "limit", values["limit"])
    if kind == "latency_spike":
        _number(kind, "ms", values["ms"], 0.0)
    elif kind == "slowdown":
        _integer(kind, "retry_after_s", values["retry_after_s"])
    elif kind in ("reset", "truncate"):
        fraction = _number(kind, "fraction", values["fraction"], 0.0, 1.0)
        if fraction >= 1.0:
            raise ValueError(f"fault {kind}: fraction must be below 1 (part of the body), got 1")
    elif kind == "stall":
        if _number(kind, "max_s", values["max_s"], 0.0) <= 0:
            raise ValueError("fault stall: max_s must be > 0")
    elif kind == "down":
        _check_down(values, rate, keys)
    return ActiveFault(kind, name, rate, keys, seed, values)


def _check_down(values: dict[str, ParamValue], rate: float, keys: str) -> None:
    duration = _number("down", "duration_s", values["duration_s"], 0.0)
    if values["mode"] not in DOWN_MODES:
        raise ValueError(
            f"fault down: mode must be one of {', '.join(DOWN_MODES)}, got {values['mode']!r}"
        )
    if values["mode"] == "refuse" and duration <= 0:
        raise ValueError(
            "fault down: mode=refuse needs duration_s > 0 (the control path is down too, "
            "so it could not be removed)"
        )
    if rate != 1.0 or keys != "*":
        raise ValueError("fault down takes the whole endpoint down: it has no rate or keys")


def fault_settings(spec: str) -> dict[str, Any]:
    """A fault written on a command line, ``KIND[:name=value,...]``, as keyword arguments.

    Examples
    --------
    >>> fault_settings("slowdown:rate=0.5,seed=1,keys=*/0/*")
    {'kind': 'slowdown', 'rate': 0.5, 'seed': 1, 'keys': '*/0/*'}
    """
    kind, _, rest = spec.strip().partition(":")
    settings: dict[str, Any] = {"kind": kind.strip()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"fault {spec!r}: expected KIND[:name=value,...], got {item!r}")
        settings[key.strip()] = _number_or_text(value.strip(), key.strip())
    return settings


def _number_or_text(text: str, key: str) -> float | int | str:
    if key in ("name", "keys", "mode"):
        return text
    for kind in (int, float):
        try:
            return float(text) if key == "rate" else kind(text)
        except ValueError:
            pass
    return text


def parse_fault_spec(spec: str) -> ActiveFault:
    """Read and check a command-line fault ``KIND[:k=v,...]``, e.g. ``slowdown:rate=0.5``.

    :func:`fault_settings` reads the syntax (learners write the same with
    ``python -m course_tools cloud set --fault``); :func:`make_fault` checks the values.

    Examples
    --------
    >>> parse_fault_spec("stall:max_s=2,rate=0.1,seed=7").params["max_s"]
    2
    """
    return make_fault(**fault_settings(spec))


@dataclass(frozen=True)
class FaultPlan:
    """What the faults do to one request: extra delay, and the fault that answers it (if any)."""

    delay_s: float = 0.0
    answer: ActiveFault | None = None


NO_FAULT = FaultPlan()


class FaultSet:
    """The faults of one cloud, in the order they were added; decides each request's fate.

    Examples
    --------
    >>> faults = FaultSet()
    >>> _ = faults.add(make_fault("not_found", keys="*.json"))
    >>> faults.plan("GET", "a/zarr.json").answer.kind, faults.plan("GET", "a/0/0") is NO_FAULT
    ('not_found', True)
    """

    def __init__(self) -> None:
        self._faults: dict[str, ActiveFault] = {}

    def __len__(self) -> int:
        return len(self._faults)

    def add(self, fault: ActiveFault) -> ActiveFault:
        """Add ``fault``; a taken default name gets a number (``slowdown-2``), a taken chosen one raises."""
        if fault.name in self._faults:
            if fault.name != fault.kind:
                raise ValueError(
                    f"a fault named {fault.name!r} exists; remove it or choose another name"
                )
            taken = set(self._faults)
            fault.name = next(n for i in range(2, 1000) if (n := f"{fault.kind}-{i}") not in taken)
        fault._added_at = time.monotonic()
        self._faults[fault.name] = fault
        return fault

    def remove(self, name: str) -> ActiveFault:
        """Remove the fault called ``name`` (``ValueError`` naming the faults if there is none)."""
        try:
            return self._faults.pop(name)
        except KeyError:
            names = ", ".join(self._faults) or "none"
            raise ValueError(f"no fault named {name!r} (faults: {names})") from None

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def list(self) -> list[ActiveFault]:
        """The faults, oldest first."""
        return list(self._faults.values())

    def reset_counters(self) -> None:
        """Zero every fault's counters and restart its generator (see :meth:`ActiveFault.reset_counters`)."""
        for fault in self._faults.values():
            fault.reset_counters()

    def down(self) -> ActiveFault | None:
        """The active ``down`` fault, if the endpoint is down (counts it as fired)."""
        for fault in self._faults.values():
            if fault.kind == "down" and fault.active:
                fault.fired += 1
                return fault
        return None

    def plan(self, method: str, key: str) -> FaultPlan:
        """What happens to ``method`` on object ``key``: only GETs of keys are hit; spikes add up."""
        if method != "GET" or not key or not self._faults:
            return NO_FAULT
        delay = 0.0
        for fault in self._faults.values():
            if fault.kind == "down" or not fault.strikes(key):
                continue
            if fault.kind == "latency_spike":
                delay += float(fault.params["ms"]) / 1000.0
            else:
                return FaultPlan(delay, fault)
        return FaultPlan(delay) if delay else NO_FAULT
