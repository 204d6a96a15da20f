"""What a quiz question is, and how an answer is graded. Pure: no I/O, no display.

Two kinds of question, each a frozen dataclass:

- :class:`FillIn`: a sentence with blanks written ``___``, one :class:`Blank` per blank. A blank
  with a ``value`` is numeric: any answer holding that number (within ``tolerance``, thousands
  separators and a unit allowed: ``"10,244 bytes"``) is right; other blanks compare text, ignoring
  case, spaces, quotes and backticks, against the answer and its accepted spellings.
- :class:`MultipleChoice`: options ``a)``, ``b)``, ...; the answer is a letter (or the option's text).

:func:`grade` returns a :class:`Feedback` with one line for the learner: what was right, or a hint
that does not give the answer away.

Examples
--------
>>> q = FillIn("demo", "chunks", "One chunk is ___ object.", (Blank("1", value=1, accept=("one",)),),
...            hint="Count the objects.", explanation="One chunk, one object, one URL.")
>>> grade(q, "One").correct, grade(q, "2").message
(True, 'Not yet: blank 1 is not right. Hint: Count the objects.')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BLANK",
    "Blank",
    "Feedback",
    "FillIn",
    "MultipleChoice",
    "Question",
    "grade",
    "letters",
    "parse_number",
    "sentence",
]

BLANK = "___"
"""How a blank is written in a :class:`FillIn` sentence."""
_NUMBER = re.compile(r"[-+]?\d[\d,_]*(?:\.\d+)?|[-+]?\.\d+")


@dataclass(frozen=True)
class Blank:
    """One blank of a fill-in question.

    Attributes
    ----------
    answer : str
        The answer as the solution shows it (e.g. ``"472"``).
    value : float, optional
        For a numeric blank: the number (answers are compared as numbers).
    tolerance : float
        Largest accepted difference from ``value`` (0: exact).
    accept : tuple of str
        Other accepted spellings (text blanks, or words for numbers such as ``"one"``).
    """

    answer: str
    value: float | None = None
    tolerance: float = 0.0
    accept: tuple[str, ...] = ()

    def matches(self, given: str) -> bool:
        """Whether ``given`` is an accepted answer for this blank."""
        text = _normal(given)
        if text in {_normal(a) for a in (self.answer, *self.accept)}:
            return True
        if self.value is None:
            return False
        number = parse_number(given)
        return number is not None and abs(number - self.value) <= self.tolerance + 1e-9


@dataclass(frozen=True)
class FillIn:
    """A sentence with blanks (``___``), in the source module's fill-in-the-blanks format."""

    id: str
    topic: str
    text: str
    blanks: tuple[Blank, ...]
    hint: str
    explanation: str

    def __post_init__(self) -> None:
        if self.text.count(BLANK) != len(self.blanks) or not self.blanks:
            raise ValueError(
                f"question {self.id!r}: {self.text.count(BLANK)} blanks in the text, "
                f"{len(self.blanks)} answers"
            )

    @property
    def solution(self) -> str:
        """The sentence with its blanks filled in (answers in bold)."""
        parts = self.text.split(BLANK)
        filled = [f"{p}**{b.answer}**" for p, b in zip(parts, self.blanks, strict=False)]
        return "".join(filled) + parts[-1]


@dataclass(frozen=True)
class MultipleChoice:
    """A question with options ``a)``, ``b)``, ...; exactly one is right (index ``answer``)."""

    id: str
    topic: str
    text: str
    options: tuple[str, ...]
    answer: int
    hint: str
    explanation: str

    def __post_init__(self) -> None:
        if not 2 <= len(self.options) <= 26 or not 0 <= self.answer < len(self.options):
            raise ValueError(
                f"question {self.id!r}: answer {self.answer} among {len(self.options)} options"
            )

    @property
    def solution(self) -> str:
        """The right option as ``"b) its text"``."""
        return f"{letters(len(self.options))[self.answer]}) {self.options[self.answer]}"


Question = FillIn | MultipleChoice
"""Any quiz question."""


@dataclass(frozen=True)
class Feedback:
    """The grade of one answer.

    Attributes
    ----------
    question_id : str
        The question graded.
    correct : bool
        Whether the whole answer is right.
    message : str
        One line for the learner: the explanation when right, a hint when not.
    """

    question_id: str
    correct: bool
    message: str


