"""Exercise answers that stay hidden until the learner asks, even after *Run All*.

A solution cell's code is collapsed in the notebook (cell metadata), but JupyterLab shows a cell's
outputs again as soon as the cell runs, so after *Run All* every printed answer and figure would be
in plain sight. :func:`hidden_answer` keeps them folded: it records what its block prints and shows,
then puts it in a closed accordion ("Show the answer's output") that the learner opens when ready.

It is written here rather than taken from ipywidgets because ``ipywidgets.Output`` used as a context
manager swallows exceptions (it shows the traceback and carries on), and a solution whose check
fails must fail the test that runs the notebook. Here an exception is shown *and* raised.

Examples
--------
>>> with hidden_answer():  # outside a notebook: the block runs and prints as usual
...     print(6 * 7)
42
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ANSWER_TITLE", "hidden_answer"]

log = logging.getLogger(__name__)

ANSWER_TITLE = "Show the answer's output (try the exercise first)"
"""The title of the closed accordion that holds a solution's output."""


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


@contextmanager
def hidden_answer(title: str = ANSWER_TITLE) -> Iterator[None]:
    """Run a block and show what it prints and displays in a closed accordion.

    Parameters
    ----------
    title : str, optional
        The accordion's title.

    Yields
    ------
    None
        Run the solution's code inside the ``with`` block.

    Raises
    ------
    Exception
        Whatever the block raises, after its output so far has been put in the accordion.

    Examples
    --------
    >>> with hidden_answer():
    ...     answer = sum(range(4))
    >>> answer
    6
    """
    if not _in_kernel():  # a script, a doctest: nothing to hide
        yield
        return
    import ipywidgets as widgets
    from IPython.display import display
    from IPython.utils.capture import capture_output

    box = widgets.Output()
    accordion = widgets.Accordion(children=[box], selected_index=None)
    accordion.set_title(0, title)
    display(accordion)
    with capture_output() as captured:  # a plain context manager: exceptions go on
        try:
            yield
        finally:
            _fill(box, captured)


def _fill(box: object, captured: object) -> None:
    """Copy what ``captured`` (IPython's ``CapturedIO``) recorded into the ``Output`` ``box``."""
    if captured.stdout:  # type: ignore[attr-defined]
        box.append_stdout(captured.stdout)  # type: ignore[attr-defined]
    if captured.stderr:  # type: ignore[attr-defined]
        box.append_stderr(captured.stderr)  # type: ignore[attr-defined]
    for output in captured.outputs:  # type: ignore[attr-defined]
        box.append_display_data(output)  # type: ignore[attr-defined]
