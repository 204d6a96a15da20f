"""What this session may use: CPUs and memory, as the container's limits (cgroups) set them.

On Binder a session gets 1 CPU and 2 GB of memory, however big the machine under it is, and past
2 GB the out-of-memory killer ends processes. ``os.cpu_count()`` tells the machine's size, not the
session's: :func:`session_resources` reads the Linux cgroup limits (v1 or v2), and falls back to
the machine's size where there are none (a laptop).

It is the course's machinery, not a lesson: lessons 00 and 06 use it to print the session's limits
and to size Dask's cluster, and the local cloud uses it for the memory warning of ``ensure_cloud``.

Examples
--------
>>> resources = session_resources()
>>> resources.cpus >= 1 and resources.memory_limit > resources.memory_used > 0
True
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["SessionResources", "memory_warning", "other_kernels", "session_resources"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
LOW_MEMORY_BYTES = 500 * 10**6
"""Below this much free memory in the session, :func:`memory_warning` speaks up."""
UNLIMITED = 2**60
"""cgroup v1 writes a huge number (not "max") for "no limit": anything above this counts as none."""


@dataclass(frozen=True)
class SessionResources:
    """The CPUs (fractions are possible) and bytes of memory this session may use, and use now.

    ``memory_used`` counts the session's processes in a container, else the whole machine;
    ``limited`` is True when a container limit (cgroup) sets the numbers, not the machine's size.
    """

    cpus: float
    memory_limit: int
    memory_used: int
    limited: bool

    @property
    def memory_free(self) -> int:
        """Bytes still free for the session."""
        return max(self.memory_limit - self.memory_used, 0)

    def __str__(self) -> str:
        where = "this session's limits" if self.limited else "this machine, no session limit"
        return (
            f"{self.cpus:g} CPU{'s' if self.cpus != 1 else ''}, {self.memory_used / 1e9:.1f} of "
            f"{self.memory_limit / 1e9:.1f} GB memory in use ({where})"
        )


def session_resources() -> SessionResources:
    """The CPUs and memory this session may use, from its cgroup limits or the machine's size."""
    cpus = float(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else None
    cpus = cpus or float(os.cpu_count() or 1)
    quota = _cpu_quota()
    limit, used = _memory()
    if limit is None:
        machine = psutil.virtual_memory()
        limit, used = machine.total, machine.total - machine.available
    return SessionResources(
        cpus=min(cpus, quota) if quota else cpus,
        memory_limit=limit,
        memory_used=used,
        limited=bool(quota) or limit < psutil.virtual_memory().total,
    )


def other_kernels(me: int | None = None) -> int:
    """How many Jupyter kernels other than process ``me`` (default: this one) run here."""
    me, count = me or os.getpid(), 0
    for process in psutil.process_iter(["pid", "cmdline", "username"]):
        cmdline = process.info["cmdline"] or []
        if process.info["pid"] != me and any("ipykernel" in part for part in cmdline[:3]):
            count += 1
    return count


def memory_warning(
    resources: SessionResources | None = None, kernel: int | None = None
) -> str | None:
    """A warning naming the memory and what to shut down, when less than 500 MB is free; else None.

    ``kernel`` is the process asking (default: this one): the kernels it names are the others.

    Examples
    --------
    >>> full = SessionResources(cpus=1, memory_limit=2 * 10**9, memory_used=1_800_000_000, limited=True)
    >>> print(memory_warning(full))  # doctest: +ELLIPSIS
    Memory is short: 1.8 of 2.0 GB in use in this session... Shut down the kernels of notebooks ...
    """
    resources = resources or session_resources()
    if resources.memory_free >= LOW_MEMORY_BYTES:
        return None
    others = other_kernels(kernel)
    running = f" ({others} other notebook kernel{'s' if others != 1 else ''} running)"
    return (
        f"Memory is short: {resources.memory_used / 1e9:.1f} of {resources.memory_limit / 1e9:.1f} "
        f"GB in use in this session{running if others else ''}. Shut down the kernels of notebooks "
        "you have finished (Kernel > Shut Down Kernel, or the Running panel on the left), or this "
        "notebook may be stopped when the memory runs out."
    )


# --- cgroups --------------------------------------------------------------------------------------
def _own_cgroups() -> dict[str, str]:
    """The cgroup path of this process per controller (``""`` is the unified v2 hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _cgroup_file(controller: str, name: str) -> Path | None:
    """The file ``name`` of this process's cgroup of ``controller`` (v1), or of its v2 cgroup."""
    own = _own_cgroups()
    candidates = []
    if controller in own:  # v1: /sys/fs/cgroup/<controller>/<path>/<name>
        for mount in (CGROUP_ROOT / controller, CGROUP_ROOT / f"{controller},cpuacct"):
            candidates += [mount / own[controller].lstrip("/") / name, mount / name]
    if "" in own:  # v2: /sys/fs/cgroup/<path>/<name> (or under unified/ beside v1)
        for mount in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
            candidates += [mount / own[""].lstrip("/") / name, mount / name]
    return next((path for path in candidates if path.is_file()), None)


def _read(controller: str, name: str) -> str | None:
    path = _cgroup_file(controller, name)
    try:
        return path.read_text().strip() if path else None
    except OSError:
        return None


def _cpu_quota() -> float | None:
    """CPUs allowed by the cgroup's CPU quota, or None for no quota."""
    v2 = _read("cpu", "cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100_000)
    cfs_quota, cfs_period = _read("cpu", "cpu.cfs_quota_us"), _read("cpu", "cpu.cfs_period_us")
    if cfs_quota and cfs_period and int(cfs_quota) > 0:
        return math.ceil(int(cfs_quota) / int(cfs_period) * 100) / 100
    return None


def _memory() -> tuple[int | None, int]:
    """(limit, in use) of the cgroup in bytes; limit None for no limit."""
    for limit_name, usage_name, inactive in (
        ("memory.max", "memory.current", "inactive_file"),
        ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    ):
        limit, usage = _read("memory", limit_name), _read("memory", usage_name)
        if limit is None or usage is None:
            continue
        stat = dict(line.split() for line in (_read("memory", "memory.stat") or "").splitlines())
        used = int(usage) - int(stat.get(inactive, 0))  # the page cache it can drop is not "used"
        if limit == "max" or int(limit) >= UNLIMITED:
            return None, used
        return int(limit), used
    return None, 0
