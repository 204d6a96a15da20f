"""Execute every notebook in notebooks/ top to bottom against the local cloud, within its time budget.

New notebooks are picked up automatically. A notebook's budget is ``metadata.course.budget_s`` in the
notebook (default 90 s). Exercise solutions are ordinary code cells (tagged ``solution``, collapsed in
JupyterLab), so they run here too.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DEFAULT_BUDGET_S = 90.0
EXECUTED_DIR = REPO_ROOT / "test-artifacts" / "executed"


def budget_of(notebook: nbformat.NotebookNode) -> float:
    return float(notebook.metadata.get("course", {}).get("budget_s", DEFAULT_BUDGET_S))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_within_budget(path: Path, cloud) -> None:
    notebook = nbformat.read(path, as_version=4)
    budget = budget_of(notebook)
    client = NotebookClient(
        notebook,
        timeout=int(budget),  # per cell: nothing may hang longer than the whole budget
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        iopub_timeout=5,
        shell_timeout_interval=1,  # poll the reply channel often: avoids nbclient's rare idle stalls
    )
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    EXECUTED_DIR.mkdir(
        parents=True, exist_ok=True
    )  # executed copy: debugging, and the site (make book)
    nbformat.write(notebook, EXECUTED_DIR / path.name)
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, errors
    print(f"{path.name}: {elapsed:.1f} s (budget {budget:.0f} s)")
    assert elapsed <= budget, f"{path.name} took {elapsed:.1f} s, over its {budget:.0f} s budget"


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/"
