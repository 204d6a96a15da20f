"""A watchdog for one read: run it in a worker thread and stop waiting after a time limit.

A read that hangs cannot block the fault suite: it is left behind in its (daemon) thread and the
suite records a hang.

Examples
--------
>>> watched(lambda: 42, 1.0).value
42
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Watched", "watched"]


@dataclass(frozen=True)
class Watched:
    """What a watched call did: its value or error, or that it did not finish in time."""

    finished: bool
    seconds: float
    value: Any = None
    error: BaseException | None = None


def watched(call: Callable[[], Any], limit_s: float) -> Watched:
    """Run ``call()`` in a worker thread and wait at most ``limit_s`` seconds for it.

    A call still running then is left behind in its (daemon) thread: a hang cannot block the
    suite.

    Parameters
    ----------
    call : callable
        What to run.
    limit_s : float
        Seconds to wait.

    Returns
    -------
    Watched
        ``finished`` False for a hang; else the value or the exception raised.

    Examples
    --------
    >>> watched(lambda: 42, 1.0).value
    42
    >>> watched(lambda: time.sleep(0.5), 0.05).finished
    False
    """
    box: dict[str, Any] = {}

    def work() -> None:
        start = time.monotonic()
        try:
            box["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the caller, sorted there
            box["error"] = err
        box["seconds"] = time.monotonic() - start

    start = time.monotonic()
    worker = threading.Thread(target=work, name="fault-suite-read", daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        return Watched(False, time.monotonic() - start)
    return Watched(True, box["seconds"], box.get("value"), box.get("error"))
