"""Find, start and talk to the local cloud from Python (notebooks, tests, other helpers).

One cloud is shared by every notebook: ``python -m helpers.cloud serve`` writes a small state file
(``data/cloud.json``) naming its endpoint, and :func:`ensure_cloud` uses the cloud named there when it
answers, or starts one in the background when none does. ``COURSE_ENDPOINT`` in the environment names a
cloud explicitly (the test suite uses this).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..config import CLOUD_CONTROL_TIMEOUT_S, CLOUD_START_TIMEOUT_S, DEFAULT_LATENCY_MS
from ..paths import data_dir
from ..session import memory_warning
from .faults import Fault, ParamValue, make_fault
from .startup import StartupError, read_announcement
from .status import CloudStatus

__all__ = [
    "ENDPOINT_ENV",
    "PUBLIC_BUCKET",
    "SCRATCH_BUCKET",
    "Cloud",
    "CloudError",
    "CloudStatus",
    "cloud_status",
    "ensure_cloud",
    "find_cloud",
    "process_alive",
    "read_state",
    "session_owner",
    "start_cloud",
    "state_file",
]

PUBLIC_BUCKET = "course-data"
"""Anonymous, read-only bucket holding the sample OME-Zarr datasets."""
SCRATCH_BUCKET = "course-scratch"
"""Anonymous, writable bucket for learners' results."""
ENDPOINT_ENV = "COURSE_ENDPOINT"
"""Environment variable naming a running cloud explicitly (the test suite sets it)."""


class CloudError(RuntimeError):
    """The local cloud could not be found, started or reached."""


def state_file() -> Path:
    """Where a running ``serve`` records its endpoint."""
    return data_dir() / "cloud.json"


