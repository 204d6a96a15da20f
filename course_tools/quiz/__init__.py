"""The course's assessment: questions as data, graded answers, a notebook form, the site's page.

Each question is a frozen dataclass (:class:`FillIn` with ``___`` blanks, or
:class:`MultipleChoice`); every number in them comes from the helpers' own maths. Learners check
their answers in a notebook with the form :func:`quiz` or one at a time with :func:`check`; the
page ``course/assessment.md`` (sphinx-exercise directives: the site folds the answers) is written
from the same data (``python -m course_tools quiz --markdown > course/assessment.md``), so they
cannot drift apart.

- :mod:`course_tools.quiz.items` -- question types and grading (pure)
- :mod:`course_tools.quiz.questions` -- the questions, computed from the helpers
- :mod:`course_tools.quiz.page` -- the assessment page, as exercises and folded solutions
- :mod:`course_tools.quiz.widget` -- the ipywidgets form (why not jupyterquiz: see there)

Examples
--------
>>> from course_tools.quiz import check, grade_answer
>>> check("view-chunks", "4")
True
>>> grade_answer("speedup", ["4", "8"]).message
'Not yet: blank 2 is not right. Hint: A round is one latency; each round serves C requests.'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from course_tools.quiz.items import Blank, Feedback, FillIn, MultipleChoice, Question, grade
from course_tools.quiz.page import COMMAND, to_markdown
from course_tools.quiz.questions import QUESTIONS, TOPICS, by_id
from course_tools.quiz.widget import QuizForm, feedback_html, quiz

__all__ = [
    "COMMAND",
    "QUESTIONS",
    "TOPICS",
    "Blank",
    "Feedback",
    "FillIn",
    "MultipleChoice",
    "Question",
    "QuizForm",
    "by_id",
    "check",
    "grade_answer",
    "quiz",
    "to_markdown",
]

logger = logging.getLogger(__name__)


def grade_answer(question_id: str, answer: str | Sequence[str] | int | float) -> Feedback:
    """Grade ``answer`` to the question called ``question_id`` (see :func:`check`).

    Examples
    --------
    >>> grade_answer("slowdown", "c").correct
    True
    """
    return grade(by_id(question_id), answer)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def check(question_id: str, answer: str | Sequence[str] | int | float) -> bool:
    """Check an answer: ``True`` if right; shows one line of feedback.

    In a notebook the feedback line appears under the cell; elsewhere it is logged (logger
    ``course_tools.quiz``, level INFO).

    Parameters
    ----------
    question_id : str
        The question's id, as printed next to it on the assessment page (e.g. ``"view-chunks"``).
    answer : str, sequence of str, or number
        Fill-in: one answer per blank (a list, or one text with ``;`` between the answers; a
        single blank also takes a number). Multiple choice: the option's letter.

    Returns
    -------
    bool
        Whether the answer is right.

    Raises
    ------
    ValueError
        Unknown question id, or an answer of the wrong kind or count.

    Examples
    --------
    >>> check("chunks-per-level", ["472", "472"])
    True
    >>> check("deadline", 10)
    False
    """
    feedback = grade_answer(question_id, answer)
    logger.info("%s: %s", question_id, feedback.message)
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(feedback_html(feedback)))
    return feedback.correct
