"""Run every fault against every read path on a private local cloud, and sort each outcome.

Each cell of the matrix: zero the cloud's counters, inject one fault (:mod:`course_tools.faults.cases`),
read the region once through one path (:mod:`course_tools.faults.readers`) in a worker thread watched by
a watchdog, remove the fault, and sort what happened:

- ``recovered``: the read returned exactly the fault-free bytes;
- ``clear error``: it raised one error whose one-line message names a chunk (its key or URL), the
  fault seen and the attempts made;
- ``unclear error``: it raised something else (a message that misses one of those);
- ``wrong data``: it returned, but different bytes (e.g. zeros for a chunk it could not read);
- ``hang``: it had not finished ``deadline + slack`` seconds after it started.

Examples
--------
>>> result = run_suite()  # doctest: +SKIP
>>> {cell.outcome for cell in result.cells if cell.transient}  # doctest: +SKIP
{'recovered'}
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from course_tools._compat import cancel_leftover_tasks
from course_tools.cloud.launch import start_cloud
from course_tools.faults.cases import FaultCase, SuiteSettings, fault_cases
from course_tools.faults.readers import (
    PATH_NAMES,
    ReadPath,
    ReadTarget,
    load_target,
    read_paths,
    same_data,
)
from course_tools.faults.watchdog import watched
from helpers.catalog import samples_dir
from helpers.cloud import Cloud

__all__ = [
    "OUTCOMES",
    "Cell",
    "SuiteError",
    "SuiteResult",
    "classify_error",
    "run_suite",
    "warm_up",
]

logger = logging.getLogger(__name__)

OUTCOMES = ("recovered", "clear error", "unclear error", "wrong data", "hang")
"""Every outcome of a cell, the good ones first."""
FAULT_WORDS = {
    "latency_spike": r"[Tt]ime ?out|timed out|deadline",
    "slowdown": r"503|SlowDown",
    "reset": r"[Rr]eset|[Dd]isconnect|[Cc]onnection|payload|[Ii]ncomplete|truncated",
    "truncate": r"truncated|payload|[Ii]ncomplete|[Dd]isconnect|[Cc]onnection|bytes",
    "not_found": r"404|NoSuchKey|missing|no such object",
    "stall": r"[Tt]ime ?out|timed out|deadline",
    "down": r"[Cc]onnect|[Dd]isconnect|[Rr]eset|refused|closed|deadline",
}
"""Words an error message uses to name each fault kind."""
ATTEMPT_WORDS = r"\b\d+ attempts?\b"
"""How a message names the attempts: ``after 3 attempts``, ``1 attempt``."""


class SuiteError(RuntimeError):
    """A read path fails or returns other bytes even without a fault: the suite cannot run."""


@dataclass(frozen=True)
class Cell:
    """What one read path made of one fault.

    Attributes
    ----------
    fault : str
        The fault's name (a :class:`~course_tools.faults.cases.FaultCase`).
    kind : str
        The cloud's fault kind.
    transient : bool
        Whether the fault lets up (then the read must recover).
    path : str
        The read path.
    outcome : str
        One of :data:`OUTCOMES`.
    expected : str
        ``"recovered"`` (transient) or ``"clear error"`` (permanent).
    seconds : float
        How long the read took (until the watchdog gave up, for a hang).
    requests : int
        Requests the cloud saw during the read (retries and failed ones included).
    fired : int
        Requests the fault struck.
    message : str
        The error's message, how the data differed, or ``""``.
    """

    fault: str
    kind: str
    transient: bool
    path: str
    outcome: str
    expected: str
    seconds: float
    requests: int
    fired: int
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the outcome is the expected one."""
        return self.outcome == self.expected


@dataclass(frozen=True)
class SuiteResult:
    """Every cell of one run, and how it was run.

    Attributes
    ----------
    settings : SuiteSettings
        The retry settings and region.
    cases : list of FaultCase
        The faults, in the table's row order.
    paths : list of str
        The read paths, in the table's column order.
    cells : list of Cell
        One per fault and path.
    wall_s : float
        Seconds for the whole run (cloud start included).
    """

    settings: SuiteSettings
    cases: list[FaultCase]
    paths: list[str]
    cells: list[Cell] = field(default_factory=list)
    wall_s: float = 0.0

    def cell(self, fault: str, path: str) -> Cell:
        """The cell of ``fault`` and ``path`` (``KeyError`` if it was not run)."""
        for cell in self.cells:
            if cell.fault == fault and cell.path == path:
                return cell
        raise KeyError(f"no cell for fault {fault!r} and path {path!r}")


def classify_error(error: BaseException, kind: str, keys: Sequence[str]) -> tuple[str, str]:
    """Sort an error into ``"clear error"`` or ``"unclear error"``; return it with its message.

    Clear: a one-line message that names one of ``keys`` (a chunk key, or a URL holding it), the
    fault (:data:`FAULT_WORDS` of ``kind``) and the attempts (:data:`ATTEMPT_WORDS`).

    Parameters
    ----------
    error : BaseException
        What the read raised.
    kind : str
        The fault kind in force.
    keys : sequence of str
        The chunk keys read.

    Returns
    -------
    tuple of (str, str)
        The outcome, and ``"<Type>: <message>"`` (with what is missing, when unclear).

    Examples
    --------
    >>> from helpers.fetch import FetchError
    >>> err = FetchError("http://h/b/img.zarr/1/1/101/0/0", "HTTP 404 Not Found (not retried)", 1, 404)
    >>> classify_error(err, "not_found", ["1/1/101/0/0"])[0]
    'clear error'
    >>> classify_error(ValueError("bad"), "not_found", ["1/1/101/0/0"])
    ('unclear error', 'ValueError: bad (names no chunk, no fault, no attempts)')
    """
    text = str(error)
    message = f"{type(error).__name__}: {text}"
    lacks = []
    if not any(key in text for key in keys):
        lacks.append("no chunk")
    if not re.search(FAULT_WORDS.get(kind, "."), text):
        lacks.append("no fault")
    if not re.search(ATTEMPT_WORDS, text):
        lacks.append("no attempts")
    if "\n" in text.strip():
        lacks.append("more than one line")
    if lacks:
        return "unclear error", f"{' '.join(message.split())} (names {', '.join(lacks)})"
    return "clear error", message


