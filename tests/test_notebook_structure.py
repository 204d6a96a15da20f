"""Every notebook follows the course skeleton and is committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_tools import REPO_ROOT
from course_tools.site.notebooks import CAPTION, DISCUSSION, DISCUSSION_TAG, HEADING_COLLAPSED

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


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.metadata.get("tags", [])


def in_fold(cell: nbformat.NotebookNode) -> bool:
    """A solution (code) or a discussion (Markdown): folded until the learner opens it."""
    return "solution" in tags(cell) or DISCUSSION_TAG in tags(cell)


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
    """A figure's alt text is the ``*Figure:*`` cell after it; a solution's, its discussion's first."""
    cells = load(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and FIGURE_CALLS.search(cell.source):
            following = cells[i + 1] if i + 1 < len(cells) else None
            assert following is not None and following.cell_type == "markdown", cell.source[:80]
            if "solution" in tags(cell) and following.source == DISCUSSION:
                following = cells[i + 2]  # the first cell under the discussion heading
            assert following.source.startswith(CAPTION), f"no alt text after: {cell.source[:80]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nothing_after_a_solution_gives_the_answer_away(path: Path) -> None:
    """The rule for folds: what follows a solution is folded, up to the next heading.

    After a solution cell come only folded cells: more solutions, or one *discussion*: the heading
    ``DISCUSSION``, collapsed (JupyterLab's ``HEADING_COLLAPSED`` metadata, kept by Run All, which
    unfolds a Markdown cell's hidden input), and the Markdown cells under it (with no heading of
    level 1-4, which would end the fold), all tagged ``discussion``. The first cell after the fold
    is a heading of level 1-3 (the next exercise, a section, the summary), or the notebook ends. So
    no sentence, caption or output in plain sight gives an exercise's answer away.
    tests/learner_walk.py checks the same on what a browser shows after Run All.
    """
    cells = load(path).cells
    for i, cell in enumerate(cells):
        previous = cells[i - 1] if i > 0 else None
        following = cells[i + 1] if i + 1 < len(cells) else None
        if DISCUSSION_TAG in tags(cell):
            assert cell.cell_type == "markdown", f"cell {i}: a discussion is Markdown"
            assert previous is not None and in_fold(previous), f"cell {i}: not after a solution"
            if cell.source == DISCUSSION:
                assert "solution" in tags(previous), f"cell {i}: a discussion follows a solution"
                assert cell.metadata.get(HEADING_COLLAPSED) is True, f"cell {i}: not collapsed"
                assert following is not None and DISCUSSION_TAG in tags(following), f"cell {i}"
            else:
                assert not re.search(r"^#{1,4} ", cell.source, re.M), f"cell {i} ends the fold"
        if in_fold(cell) and not (following is not None and in_fold(following)):
            assert following is None or (
                following.cell_type == "markdown" and re.match(r"#{1,3} ", following.source)
            ), f"cell {i + 1} follows a solution outside a fold: {following.source[:80]!r}"
