"""Plain-text tables for notebooks and command lines: one row per record, columns aligned.

Examples
--------
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
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table"]


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.repr}
    if isinstance(row, Mapping):
        return row
    raise TypeError(f"a table row must be a dataclass or a mapping, got {type(row).__name__}")


def format_table(rows: Sequence[Any]) -> str:
    """A plain-text table of ``rows`` (dataclasses or mappings with the same fields).

    Parameters
    ----------
    rows : sequence of dataclass instances or mappings
        One record per line; the first row's fields name the columns.

    Returns
    -------
    str
        A header line, a line of dashes and one line per row; ``"(nothing)"`` for no rows.
    """
    if not rows:
        return "(nothing)"
    mappings = [_as_mapping(row) for row in rows]
    keys = list(mappings[0])
    widths = {k: max(len(k), *(len(str(m[k])) for m in mappings)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines.append("  ".join("-" * widths[k] for k in keys))
    lines += ["  ".join(str(m[k]).ljust(widths[k]) for k in keys).rstrip() for m in mappings]
    return "\n".join(lines)