def run_cell(cloud: Cloud, case: FaultCase, path: ReadPath, target: ReadTarget) -> Cell:
    """Inject ``case``'s fault, read through ``path`` under the watchdog, and sort the outcome.

    Parameters
    ----------
    cloud : Cloud
        The private cloud (its counters are zeroed and its faults cleared first).
    case : FaultCase
        The fault.
    path : ReadPath
        The read path.
    target : ReadTarget
        The region (its keys, for the fault's aim and the error check).

    Returns
    -------
    Cell
        The outcome, with the time, the requests and the fault's hits.
    """
    settings = target.settings
    cloud.clear_faults()
    cloud.reset_stats()
    arguments = case.fault_arguments(target.region_keys, target.one_key)
    limit_s = settings.watchdog_s + len(target.keys) * settings.latency_ms / 1000
    with cloud.fault(case.kind, **arguments) as fault:
        run = watched(path.read, limit_s)
        if run.finished and run.error is not None:
            cancel_leftover_tasks()  # a failed read's other chunks: not the next cell's requests
    requests = cloud.status().requests
    if not run.finished:
        outcome, message = "hang", f"still running after {limit_s:g} s"
    elif run.error is not None:
        outcome, message = classify_error(run.error, case.kind, target.keys)
    else:
        same, message = same_data(run.value, path.reference)
        outcome = "recovered" if same else "wrong data"
    cell = Cell(
        case.name,
        case.kind,
        case.transient,
        path.name,
        outcome,
        case.expected,
        round(run.seconds, 3),
        requests,
        fault.fired,
        message,
    )
    logger.info("%s x %s: %s in %.2f s (%s)", case.name, path.name, outcome, run.seconds, message)
    return cell


def warm_up(readers: Sequence[ReadPath], limit_s: float) -> None:
    """Read through every path once without a fault: the clients connect, and the bytes must match.

    Parameters
    ----------
    readers : sequence of ReadPath
        The read paths.
    limit_s : float
        Seconds each read may take.

    Raises
    ------
    SuiteError
        A path fails, hangs or returns other bytes than the sample holds, with no fault in force.
    """
    for reader in readers:
        run = watched(reader.read, limit_s)
        if not run.finished:
            problem = f"did not finish within {limit_s:g} s"
        elif run.error is not None:
            problem = f"failed: {type(run.error).__name__}: {run.error}"
        else:
            same, problem = same_data(run.value, reader.reference)
            if same:
                continue
        raise SuiteError(f"the {reader.name} read {problem} with no fault in force; fix that first")


def run_suite(
    settings: SuiteSettings | None = None,
    faults: Sequence[str] | None = None,
    paths: Sequence[str] | None = None,
    on_cell: Callable[[Cell], None] | None = None,
) -> SuiteResult:
    """Run the fault suite: every fault against every read path, on a private local cloud.

    The cloud serves the sample data (:func:`helpers.catalog.samples_dir`, built if needed) at
    ``settings.latency_ms`` and is stopped at the end.

    Parameters
    ----------
    settings : SuiteSettings, optional
        Retry settings and region (default :class:`SuiteSettings`).
    faults : sequence of str, optional
        Names of the faults to run (default: all of :func:`~course_tools.faults.cases.fault_cases`).
    paths : sequence of str, optional
        Read paths to run (default: all of :data:`~course_tools.faults.readers.PATH_NAMES`).
    on_cell : callable, optional
        Called with each :class:`Cell` as soon as it is done (e.g. to print progress).

    Returns
    -------
    SuiteResult
        One cell per fault and path.

    Raises
    ------
    ValueError
        An unknown fault or path name (the message lists the known ones).
    SuiteError
        A read path does not work even without a fault.
    helpers.cloud.CloudError
        The private cloud could not start.
    """
    settings = settings or SuiteSettings()
    cases = _chosen(fault_cases(settings), faults)
    names = list(PATH_NAMES) if paths is None else _known(list(paths), PATH_NAMES, "read path")
    start = time.monotonic()
    from course_tools.samples import build_samples

    samples = build_samples(samples_dir(), progress=False)
    result = SuiteResult(settings, cases, names)
    with start_cloud(latency_ms=settings.latency_ms, data=samples) as cloud:
        target = load_target(cloud, samples, settings)
        with read_paths(target, settings.policy()) as readers:
            chosen = [reader for reader in readers if reader.name in names]
            warm_up(chosen, settings.watchdog_s)
            for case in cases:
                for reader in chosen:
                    cell = run_cell(cloud, case, reader, target)
                    result.cells.append(cell)
                    if on_cell is not None:
                        on_cell(cell)
    return SuiteResult(settings, cases, names, result.cells, round(time.monotonic() - start, 2))


def _known(names: list[str], known: Sequence[str], what: str) -> list[str]:
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"unknown {what} {unknown[0] if unknown else '(none given)'!r}; known: {', '.join(known)}"
        )
    return names


def _chosen(cases: list[FaultCase], names: Sequence[str] | None) -> list[FaultCase]:
    if names is None:
        return cases
    wanted = _known(list(names), [case.name for case in cases], "fault")
    return [case for case in cases if case.name in wanted]
