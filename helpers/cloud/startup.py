"""Wait for a child process to announce itself on stdout, with a deadline that really fires.

The local cloud's processes say they are ready by printing lines (``ENDPOINT ...``, ``READY``).
Reading those with a plain ``readline()`` blocks for as long as the child stays silent, so a child
that hangs would hang its parent too. :func:`read_announcement` waits on the pipe with ``select``
and gives up at the deadline.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time

__all__ = ["StartupError", "read_announcement"]


class StartupError(RuntimeError):
    """A child process exited, or stayed silent past its deadline, before announcing it was ready."""


def read_announcement(
    process: subprocess.Popen[bytes], ready: str, timeout_s: float, what: str
) -> dict[str, str]:
    """Read ``KEY value`` lines from ``process.stdout`` until a line starts with ``ready``.

    Parameters
    ----------
    process : subprocess.Popen
        A child started with ``stdout=subprocess.PIPE``.
    ready : str
        The first word of the line that ends the announcement (e.g. ``"READY"``).
    timeout_s : float
        Seconds to wait for that line in all.
    what : str
        Name of the child for error messages (e.g. ``"the local cloud"``).

    Returns
    -------
    dict
        ``{KEY: value}`` of every line read, the ``ready`` line included.

    Raises
    ------
    StartupError
        The child exited first, or the deadline passed (the child is then killed).

    Examples
    --------
    >>> import subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "print('PORT 1'); print('READY now')"],
    ...                          stdout=subprocess.PIPE)
    >>> read_announcement(child, "READY", 10, "a child")
    {'PORT': '1', 'READY': 'now'}
    """
    assert process.stdout is not None, "start the process with stdout=subprocess.PIPE"
    fd = process.stdout.fileno()
    lines: dict[str, str] = {}
    pending = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                key, _, value = line.decode(errors="replace").strip().partition(" ")
                if key:
                    lines[key] = value
                if key == ready:
                    return lines
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                process.wait()
                raise StartupError(f"{what} did not start within {timeout_s:.0f} s")
            block = os.read(fd, 65536) if selector.select(timeout=min(remaining, 1.0)) else None
            if block:
                pending += block
            elif block == b"" or process.poll() is not None:  # end of output, or the child ended
                try:
                    code = process.wait(timeout=min(max(remaining, 0.1), 5.0))
                except subprocess.TimeoutExpired:  # closed its output but still runs: keep waiting
                    continue
                raise StartupError(f"{what} exited with code {code} before it was ready")
