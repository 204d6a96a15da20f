"""The assessment page, ``course/assessment.md``, written from the questions (never by hand).

Each question is a sphinx-exercise ``exercise``, numbered by the site, followed by its ``solution``
with the ``dropdown`` class, which the site folds (sphinx-togglebutton) until the learner opens it.
Fill-in-the-blanks come first, then the multiple-choice questions. Only the text is written here:
the directives, their numbering and the folding are the libraries'. Rebuild the page with::

    python -m course_tools quiz --markdown > course/assessment.md

Examples
--------
>>> page = to_markdown()
>>> page.splitlines()[0]
'# Assessment: remote access to big image data'
>>> print(exercise(QUESTIONS[0]).splitlines()[0])
```{exercise} Chunks
"""

from __future__ import annotations

from collections.abc import Sequence

from course_tools.quiz.items import FillIn, MultipleChoice, Question, letters, sentence
from course_tools.quiz.questions import QUESTIONS

__all__ = ["COMMAND", "exercise", "to_markdown"]

COMMAND = "python -m course_tools quiz --markdown > course/assessment.md"
"""The command that writes the page."""


def _check_call(question: Question) -> str:
    if isinstance(question, MultipleChoice):
        return f'check("{question.id}", "?")'
    if len(question.blanks) == 1:
        return f'check("{question.id}", "?")'
    blanks = ", ".join(['"?"'] * len(question.blanks))
    return f'check("{question.id}", [{blanks}])'


def exercise(question: Question) -> str:
    """One question as an ``exercise`` and its folded ``solution`` (MyST directives)."""
    body = [question.text, ""]
    if isinstance(question, MultipleChoice):
        keys = letters(len(question.options))
        body += [f"- {key}) {option}" for key, option in zip(keys, question.options, strict=True)]
        body.append("")
        answer = f"**{question.solution}**. {sentence(question.explanation)}"
    else:
        answer = f"{question.solution} {sentence(question.explanation)}"
    body.append(f"Check your answer: `{_check_call(question)}`")
    return "\n".join(
        [
            f"```{{exercise}} {question.topic.capitalize()}",
            f":label: {question.id}",
            "",
            *body,
            "```",
            "",
            f"```{{solution}} {question.id}",
            ":class: dropdown",
            f":label: {question.id}-solution",
            "",
            answer,
            "```",
            "",
        ]
    )


def to_markdown(questions: Sequence[Question] = QUESTIONS) -> str:
    """The assessment page as MyST Markdown.

    Parameters
    ----------
    questions : sequence of FillIn or MultipleChoice
        The questions (default: all of :data:`~course_tools.quiz.questions.QUESTIONS`).

    Returns
    -------
    str
        The page, ending with one newline.
    """
    fill = [q for q in questions if isinstance(q, FillIn)]
    choice = [q for q in questions if isinstance(q, MultipleChoice)]
    lines = [
        "# Assessment: remote access to big image data",
        "",
        f"<!-- Written by `{COMMAND}` from course_tools/quiz/questions.py: edit the questions there. -->",
        "",
        f"{len(questions)} questions on chunks, pyramids, latency, parallelism, shards and "
        "failures. Every number in them is computed by the course's helpers, so it agrees with "
        "what the notebooks measure. Each answer is folded under its question: try first, then "
        "open it.",
        "",
        "**Check your answers** in a notebook: `from course_tools.quiz import quiz; quiz()` shows "
        "every question with a box or buttons that grade your answer at once; or one at a time: "
        '`check("view-chunks", "4")` (several blanks: `check("speedup", ["4", "16"])`; multiple '
        'choice: `check("slowdown", "c")`); from a shell: '
        "`python -m course_tools quiz --check view-chunks 4`.",
        "",
        "## Fill in the blanks",
        "",
    ]
    lines += [exercise(q) for q in fill]
    lines += ["## Multiple choice", ""]
    lines += [exercise(q) for q in choice]
    return "\n".join(lines).rstrip("\n") + "\n"
