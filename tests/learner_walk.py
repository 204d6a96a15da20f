"""A learner's walk through the course in a real browser, for teachers and contributors (not a test).

Every notebook is opened in its own fresh JupyterLab (so a fresh kernel: what Restart & Run All gives a
learner) in Chromium, run with "Run All Cells", and checked: no cell raises, every solution cell shows
neither its code nor its output (only the folded title), and nothing after a solution gives the answer
away (the rule of tests/test_notebook_structure.py, checked on what the page shows: each discussion
heading is collapsed, the cells under it are hidden, and the first cell after a fold is a heading). Then every output of
every cell (text, widgets, figures, however far down a long cell) is scrolled into view and
screenshotted whole, and so is every folded discussion, for you to look at: NN_cellCC_outK.png. It
prints one line per notebook with its wall time (opening included).

Run it from the repository after ``make test`` (or ``make setup browser data``)::

    .venv/bin/python tests/learner_walk.py                    # all notebooks, screenshots in test-artifacts/walk/
    .venv/bin/python tests/learner_walk.py 05 07 --out /tmp/walk   # only notebooks 05 and 07

It uses the running local cloud (or starts the shared one) and never edits the notebooks.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from browser_support import (
    CHROMIUM_ARGS,
    JupyterLab,
    check_answers_stay_hidden,
    chromium_or_skip,
    open_notebook,
    run_all_cells,
)

from course_tools import REPO_ROOT
from course_tools.site.notebooks import DISCUSSION, DISCUSSION_TAG
from helpers.cloud import ensure_cloud

# What the page shows of each cell: its type, tags and source, whether it is a collapsed heading or
# hidden under one, what it shows (its text), and how many outputs it has.
CELLS_SHOWN_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => ({
  type: c.model.type,
  tags: c.model.getMetadata('tags') || [],
  source: c.model.sharedModel.getSource(),
  collapsed: c.headingCollapsed === true,
  hidden: c.isHidden,
  shown: c.isHidden ? '' : c.node.innerText.trim(),
  outputs: c.node.querySelectorAll('.jp-OutputArea-child').length,
}))"""
OUTPUT_JS = """([i, k]) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
  const output = cell.node.querySelectorAll('.jp-OutputArea-child')[k];
  output.scrollIntoView({block: 'start'});
  return output.getBoundingClientRect().height;
}"""
CELL_JS = "i => window.jupyterapp.shell.currentWidget.content.widgets[i].node.scrollIntoView()"


def check_folds(cells: list[dict]) -> list[str]:
    """Problems with what follows a solution, as the page shows it (see the module docstring)."""
    problems = []
    folded = [("solution" in c["tags"] or DISCUSSION_TAG in c["tags"]) for c in cells]
    for i, cell in enumerate(cells):
        if DISCUSSION_TAG in cell["tags"]:
            heading = cell["source"] == DISCUSSION
            if (heading and not cell["collapsed"]) or (not heading and not cell["hidden"]):
                problems.append(f"cell {i + 1}: a discussion shows {cell['shown'][:80]!r}")
        if folded[i] and i + 1 < len(cells) and not folded[i + 1]:
            after = cells[i + 1]
            if after["type"] != "markdown" or not after["source"].startswith("#"):
                problems.append(f"cell {i + 2} after a solution shows {after['shown'][:80]!r}")
    return problems


def screenshot_outputs(page, cells: list[dict], out: Path, stem: str) -> int:
    """Screenshot every output and every folded discussion, each whole; returns how many."""
    shots = 0
    cell_nodes = page.locator(".jp-Notebook .jp-Cell")
    for i, cell in enumerate(cells):
        if cell["source"] == DISCUSSION:  # the folded discussion, as the learner sees it
            page.evaluate(CELL_JS, i)
            cell_nodes.nth(i).screenshot(path=str(out / f"{stem}_cell{i + 1:02d}_fold.png"))
            shots += 1
        for k in range(cell["outputs"]):
            if page.evaluate(OUTPUT_JS, [i, k]) < 1:  # an empty output (a finished progress bar)
                continue
            page.wait_for_timeout(150)  # let a figure or widget finish drawing
            output = cell_nodes.nth(i).locator(".jp-OutputArea-child").nth(k)
            output.screenshot(path=str(out / f"{stem}_cell{i + 1:02d}_out{k}.png"))
            shots += 1
    return shots


def walk(notebook: Path, out: Path, endpoint: str) -> list[str]:
    """Run one notebook in a fresh JupyterLab and Chromium; returns the problems found."""
    problems = []
    with (
        tempfile.TemporaryDirectory() as work,
        JupyterLab(notebook.parent, Path(work), env={"COURSE_ENDPOINT": endpoint}) as lab,
    ):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_or_skip(), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            started = time.monotonic()
            open_notebook(page, lab, notebook.name)
            state = run_all_cells(page, timeout_s=600)
            seconds = time.monotonic() - started
            try:
                check_answers_stay_hidden(page)
            except AssertionError as err:
                problems.append(str(err).splitlines()[0])
            cells = page.evaluate(CELLS_SHOWN_JS)
            problems += check_folds(cells)
            shots = screenshot_outputs(page, cells, out, notebook.stem[:2])
            browser.close()
    print(
        f"{notebook.name}: {seconds:.0f} s, {state['total']} code cells, {shots} screenshots, "
        + ("; ".join(problems) if problems else "solutions and discussions folded"),
        flush=True,
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers to walk (default all)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "test-artifacts" / "walk")
    args = parser.parse_args(argv)
    notebooks = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.numbers:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.numbers]
    if not notebooks:
        print(f"error: no notebook numbered {' '.join(args.numbers)}", file=sys.stderr)
        return 2
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    endpoint = ensure_cloud(verbose=False).endpoint
    failed = [nb.name for nb in notebooks if walk(nb, args.out, endpoint)]
    print(f"screenshots in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
