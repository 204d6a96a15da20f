"""A learner's walk through the course in a real browser, for teachers and contributors (not a test).

Every notebook is opened in its own fresh JupyterLab (so a fresh kernel: what Restart & Run All gives a
learner) in Chromium, run with "Run All Cells", and checked: no cell raises, every solution cell shows
neither its code nor its output (only the folded title), and each cell with a figure is screenshotted
for you to look at. It prints one line per notebook with its wall time (opening included).

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
from helpers.cloud import ensure_cloud

FIGURE_CELLS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .map((c, i) => [i, !!c.node.querySelector('.jp-OutputArea-output img')])
  .filter(pair => pair[1]).map(pair => pair[0])"""
SCROLL_TO_JS = "i => window.jupyterapp.shell.currentWidget.content.widgets[i].node.scrollIntoView()"


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
            figures = page.evaluate(FIGURE_CELLS_JS)
            for k, index in enumerate(figures):
                page.evaluate(SCROLL_TO_JS, index)
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / f"{notebook.stem[:2]}_figure{k}.png"))
            browser.close()
    print(
        f"{notebook.name}: {seconds:.0f} s, {state['total']} code cells, {len(figures)} figures, "
        + ("; ".join(problems) if problems else "solutions folded"),
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
