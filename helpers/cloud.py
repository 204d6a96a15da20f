"""The local cloud, from the learner's side: find it, start it, ask it how it is, change its network.

The local cloud is a real S3 endpoint on ``127.0.0.1`` (moto's server behind a proxy that adds 100 ms
of latency per request) holding the course's sample data. The server is the course's machinery
(``course_tools/cloud/``); this module starts it as a process of its own and talks to it over HTTP::

    cloud = ensure_cloud()                 # the session's cloud, started if none runs
    cloud.set_conditions(latency_ms=50)    # a faster network for a while
    with cloud.fault("slowdown", rate=0.5, seed=1):   # half the chunk GETs answer 503 SlowDown
        ...
    cloud.storage_options(WRITER_KEY)      # s3fs options signing for the private bucket

One cloud per session: the first notebook that needs it starts it and records it in
``data/cloud.json``, the others use that one. It belongs to the Jupyter server (``$JPY_PARENT_PID``)
and ends when its owner ends. ``COURSE_ENDPOINT`` names a cloud explicitly (the tests use it). From
a shell: ``python -m course_tools cloud serve|status|set|faults --help``.
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
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "ENDPOINT_ENV",
    "PRIVATE_BUCKET",
    "PRIVATE_REGION",
    "PUBLIC_BUCKET",
    "READER_KEY",
    "SCRATCH_BUCKET",
    "WRITER_KEY",
    "Cloud",
    "CloudError",
    "CloudStatus",
    "Fault",
    "cloud_status",
    "data_dir",
    "ensure_cloud",
    "find_cloud",
    "process_alive",
    "session_owner",
    "state_file",
]

PUBLIC_BUCKET = "course-data"
"""Anonymous, read-only bucket holding the sample OME-Zarr datasets."""
SCRATCH_BUCKET = "course-scratch"
"""Anonymous, writable bucket for learners' results."""
PRIVATE_BUCKET = "course-private"
"""Bucket for signed requests only (AWS Signature V4 with a key pair below); it starts empty."""
READER_KEY = ("course-reader", "course-reader-secret")
"""(access key, secret) that may read and list the private bucket. Course constants, not secrets:
the cloud only listens on 127.0.0.1, so they teach signing without guarding anything."""
WRITER_KEY = ("course-writer", "course-writer-secret")
"""(access key, secret) that may also write and delete in the private bucket (course constants)."""
PRIVATE_REGION = "us-east-1"
"""Region the key pairs sign for."""
ENDPOINT_ENV = "COURSE_ENDPOINT"
"""Environment variable naming a running cloud explicitly (the test suite sets it)."""
DEFAULT_LATENCY_MS = 100.0
"""Latency the local cloud adds to every request: a typical round trip to a remote object store."""
START_TIMEOUT_S = 60.0
"""Longest wait for a new cloud to say it is ready."""
CONTROL_TIMEOUT_S = 5.0
"""Timeout of one request to the cloud's ``/_cloud/...`` control paths."""
SERVER = [sys.executable, "-m", "course_tools.cloud"]
"""The server's command (the course's machinery, started as a process of its own)."""
REPO_ROOT = Path(__file__).resolve().parent.parent


class CloudError(RuntimeError):
    """The local cloud could not be found, started or reached."""


