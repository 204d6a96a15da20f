"""Run the course as a learner on mybinder.org does, and measure it: ``python -m course_tools binder``.

Every notebook runs top to bottom, in course order, in one session: one Jupyter kernel per notebook,
the shared local cloud started by the first notebook that needs it (as on Binder, where it belongs
to the Jupyter server: here, to this process), inside a sandbox shaped like mybinder.org's (2 GiB of
memory, 1 CPU; :mod:`course_tools.sandbox`). After each notebook the kernels of the last
``keep_alive`` notebooks stay alive, as when a learner moves on without shutting them down; older
ones are shut down gracefully, as JupyterLab's *Shut Down Kernel* does.

For each notebook it records the seconds it took, the out-of-memory kills, and two peaks of memory
(proportional set size summed over processes, sampled ten times a second): the *lesson*'s (its kernel,
what that kernel started, e.g. Dask workers, and the local cloud: the session when every earlier
kernel was shut down) and the *session*'s (the lesson plus the kernels kept alive). It prints them
as a table, and exits with code 1 when a target is missed: an error, an OOM kill, a peak over 1.6 GB,
a notebook over 1.5 times its time budget, or more than one local cloud started.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import psutil
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from course_tools import REPO_ROOT
from helpers.cloud import data_dir

from .sandbox import Sandbox, SandboxUnavailable

__all__ = [
    "BINDER_CPUS",
    "BINDER_MEMORY_BYTES",
    "NotebookRun",
    "SessionReport",
    "format_report",
    "main",
    "run_session",
]

log = logging.getLogger(__name__)

BINDER_MEMORY_BYTES = 2 * 2**30
"""mybinder.org's memory limit per session (2G in JupyterHub's units: 2 GiB)."""
BINDER_CPUS = 1.0
"""mybinder.org's CPU limit per session."""
PEAK_TARGET_BYTES = 1_600_000_000
"""The most the course may use at once: headroom under 2 GB for the Jupyter server and the browser."""
TIME_FACTOR = 1.5
"""A notebook may take this many times its budget (set for 2 cores) at 1 CPU."""
DEFAULT_BUDGET_S = 90.0
SAMPLE_S = 0.1
KERNEL_NAME = "course-binder"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BINDER_START = REPO_ROOT / "binder" / "start"
"""What Binder runs before Jupyter: the session's environment (``export NAME=VALUE`` lines)."""
SHARED_DATA = ("samples", "formats")
"""Folders of the data directory the session reuses (built data); the rest (the cloud's state) is its own."""


@dataclass
class NotebookRun:
    """One notebook of the session: time, memory and what went wrong.

    Attributes
    ----------
    notebook : str
        Its file name.
    seconds, budget_s : float
        How long it took, and its budget on 2 cores (``metadata.course.budget_s``).
    peak_lesson_bytes : int
        The most memory its kernel, what that kernel started and the local cloud held at once.
    peak_session_bytes : int
        The same plus the kernels of earlier notebooks still alive.
    oom_kills : int
        Processes the out-of-memory killer ended while it ran.
    kernels_alive : int
        Kernels running while it ran (its own included).
    at_peak : dict
        At the session's peak, resident bytes by what held them (kernel, workers, local cloud...).
    error : str
        What failed, in one line (``""``: nothing).
    """

    notebook: str
    seconds: float
    budget_s: float
    peak_lesson_bytes: int
    peak_session_bytes: int
    oom_kills: int
    kernels_alive: int
    error: str = ""
    at_peak: dict[str, int] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """The targets this run missed, one line each."""
        found = [f"{self.notebook}: {self.error}"] if self.error else []
        if self.oom_kills:
            found.append(f"{self.notebook}: {self.oom_kills} process(es) killed for lack of memory")
        for what, peak in (
            ("lesson", self.peak_lesson_bytes),
            ("session", self.peak_session_bytes),
        ):
            if peak > PEAK_TARGET_BYTES:
                found.append(
                    f"{self.notebook}: peak memory of the {what} {peak / 1e6:,.0f} MB "
                    f"(target <= {PEAK_TARGET_BYTES / 1e6:,.0f} MB)"
                )
        if self.seconds > TIME_FACTOR * self.budget_s:
            found.append(
                f"{self.notebook}: {self.seconds:.0f} s, over {TIME_FACTOR:g} x its "
                f"{self.budget_s:.0f} s budget"
            )
        return found


