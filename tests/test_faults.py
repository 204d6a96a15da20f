"""The fault suite (python -m course_tools faults): every fault x every read path, nothing hangs or lies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import REPO_ROOT
from course_tools.cloud.faults import KINDS as FAULT_KINDS
from course_tools.faults import (
    PATH_NAMES,
    SuiteResult,
    SuiteSettings,
    check_targets,
    fault_cases,
    format_matrix,
    json_rows,
    run_suite,
)
from course_tools.faults.cli import main
from course_tools.faults.suite import classify_error
from course_tools.faults.watchdog import watched
from helpers.fetch import FetchError


@pytest.fixture(scope="module")
def result(samples: Path) -> SuiteResult:
    """One run of the whole suite with its default (short) settings."""
    return run_suite()


def test_the_table_has_every_fault_kind_on_every_path(result: SuiteResult) -> None:
    kinds = {(cell.kind, cell.path) for cell in result.cells}
    assert kinds == {(kind, path) for kind in FAULT_KINDS for path in PATH_NAMES}
    assert len(result.cells) == len(fault_cases(result.settings)) * len(PATH_NAMES)
    table = format_matrix(result)
    for name in [*PATH_NAMES, *(case.name for case in result.cases)]:
        assert name in table


def test_nothing_hangs_and_nothing_returns_wrong_data(result: SuiteResult) -> None:
    bad = [c for c in result.cells if c.outcome in ("hang", "wrong data")]
    assert not bad, bad


def test_every_transient_fault_is_recovered_byte_identical(result: SuiteResult) -> None:
    transient = [c for c in result.cells if c.transient]
    assert {c.kind for c in transient} == set(FAULT_KINDS) - {"not_found"}
    assert [c for c in transient if c.outcome != "recovered"] == []
    assert all(c.fired >= 1 and c.requests > c.fired for c in transient)  # struck, then retried


def test_every_permanent_fault_is_one_clear_error(result: SuiteResult) -> None:
    permanent = [c for c in result.cells if not c.transient]
    assert {c.kind for c in permanent} == {"not_found", "stall", "down"}
    assert [c for c in permanent if c.outcome != "clear error"] == []
    for cell in permanent:  # within the deadline (+ the slack) and naming the chunk
        assert cell.seconds < result.settings.watchdog_s
        assert "1/1/10" in cell.message


def test_targets_are_met_and_rows_are_json(result: SuiteResult) -> None:
    checks = check_targets(result)
    assert all(check.met for check in checks), checks
    rows = json.loads(json.dumps(json_rows(result)))
    assert rows[0].keys() >= {"fault", "path", "outcome", "seconds", "requests", "fired", "message"}
    assert result.wall_s < 60


def test_errors_without_chunk_fault_or_attempts_are_unclear() -> None:
    keys = ["1/1/101/0/0"]
    clear = FetchError("http://h/b/i.zarr/1/1/101/0/0", "TimeoutError: no answer (deadline)", 3)
    assert classify_error(clear, "stall", keys)[0] == "clear error"
    outcome, message = classify_error(TimeoutError("Timeout on reading data"), "stall", keys)
    assert outcome == "unclear error" and "names no chunk, no attempts" in message
    assert not watched(lambda: __import__("time").sleep(1), 0.05).finished


def test_cli_help_and_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "transient" in capsys.readouterr().out
    for argv, words in [
        (["--faults", "flood"], "error: unknown fault 'flood'; known: latency_spike"),
        (["--paths", "ftp"], "error: unknown read path 'ftp'; known: sequential"),
        (["--deadline-s", "0.5", "--attempt-timeout-s", "1"], "must be shorter than the deadline"),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "course_tools", "faults", *argv],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert run.returncode == 2, run.stderr
        assert words in run.stderr and "Traceback" not in run.stderr


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts must be an integer >= 1"):
        SuiteSettings(attempts=0)
    with pytest.raises(ValueError, match="planes must be"):
        SuiteSettings(planes=(5, 5))