def data_dir() -> Path:
    """The folder for generated files: ``$COURSE_DATA_DIR``, else ``data/`` in the repository."""
    return Path(os.environ.get("COURSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def state_file() -> Path:
    """Where the session's cloud records its endpoint and process."""
    return data_dir() / "cloud.json"


# --- what the cloud reports ------------------------------------------------------------------------
@dataclass
class Fault:
    """A fault in force in the cloud (see :meth:`Cloud.add_fault`), and how often it struck.

    ``fired`` counts the requests it hit, ``seen`` those it could have hit; ``active`` turns False
    and ``ends_in_s`` reaches 0 when a timed ``down`` fault is over.
    """

    kind: str
    name: str
    rate: float = 1.0
    keys: str = "*"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0
    seen: int = 0
    active: bool = True
    ends_in_s: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Read the JSON the cloud answers (unknown keys are ignored)."""
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class CloudStatus:
    """A local cloud's settings and counters, as ``GET /_cloud/status`` reports them.

    The latency (and its ``jitter_ms``) every request waits, the ``bandwidth_mbps`` cap (None: no
    cap); since the counters were last reset: ``requests`` (also ``requests_by_method``),
    ``bytes_sent``, the most requests at once, byte-range GETs (``range_requests``, counted in
    ``requests`` too) and their bytes, requests ``refused`` by the door rules (by S3 error code);
    and the faults in force.
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
    private_bucket: str = PRIVATE_BUCKET
    refused: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CloudStatus:
        """Read the JSON the control path answers (unknown keys are ignored)."""
        values = {k: v for k, v in data.items() if k in {f.name for f in fields(cls)}}
        values["faults"] = [Fault.from_dict(f) for f in data.get("faults", [])]
        return cls(**values)


# --- talking to a cloud ----------------------------------------------------------------------------
def _control(endpoint: str, action: str, method: str = "GET", payload: Any = None) -> Any:
    """One request to a control path; the JSON answer. ``ValueError`` if the cloud refuses it."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{endpoint}/_cloud/{action}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT_S) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        with contextlib.suppress(ValueError, TypeError, KeyError):
            detail = json.loads(detail)["error"]
        raise ValueError(f"the local cloud refused it: {detail}") from None
    except (OSError, ValueError) as err:
        raise CloudError(f"no local cloud answers at {endpoint} ({err})") from None


def cloud_status(endpoint: str) -> CloudStatus:
    """Settings (latency, bandwidth) and counters (requests, bytes) of the cloud at ``endpoint``."""
    return CloudStatus.from_dict(_control(endpoint, "status"))


@dataclass
class Cloud:
    """A running local cloud: its endpoint and buckets, and the process if this Python started it."""

    endpoint: str
    public_bucket: str = PUBLIC_BUCKET
    scratch_bucket: str = SCRATCH_BUCKET
    process: subprocess.Popen | None = field(default=None, repr=False)
    private_bucket: str = PRIVATE_BUCKET

    def url(self, key: str = "", bucket: str | None = None) -> str:
        """Plain HTTP (path-style) URL of an object, e.g. ``http://127.0.0.1:PORT/course-data/KEY``."""
        return f"{self.endpoint}/{bucket or self.public_bucket}/{key}".rstrip("/")

    def s3_url(self, key: str = "", bucket: str | None = None) -> str:
        """``s3://BUCKET/KEY`` form of an object (use with ``endpoint_url=cloud.endpoint``)."""
        return f"s3://{bucket or self.public_bucket}/{key}".rstrip("/")

    def storage_options(self, key: tuple[str, str] = READER_KEY) -> dict[str, Any]:
        """s3fs's ``storage_options`` signing with ``key`` (for the private bucket), e.g. for zarr.

        Examples
        --------
        >>> Cloud("http://127.0.0.1:9000").storage_options(WRITER_KEY)["key"]
        'course-writer'
        """
        where = {"endpoint_url": self.endpoint, "region_name": PRIVATE_REGION}
        return {"key": key[0], "secret": key[1], "client_kwargs": where}

    def status(self) -> CloudStatus:
        """Current settings and counters (see :class:`CloudStatus`)."""
        return cloud_status(self.endpoint)

    def set_conditions(self, **changes: float | None) -> CloudStatus:
        """Change ``latency_ms``, ``jitter_ms`` or ``bandwidth_mbps`` (``None``: no cap) at run time.

        Returns the status after the change; unknown names or bad values raise ``ValueError``.
        """
        return CloudStatus.from_dict(_control(self.endpoint, "conditions", "PUT", changes))

    def reset_stats(self) -> CloudStatus:
        """Zero the counters (the faults' too: they stay in force and restart from their seeds)."""
        return CloudStatus.from_dict(_control(self.endpoint, "reset", "POST", {}))

    def add_fault(self, kind: str, **settings: Any) -> Fault:
        """Make the cloud misbehave until the fault is removed; returns it as the cloud holds it.

        ``kind`` is ``latency_spike``, ``slowdown``, ``reset``, ``truncate``, ``not_found``,
        ``stall`` or ``down``; ``settings`` are ``name``, ``rate`` (0-1), ``keys`` (a glob pattern
        of object keys), ``seed``, ``limit`` and the kind's parameters (``retry_after_s``,
        ``fraction``, ``max_s``, ``ms``, ``duration_s``, ``mode``). The cloud checks them: an
        unknown kind or a bad value raises ``ValueError`` saying what is allowed.
        """
        return Fault.from_dict(
            _control(self.endpoint, "faults", "POST", {"kind": kind, **settings})
        )

    def remove_fault(self, name: str) -> Fault:
        """Remove the fault ``name``; returns it with its final counters (``ValueError`` if none)."""
        return Fault.from_dict(_control(self.endpoint, f"faults/{name}", "DELETE"))

    def clear_faults(self) -> None:
        """Remove every fault."""
        _control(self.endpoint, "faults", "DELETE")

    def faults(self) -> list[Fault]:
        """The faults in force, oldest first, with how often each fired."""
        return [Fault.from_dict(f) for f in _control(self.endpoint, "faults")["faults"]]

    @contextlib.contextmanager
    def fault(self, kind: str, **settings: Any) -> Iterator[Fault]:
        """A fault in force inside a ``with`` block only (same arguments as :meth:`add_fault`).

        On exit the fault is removed, and the yielded :class:`Fault` holds its final counts. A
        ``down`` fault with ``mode="refuse"`` is waited out (its endpoint is not listening).

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
            if added.params.get("mode") == "refuse":
                time.sleep(added.ends_in_s + 0.2)
            with contextlib.suppress(ValueError):  # already removed by hand
                final = self.remove_fault(added.name)
                added.fired, added.seen = final.fired, final.seen

    def stop(self) -> None:
        """Stop the cloud if this Python started it (a shared cloud is left to its owner)."""
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


# --- finding and starting a cloud ------------------------------------------------------------------
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


def find_cloud() -> Cloud | None:
    """The running cloud named by ``$COURSE_ENDPOINT`` or the state file, if it is alive.

    A cloud recorded in the state file is alive while the process that wrote the record runs (the
    same process: its start time is recorded too). Its answers are not needed: under load (a CPU
    busy with Dask workers) a status request can take seconds, and taking a slow cloud for a dead
    one would start a second one beside it.
    """
    endpoint = os.environ.get(ENDPOINT_ENV)
    if endpoint:
        try:
            status = cloud_status(endpoint)
        except CloudError as err:
            raise CloudError(f"{ENDPOINT_ENV}={endpoint} is set, but {err}") from None
        return Cloud(endpoint, status.public_bucket, status.scratch_bucket)
    try:
        state = json.loads(state_file().read_text())
        endpoint = state["endpoint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_alive(state.get("pid"), state.get("started")):
        return None
    public = state.get("public_bucket", PUBLIC_BUCKET)
    return Cloud(endpoint, public, state.get("scratch_bucket", SCRATCH_BUCKET))


def session_owner() -> int:
    """The process a shared cloud belongs to: the Jupyter server of this kernel, else this process."""
    parent = os.environ.get("JPY_PARENT_PID", "")
    return int(parent) if parent.isdigit() and process_alive(parent) else os.getpid()


def _start_session_cloud(log: Path) -> Cloud:
    """Start the session's cloud in a process of its own; wait until it has recorded itself."""
    command = [
        *SERVER,
        "--latency-ms",
        str(DEFAULT_LATENCY_MS),
        "--owner-pid",
        str(session_owner()),
    ]
    with open(log, "ab") as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # interrupting a notebook does not interrupt its cloud
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while (cloud := find_cloud()) is None:
        if process.poll() is not None:
            raise CloudError(f"the local cloud exited with code {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            process.kill()
            raise CloudError(
                f"the local cloud did not start within {START_TIMEOUT_S:.0f} s; see {log}"
            )
        time.sleep(0.1)
    return cloud


def ensure_cloud(verbose: bool = True) -> Cloud:
    """The session's local cloud, started (100 ms latency) if none runs.

    Safe to call from several notebooks at once: a lock file makes sure only one cloud starts. With
    ``verbose`` it says where the cloud is, and warns when the session's memory runs short.

    Examples
    --------
    >>> cloud = ensure_cloud()  # doctest: +SKIP
    Local cloud at http://127.0.0.1:40263 (bucket course-data)
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
                cloud = _start_session_cloud(data_dir() / "cloud.log")
    if verbose:
        print(f"Local cloud at {cloud.endpoint} (bucket {cloud.public_bucket})")
        with contextlib.suppress(ValueError, CloudError):  # older or too busy a cloud: no warning
            warning = _control(cloud.endpoint, f"memory?pid={os.getpid()}").get("warning")
            if warning:
                print(warning)
    return cloud
