"""What every ``python -m course_tools ...`` command does with bad input: one line, exit code 2.

A command's *user error* (a bad number, an unknown dataset name, a missing file, a host that does
not answer, a store that is not OME-Zarr) prints ``error: <one line>`` to stderr and exits with 2,
never a traceback; a bug in the helpers still shows its traceback. Every entry point runs its
``main`` through :func:`run_cli`::

    if __name__ == "__main__":
        sys.exit(run_cli(main))

The argparse types below check numbers while the command line is read, before anything starts (a
cloud, a cluster): argparse then prints the usage and ``error: argument --concurrency: ...`` and
exits with 2. They use the same checks as the API (:mod:`helpers.model`), so a number refused on
the command line is refused with the same words in Python.

Examples
--------
>>> def main(argv):
...     raise KeyError("unknown dataset 'nope'; known datasets: nuclei")
>>> run_cli(main, [], stderr=sys.stdout)
error: unknown dataset 'nope'; known datasets: nuclei
2
>>> concurrency_arg("16")
16
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Sequence
from typing import TextIO, TypeVar

from helpers.model import MAX_CONCURRENCY, check_count, check_non_negative

__all__ = [
    "USER_ERRORS",
    "concurrency_arg",
    "concurrency_list_arg",
    "count_arg",
    "error_message",
    "is_user_error",
    "non_negative_arg",
    "positive_number_arg",
    "positive_arg",
    "run_cli",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, OSError)
"""Built-in errors the helpers raise for bad input: ``NotOmeZarrError`` and every bad argument
(``ValueError``), unknown names (``KeyError``), missing files and unreachable hosts (``OSError``,
which includes ``FileNotFoundError``, ``ConnectionError`` and ``TimeoutError``)."""


def is_user_error(err: BaseException) -> bool:
    """True for an error whose message is meant for the user.

    One of :data:`USER_ERRORS`, or any error class of the helpers' own (``FetchError``,
    ``CloudError``, ...), whose messages say what happened and what to do.

    Examples
    --------
    >>> is_user_error(ValueError("concurrency must be >= 1")), is_user_error(TypeError("bug"))
    (True, False)
    """
    return isinstance(err, USER_ERRORS) or type(err).__module__.split(".")[0] == "helpers"


def error_message(err: BaseException) -> str:
    """The error's message on one line (a ``KeyError``'s without the quotes ``str`` adds).

    Examples
    --------
    >>> error_message(KeyError("unknown dataset 'x'"))
    "unknown dataset 'x'"
    >>> error_message(ValueError("two  words"))
    'two words'
    """
    text = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else err
    return " ".join(str(text).split()) or type(err).__name__


def run_cli(
    main: Callable[[list[str] | None], int | None],
    argv: Sequence[str] | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run a command's ``main(argv)`` and turn a user error into ``error: <message>`` and exit code 2.

    Parameters
    ----------
    main : callable
        The command: takes the argument list (``None``: the command line), returns its exit code.
    argv : sequence of str, optional
        The arguments (default: the command line).
    stderr : file, optional
        Where the error line goes (default ``sys.stderr``).

    Returns
    -------
    int
        ``main``'s exit code; 2 after a user error (see :func:`is_user_error`); 130 when
        interrupted with Ctrl-C. Other errors (bugs) propagate with their traceback;
        ``SystemExit`` (argparse's exit 2 for a bad option) passes through.

    Examples
    --------
    >>> run_cli(lambda argv: 0, [])
    0
    """
    out = sys.stderr if stderr is None else stderr
    try:
        return int(main(None if argv is None else list(argv)) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=out)
        return 130
    except Exception as err:
        if not is_user_error(err):
            raise
        logger.debug("user error", exc_info=True)  # the traceback, for whoever wants it
        print(f"error: {error_message(err)}", file=out)
        return 2


def _argument_error(check: Callable[[], T]) -> T:
    try:
        return check()
    except ValueError as err:  # argparse prints "argument --name: <message>"
        raise argparse.ArgumentTypeError(str(err)) from None


def count_arg(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``[minimum, maximum]``.

    Examples
    --------
    >>> count_arg(0)("0")
    0
    >>> count_arg(1, 8)("9")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer from 1 to 8, got 9
    """

    def parse(text: str) -> int:
        try:
            value: object = int(text)
        except ValueError:
            value = text  # the message then quotes what could not be read
        return _argument_error(lambda: check_count(value, "", minimum, maximum))

    parse.__name__ = "integer"
    return parse


positive_arg = count_arg(1)
"""An argparse ``type``: a whole number >= 1 (repeats, chunks, threads...)."""
concurrency_arg = count_arg(1, MAX_CONCURRENCY)
"""An argparse ``type``: requests in flight, 1 to :data:`~course_tools.config.MAX_CONCURRENCY`."""


def non_negative_arg(text: str) -> float:
    """An argparse ``type``: a finite number >= 0 (a latency, a bandwidth, a time).

    Examples
    --------
    >>> non_negative_arg("2.5")
    2.5
    >>> non_negative_arg("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number >= 0, got nan
    """
    try:
        value: object = float(text)
    except ValueError:
        value = text
    return _argument_error(lambda: check_non_negative(value, ""))


def positive_number_arg(text: str) -> float:
    """An argparse ``type``: a finite number > 0 (a bandwidth cap in Mbit/s).

    Examples
    --------
    >>> positive_number_arg("50")
    50.0
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def concurrency_list_arg(text: str) -> list[int]:
    """An argparse ``type``: comma-separated concurrencies, each from 1 to ``MAX_CONCURRENCY``.

    Examples
    --------
    >>> concurrency_list_arg("1,4,16")
    [1, 4, 16]
    """
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return [concurrency_arg(v) for v in values]