def letters(n: int) -> str:
    """The option letters of ``n`` options.

    Examples
    --------
    >>> letters(4)
    'abcd'
    """
    return "abcdefghijklmnopqrstuvwxyz"[:n]


def sentence(text: str) -> str:
    """``text`` with a capital first letter (explanations and hints are written as clauses).

    Examples
    --------
    >>> sentence("ceil(64 / 16) rounds.")
    'Ceil(64 / 16) rounds.'
    """
    return text[:1].upper() + text[1:]


def _normal(text: str) -> str:
    return " ".join(str(text).strip().strip("`'\"").rstrip(".").lower().split())


def parse_number(text: str) -> float | None:
    """The one number in ``text`` (``"10,244 bytes"`` -> 10244.0), or ``None`` if none or several.

    Examples
    --------
    >>> parse_number("about 47.2 s"), parse_number("123_968"), parse_number("4 or 5")
    (47.2, 123968.0, None)
    """
    found = _NUMBER.findall(str(text))
    if len(found) != 1:
        return None
    return float(found[0].replace(",", "").replace("_", ""))


def _as_answers(question: FillIn, answer: str | Sequence[str]) -> list[str]:
    n = len(question.blanks)
    if isinstance(answer, str):
        given = [answer] if n == 1 else [part for part in answer.split(";")]
    elif isinstance(answer, Sequence) and all(isinstance(a, str | int | float) for a in answer):
        given = [str(a) for a in answer]
    elif isinstance(answer, int | float) and not isinstance(answer, bool) and n == 1:
        given = [str(answer)]
    else:
        raise ValueError(
            f"question {question.id!r}: give the answer as text (or a list of {n} texts), "
            f"got {answer!r}"
        )
    if len(given) != n:
        raise ValueError(
            f"question {question.id!r} has {n} blanks: give {n} answers "
            f"(a list, or one text with ';' between them), got {len(given)}"
        )
    return given


def _choice(question: MultipleChoice, answer: object) -> int:
    keys = letters(len(question.options))
    if isinstance(answer, str):
        text = _normal(answer).rstrip(")")
        if len(text) == 1 and text in keys:
            return keys.index(text)
        for i, option in enumerate(question.options):
            if text == _normal(option):
                return i
    raise ValueError(
        f"question {question.id!r}: answer with one letter from {', '.join(keys)}, got {answer!r}"
    )


def grade(question: Question, answer: str | Sequence[str] | int | float) -> Feedback:
    """Grade ``answer`` to ``question``: right or not, with a one-line message.

    Parameters
    ----------
    question : FillIn or MultipleChoice
        The question.
    answer : str, sequence of str, or number
        Fill-in: the blank's answer, or one answer per blank (a list, or one text with ``;``
        between the answers). Multiple choice: the option's letter (``"b"``).

    Raises
    ------
    ValueError
        An answer of the wrong kind, or the wrong number of answers for the blanks.

    Examples
    --------
    >>> mc = MultipleChoice("mc", "latency", "Slow because?", ("size", "waiting"), 1, "Think.", "Yes.")
    >>> grade(mc, "b")
    Feedback(question_id='mc', correct=True, message='Right: Yes.')
    """
    if isinstance(question, MultipleChoice):
        chosen = _choice(question, answer)
        if chosen == question.answer:
            return Feedback(question.id, True, f"Right: {sentence(question.explanation)}")
        return Feedback(question.id, False, f"Not yet. Hint: {sentence(question.hint)}")
    given = _as_answers(question, answer)  # type: ignore[arg-type]
    pairs = enumerate(zip(question.blanks, given, strict=True), start=1)
    wrong = [str(number) for number, (blank, text) in pairs if not blank.matches(text)]
    if not wrong:
        return Feedback(question.id, True, f"Right: {sentence(question.explanation)}")
    which = f"blank {wrong[0]} is" if len(wrong) == 1 else f"blanks {', '.join(wrong)} are"
    hint = sentence(question.hint)
    return Feedback(question.id, False, f"Not yet: {which} not right. Hint: {hint}")