@dataclass
class SessionReport:
    """A whole session: where it ran, each notebook, and how many local clouds it started."""

    sandbox: str
    keep_alive: int
    runs: list[NotebookRun] = field(default_factory=list)
    clouds_started: int = 0

    def problems(self) -> list[str]:
        """Every missed target, one line each."""
        found = [line for run in self.runs for line in run.problems()]
        if self.clouds_started > 1:
            found.append(f"{self.clouds_started} local clouds were started (target: one)")
        return found

    def as_dict(self) -> dict:
        """The report as plain data (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SessionReport:
        """A report read back from :meth:`as_dict`."""
        runs = [NotebookRun(**run) for run in data["runs"]]
        return cls(data["sandbox"], data["keep_alive"], runs, data["clouds_started"])


def format_report(report: SessionReport) -> str:
    """The report as a Markdown table, with the sandbox and the targets."""
    lines = [
        f"Sandbox: {report.sandbox}; kernels of the last {report.keep_alive} notebooks kept alive; "
        f"local clouds started: {report.clouds_started}",
        "",
        "| notebook | seconds (budget) | peak, earlier kernels shut down | peak, last "
        f"{report.keep_alive} kept alive | OOM kills | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in report.runs:
        result = "ok" if not run.problems() else "MISSED"
        lines.append(
            f"| {run.notebook.removesuffix('.ipynb')} | {run.seconds:.1f} ({run.budget_s:.0f}) | "
            f"{run.peak_lesson_bytes / 1e6:,.0f} MB | {run.peak_session_bytes / 1e6:,.0f} MB | "
            f"{run.oom_kills} | {result} |"
        )
    lines.append("")
    lines.append(
        f"Targets: no error and no OOM kill; peaks <= {PEAK_TARGET_BYTES / 1e6:,.0f} MB; "
        f"seconds <= {TIME_FACTOR:g} x budget; one local cloud."
    )
    return "\n".join(lines)


# --- measuring memory ------------------------------------------------------------------------------
class MemorySampler(threading.Thread):
    """Samples the resident memory of the session's processes until stopped.

    ``members()`` names the processes of the session; the kernels of earlier notebooks
    (:attr:`kept`) and what they started are the session's but not the lesson's, except the local
    cloud, which every lesson uses.
    """

    def __init__(
        self, members: Callable[[], set[int]], cloud_pids: Callable[[], list[int]]
    ) -> None:
        super().__init__(daemon=True)
        self.members = members
        self.cloud_pids = cloud_pids
        self.kept: list[int] = []
        self.peak_lesson = self.peak_session = 0
        self.at_peak: dict[str, int] = {}
        self.clouds: set[int] = set()
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def start_window(self, kept: list[int]) -> None:
        """Start measuring a new notebook, with these earlier kernels alive."""
        with self._lock:
            self.kept = list(kept)
            self.peak_lesson = self.peak_session = 0
            self.at_peak = {}

    def run(self) -> None:
        """Sample until :meth:`stop`."""
        while not self._halt.wait(SAMPLE_S):
            with contextlib.suppress(psutil.Error, OSError):
                self.sample()

    def sample(self) -> None:
        """One sample: the sum over the session, and over the lesson."""
        cloud = self.cloud_pids()
        self.clouds |= set(cloud[:1])
        rss = {pid: _memory(pid) for pid in self.members() | set(cloud)}
        with self._lock:
            others: set[int] = set()
            for kernel in self.kept:
                others |= _tree(kernel)
            others -= set(cloud)
            session = sum(rss.values())
            lesson = session - sum(rss.get(pid, 0) for pid in others)
            if session > self.peak_session:
                self.peak_session = session
                self.at_peak = _by_role(rss, self.kept, set(cloud))
            self.peak_lesson = max(self.peak_lesson, lesson)

    def stop(self) -> None:
        """End the sampling."""
        self._halt.set()
        self.join()


def _role(pid: int, kept: list[int], cloud: set[int]) -> str:
    """What a process of the session is, in a few words."""
    if pid in cloud:
        return "local cloud"
    if pid in kept:
        return "earlier kernels"
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return "other"
    if "ipykernel" in cmdline:
        return "kernel"
    if "multiprocessing" in cmdline or "distributed" in cmdline:
        return "workers"
    return "other"


def _by_role(rss: dict[int, int], kept: list[int], cloud: set[int]) -> dict[str, int]:
    """Resident memory summed by what the processes are."""
    earlier = set().union(*(_tree(k) for k in kept)) - cloud if kept else set()
    roles: dict[str, int] = collections.Counter()
    for pid, size in rss.items():
        roles["earlier kernels" if pid in earlier else _role(pid, kept, cloud)] += size
    return dict(roles)


def _memory(pid: int) -> int:
    """The memory process ``pid`` holds: its proportional set size (shared pages split evenly).

    Resident sizes would count every shared library once per process; the sum of PSS over the
    session counts each page once, as the memory limit does.
    """
    try:
        return psutil.Process(pid).memory_full_info().pss
    except (psutil.Error, AttributeError):
        try:
            return psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return 0


def _tree(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid, *(child.pid for child in process.children(recursive=True))}
    except psutil.Error:
        return set()


def _cloud_pids(state: Path) -> list[int]:
    """The shared cloud's processes (its server first), from its state file."""
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [pid, *sorted(_tree(pid) - {pid})]


