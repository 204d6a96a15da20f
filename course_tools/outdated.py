"""``python -m course_tools outdated``: the locked packages that have a newer release for the course's Python.

Reads every pin of ``requirements/lock.txt`` (the ones that apply to Linux and CPython 3.11, as
``make lock`` resolves them), asks PyPI's JSON API (``https://pypi.org/pypi/NAME/json``) for each
package's releases, many at a time (a thread pool), and prints the pins that are behind: the locked
version and the newest final release whose ``requires_python`` accepts the course's Python.
Pre-releases, yanked releases and releases without files are never offered. A newer release that
only a newer Python can install is shown apart, with what it requires: that is the lock's ceiling.

``make outdated`` runs it (it needs the network; ``make test`` does not run it). Then: edit the pins in
``pyproject.toml`` (the column ``pinned in`` says where a pin comes from; the others follow with
``make lock``), run ``make lock`` and ``make test`` (README.md, "Python version and the lock").

Examples
--------
>>> releases = {
...     "1.0": [{"requires_python": ">=3.10", "yanked": False}],
...     "1.1": [{"requires_python": ">=3.10", "yanked": False}],
...     "1.2rc1": [{"requires_python": ">=3.10", "yanked": False}],
...     "2.0": [{"requires_python": ">=3.12", "yanked": False}],
... }
>>> newest_releases(releases, "3.11")
(<Version('1.1')>, <Version('2.0')>)
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from course_tools import REPO_ROOT
from course_tools.cli import count_arg
from course_tools.text import format_table, plural

__all__ = [
    "DEFAULT_INDEX_URL",
    "DEFAULT_PYTHON",
    "LOCK",
    "Outdated",
    "Pin",
    "direct_pins",
    "fetch_releases",
    "find_outdated",
    "locked_pins",
    "main",
    "newest_releases",
]

logger = logging.getLogger(__name__)

DEFAULT_PYTHON = "3.11"
"""The Python the lock is made for (``make lock``: ``--python-version 3.11``)."""
DEFAULT_INDEX_URL = "https://pypi.org/pypi"
"""PyPI's JSON API: ``{index}/{name}/json`` lists a package's releases and their files."""
LOCK = REPO_ROOT / "requirements" / "lock.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"
TOOLS = REPO_ROOT / "requirements" / "tools.in"
TIMEOUT_S = 30.0
WORKERS = 16

Releases = Mapping[str, Sequence[Mapping[str, Any]]]
"""A package's releases as PyPI's JSON API gives them: version -> its files (``requires_python``,
``yanked``...)."""
Fetch = Callable[[str], Releases | None]
"""Package name -> its releases, or ``None`` when the index does not know it."""


@dataclass(frozen=True)
class Pin:
    """One pin of the lock: the package, its locked version and where it is chosen."""

    name: str
    version: str
    pinned_in: str
    """``"pyproject.toml"`` or ``"tools.in"`` for a pin edited by hand, ``""`` for one that
    ``make lock`` chooses (a dependency of a dependency)."""


@dataclass(frozen=True)
class Outdated:
    """One row of the report: a locked package with a newer release."""

    package: str
    locked: str
    newest: str
    """The newest final release for the course's Python (``"-"``: the locked one is)."""
    newer_python_only: str
    """A newer release that needs a newer Python, with its ``requires_python`` (else ``""``)."""
    pinned_in: str