@dataclass
class Cloud:
    """A running local cloud: its endpoint and buckets, and the process if this Python started it."""

    endpoint: str
    public_bucket: str = PUBLIC_BUCKET
    scratch_bucket: str = SCRATCH_BUCKET
    process: subprocess.Popen | None = field(default=None, repr=False)

    def url(self, key: str = "", bucket: str | None = None) -> str:
        """Plain HTTP (path-style) URL of an object, e.g. ``http://127.0.0.1:PORT/course-data/KEY``."""
        return f"{self.endpoint}/{bucket or self.public_bucket}/{key}".rstrip("/")

    def s3_url(self, key: str = "", bucket: str | None = None) -> str:
        """``s3://BUCKET/KEY`` form of an object (use with ``endpoint_url=cloud.endpoint``)."""
        return f"s3://{bucket or self.public_bucket}/{key}".rstrip("/")

    def status(self) -> CloudStatus:
        """Current settings and request/byte counters (see :func:`cloud_status`)."""
        return cloud_status(self.endpoint)

    def set_conditions(self, **changes: float | None) -> CloudStatus:
        """Change ``latency_ms``, ``jitter_ms`` or ``bandwidth_mbps`` (``None`` = no cap) at run time.

        Returns the status after the change; unknown names or bad values raise ``ValueError``.
        """
        return CloudStatus.from_dict(_control(self.endpoint, "conditions", "PUT", changes))

    def reset_stats(self) -> CloudStatus:
        """Zero the request, refusal and byte counters and the faults' counters.

        The faults stay in force and restart from their seeds, so a run after a reset repeats.
        Returns the status after the reset.
        """
        return CloudStatus.from_dict(_control(self.endpoint, "reset", "POST", {}))

    # -- faults ----------------------------------------------------------------------------------
    def add_fault(
        self,
        kind: str,
        name: str | None = None,
        rate: float = 1.0,
        keys: str = "*",
        seed: int = 0,
        **params: ParamValue,
    ) -> Fault:
        """Inject a fault into the cloud's answers until it is removed.

        Parameters
        ----------
        kind : str
            ``latency_spike``, ``slowdown``, ``reset``, ``truncate``, ``not_found``, ``stall`` or
            ``down`` (see :mod:`helpers.cloud.faults` for what each does).
        name : str, optional
            Its name (default: the kind, numbered if taken), to remove it by.
        rate : float
            Probability (0-1) that a GET of a matching key is hit.
        keys : str
            Glob pattern of the object keys hit (without the bucket), e.g. ``"*/0/0/*"``.
        seed : int
            Seed of the choice of requests hit, so runs repeat.
        **params
            The kind's parameters (``ms``, ``retry_after_s``, ``fraction``, ``max_s``, ``duration_s``,
            ``mode``) and ``limit`` (most hits; 0 = no limit).

        Returns
        -------
        Fault
            The fault as the cloud holds it (its name, its parameters with defaults).

        Raises
        ------
        ValueError
            Unknown kind (the message lists them) or a bad parameter.

        Examples
        --------
        >>> cloud.add_fault("slowdown", rate=0.5, seed=1, retry_after_s=0)  # doctest: +SKIP
        >>> cloud.faults()[0].fired  # doctest: +SKIP
        3
        """
        make_fault(kind, name, rate, keys, seed, **params)  # same checks, clear message, no request
        settings: dict[str, Any] = {
            "kind": kind,
            "rate": rate,
            "keys": keys,
            "seed": seed,
            **params,
        }
        if name is not None:
            settings["name"] = name
        return Fault.from_dict(_control(self.endpoint, "faults", "POST", settings))

    def remove_fault(self, name: str) -> Fault:
        """Remove the fault ``name``; returns it with its final counters (``ValueError`` if none)."""
        return Fault.from_dict(_control(self.endpoint, f"faults/{name}", "DELETE", None))

    def clear_faults(self) -> None:
        """Remove every fault."""
        _control(self.endpoint, "faults", "DELETE", None)

    def faults(self) -> list[Fault]:
        """The faults in force, oldest first, with how often each fired."""
        return [
            Fault.from_dict(f) for f in _control(self.endpoint, "faults", "GET", None)["faults"]
        ]

    @contextlib.contextmanager
    def fault(self, kind: str, **settings: Any) -> Iterator[Fault]:
        """A fault in force inside a ``with`` block only (same arguments as :meth:`add_fault`).

        On exit the fault is removed and the yielded :class:`Fault`'s ``fired`` and ``seen`` hold its
        final counts. A ``down`` fault with ``mode="refuse"`` is waited out first (its endpoint is not
        listening, so it cannot be removed earlier).

        Examples
        --------
        >>> with cloud.fault("not_found", keys="*/0/0/0") as missing:  # doctest: +SKIP
        ...     image = read_something()
        >>> missing.fired  # doctest: +SKIP
        1
        """
        added = self.add_fault(kind, **settings)
        try:
            yield added
        finally:
            if added.kind == "down" and added.params.get("mode") == "refuse":
                time.sleep(added.ends_in_s + 0.2)
            with contextlib.suppress(ValueError):  # already removed by hand
                final = self.remove_fault(added.name)
                added.fired, added.seen = final.fired, final.seen

    def stop(self) -> None:
        """Stop the cloud if this Python started it (others' clouds are left running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Cloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _control(
    endpoint: str,
    action: str,
    method: str,
    payload: dict | None,
    timeout: float = CLOUD_CONTROL_TIMEOUT_S,
) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{endpoint}/_cloud/{action}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        with contextlib.suppress(ValueError, TypeError, KeyError):
            detail = json.loads(detail)["error"]
        raise ValueError(f"local cloud refused {method} {action}: {detail}") from None
    except (OSError, ValueError) as err:
        raise CloudError(f"no local cloud answers at {endpoint} ({err})") from None


def cloud_status(endpoint: str, timeout: float = CLOUD_CONTROL_TIMEOUT_S) -> CloudStatus:
    """Settings (latency, jitter, bandwidth) and counters (requests, bytes) of the cloud at ``endpoint``."""
    return CloudStatus.from_dict(_control(endpoint, "status", "GET", None, timeout=timeout))


def find_cloud() -> Cloud | None:
    """The running cloud named by ``$COURSE_ENDPOINT`` or the state file, if it is alive.

    A cloud recorded in the state file is alive while the process that wrote the record runs (the
    same process: its start time is recorded too, so a reused process id does not count). Its
    answers are not needed: under load (a CPU saturated by Dask workers) a status request can take
    seconds, and taking a slow cloud for a dead one would start a second one beside it.
    """
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        try:
            status = cloud_status(endpoint)
        except CloudError as err:
            raise CloudError(f"{ENDPOINT_ENV}={endpoint} is set, but {err}") from None
        return Cloud(endpoint, status.public_bucket, status.scratch_bucket)
    state = read_state()
    if state is None or not process_alive(state.get("pid"), state.get("started")):
        return None
    return Cloud(
        state["endpoint"],
        state.get("public_bucket", PUBLIC_BUCKET),
        state.get("scratch_bucket", SCRATCH_BUCKET),
    )


def read_state() -> dict[str, Any] | None:
    """The state file's record of the shared cloud (``endpoint``, ``pid``, ``started``...), if any."""
    try:
        state = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "endpoint" in state else None


