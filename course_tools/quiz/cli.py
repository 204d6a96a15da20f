"""``python -m course_tools quiz``: write the assessment page, list the questions, or check an answer.

::

    python -m course_tools quiz --markdown > course/assessment.md   # the page, from the questions
    python -m course_tools quiz --list                               # ids, topics and blanks
    python -m course_tools quiz --check view-chunks 4                # one line; exit code 0 if right

Bad input (an unknown id, the wrong number of answers) is one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from course_tools.quiz.items import BLANK, FillIn, grade
from course_tools.quiz.page import to_markdown
from course_tools.quiz.questions import QUESTIONS, by_id

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command (see the module docstring); returns the exit code.

    Examples
    --------
    >>> main(["--check", "slowdown", "c"])
    right: Backoff with jitter spreads the retries out; the deadline bounds the total wait.
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_tools quiz",
        description="The course's assessment: write its Markdown page, list its questions, or "
        "check an answer.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--markdown", action="store_true", help="print the page course/assessment.md"
    )
    action.add_argument("--list", action="store_true", help="list the question ids and topics")
    action.add_argument(
        "--check",
        nargs="+",
        metavar=("ID", "ANSWER"),
        help="check an answer: the question id, then one answer per blank (or the letter)",
    )
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(to_markdown())
        return 0
    if args.list:
        for q in QUESTIONS:
            kind = f"{q.text.count(BLANK)} blank(s)" if isinstance(q, FillIn) else "a letter"
            print(f"{q.id:<18s} {q.topic:<12s} answer: {kind}")
        return 0
    question_id, *answers = args.check
    question = by_id(question_id)
    if not answers:
        raise ValueError(f"--check {question_id}: give the answer after the id")
    given = answers[0] if len(answers) == 1 else answers
    feedback = grade(question, given)
    verdict, _, rest = feedback.message.partition(": ")
    print(f"{'right' if feedback.correct else 'not yet'}: {rest or verdict}")
    return 0 if feedback.correct else 1