def _marker_environment(python: str) -> dict[str, str]:
    """Marker variables for Linux and CPython ``python`` (``"3.11"``), as ``make lock`` resolves."""
    return {
        **default_environment(),
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def direct_pins(pyproject: str, tools: str = "") -> dict[str, str]:
    r"""Canonical package name -> the file that pins it by hand (``pyproject.toml`` or ``tools.in``).

    Parameters
    ----------
    pyproject : str
        The text of ``pyproject.toml`` (its dependencies, optional ones and ``[build-system]``).
    tools : str
        The text of ``requirements/tools.in``.

    Examples
    --------
    >>> direct_pins('[project]\ndependencies = ["Zarr==3.1.6"]', "pip\n")
    {'zarr': 'pyproject.toml', 'pip': 'tools.in'}
    """
    project = tomllib.loads(pyproject).get("project", {})
    texts = list(project.get("dependencies", []))
    texts += [r for group in project.get("optional-dependencies", {}).values() for r in group]
    found = {canonicalize_name(Requirement(text).name): "pyproject.toml" for text in texts}
    for line in tools.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            found.setdefault(canonicalize_name(Requirement(line).name), "tools.in")
    return found


def locked_pins(
    lock: str, direct: Mapping[str, str] | None = None, python: str = DEFAULT_PYTHON
) -> list[Pin]:
    r"""The pins of a lock file that apply to Linux and CPython ``python``, sorted by name.

    Parameters
    ----------
    lock : str
        The text of ``requirements/lock.txt`` (``name==version [; marker]`` lines, comments).
    direct : mapping of str to str, optional
        :func:`direct_pins`: which packages are pinned by hand, and where.
    python : str
        The Python the markers are evaluated for, ``"3.11"``.

    Raises
    ------
    ValueError
        For a line that is not an exact pin.

    Examples
    --------
    >>> text = "zarr==3.1.6\n    # via ome-zarr\nappnope==0.1.4 ; sys_platform == 'darwin'\n"
    >>> locked_pins(text, {"zarr": "pyproject.toml"})
    [Pin(name='zarr', version='3.1.6', pinned_in='pyproject.toml')]
    """
    environment = _marker_environment(python)
    direct = direct or {}
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(lock.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as err:
            raise ValueError(f"lock line {number} is not a requirement: {line!r} ({err})") from None
        versions = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if len(versions) != 1:
            raise ValueError(f"lock line {number} is not an exact pin (name==version): {line!r}")
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        pins[name] = Pin(name, versions[0], direct.get(name, ""))
    return sorted(pins.values(), key=lambda pin: pin.name)


def _installable(files: Sequence[Mapping[str, Any]], python: str) -> bool:
    """True when one of a release's files is not yanked and accepts Python ``python``."""
    for file in files:
        if file.get("yanked"):
            continue
        requires = (file.get("requires_python") or "").strip()
        try:
            if not requires or SpecifierSet(requires).contains(python, prereleases=True):
                return True
        except InvalidSpecifier:  # as pip does: an unreadable requirement does not exclude
            return True
    return False


def newest_releases(releases: Releases, python: str) -> tuple[Version | None, Version | None]:
    """The newest final release installable on Python ``python``, and the newest for any Python.

    Pre-releases (``rc``, ``b``, ``dev``), versions that are not PEP 440 and releases whose files are
    all yanked (or that have none) are left out.

    Parameters
    ----------
    releases : mapping
        Version -> its files, each with ``requires_python`` and ``yanked`` (PyPI's JSON API).
    python : str
        The Python to install on, ``"3.11"``.

    Returns
    -------
    tuple of (Version or None, Version or None)
        ``(newest for python, newest for any Python)``; ``None`` where there is none.

    Examples
    --------
    >>> newest_releases({"1.0": [{"requires_python": ">=3.12"}]}, "3.11")
    (None, <Version('1.0')>)
    """
    for_python: Version | None = None
    overall: Version | None = None
    for text, files in releases.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or not any(not f.get("yanked") for f in files):
            continue
        overall = version if overall is None else max(overall, version)
        if _installable(files, python) and (for_python is None or version > for_python):
            for_python = version
    return for_python, overall


def _requires_python(files: Sequence[Mapping[str, Any]]) -> str:
    found = {f.get("requires_python") or "" for f in files if not f.get("yanked")}
    return ", ".join(sorted(text for text in found if text)) or "?"


def fetch_releases(
    name: str, index_url: str = DEFAULT_INDEX_URL, timeout: float = TIMEOUT_S
) -> Releases | None:
    """A package's releases from PyPI's JSON API; ``None`` when the index does not know it.

    Raises
    ------
    ConnectionError
        When the index cannot be reached or does not answer with JSON.
    """
    url = f"{index_url.rstrip('/')}/{name}/json"
    logger.debug("GET %s", url)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise ConnectionError(f"{url} answered HTTP {err.code} {err.reason}") from None
    except (OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise ConnectionError(
            f"cannot read {url} ({reason}): `make outdated` needs PyPI over the network"
        ) from None
    releases = data.get("releases") if isinstance(data, dict) else None
    if not isinstance(releases, dict):
        raise ConnectionError(f"{url} did not answer with a package's releases")
    return releases


def find_outdated(
    pins: Iterable[Pin],
    fetch: Fetch = fetch_releases,
    python: str = DEFAULT_PYTHON,
    show_all: bool = False,
    workers: int = WORKERS,
) -> tuple[list[Outdated], list[str]]:
    """Ask the index about every pin (``workers`` at a time) and compare.

    Parameters
    ----------
    pins : iterable of Pin
        The locked packages (:func:`locked_pins`).
    fetch : callable
        Package name -> its releases, or ``None`` when unknown (:func:`fetch_releases`).
    python : str
        The course's Python, ``"3.11"``.
    show_all : bool
        One row per pin, also for those that are up to date.
    workers : int
        Requests in flight.

    Returns
    -------
    tuple of (list of Outdated, list of str)
        The rows (pins behind, or with a newer release for a newer Python only), and the packages
        the index does not know.

    Raises
    ------
    ConnectionError
        From ``fetch``, for the first package that could not be read.

    Examples
    --------
    >>> index = {"zarr": {"3.1.6": [{}], "3.4.2": [{"requires_python": ">=3.12"}]}}
    >>> rows, unknown = find_outdated([Pin("zarr", "3.1.6", "pyproject.toml")], index.get)
    >>> rows[0].newest, rows[0].newer_python_only
    ('-', '3.4.2 (>=3.12)')
    """
    pins = list(pins)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(fetch, pin.name) for pin in pins]
        try:
            answers = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    rows, unknown = [], []
    for pin, releases in zip(pins, answers, strict=True):
        if releases is None:
            unknown.append(pin.name)
            continue
        for_python, overall = newest_releases(releases, python)
        locked = Version(pin.version)
        newest = str(for_python) if for_python is not None and for_python > locked else "-"
        newer_only = ""
        if overall is not None and overall > locked and overall != for_python:
            newer_only = f"{overall} ({_requires_python(releases[_key(releases, overall)])})"
        if show_all or newest != "-" or newer_only:
            rows.append(Outdated(pin.name, pin.version, newest, newer_only, pin.pinned_in))
    logger.debug("%d pins, %d rows, %d unknown", len(pins), len(rows), len(unknown))
    return rows, unknown


def _key(releases: Releases, version: Version) -> str:
    """The key under which ``releases`` lists ``version`` (``"1.0"`` and ``"1.0.0"`` are equal)."""
    return next(text for text in releases if _same(text, version))


def _same(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


def _python_arg(text: str) -> str:
    if not re.fullmatch(r"3\.\d+", text):
        raise argparse.ArgumentTypeError(f"must be a Python version like 3.11, got {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m course_tools outdated [--python 3.11] [--all]``: print the pins that are behind.

    Returns 0 when PyPI answered (whether pins are behind or not); a network error is one line,
    ``error: ...``, and exit code 2 (through :func:`course_tools.cli.run_cli`).
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_tools outdated",
        description="For every pin of requirements/lock.txt, the locked version and the newest "
        "final release on PyPI for the course's Python, when newer; a newer release that needs a "
        "newer Python is shown apart. Needs the network (PyPI's JSON API).",
    )
    parser.add_argument(
        "--python",
        type=_python_arg,
        default=DEFAULT_PYTHON,
        help=f"the Python the releases must install on (default: {DEFAULT_PYTHON}, the lock's)",
    )
    parser.add_argument(
        "--lock",
        type=Path,
        default=LOCK,
        help=f"the lock file (default: {LOCK.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--index-url",
        default=DEFAULT_INDEX_URL,
        help=f"PyPI's JSON API, {{url}}/NAME/json (default: {DEFAULT_INDEX_URL})",
    )
    parser.add_argument(
        "--workers",
        type=count_arg(1, 64),
        default=WORKERS,
        help=f"requests in flight (default: {WORKERS})",
    )
    parser.add_argument("--all", action="store_true", help="one line per pin, up to date or not")
    args = parser.parse_args(argv)

    if not args.lock.is_file():
        raise FileNotFoundError(f"no lock file at {args.lock}: run make lock")
    direct = direct_pins(PYPROJECT.read_text(), TOOLS.read_text() if TOOLS.is_file() else "")
    pins = locked_pins(args.lock.read_text(), direct, args.python)

    def fetch(name: str) -> Releases | None:
        return fetch_releases(name, args.index_url)

    rows, unknown = find_outdated(pins, fetch, args.python, args.all, args.workers)
    behind = [row for row in rows if row.newest != "-"]
    header = {
        "package": "package",
        "locked": "locked",
        "newest": f"newest for Python {args.python}",
        "newer_python_only": "newer, for a newer Python only",
        "pinned_in": "pinned in",
    }
    if rows:
        table = [{header[key]: value for key, value in vars(row).items()} for row in rows]
        print(format_table(table))
        print()
    ceiling = sum(1 for row in rows if row.newer_python_only)
    print(
        f"{len(behind)} of {plural(len(pins), 'locked package')}: a newer release for Python "
        f"{args.python}; {ceiling}: a newer release for a newer Python only."
    )
    if unknown:
        print(f"not on the index: {', '.join(unknown)}")
    if behind:
        print("To move: edit the pins in pyproject.toml (pinned in), then make lock and make test.")
    return 0