def process_alive(pid: Any, started: Any = None) -> bool:
    """Whether process ``pid`` runs (and, if ``started`` is given, started at that time).

    Examples
    --------
    >>> process_alive(os.getpid()), process_alive(os.getpid(), 0.0), process_alive(None)
    (True, False, False)
    """
    try:
        process = psutil.Process(int(pid))
        running = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        return running and (started is None or abs(process.create_time() - float(started)) < 0.01)
    except (psutil.Error, TypeError, ValueError):
        return False


def session_owner() -> int:
    """The process a shared cloud belongs to: the Jupyter server of this kernel, else this process.

    A notebook's kernel is started by the Jupyter server, which names itself in ``$JPY_PARENT_PID``.
    The shared cloud belongs to the server, not to the kernel that happened to start it: it serves
    every notebook of the session, and ends with the session.
    """
    parent = os.environ.get("JPY_PARENT_PID", "")
    return int(parent) if parent.isdigit() and process_alive(parent) else os.getpid()


def start_cloud(
    latency_ms: float = DEFAULT_LATENCY_MS,
    jitter_ms: float = 0.0,
    bandwidth_mbps: float | None = None,
    data: Path | None = None,
    port: int = 0,
    record_state: bool = False,
    log: Path | None = None,
    faults: Iterable[str] = (),
    owner: int | None = None,
) -> Cloud:
    """Start a new local cloud in a subprocess and wait until it serves; stop it with ``.stop()``.

    It ends when it is stopped or when the process ``owner`` (default: this one) ends, however it
    ends (a crash, a kill by the out-of-memory killer): no cloud outlives its owner. With
    ``record_state`` it records itself in the state file so other notebooks find it (it is then
    started in its own session, so that interrupting a notebook does not interrupt it).
    ``faults`` are in force from the start, written as on the command line
    (``"slowdown:rate=0.5,seed=1"``).
    """
    owner = os.getpid() if owner is None else owner
    cmd = [sys.executable, "-m", "helpers.cloud", "serve", "--port", str(port)]
    cmd += ["--owner-pid", str(owner)]
    cmd += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    for spec in faults:
        cmd += ["--fault", spec]
    if bandwidth_mbps is not None:
        cmd += ["--bandwidth-mbps", str(bandwidth_mbps)]
    if data is not None:
        cmd += ["--data", str(data)]
    if not record_state:
        cmd += ["--no-state-file"]
    errors = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=errors,
        stdin=subprocess.DEVNULL,
        start_new_session=record_state,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        said = read_announcement(process, "READY", CLOUD_START_TIMEOUT_S, "the local cloud")
    except StartupError as err:
        where = f"see {log}" if log else "run python -m helpers.cloud serve to see why"
        raise CloudError(f"{err}; {where}") from None
    assert process.stdout is not None
    if record_state:
        process.stdout.close()  # the server writes nothing more to stdout once ready
    return Cloud(
        said.get("ENDPOINT", ""), said.get("BUCKET", PUBLIC_BUCKET), SCRATCH_BUCKET, process=process
    )


def ensure_cloud(verbose: bool = True) -> Cloud:
    """Return the running local cloud, starting a shared one (100 ms latency) if none runs.

    Safe to call from several notebooks at once: a lock file makes sure only one cloud is started,
    and a running cloud is used however slowly it answers (see :func:`find_cloud`). A cloud started
    here belongs to the Jupyter server (:func:`session_owner`) and ends with it. With ``verbose``,
    it also warns when the session's memory runs short (:func:`helpers.session.memory_warning`).

    Parameters
    ----------
    verbose : bool
        Print where the cloud is (and that one is being started).

    Examples
    --------
    >>> cloud = ensure_cloud()  # doctest: +SKIP
    Local cloud at http://127.0.0.1:40263 (bucket course-data)
    >>> cloud.url("v0.4/idr0062A/6001240.zarr/.zattrs")  # doctest: +SKIP
    'http://127.0.0.1:40263/course-data/v0.4/idr0062A/6001240.zarr/.zattrs'
    """
    cloud = find_cloud()
    if cloud is None:
        data_dir().mkdir(parents=True, exist_ok=True)
        with open(data_dir() / "cloud.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time; the others then find it
            cloud = find_cloud()
            if cloud is None:
                if verbose:
                    print("No local cloud is running: starting one for this Jupyter session...")
                cloud = start_cloud(
                    record_state=True, log=data_dir() / "cloud.log", owner=session_owner()
                )
                cloud.process = None  # shared: it belongs to the session, not to this notebook
    if verbose:
        print(f"Local cloud at {cloud.endpoint} (bucket {cloud.public_bucket})")
        warning = memory_warning()
        if warning:
            print(warning)
    return cloud
