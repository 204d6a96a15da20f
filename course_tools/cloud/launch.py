"""Start a local cloud in a process of its own and wait until it says it is ready.

The benchmarks, the fault suite and the tests each start a cloud of their own with this (settings
from the start, a data folder, faults), and stop it with ``with`` or ``.stop()``. A learner's
session cloud is started by :func:`helpers.cloud.ensure_cloud` instead, which does not need these
settings.

Examples
--------
>>> with start_cloud(latency_ms=0) as cloud:  # doctest: +SKIP
...     cloud.status().latency_ms
0.0
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from helpers.cloud import (
    DEFAULT_LATENCY_MS,
    PUBLIC_BUCKET,
    SCRATCH_BUCKET,
    SERVER,
    START_TIMEOUT_S,
    Cloud,
    CloudError,
)

__all__ = ["read_announcement", "start_cloud"]


def start_cloud(
    latency_ms: float = DEFAULT_LATENCY_MS,
    jitter_ms: float = 0.0,
    bandwidth_mbps: float | None = None,
    data: Path | None = None,
    record_state: bool = False,
    log: Path | None = None,
    faults: Iterable[str] = (),
    owner: int | None = None,
) -> Cloud:
    """Start a new local cloud in a process of its own; stop it with ``.stop()`` or ``with``.

    It serves the folder ``data`` (default: the sample data) and ends when it is stopped or when
    the process ``owner`` (default: this one) ends, however it ends. With ``record_state`` it
    records itself in the state file for other notebooks to find. ``faults`` are in force from the
    start, written as on the command line (``"slowdown:rate=0.5,seed=1"``).
    """
    owner = os.getpid() if owner is None else owner
    command = [*SERVER, "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    command += ["--owner-pid", str(owner)]
    command += [] if bandwidth_mbps is None else ["--bandwidth-mbps", str(bandwidth_mbps)]
    command += [] if data is None else ["--data", str(data)]
    command += [] if record_state else ["--no-state-file"]
    for spec in faults:
        command += ["--fault", spec]
    errors = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=errors,
        stdin=subprocess.DEVNULL,
        start_new_session=record_state,  # interrupting a notebook does not interrupt its cloud
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        said = read_announcement(process, "READY", START_TIMEOUT_S, "the local cloud")
    except CloudError as err:
        where = f"see {log}" if log else "run python -m course_tools cloud serve to see why"
        raise CloudError(f"{err}; {where}") from None
    if record_state and process.stdout is not None:
        process.stdout.close()  # it writes nothing more once ready
    return Cloud(said["ENDPOINT"], said.get("BUCKET", PUBLIC_BUCKET), SCRATCH_BUCKET, process)


def read_announcement(
    process: subprocess.Popen[bytes], ready: str, timeout_s: float, what: str
) -> dict[str, str]:
    """Read ``KEY value`` lines from a child's stdout until a line starts with ``ready``.

    A plain ``readline()`` would wait as long as the child stays silent; this waits at most
    ``timeout_s`` (then kills the child) and notices a child that exits first. Raises
    :class:`CloudError` saying which happened.

    Examples
    --------
    >>> import sys
    >>> child = subprocess.Popen([sys.executable, "-c", "print('PORT 1'); print('READY now')"],
    ...                          stdout=subprocess.PIPE)
    >>> read_announcement(child, "READY", 10, "a child")
    {'PORT': '1', 'READY': 'now'}
    """
    assert process.stdout is not None, "start the process with stdout=subprocess.PIPE"
    lines: dict[str, str] = {}
    pending = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                key, _, value = line.decode(errors="replace").strip().partition(" ")
                lines[key] = value
                if key == ready:
                    return lines
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise CloudError(f"{what} did not start within {timeout_s:.0f} s")
            block = os.read(process.stdout.fileno(), 65536) if selector.select(1.0) else None
            if block:
                pending += block
            elif block == b"" or process.poll() is not None:
                raise CloudError(f"{what} exited with code {process.wait()} before it was ready")
