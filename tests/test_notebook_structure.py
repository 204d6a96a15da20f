"""Every notebook follows the course skeleton and is committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_tools import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED_HEADINGS = [
    r"^## Overview",
    r"^### Learning objectives",
    r"^### Prerequisites",
    r"^### Time to learn",
    r"^## Exercises",
    r"^## Summary",
    r"^## What.s next",
]
FIGURE_CALLS = re.compile(r"plt\.show\(\)|\.savefig\(")


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path) -> None:
    for cell in load(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_follows_the_course_skeleton(path: Path) -> None:
    notebook = load(path)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell: '# Title'"
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in REQUIRED_HEADINGS:
        assert re.search(heading, markdown, flags=re.MULTILINE), f"missing heading {heading!r}"
    assert re.search(r"^### Exercise \d+: .+\(about \d+ min\)", markdown, flags=re.MULTILINE)
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercise_solutions_are_hidden_code_cells(path: Path) -> None:
    cells = load(path).cells
    solutions = [c for c in cells if "solution" in c.metadata.get("tags", [])]
    exercises = [
        c
        for c in cells
        if c.cell_type == "markdown" and re.search(r"^### Exercise \d+", c.source, re.M)
    ]
    assert len(solutions) >= len(exercises) >= 1
    for cell in solutions:
        assert cell.cell_type == "code"
        assert cell.metadata.get("jupyter", {}) == {"source_hidden": True, "outputs_hidden": True}
        # The folded cell shows its first line: a note, not the answer. JupyterLab unfolds a
        # cell's outputs when it runs, so the answer's output goes into a closed accordion.
        first, *rest = cell.source.splitlines()
        assert first.startswith("# Solution:"), first
        assert "with hidden_answer():" in rest, cell.source[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_figure_has_alt_text(path: Path) -> None:
    cells = load(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and FIGURE_CALLS.search(cell.source):
            following = cells[i + 1] if i + 1 < len(cells) else None
            assert following is not None and following.cell_type == "markdown", cell.source[:80]
            assert following.source.startswith("*Figure:*"), (
                f"no alt text after: {cell.source[:80]}"
            )
