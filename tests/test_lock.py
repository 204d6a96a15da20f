"""The locked environment: requirements/lock.txt pins every package that gets installed, and everything that
installs the course uses it (the Makefile, environment.yml, Binder's binder/ as repo2docker reads it).

Offline: the lock is compared with pyproject.toml and with the installed packages' own metadata.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement

from course_tools import REPO_ROOT

LOCK = REPO_ROOT / "requirements" / "lock.txt"
TOOLS = REPO_ROOT / "requirements" / "tools.in"
MAKEFILE = REPO_ROOT / "Makefile"
BINDER = REPO_ROOT / "binder"
ENV_FILES = (REPO_ROOT / "environment.yml", BINDER / "environment.yml")
LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)==([^\s;]+)(?:\s*;\s*(\S.*))?$")
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
# The lock is resolved for Linux and CPython 3.11 (`make lock`), as CI, Binder and conda (python=3.11) have.
HERE = {**default_environment(), "python_version": "3.11", "sys_platform": "linux"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pin_lines(lines: list[str]) -> list[tuple[str, str, str | None]]:
    """(name, version, marker) for each ``name==version [; marker]`` line; comments are skipped."""
    pins = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LOCK_LINE.match(line.strip())
        assert match, f"not a locked pin (name==version [; marker]): {line!r}"
        pins.append((canonical(match.group(1)), match.group(2), match.group(3)))
    return pins


def applies_here(marker: str | None, extra: str = "") -> bool:
    return marker is None or Marker(marker).evaluate({**HERE, "extra": extra})


def locked_here() -> dict[str, str]:
    """The lock's version of each package for this Python and OS."""
    pins: dict[str, str] = {}
    for name, version, marker in pin_lines(LOCK.read_text().splitlines()):
        if applies_here(marker):
            assert name not in pins, f"{name} locked twice for the same environment"
            pins[name] = version
    return pins


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def project_requirements(extras: bool) -> list[Requirement]:
    project = pyproject()["project"]
    reqs = list(project["dependencies"])
    if extras:
        reqs += [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in reqs]


def closure(roots: list[Requirement]) -> dict[str, str | None]:
    """Every package ``roots`` need here, from the installed packages' metadata (no internet).

    Maps each name to its installed version, or None when it is not installed (then its own
    dependencies cannot be followed; it still has to be in the lock).
    """
    found: dict[str, str | None] = {}
    todo = [(req, "") for req in roots]
    seen_extras: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**HERE, "extra": extra}):
            continue
        name = canonical(req.name)
        wanted = [(name, e) for e in ("", *sorted(req.extras))]
        if all(w in seen_extras for w in wanted):
            continue
        seen_extras.update(wanted)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
            continue
        found[name] = dist.version
        for text in dist.requires or []:
            for chosen in ("", *sorted(req.extras)):
                todo.append((Requirement(text), chosen))
    return found


def conda_env(path: Path) -> tuple[list[str], list[str]]:
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip


def shell_words(line: str) -> list[str]:
    """A shell command's words, without the ``NAME=value`` settings before it."""
    words = shlex.split(line)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    return words


def recipe(target: str) -> str:
    """The recipe lines of one Makefile target (joined, continuation lines included)."""
    text = MAKEFILE.read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"no {target} target in the Makefile"
    return match.group(1)


# --- the lock itself ---------------------------------------------------------------------------


def test_lock_is_made_by_make_lock_with_a_pinned_uv() -> None:
    head = LOCK.read_text().splitlines()[:2]
    assert head == [
        "# This file was autogenerated by uv via the following command:",
        "#    make lock",
    ]
    makefile = MAKEFILE.read_text()
    assert re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", makefile, re.M), "uv must be pinned"
    compile_ = re.search(r"^UV_COMPILE := \$\(VENV\)/bin/uv pip compile (.*)$", makefile, re.M)
    assert compile_ and "--python-platform linux --python-version 3.11 " in compile_.group(1) + " "
    lock = recipe("lock")
    assert "uv==$(UV_VERSION)" in lock
    for flag in ("pyproject.toml requirements/tools.in", "--all-extras", "-o $(LOCK)"):
        assert flag in lock, flag
    assert "requirements/conda_envs.py" in lock and "-c $(LOCK)" in lock
    assert "make lock" in recipe("help")


