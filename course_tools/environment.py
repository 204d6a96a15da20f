"""Check that the installed packages are the versions the course was tested with."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["DISTRIBUTION", "PackageCheck", "check_environment", "pinned_requirements"]

DISTRIBUTION = "remote-bigimage-course"


def pinned_requirements() -> dict[str, str]:
    """Package name -> pinned version, read from the installed course package's metadata.

    The runtime requirements pinned with ``==`` (``moto[server]==5.2.6`` gives ``moto``), under
    their canonical names (PEP 503: ``ome-zarr-models``); those that only an extra (``napari``,
    ``site``, ``test``) or another platform needs are left out.

    Examples
    --------
    >>> pins = pinned_requirements()
    >>> pins["zarr"] == metadata.version("zarr")
    True
    """
    pins = {}
    for text in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if len(exact) == 1:
            pins[canonicalize_name(requirement.name)] = exact[0]
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
