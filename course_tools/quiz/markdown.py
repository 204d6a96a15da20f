"""The assessment page, ``course/assessment.md``, written from the questions (never by hand).

Fill-in-the-blanks come first, in the source module's format (a numbered list of sentences with
``___``, then the solutions), followed by the multiple-choice questions; every solution sits in a
collapsed ``<details>`` block. Rebuild the page with::

    python -m course_tools quiz --markdown > course/assessment.md

Examples
--------
>>> page = to_markdown()
>>> page.splitlines()[0]
'# Assessment: remote access to big image data'
>>> "<details>" in page
True
"""

from __future__ import annotations

from collections.abc import Sequence

from course_tools.quiz.items import FillIn, MultipleChoice, Question, letters, sentence
from course_tools.quiz.questions import QUESTIONS

__all__ = ["COMMAND", "to_markdown"]

COMMAND = "python -m course_tools quiz --markdown > course/assessment.md"
"""The command that writes the page."""


def _details(summary: str, lines: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *lines, "", "</details>", ""]


def to_markdown(questions: Sequence[Question] = QUESTIONS) -> str:
    """The assessment page as Markdown.

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
        "what the notebooks measure.",
        "",
        "**Check your answers** in a notebook: `from course_tools.quiz import quiz; quiz()` shows a "
        'form that grades each answer; or one at a time: `check("view-chunks", "4")` (several '
        'blanks: `check("speedup", ["4", "16"])`; multiple choice: `check("slowdown", "c")`); '
        "from a shell: `python -m course_tools quiz --check view-chunks 4`.",
        "",
        "## Fill in the blanks",
        "",
    ]
    for number, blanks in enumerate(fill, 1):
        lines.append(f"{number}. {blanks.text} *({blanks.topic}, `{blanks.id}`)*")
    lines.append("")
    solutions = [f"{n}. {f.solution} {sentence(f.explanation)}" for n, f in enumerate(fill, 1)]
    lines += _details("Solutions", solutions)
    lines += ["## Multiple choice", ""]
    for number, mc in enumerate(choice, 1):
        keys = letters(len(mc.options))
        lines += [f"### {number}. {mc.text}", "", f"*({mc.topic}, `{mc.id}`)*", ""]
        lines += [f"- {key}) {option}" for key, option in zip(keys, mc.options, strict=True)]
        lines.append("")
        lines += _details("Answer", [f"**{mc.solution}**. {sentence(mc.explanation)}"])
    return "\n".join(lines).rstrip("\n") + "\n"
