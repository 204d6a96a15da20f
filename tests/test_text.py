"""Printed summaries: counts in words (``1 chunk``) and tables that wrap to fit a laptop screen."""

from __future__ import annotations

import pytest

from course_tools.text import format_table, plural
from helpers.fetch import FetchResult


def test_plural() -> None:
    assert [plural(n, "chunk") for n in (0, 1, 2)] == ["0 chunks", "1 chunk", "2 chunks"]
    assert plural(1, "retry", "retries") == "1 retry"
    assert plural(3, "retry", "retries") == "3 retries"


def test_fetch_summary_says_1_chunk_1_request() -> None:
    one = FetchResult([b"x" * 10], [], "async", 8, requests=1, max_in_flight=1, wall_s=0.1)
    assert str(one).startswith("async: 1 chunk, 1 request, ")
    more = FetchResult([b"x", b"y"], [], "async", 8, requests=3, max_in_flight=2, wall_s=0.1)
    assert str(more).startswith("async: 2 chunks, 3 requests, ")


def test_wrapped_table_fits_its_width_and_keeps_words_whole() -> None:
    rows = [{"name": "em", "description": "huge 2D electron micrograph " * 4, "where": "remote"}]
    text = format_table(rows, columns=["name", "description"], wrap={"description": 30})
    lines = text.splitlines()
    assert lines[0].split() == ["name", "description"]
    assert len(lines) > 3 and all(len(line) <= len("em") + 2 + 30 for line in lines)
    words = " ".join(line[4:].strip() for line in lines[2:]).split()
    assert words == rows[0]["description"].split()


def test_table_columns_must_exist() -> None:
    with pytest.raises(ValueError, match="unknown table columns"):
        format_table([{"name": "em"}], columns=["name", "size"])