# --- the session -----------------------------------------------------------------------------------
def budget_of(notebook: nbformat.NotebookNode) -> float:
    """A notebook's time budget on 2 cores (``metadata.course.budget_s``, default 90 s)."""
    return float(notebook.metadata.get("course", {}).get("budget_s", DEFAULT_BUDGET_S))


@contextlib.contextmanager
def session_folder(source: Path) -> Iterator[Path]:
    """A fresh data folder for the session, sharing the built data of ``source``."""
    with tempfile.TemporaryDirectory(prefix="binder-session-") as folder:
        for name in SHARED_DATA:
            (source / name).mkdir(parents=True, exist_ok=True)
            (Path(folder) / name).symlink_to(source / name)
        yield Path(folder)


def binder_environment(start: Path = BINDER_START) -> dict[str, str]:
    """The variables ``binder/start`` exports (``export NAME=VALUE`` lines), as Binder's kernels get them.

    Examples
    --------
    >>> "MALLOC_MMAP_THRESHOLD_" in binder_environment()
    True
    """
    exported = {}
    for line in start.read_text().splitlines():
        name, equals, value = line.removeprefix("export ").partition("=")
        if line.startswith("export ") and equals:
            exported[name.strip()] = value.strip().strip("'\"")
    return exported


def _kernel_spec(folder: Path, sandbox: Sandbox | None, cpu_list: str) -> KernelSpecManager:
    """A kernel spec whose kernels join the sandbox (and keep to ``cpu_list``) before they start."""
    join = [sys.executable, "-m", "course_tools.sandbox", "join"]
    join += ["--cpus", cpu_list] if cpu_list else []
    join += [str(path) for path in (sandbox.procs_files if sandbox else [])] + ["--"]
    spec = {
        "argv": join + [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Binder-shaped sandbox)",
        "language": "python",
    }
    (folder / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    (folder / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder)])


def _run_one(path: Path, km: KernelManager, timeout_s: float) -> tuple[nbformat.NotebookNode, str]:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=km,
        kernel_name=KERNEL_NAME,
        timeout=int(timeout_s),  # per cell: nothing may hang longer than the whole allowance
        resources={"metadata": {"path": str(path.parent)}},
        iopub_timeout=5,
        shell_timeout_interval=1,  # poll the reply channel often: avoids nbclient's rare idle stalls
    )
    error = ""
    try:
        client.execute()
    except DeadKernelError:
        error = "the kernel died (out of memory?)"
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:300]
    except TimeoutError as err:
        error = f"a cell ran out of time: {err}"
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    return notebook, error


