"""Check that the installed packages are the versions the course was tested with."""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from importlib import metadata

__all__ = ["DISTRIBUTION", "PackageCheck", "check_environment", "pinned_requirements"]

DISTRIBUTION = "remote-bigimage-course"


def pinned_requirements() -> dict[str, str]:
    """Package name -> pinned version, read from the installed course package's metadata."""
    pins = {}
    for requirement in metadata.requires(DISTRIBUTION) or []:
        if "extra ==" in requirement:
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^;\s]+)", requirement)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@dataclass(frozen=True)
class PackageCheck:
    """One package: the version the course pins, the one installed, and whether they agree."""

    package: str
    pinned: str
    installed: str
    status: str
    """``"ok"``, ``"DIFFERENT"`` or ``"MISSING"``."""

    @property
    def ok(self) -> bool:
        """True when the installed version is the pinned one."""
        return self.status == "ok"


def check_environment() -> list[PackageCheck]:
    """One :class:`PackageCheck` per pinned package (Python first).

    Examples
    --------
    >>> from course_tools.text import format_table
    >>> rows = check_environment()
    >>> print(format_table(rows))  # doctest: +SKIP
    >>> [r.package for r in rows if not r.ok]  # doctest: +SKIP
    []
    """
    rows = [PackageCheck("python", ">=3.11", platform.python_version(), "ok")]
    for name, pinned in sorted(pinned_requirements().items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed, status = "-", "MISSING"
        else:
            status = "ok" if installed == pinned else "DIFFERENT"
        rows.append(PackageCheck(name, pinned, installed, status))
    return rows
