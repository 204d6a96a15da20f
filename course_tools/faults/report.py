"""The fault suite's table, its targets (MET / MISSED) and its JSON rows.

The targets live in :mod:`course_tools.bench.targets`: no hang, no wrong data, every transient fault
recovered, every permanent fault a clear error. One more check keeps the suite honest: every fault
struck at least once on every path (a fault that never fired tested nothing).

Examples
--------
>>> from course_tools.faults.cases import SuiteSettings
>>> from course_tools.faults.suite import Cell, SuiteResult
>>> cell = Cell("reset", "reset", True, "async", "recovered", "recovered", 0.12, 6, 2)
>>> format_cell(cell)
'recovered 0.12 s 6/2'
>>> [check.met for check in check_targets(SuiteResult(SuiteSettings(), [], ["async"], [cell]))]
[True, True, True, True, True]
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from course_tools.bench.download import TargetCheck, format_checks
from course_tools.bench.targets import (
    FAULT_MAX_HANGS,
    FAULT_MAX_WRONG_DATA,
    FAULT_PERMANENT_OUTCOME,
    FAULT_TRANSIENT_OUTCOME,
)
from course_tools.faults.suite import Cell, SuiteResult
from course_tools.text import format_table

__all__ = [
    "TargetCheck",
    "check_targets",
    "format_cell",
    "format_checks",
    "format_faults",
    "format_matrix",
    "json_rows",
]


def format_cell(cell: Cell) -> str:
    """One cell of the table: outcome, seconds, requests the cloud saw / requests the fault struck.

    Parameters
    ----------
    cell : Cell
        A cell of the suite.

    Returns
    -------
    str
        E.g. ``"recovered 0.12 s 6/2"``, with ``" !"`` appended when not the expected outcome.
    """
    mark = "" if cell.ok else " !"
    return f"{cell.outcome} {cell.seconds:.2f} s {cell.requests}/{cell.fired}{mark}"


def format_matrix(result: SuiteResult) -> str:
    """The table fault x path -> outcome, with a legend.

    Parameters
    ----------
    result : SuiteResult
        A run of the suite.

    Returns
    -------
    str
        One row per fault (its kind, and ``T``ransient or ``P``ermanent), one column per path.
    """
    rows: list[dict[str, Any]] = []
    for case in result.cases:
        row: dict[str, Any] = {"fault": case.name, "T/P": "T" if case.transient else "P"}
        for path in result.paths:
            try:
                row[path] = format_cell(result.cell(case.name, path))
            except KeyError:
                row[path] = "-"
        rows.append(row)
    legend = (
        "cells: outcome, seconds of the read, requests the cloud saw / requests the fault struck; "
        "T = transient (must be recovered), P = permanent (must be a clear error); ! = not as expected"
    )
    return f"{format_table(rows)}\n{legend}"


def format_faults(result: SuiteResult) -> str:
    """What each fault does, one line each.

    Parameters
    ----------
    result : SuiteResult
        A run of the suite.

    Returns
    -------
    str
        ``name (kind): what it does``.
    """
    return "\n".join(f"  {case.name:<14s} ({case.kind}): {case.what}" for case in result.cases)


def check_targets(result: SuiteResult) -> list[TargetCheck]:
    """Check the reliability targets against a run.

    Parameters
    ----------
    result : SuiteResult
        A run of the suite.

    Returns
    -------
    list of TargetCheck
        Hangs, wrong data, transient faults recovered, permanent faults clear errors, faults fired.
    """
    cells = result.cells

    def names(selected: list[Cell]) -> str:
        return ", ".join(f"{c.fault} x {c.path} ({c.outcome})" for c in selected[:4]) + (
            f" and {len(selected) - 4} more" if len(selected) > 4 else ""
        )

    hangs = [c for c in cells if c.outcome == "hang"]
    wrong = [c for c in cells if c.outcome == "wrong data"]
    transient = [c for c in cells if c.transient]
    permanent = [c for c in cells if not c.transient]
    not_recovered = [c for c in transient if c.outcome != FAULT_TRANSIENT_OUTCOME]
    unclear = [c for c in permanent if c.outcome != FAULT_PERMANENT_OUTCOME]
    idle = [c for c in cells if c.fired == 0]
    return [
        TargetCheck(
            f"hangs <= {FAULT_MAX_HANGS}",
            f"{len(hangs)}" + (f": {names(hangs)}" if hangs else ""),
            len(hangs) <= FAULT_MAX_HANGS,
        ),
        TargetCheck(
            f"wrong data <= {FAULT_MAX_WRONG_DATA}",
            f"{len(wrong)}" + (f": {names(wrong)}" if wrong else ""),
            len(wrong) <= FAULT_MAX_WRONG_DATA,
        ),
        TargetCheck(
            f"every transient fault {FAULT_TRANSIENT_OUTCOME}",
            f"{len(transient) - len(not_recovered)} of {len(transient)}"
            + (f"; not: {names(not_recovered)}" if not_recovered else ""),
            not not_recovered,
        ),
        TargetCheck(
            f"every permanent fault a {FAULT_PERMANENT_OUTCOME}",
            f"{len(permanent) - len(unclear)} of {len(permanent)}"
            + (f"; not: {names(unclear)}" if unclear else ""),
            not unclear,
        ),
        TargetCheck(
            "every fault struck at least once on every path",
            f"{len(cells) - len(idle)} of {len(cells)}" + (f"; not: {names(idle)}" if idle else ""),
            not idle,
        ),
    ]


def json_rows(result: SuiteResult) -> list[dict[str, Any]]:
    """One plain dict per cell (every field of :class:`~course_tools.faults.suite.Cell`).

    Parameters
    ----------
    result : SuiteResult
        A run of the suite.

    Returns
    -------
    list of dict
        JSON-able rows with ``fault, kind, transient, path, outcome, expected, seconds, requests,
        fired, message``, in the table's order.
    """
    return [asdict(cell) for cell in result.cells]
