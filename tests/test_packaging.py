"""The three dependency lists (pyproject.toml, environment.yml, binder/environment.yml) pin the same versions,
and the repository has what Binder and CI need (the lock itself: tests/test_lock.py)."""

from __future__ import annotations

import json
import os
import re
import tomllib

import yaml

from course_tools import REPO_ROOT

PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)\s*(?:;\s*\S.*)?$")


def parse_pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        match = PIN.match(line)
        assert match, f"not pinned with ==: {line!r}"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    return parse_pins(project["dependencies"])


def conda_pins(path) -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load(path.read_text())
    assert "conda-forge" in env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return parse_pins(pip), conda


def test_pyproject_pins_every_runtime_dependency() -> None:
    pins = pyproject_pins()
    for core in (
        "zarr",
        "ome-zarr-models",
        "s3fs",
        "moto",
        "jupyterlab",
        "ipywidgets",
        "scikit-image",
        "dask",
        "distributed",
    ):
        assert core in pins, core
    assert pins["zarr"].startswith("3."), "the course uses the zarr 3 API"


def test_environment_files_pin_the_same_versions_as_pyproject() -> None:
    # They hold the whole locked runtime (transitive packages too): pyproject's pins are among them.
    expected = pyproject_pins()
    for path in (REPO_ROOT / "environment.yml", REPO_ROOT / "binder" / "environment.yml"):
        pins, conda = conda_pins(path)
        differ = {
            name: pins.get(name) for name, version in expected.items() if pins.get(name) != version
        }
        assert not differ, f"{path.name} differs from pyproject.toml: {differ} (run make lock)"
        assert "python=3.11" in conda and "pip" in conda


def test_binder_environment_stands_alone() -> None:
    # repo2docker copies binder/environment.yml alone before the rest of the repository.
    text = (REPO_ROOT / "binder" / "environment.yml").read_text()
    assert "-e ." not in text and "-r " not in text and "file:" not in text


def test_binder_postbuild_installs_helpers_and_builds_data() -> None:
    post = REPO_ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert "pip install" in text and "course_tools samples build" in text


def test_binder_start_sets_the_session_environment_that_make_lab_and_the_tests_use() -> None:
    start = REPO_ROOT / "binder" / "start"
    assert os.access(start, os.X_OK)
    assert start.read_text().rstrip().endswith('exec "$@"')  # Jupyter must still start
    assert ". binder/start;" in (REPO_ROOT / "Makefile").read_text()
    from course_tools.binder import binder_environment

    assert binder_environment(start) == {"MALLOC_MMAP_THRESHOLD_": "131072"}


def test_idle_kernels_are_culled_in_make_lab_and_on_binder() -> None:
    config = json.loads((REPO_ROOT / "jupyter-config" / "jupyter_server_config.json").read_text())
    culling = config["MappingKernelManager"]
    assert culling["cull_idle_timeout"] == 1200 and culling["cull_connected"] is True
    assert not culling["cull_busy"]
    post = (REPO_ROOT / "binder" / "postBuild").read_text()
    assert "jupyter-config/jupyter_server_config.json" in post
    assert 'JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config' in (REPO_ROOT / "Makefile").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make lab" in readme
