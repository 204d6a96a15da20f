"""Run the local cloud: moto's S3 server (subprocess) behind the latency proxy, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..config import BACKEND_START_TIMEOUT_S
from .client import PUBLIC_BUCKET, SCRATCH_BUCKET, state_file
from .conditions import NetworkConditions
from .proxy import LatencyProxy
from .startup import StartupError, read_announcement

__all__ = ["serve", "start_backend"]


def start_backend(data: Path) -> tuple[subprocess.Popen, str, int, int]:
    """Start moto with the stores under ``data`` loaded; return (process, url, objects, bytes)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers.cloud.backend", "--data", str(data)]
        + ["--public", PUBLIC_BUCKET, "--scratch", SCRATCH_BUCKET],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        said = read_announcement(process, "READY", BACKEND_START_TIMEOUT_S, "the moto backend")
    except StartupError as err:
        raise RuntimeError(str(err)) from None
    port, objects, nbytes = said["READY"].split()
    return process, f"http://127.0.0.1:{port}", int(objects), int(nbytes)


async def serve(
    conditions: NetworkConditions,
    data: Path,
    port: int = 0,
    write_state: bool = True,
) -> None:
    """Serve until SIGINT or SIGTERM; print ENDPOINT, BUCKET, SCRATCH and READY lines first."""
    backend, upstream, objects, nbytes = start_backend(data)
    proxy = LatencyProxy(upstream, conditions, PUBLIC_BUCKET, SCRATCH_BUCKET, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await proxy.start()
        print(f"ENDPOINT {proxy.endpoint}", flush=True)
        print(f"BUCKET {PUBLIC_BUCKET}", flush=True)
        print(f"SCRATCH {SCRATCH_BUCKET}", flush=True)
        print(
            f"SERVING {objects} objects ({nbytes / 1e6:.1f} MB) from {data}; "
            f"latency {conditions.latency_ms:g} ms, jitter {conditions.jitter_ms:g} ms, "
            f"bandwidth {'unlimited' if conditions.bandwidth_mbps is None else f'{conditions.bandwidth_mbps:g} Mbit/s'}",
            flush=True,
        )
        if write_state:
            state_file().parent.mkdir(parents=True, exist_ok=True)
            state_file().write_text(json.dumps({"endpoint": proxy.endpoint, "pid": os.getpid()}))
        print("READY (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        await proxy.stop()
        backend.terminate()
        backend.wait()
        if write_state:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(state_file().read_text()).get("pid") == os.getpid():
                    state_file().unlink()
