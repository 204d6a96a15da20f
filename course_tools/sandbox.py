"""A session shaped like mybinder.org's: a Linux cgroup with a memory limit and a CPU quota.

mybinder.org gives each session 2 GB of memory (past it, the kernel's out-of-memory killer ends a
process) and 1 CPU. :class:`Sandbox` makes the same limits on this machine, as a child of this
process's own cgroups (cgroup v1 ``memory`` and ``cpu`` controllers, or the unified v2 hierarchy),
which needs root (CI runs as root). Processes join it with ``python -m course_tools.sandbox join``
(their children inherit it), and it counts the out-of-memory kills inside it. Where no cgroup can be
made, :meth:`Sandbox.create` raises :class:`SandboxUnavailable` saying why, and callers measure
without limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sandbox", "SandboxUnavailable", "join_and_exec"]

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000


class SandboxUnavailable(RuntimeError):
    """No cgroup can be made here (not Linux, not root, no memory or cpu controller)."""


def _own_paths() -> dict[str, str]:
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _id, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


@dataclass
class Sandbox:
    """A cgroup (one folder per controller) that limits memory and CPU, and counts OOM kills.

    Attributes
    ----------
    folders : list of Path
        The cgroup's folder in each hierarchy (v1: memory and cpu; v2: one).
    version : int
        1 or 2.
    memory_bytes : int
        The memory limit.
    cpus : float
        The CPU quota, in CPUs.
    """

    folders: list[Path]
    version: int
    memory_bytes: int
    cpus: float

    @classmethod
    def create(cls, name: str, memory_bytes: int, cpus: float) -> Sandbox:
        """Make the cgroup ``name`` with these limits, below this process's own cgroups.

        Raises
        ------
        SandboxUnavailable
            With the reason, when no cgroup can be made here.
        """
        try:
            own = _own_paths()
        except OSError as err:
            raise SandboxUnavailable(f"no /proc/self/cgroup ({err}): not Linux?") from None
        if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists() and "memory" in own:
            folders = [
                CGROUP_ROOT / "memory" / own["memory"].lstrip("/") / name,
                CGROUP_ROOT / "cpu" / own.get("cpu", "/").lstrip("/") / name,
            ]
            settings = [
                (folders[0] / "memory.limit_in_bytes", str(memory_bytes)),
                (folders[0] / "memory.swappiness", "0"),
                (folders[1] / "cpu.cfs_period_us", str(CPU_PERIOD_US)),
                (folders[1] / "cpu.cfs_quota_us", str(int(cpus * CPU_PERIOD_US))),
            ]
            version = 1
        elif "memory" in _read(CGROUP_ROOT / "cgroup.controllers") and "" in own:
            parent = CGROUP_ROOT / own[""].lstrip("/")
            folders = [parent / name]
            settings = [
                (parent / "cgroup.subtree_control", "+memory +cpu"),
                (folders[0] / "memory.max", str(memory_bytes)),
                (folders[0] / "memory.swap.max", "0"),
                (folders[0] / "cpu.max", f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"),
            ]
            version = 2
        else:
            raise SandboxUnavailable("no cgroup memory controller is mounted")
        try:
            for folder in folders:
                folder.mkdir(exist_ok=True)
            for path, value in settings:
                if path.exists():
                    path.write_text(value)
        except OSError as err:
            sandbox = cls(folders, version, memory_bytes, cpus)
            sandbox.close()
            raise SandboxUnavailable(f"cannot make a cgroup ({err.strerror}; needs root)") from None
        return cls(folders, version, memory_bytes, cpus)

    @property
    def procs_files(self) -> list[Path]:
        """The files a process writes its id into to join (one per hierarchy)."""
        return [folder / "cgroup.procs" for folder in self.folders]

    def pids(self) -> set[int]:
        """The processes inside now."""
        return {int(pid) for pid in _read(self.procs_files[0]).split()}

    def oom_kills(self) -> int:
        """Processes the out-of-memory killer ended inside, so far."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in _read(self.folders[0] / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def close(self) -> None:
        """End every process still inside, then remove the cgroup."""
        for _ in range(50):
            pids = self.pids() if self.procs_files[0].exists() else set()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for folder in self.folders:
            with contextlib.suppress(OSError):
                folder.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def join_and_exec(procs_files: list[str], cpu_list: str, argv: list[str]) -> None:
    """Join the cgroups whose ``cgroup.procs`` files are given, keep to ``cpu_list``, run ``argv``."""
    for procs in procs_files:
        Path(procs).write_text(str(os.getpid()))
    if cpu_list and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu) for cpu in cpu_list.split(",")})
    os.execvp(argv[0], argv)


def main(argv: list[str]) -> None:
    """``python -m course_tools.sandbox join [--cpus LIST] PROCS_FILE... -- COMMAND...``."""
    if argv[:1] != ["join"] or "--" not in argv:
        sys.exit("usage: python -m course_tools.sandbox join [--cpus 0,1] PROCS_FILE... -- COMMAND")
    head, command = argv[1 : argv.index("--")], argv[argv.index("--") + 1 :]
    cpu_list = ""
    if head[:1] == ["--cpus"]:
        cpu_list, head = head[1], head[2:]
    join_and_exec(head, cpu_list, command)


if __name__ == "__main__":
    main(sys.argv[1:])