def run_session(
    notebooks: Iterable[Path],
    keep_alive: int = 2,
    sandbox: Sandbox | None = None,
    cpu_list: str = "",
    executed: Path | None = None,
    progress: bool = True,
) -> SessionReport:
    """Run ``notebooks`` in order as one Binder session and measure each (see the module's text)."""
    where = (
        f"cgroup v{sandbox.version}, {sandbox.memory_bytes / 2**30:g} GiB, {sandbox.cpus:g} CPU"
        if sandbox
        else "no cgroup (limits not enforced, memory sampled per process)"
    )
    report = SessionReport(where + (f", CPU {cpu_list}" if cpu_list else ""), keep_alive)
    source = data_dir()
    with session_folder(source) as folder, tempfile.TemporaryDirectory() as specs:
        os.environ.update(binder_environment())
        os.environ["COURSE_DATA_DIR"] = str(folder)
        os.environ.pop("COURSE_ENDPOINT", None)  # the notebooks start the session's cloud
        spec_manager = _kernel_spec(Path(specs), sandbox, cpu_list)
        sampler = MemorySampler(
            (lambda: sandbox.pids()) if sandbox else (lambda: _tree(os.getpid()) - {os.getpid()}),
            lambda: _cloud_pids(folder / "cloud.json"),
        )
        sampler.start()
        alive: collections.deque[KernelManager] = collections.deque()
        try:
            for path in notebooks:
                run = _measure(path, alive, spec_manager, sampler, sandbox, executed)
                report.runs.append(run)
                if progress:
                    held = ", ".join(f"{k} {v / 1e6:,.0f}" for k, v in run.at_peak.items())
                    print(
                        f"{run.notebook}: {run.seconds:.1f} s, peak {run.peak_session_bytes / 1e6:,.0f}"
                        f" MB ({held}){', ' + run.error if run.error else ''}",
                        flush=True,
                    )
                while len(alive) > keep_alive:
                    alive.popleft().shutdown_kernel(now=False)
        finally:
            for km in alive:
                with contextlib.suppress(Exception):
                    km.shutdown_kernel(now=False)
            sampler.stop()
            report.clouds_started = len(sampler.clouds)
            for pid in _cloud_pids(folder / "cloud.json")[:1]:
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).terminate()
    return report


def _measure(
    path: Path,
    alive: collections.deque[KernelManager],
    spec_manager: KernelSpecManager,
    sampler: MemorySampler,
    sandbox: Sandbox | None,
    executed: Path | None,
) -> NotebookRun:
    kept = [km.provisioner.pid for km in alive if km.provisioner is not None]  # type: ignore[attr-defined]
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=spec_manager)
    budget = budget_of(nbformat.read(path, as_version=4))
    kills = sandbox.oom_kills() if sandbox else 0
    sampler.start_window(kept)
    start = time.monotonic()
    notebook, error = _run_one(path, km, TIME_FACTOR * budget)
    seconds = time.monotonic() - start
    with contextlib.suppress(psutil.Error, OSError):
        sampler.sample()
    alive.append(km)
    if executed is not None:
        executed.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, executed / path.name)
    return NotebookRun(
        notebook=path.name,
        seconds=round(seconds, 2),
        budget_s=budget,
        peak_lesson_bytes=sampler.peak_lesson,
        peak_session_bytes=sampler.peak_session,
        oom_kills=(sandbox.oom_kills() - kills) if sandbox else 0,
        kernels_alive=len(kept) + 1,
        error=error,
        at_peak=sampler.at_peak,
    )


# --- command line ----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_tools binder", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks (default: all, in order)"
    )
    parser.add_argument(
        "--keep-alive",
        type=int,
        default=2,
        help="kernels of earlier notebooks kept alive (default 2)",
    )
    parser.add_argument("--memory-gib", type=float, default=BINDER_MEMORY_BYTES / 2**30)
    parser.add_argument("--cpus", type=float, default=BINDER_CPUS)
    parser.add_argument("--cpu-list", default="", help="CPUs the session keeps to, e.g. 1")
    parser.add_argument("--no-sandbox", action="store_true", help="measure without limits")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--executed", type=Path, help="write the executed notebooks here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 0 when every target is met, 1 when one is missed, 2 on bad input."""
    args = _parser().parse_args(argv)
    notebooks = args.notebooks or sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing or args.keep_alive < 0:
        what = f"no such notebook: {', '.join(missing)}" if missing else "--keep-alive must be >= 0"
        print(f"error: {what}", file=sys.stderr)
        return 2
    sandbox = None
    if not args.no_sandbox:
        try:
            sandbox = Sandbox.create(
                f"course-binder-{os.getpid()}", int(args.memory_gib * 2**30), args.cpus
            )
        except SandboxUnavailable as why:
            print(f"note: measuring without limits: {why}", file=sys.stderr)
    try:
        report = run_session(notebooks, args.keep_alive, sandbox, args.cpu_list, args.executed)
    finally:
        if sandbox is not None:
            sandbox.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=1))
    print(format_report(report))
    problems = report.problems()
    for line in problems:
        print(f"MISSED: {line}")
    return 1 if problems else 0
