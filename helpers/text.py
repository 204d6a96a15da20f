"""Counts in words for printed summaries: ``1 chunk``, ``2 chunks`` (pure formatting, no I/O).

Examples
--------
>>> plural(1, "request"), plural(3, "request"), plural(0, "chunk")
('1 request', '3 requests', '0 chunks')
"""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, word: str, many: str | None = None, *, grouped: bool = False) -> str:
    """``count`` followed by ``word``, in the plural unless ``count`` is exactly 1.

    Parameters
    ----------
    count : int
        How many.
    word : str
        The singular noun.
    many : str, optional
        The plural noun when adding an ``s`` is wrong (``word + "s"`` by default).
    grouped : bool, optional
        Separate thousands with commas (``"37,840 objects"``).

    Returns
    -------
    str
        For example ``"1 chunk"`` or ``"12 chunks"``.

    Examples
    --------
    >>> plural(2, "entry", "entries")
    '2 entries'
    >>> plural(1, "entry", "entries")
    '1 entry'
    >>> plural(37840, "object", grouped=True)
    '37,840 objects'
    """
    noun = word if count == 1 else (many if many is not None else word + "s")
    return f"{count:,} {noun}" if grouped else f"{count} {noun}"
