"""The assessment as a notebook form: one box per question, a Check button, feedback at once.

Fill-in questions get one text box per blank, multiple-choice questions a set of radio buttons.
Pressing *Check* grades the answer with :func:`course_tools.quiz.items.grade` and shows its one-line
feedback under the question; the score at the top counts the questions answered right so far.

Why this form is ours and not jupyterquiz's (2.9.6.4, in the runtime): in JupyterLab 4.6,
jupyterquiz loads MathJax from a CDN (``cdn.jsdelivr.net``) whenever it is shown after JupyterLab
has loaded its own MathJax (a second run of the cell is enough), whatever the questions say, and
every number it checks raises ``MathJax.typeset is not a function`` in the page. Offline that is a
failed request and an error per answer; the course runs offline. This form needs only ipywidgets,
grades with the same :func:`~course_tools.quiz.items.grade` as :func:`course_tools.quiz.check`,
and accepts every spelling that ``check`` accepts (``"10,244 bytes"``). ``tests/test_module.py``
notices when a jupyterquiz release stops reaching for the CDN.

Examples
--------
>>> form = quiz(topic="shards")
>>> form.ids
['shard-chunks', 'shard-requests', 'shard-objects', 'shard-range']
>>> form.answer("shard-range", "b").correct
True
>>> form.score.value
'<b>Score: 1 of 4 right</b>'
"""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as widgets

from course_tools.quiz.items import BLANK, Feedback, FillIn, Question, grade, letters
from course_tools.quiz.questions import QUESTIONS, TOPICS

__all__ = ["QuizForm", "feedback_html", "quiz", "to_html"]

_CODE = re.compile(r"`([^`]+)`")


def to_html(text: str) -> str:
    """Question text as HTML: escaped, with ```code``` spans kept.

    Examples
    --------
    >>> to_html("read `a<b` & ___")
    'read <code>a&lt;b</code> &amp; ___'
    """
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def feedback_html(feedback: Feedback) -> str:
    """One line of feedback, green when right, red when not."""
    colour, mark = ("#1a7f37", "&#10004;") if feedback.correct else ("#b42318", "&#10008;")
    return f'<span style="color:{colour}">{mark} {to_html(feedback.message)}</span>'


class QuizForm:
    """A form of questions (display it as a cell's result); see :func:`quiz`.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole form.
    score : ipywidgets.HTML
        The score line.
    inputs : dict
        Question id -> its input widgets (text boxes, or one radio-button group).
    feedback : dict
        Question id -> the HTML widget showing its feedback.
    """

    def __init__(self, questions: list[Question]) -> None:
        self.questions = {q.id: q for q in questions}
        self.right: set[str] = set()
        self.score = widgets.HTML()
        self.inputs: dict[str, list[Any]] = {}
        self.feedback: dict[str, widgets.HTML] = {}
        boxes = [self.score]
        for number, q in enumerate(questions, 1):
            boxes.append(self._box(number, q))
        self.widget = widgets.VBox(boxes)
        self._update_score()

    @property
    def ids(self) -> list[str]:
        """The questions' ids, in order."""
        return list(self.questions)

    def _box(self, number: int, q: Question) -> widgets.VBox:
        label = widgets.HTML(f"<b>{number}.</b> {to_html(q.text)} <i>({q.topic})</i>")
        if isinstance(q, FillIn):
            boxes = [
                widgets.Text(placeholder=f"blank {i}", layout=widgets.Layout(width="12em"))
                for i in range(1, q.text.count(BLANK) + 1)
            ]
            inputs: list[Any] = boxes
            row: Any = widgets.HBox(boxes)
        else:
            keys = letters(len(q.options))
            options = [(f"{k}) {o}", k) for k, o in zip(keys, q.options, strict=True)]
            radio = widgets.RadioButtons(options=options, value=None)
            radio.layout.width = "auto"
            inputs, row = [radio], radio
        button = widgets.Button(description="Check", button_style="info")
        self.inputs[q.id] = inputs
        self.feedback[q.id] = widgets.HTML()
        button.on_click(lambda _button, qid=q.id: self._check(qid))
        return widgets.VBox([label, row, widgets.HBox([button, self.feedback[q.id]])])

    def _check(self, question_id: str) -> Feedback | None:
        values = [w.value for w in self.inputs[question_id]]
        if any(v is None or str(v).strip() == "" for v in values):
            self.feedback[question_id].value = "<i>Answer first, then press Check.</i>"
            return None
        q = self.questions[question_id]
        answer: Any = values if isinstance(q, FillIn) else values[0]
        result = grade(q, answer)
        self.feedback[question_id].value = feedback_html(result)
        (self.right.add if result.correct else self.right.discard)(question_id)
        self._update_score()
        return result

    def answer(self, question_id: str, answer: str | list[str]) -> Feedback:
        """Fill in ``answer`` as a learner would and press Check (for tests and demos)."""
        if question_id not in self.questions:
            raise ValueError(f"no question {question_id!r} in this form; it has {self.ids}")
        values = [answer] if isinstance(answer, str) else list(answer)
        inputs = self.inputs[question_id]
        if len(values) != len(inputs):
            raise ValueError(f"question {question_id!r} takes {len(inputs)} answers")
        for w, v in zip(inputs, values, strict=True):
            w.value = v
        result = self._check(question_id)
        if result is None:
            raise ValueError(f"question {question_id!r}: empty answer")
        return result

    def _update_score(self) -> None:
        self.score.value = f"<b>Score: {len(self.right)} of {len(self.questions)} right</b>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def quiz(topic: str | None = None) -> QuizForm:
    """The assessment as an ipywidgets form (all questions, or those of one topic).

    Parameters
    ----------
    topic : str, optional
        One of ``chunks``, ``pyramids``, ``latency``, ``parallelism``, ``shards``, ``failures``.

    Raises
    ------
    ValueError
        Unknown topic.
    """
    if topic is not None and topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}")
    return QuizForm([q for q in QUESTIONS if topic is None or q.topic == topic])
