"""Run the local cloud: moto's S3 server (subprocess) behind the latency proxy, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import psutil

from course_tools.cloud.conditions import NetworkConditions
from course_tools.cloud.faults import ActiveFault
from course_tools.cloud.launch import read_announcement
from course_tools.cloud.proxy import LatencyProxy
from course_tools.config import BACKEND_START_TIMEOUT_S, OWNER_POLL_S
from helpers.cloud import (
    PRIVATE_BUCKET,
    PUBLIC_BUCKET,
    SCRATCH_BUCKET,
    CloudError,
    process_alive,
    state_file,
)

__all__ = ["LOOPBACK", "check_port", "serve", "start_backend"]

LOOPBACK = "127.0.0.1"


def start_backend(data: Path) -> tuple[subprocess.Popen, str, int, int, str]:
    """Start moto with the stores under ``data`` loaded; return (process, url, objects, bytes, secret).

    ``secret`` is the per-run header value without which the backend refuses requests.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "course_tools.cloud.backend", "--data", str(data)]
        + ["--public", PUBLIC_BUCKET, "--scratch", SCRATCH_BUCKET, "--private", PRIVATE_BUCKET],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        said = read_announcement(process, "READY", BACKEND_START_TIMEOUT_S, "the moto backend")
    except CloudError as err:
        raise RuntimeError(str(err)) from None
    port, objects, nbytes, secret = said["READY"].split()
    return process, f"http://127.0.0.1:{port}", int(objects), int(nbytes), secret


def _record(endpoint: str) -> dict[str, object]:
    """What the state file says of this cloud: where it is and which process serves it."""
    return {
        "endpoint": endpoint,
        "public_bucket": PUBLIC_BUCKET,
        "scratch_bucket": SCRATCH_BUCKET,
        "private_bucket": PRIVATE_BUCKET,
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
    }


async def _stop_when_gone(owner: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once process ``owner`` has ended (checked twice a second)."""
    try:
        started = psutil.Process(owner).create_time()
    except psutil.Error:
        started = None
    while process_alive(owner, started):
        await asyncio.sleep(OWNER_POLL_S)
    stop.set()


def check_port(host: str, port: int) -> None:
    """Raise ``ValueError`` (one line, what to do) if the proxy could not listen on ``host:port``.

    Examples
    --------
    >>> check_port("127.0.0.1", 0)
    >>> check_port("127.0.0.1", 70000)
    Traceback (most recent call last):
    ...
    ValueError: --port must be between 0 and 65535 (0 picks a free port), got 70000
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535 (0 picks a free port), got {port}")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as err:
        raise ValueError(_bind_problem(host, port, err)) from None


def _bind_problem(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is busy (another program listens there): "
            "choose another --port, or 0 for any free port"
        )
    if err.errno == errno.EACCES:
        return (
            f"port {port} needs administrator rights: "
            "choose a --port above 1023, or 0 for any free port"
        )
    return f"cannot listen on {host}:{port} ({err.strerror or err}): check --host and --port"


async def serve(
    conditions: NetworkConditions,
    data: Path,
    port: int = 0,
    write_state: bool = True,
    host: str = LOOPBACK,
    faults: Iterable[ActiveFault] = (),
    owner: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, or until the process ``owner`` ends (default: the parent).

    Prints ENDPOINT, BUCKET, SCRATCH, PRIVATE and READY lines first. Raises ``ValueError`` (one
    line) when the proxy cannot listen on ``host:port``.
    """
    backend, upstream, objects, nbytes, secret = start_backend(data)
    buckets = (PUBLIC_BUCKET, SCRATCH_BUCKET)
    proxy = LatencyProxy(
        upstream, conditions, *buckets, host, port, secret, faults, private_bucket=PRIVATE_BUCKET
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch = loop.create_task(_stop_when_gone(os.getppid() if owner is None else owner, stop))
    try:
        try:
            await proxy.start()
        except OSError as err:
            raise ValueError(_bind_problem(host, port, err)) from None
        print(f"ENDPOINT {proxy.endpoint}", flush=True)
        print(f"BUCKET {PUBLIC_BUCKET}", flush=True)
        print(f"SCRATCH {SCRATCH_BUCKET}", flush=True)
        print(
            f"PRIVATE {PRIVATE_BUCKET} (signed requests only: helpers.cloud.READER_KEY, WRITER_KEY)",
            flush=True,
        )
        cap = conditions.bandwidth_mbps
        print(
            f"SERVING {objects} objects ({nbytes / 1e6:.1f} MB) from {data}; "
            f"latency {conditions.latency_ms:g} ms, jitter {conditions.jitter_ms:g} ms, "
            f"bandwidth {'unlimited' if cap is None else f'{cap:g} Mbit/s'}",
            flush=True,
        )
        for fault in proxy.faults.list():
            print(f"FAULT {json.dumps(fault.as_dict())}", flush=True)
        if write_state:
            state_file().parent.mkdir(parents=True, exist_ok=True)
            state_file().write_text(json.dumps(_record(proxy.endpoint)))
        print("READY (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        watch.cancel()
        await proxy.stop()
        backend.terminate()
        backend.wait()
        if write_state:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(state_file().read_text()).get("pid") == os.getpid():
                    state_file().unlink()
