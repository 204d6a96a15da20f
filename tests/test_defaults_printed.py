"""A lesson that states a library default prints it: the number comes from the learner's own run.

Library defaults change between versions (zarr's ``async.concurrency`` changed during 3.1.x, in
zarr-python pull requests #3526 and #3578), so a lesson's text must not state one as a bare number.
For each default below, a Markdown sentence that states it (``CLAIMS``) requires a code cell in the
same notebook that reads it from the library (``PRINTED``), so the learner sees the value of the
installed version next to the text. Notebooks 00-08 are scanned; add a default here when a lesson
starts relying on one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_tools import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("0[0-8]_*.ipynb"))


@dataclass(frozen=True)
class Default:
    """A library default: sentences that state it, and code that reads it from the library."""

    name: str
    claims: tuple[re.Pattern[str], ...]
    printed: re.Pattern[str]


def _any(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in patterns)


NUMBER = r"\*{0,2}\d+\*{0,2}"  # 10, or **10**
DEFAULTS = [
    Default(
        "zarr's async.concurrency",
        _any(
            rf"async\.concurrency`?\**\s*[(,:]?\s*(?:is |= ?)?(?:by )?default(?:s to|:)?\s*(?:is )?{NUMBER}",
            rf"async\.concurrency`?\**\s*(?:=|of|is)\s*{NUMBER}",
            rf"{NUMBER}[^.\n]{{0,60}}\(zarr'?s default\)",
            rf"zarr'?s default[^.\n]{{0,30}}\b(?:of|is|=)\s*{NUMBER}",
            rf"concurrency of {NUMBER}\b",
            rf"default concurrency[^.\n]{{0,20}}\b{NUMBER}",
        ),
        re.compile(r"""zarr\.config\.get\(\s*["']async\.concurrency["']"""),
    ),
    Default(
        "botocore's max_pool_connections",
        _any(
            rf"max_pool_connections`?\**[^.\n]{{0,30}}\bdefault(?:s to|:)?\s*(?:is )?{NUMBER}",
            rf"max_pool_connections`?\**\s*(?:=|of|is)\s*{NUMBER}\b[^.\n]{{0,20}}\bdefault",
            rf"(?:s3fs|botocore)'?s?\b[^.\n]{{0,80}}\b(?:its|at|of) {NUMBER} connections",
            rf"cap(?:s)? connections at {NUMBER}",
        ),
        re.compile(r"Config\(\)\.max_pool_connections|meta\.config\.max_pool_connections"),
    ),
    Default(
        "s3fs's HEAD before each GET (its max_concurrency default)",
        _any(r"s3fs[^.\n]{0,120}\bHEAD\b[^.\n]{0,30}\bbefore (?:each|every) GET"),
        re.compile(r"\.max_concurrency\b|requests_by_method"),
    ),
    Default(
        "s3fs's default read-ahead (default_block_size)",
        _any(
            rf"s3fs\b[^.\n]{{0,40}}reads? ahead {NUMBER} ?MiB by default",
            rf"s3fs\b[^.\n]{{0,40}}default[^.\n]{{0,20}}\b{NUMBER} ?MiB",
        ),
        re.compile(r"default_block_size"),
    ),
]


def claims_and_prints(notebook: nbformat.NotebookNode) -> list[str]:
    """The defaults ``notebook``'s Markdown states with no code cell that prints them."""
    markdown = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    code = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    missing = []
    for default in DEFAULTS:
        stated = [m.group(0) for p in default.claims for m in p.finditer(markdown)]
        if stated and not default.printed.search(code):
            missing.append(f"{default.name}: {stated[0]!r} but no code cell reads it")
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_stated_library_default_is_printed(path: Path) -> None:
    missing = claims_and_prints(nbformat.read(path, as_version=4))
    assert not missing, "; ".join(missing)


OLD_03 = """**zarr's `async.concurrency`** (default 10, set with `zarr.config.set` or the environment
variable `ZARR_ASYNC__CONCURRENCY`) bounds how many chunks one read fetches at once.

With its defaults s3fs sends a **HEAD** request before each GET, and its connection pool (botocore's
`max_pool_connections`, default 10) lets **at most 10** requests out at once.

Predict how long it takes at 100 ms with 10 requests in flight (zarr's default)."""


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("", ["async.concurrency", "max_pool_connections", "HEAD"]),
        ("print(botocore.config.Config().max_pool_connections)", ["async.concurrency", "HEAD"]),
        (
            'print(zarr.config.get("async.concurrency"), botocore.config.Config().max_pool_connections)'
            "\nprint(fs.max_concurrency)",
            [],
        ),
    ],
)
def test_the_old_lesson_03_text_fails_until_it_prints_its_defaults(
    code: str, expected: list[str]
) -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(OLD_03), nbformat.v4.new_code_cell(code)]
    )
    missing = claims_and_prints(notebook)
    assert len(missing) == len(expected)
    for text, name in zip(missing, expected, strict=True):
        assert name in text


@pytest.mark.parametrize(
    "sentence",
    [
        "zarr fetches up to `async.concurrency` chunks at once (your zarr printed its default above).",
        "The local cloud adds 100 ms by default.",
        "The paper's s3fs 0.6 read ahead 5 MiB.",
        "A 10 GB file at 100 Mbit/s takes 13 minutes.",
    ],
)
def test_sentences_without_a_bare_default_pass(sentence: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(sentence)])
    assert claims_and_prints(notebook) == []