def test_lock_pins_every_requirement_of_pyproject_at_its_version() -> None:
    locked = locked_here()
    build = [Requirement(r) for r in pyproject()["build-system"]["requires"]]
    tools = [Requirement(r) for r in TOOLS.read_text().splitlines() if r and not r.startswith("#")]
    assert {canonical(r.name) for r in build} <= {canonical(r.name) for r in tools}, (
        "requirements/tools.in must list pyproject.toml's [build-system] requires"
    )
    assert "pip" in {r.name for r in tools}
    for req in [*project_requirements(extras=True), *build, *tools]:
        name = canonical(req.name)
        assert name in locked, f"{req} is not in requirements/lock.txt: run make lock"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{req} but the lock has {name}=={locked[name]}: run make lock"
        )


def test_lock_holds_every_dependency_at_the_installed_version() -> None:
    locked = locked_here()
    needed = closure(project_requirements(extras=True))
    assert len(needed) > 100
    missing = sorted(set(needed) - set(locked))
    assert not missing, f"needed but not locked: {missing} (run make lock)"
    differ = {n: (v, locked[n]) for n, v in needed.items() if v is not None and v != locked[n]}
    assert not differ, f"installed != locked (installed, locked): {differ}; run make setup"


def test_pip_installs_from_the_lock() -> None:
    install = recipe("$(INSTALLED)")
    assert re.search(r"^\$\(INSTALLED\): .*\$\(LOCK\)", MAKEFILE.read_text(), re.M), (
        "a changed lock must reinstall"
    )
    pip_lines = [line for line in install.splitlines() if "pip install" in line]
    assert len(pip_lines) >= 2
    for line in pip_lines:
        assert "-c $(LOCK)" in line and "--upgrade" not in line, line
    # pip installs uv from the lock; uv installs the course with the lock as build constraints too
    assert re.search(r"-m pip install .*-c \$\(LOCK\) pip uv$", pip_lines[0]), pip_lines[0]
    assert any(
        "uv pip install" in line
        and "--build-constraints $(LOCK)" in line
        and "--compile-bytecode" in line  # as pip does: PYTHONDONTWRITEBYTECODE may be set
        and "-e " in line
        for line in pip_lines
    )


def test_the_installer_uv_is_the_one_make_lock_uses() -> None:
    uv = re.search(r"^UV_VERSION := (\S+)$", MAKEFILE.read_text(), re.M)
    assert uv and locked_here()["uv"] == uv.group(1), "requirements/lock.txt pins another uv"


# --- conda environment files ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_environment_file_installs_exactly_the_locked_runtime(path: Path) -> None:
    conda, pip = conda_env(path)
    assert "python=3.11" in conda and "pip" in conda
    assert "Generated by `make lock`" in path.read_text()
    lock_lines = {(n, v, m) for n, v, m in pin_lines(LOCK.read_text().splitlines())}
    env_lines = pin_lines(pip)
    extra = [line for line in env_lines if line not in lock_lines]
    assert not extra, f"{path.name}: pins that are not the lock's: {extra}"
    here = {name for name, _, marker in env_lines if applies_here(marker)}
    runtime = set(closure(project_requirements(extras=False)))
    assert here == runtime, (
        f"{path.name}: missing {sorted(runtime - here)}, not runtime {sorted(here - runtime)}"
    )


def test_both_environment_files_pin_the_same() -> None:
    root, binder = (conda_env(path) for path in ENV_FILES)
    assert root == binder


# --- Binder, as repo2docker reads it ---------------------------------------------------------


