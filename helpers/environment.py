"""Check that the installed packages are the versions the course was tested with."""

from __future__ import annotations

import platform
import re
from importlib import metadata

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


def check_environment() -> list[dict[str, str]]:
    """One row per pinned package: name, pinned version, installed version and "ok" / "DIFFERENT" / "MISSING"."""
    rows = [
        {
            "package": "python",
            "pinned": ">=3.11",
            "installed": platform.python_version(),
            "status": "ok",
        }
    ]
    for name, pinned in sorted(pinned_requirements().items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed, status = "-", "MISSING"
        else:
            status = "ok" if installed == pinned else "DIFFERENT"
        rows.append({"package": name, "pinned": pinned, "installed": installed, "status": status})
    return rows


def format_table(rows: list[dict[str, object]]) -> str:
    """A plain-text table of dict rows (same keys), for printing in notebooks and CLIs."""
    if not rows:
        return "(nothing)"
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys), "  ".join("-" * widths[k] for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)
