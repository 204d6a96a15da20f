"""Text for notebooks and command lines: counts in words, and plain-text tables with aligned columns.

Examples
--------
>>> plural(1, "request"), plural(37840, "object")
('1 request', '37,840 objects')
>>> from dataclasses import dataclass
>>> @dataclass
... class Row:
...     name: str
...     size: int
>>> print(format_table([Row("nuclei", 17), Row("tissue", 137)]))
name    size
------  ----
nuclei  17
tissue  137
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table", "plural"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` (thousands separated) and ``word``, in the plural unless ``count`` is exactly 1."""
    noun = word if count == 1 else (many if many is not None else word + "s")
    return f"{count:,} {noun}"


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.repr}
    if isinstance(row, Mapping):
        return row
    raise TypeError(f"a table row must be a dataclass or a mapping, got {type(row).__name__}")


def _cell_lines(value: Any, width: int | None) -> list[str]:
    text = str(value)
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def format_table(
    rows: Sequence[Any],
    columns: Sequence[str] | None = None,
    wrap: Mapping[str, int] | None = None,
) -> str:
    """A plain-text table of ``rows`` (dataclasses or mappings with the same fields).

    Parameters
    ----------
    rows : sequence of dataclass instances or mappings
        One record per line; the first row's fields name the columns.
    columns : sequence of str, optional
        Only these columns, in this order (all of them by default).
    wrap : mapping of str to int, optional
        Column name -> most characters per line: longer cells wrap between words onto the next
        lines, so a table fits a laptop screen (words are never cut).

    Returns
    -------
    str
        A header line, a line of dashes and one line per row (more where a cell wraps);
        ``"(nothing)"`` for no rows.

    Examples
    --------
    >>> rows = [{"name": "em", "description": "huge 2D electron micrograph, remote only"}]
    >>> print(format_table(rows, wrap={"description": 20}))
    name  description
    ----  ------------------
    em    huge 2D electron
          micrograph, remote
          only
    """
    if not rows:
        return "(nothing)"
    mappings = [_as_mapping(row) for row in rows]
    keys = list(columns) if columns is not None else list(mappings[0])
    unknown = sorted(set(keys) - set(mappings[0]))
    if unknown:
        raise ValueError(f"unknown table columns {unknown}; the rows have {list(mappings[0])}")
    limits = dict(wrap or {})
    cells = [{k: _cell_lines(m[k], limits.get(k)) for k in keys} for m in mappings]
    widths = {k: max(len(k), *(len(line) for c in cells for line in c[k])) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines.append("  ".join("-" * widths[k] for k in keys))
    for cell in cells:
        for i in range(max(len(v) for v in cell.values())):
            parts = [(cell[k][i] if i < len(cell[k]) else "").ljust(widths[k]) for k in keys]
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