def test_binder_folder_follows_repo2docker_rules() -> None:
    # With a binder/ folder repo2docker reads only the files in it. environment.yml selects the conda
    # build pack; a requirements.txt, runtime.txt or Pipfile next to it would be ignored, a Dockerfile
    # would replace everything.
    files = {p.name for p in BINDER.iterdir()}
    assert {"environment.yml", "postBuild"} <= files
    ignored_or_overriding = {"environment.yaml", "requirements.txt", "runtime.txt", "Pipfile",
                             "Pipfile.lock", "setup.py", "Dockerfile", "Project.toml", "REQUIRE",
                             "install.R", "default.nix"}  # fmt: skip
    assert not files & ignored_or_overriding, files & ignored_or_overriding
    # repo2docker installs environment.yml before copying the repository (a cached layer) only when
    # its pip list names nothing local: no -r/-c/-e, no paths.
    _, pip = conda_env(BINDER / "environment.yml")
    for line in pip:
        assert not line.startswith(("-", ".", "/", "file:")) and "/" not in line.split(";")[0], line
    # It needs python as x.y, and supports 3.11 (its conda/environment.py-3.11 base).
    assert "python=3.11" in conda_env(BINDER / "environment.yml")[0]


def test_binder_postbuild_installs_from_the_lock_and_builds_the_samples() -> None:
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker runs postBuild only when it is executable"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(post)], check=True)
    lines = text.replace("\\\n", " ").splitlines()
    commands = [shell_words(line) for line in lines if line and not line.startswith("#")]
    pip = [c for c in commands if c[:4] == ["python", "-m", "pip", "install"]]
    assert pip and all("-c" in c or "--build-constraint" in c for c in pip), pip
    editable = next(c for c in pip if "-e" in c)
    assert "--no-deps" in editable, "the helpers' dependencies come from environment.yml (locked)"
    assert ["python", "-m", "course_tools", "samples", "build"] in commands
    # Every repository file it names exists (it runs from the repository's top folder).
    for command in commands:
        for word in command:
            if re.match(r"^(requirements|jupyter-config)/", word):
                assert (REPO_ROOT / word).is_file(), word


def test_readme_binder_badge_follows_the_one_repository_setting() -> None:
    """The badge opens the welcome notebook of ``course/site.toml``'s repository; none while unset."""
    from course_tools.site.config import read_config

    readme = (REPO_ROOT / "README.md").read_text()
    badge = re.search(
        r"\[!\[[^\]]*\]\(https://mybinder\.org/badge_logo\.svg\)\]"
        r"\((https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/[^?\s)]+\?urlpath=[^\s)]+)\)",
        readme,
    )
    expected = read_config().binder_url("notebooks/00_welcome.ipynb")
    if expected is None:  # not published yet: no link that would answer 404
        assert badge is None, "a Binder badge although course/site.toml names no repository"
    else:
        assert badge and badge.group(1) == expected, f"the README's badge should open {expected}"
    assert "make lock" in readme


# --- make lab: no news pop-up, nothing fetched -------------------------------------------------


def test_jupyterlab_reads_the_repository_config_without_news(monkeypatch) -> None:
    from jupyterlab_server.config import get_static_page_config

    config_dir = REPO_ROOT / "jupyter-config"
    assert 'JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config' in recipe("lab")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config_dir))
    disabled = get_static_page_config(level="all").get("disabledExtensions", {})
    assert disabled.get(NEWS_PLUGIN) is True
    server = json.loads((config_dir / "jupyter_server_config.json").read_text())["LabApp"]
    assert server["news_url"] is None
    module, _, name = server["check_for_updates_class"].rpartition(".")
    assert name == "NeverCheckForUpdate" and hasattr(__import__(module), name)
    # The plugin id is the one this JupyterLab ships (a rename would bring the pop-up back).
    static = Path(sys.prefix) / "share" / "jupyter" / "lab" / "static"
    assert any(NEWS_PLUGIN in p.read_text(errors="ignore") for p in static.glob("jlab_core.*.js"))


def test_make_lab_prints_the_url_last() -> None:
    lab = recipe("lab")
    assert "> $(DATA_DIR)/lab.log 2>&1 &" in lab, "JupyterLab's own log goes to a file"
    echoes = [line for line in lab.splitlines() if "echo" in line]
    assert '"    $$url"' in echoes[-1] and "wait $$lab" in lab.splitlines()[-1]
