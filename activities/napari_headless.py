"""Run napari without a screen: a private X server for OpenGL, and OpenGL ready before the viewer.

Qt's ``offscreen`` platform draws no window, but napari's canvas needs OpenGL, which that
platform gets from an X server's GLX: :func:`virtual_display` starts a private Xvfb (Mesa's
software renderer) and points ``DISPLAY`` at it. :func:`prime_opengl` then asks OpenGL for its
limits before a hidden viewer exists, which napari needs to add layers to a ``show=False`` viewer.

Used by ``napari_threshold.py --screenshot`` and its test; a session with a display needs neither.

Examples
--------
>>> with virtual_display() as display:  # doctest: +SKIP
...     prime_opengl()
...     viewer = napari.Viewer(show=False)
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["XVFB_START_TIMEOUT_S", "prime_opengl", "virtual_display"]

logger = logging.getLogger("activities.napari_headless")

XVFB_START_TIMEOUT_S = 10.0
"""Longest wait for the private X server to say which display it serves."""


@contextlib.contextmanager
def virtual_display(width: int = 1280, height: int = 1024) -> Iterator[str]:
    """A private X server (Xvfb) for a headless run: sets ``DISPLAY``, yields it, stops the server.

    Qt's ``offscreen`` platform (also set here) draws no window, but napari's canvas needs OpenGL,
    which that platform gets from an X server's GLX (Mesa's software renderer under Xvfb).

    Qt keeps its connection to the server until the process ends and exits the process if the
    server goes first, so once a Qt application runs the server is left running: the kernel stops
    it when this process ends (Linux's parent-death signal).

    Raises
    ------
    FileNotFoundError
        Xvfb is not installed (``apt-get install xvfb``; ``make browser`` installs it).
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise FileNotFoundError(
            "Xvfb not found: a headless napari needs it for OpenGL; install it with "
            "`apt-get install xvfb` (`make browser` does), or run where a display is available"
        )
    read_end, write_end = os.pipe()
    command = [xvfb, "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24"]
    server = subprocess.Popen(
        [*command, "-nolisten", "tcp"],
        pass_fds=(write_end,),
        preexec_fn=_stop_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    saved = {key: os.environ.get(key) for key in ("DISPLAY", "QT_QPA_PLATFORM")}
    try:
        ready, _, _ = select.select([read_end], [], [], XVFB_START_TIMEOUT_S)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number:
            raise OSError(f"Xvfb did not start within {XVFB_START_TIMEOUT_S:.0f} s")
        os.environ["DISPLAY"] = f":{number}"
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        logger.info("Xvfb serves display :%s", number)
        yield f":{number}"
    finally:
        os.close(read_end)
        if not _qt_application_running():
            server.terminate()
            server.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _stop_with_parent() -> None:
    """In a child process: ask Linux to send it SIGTERM when its parent ends (PR_SET_PDEATHSIG)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def prime_opengl() -> None:
    """Ask OpenGL for its extensions and limits before any viewer exists (napari caches them).

    napari asks when the first image layer is added, with whatever context is current; a hidden
    viewer's canvas (``show=False``) may have none, and the layer then fails on an empty answer.
    Asked before any canvas exists, napari makes a temporary canvas with a context of its own.

    Raises
    ------
    OSError
        No OpenGL context could be made (no X server, or no OpenGL driver).
    """
    from napari._vispy.utils.gl import get_gl_extensions, get_max_texture_sizes
    from napari.qt import get_qapp

    get_qapp()
    try:
        extensions = get_gl_extensions()
    except AttributeError:  # vispy decodes the driver's answer: None without a context
        extensions = None
    if not extensions:
        raise OSError(
            "no OpenGL context: napari needs an X server with GLX (Xvfb) and Mesa's libGL"
        )
    logger.info("OpenGL ready: max texture sizes %s", get_max_texture_sizes())


def _qt_application_running() -> bool:
    widgets = sys.modules.get("qtpy.QtWidgets")
    return widgets is not None and widgets.QApplication.instance() is not None
