"""How the viewer writes quantities for people: byte counts in decimal units, unit symbols.

Examples
--------
>>> format_bytes(1_234_567)
'1.2 MB'
>>> unit_symbol("micrometer")
'µm'
"""

from __future__ import annotations

__all__ = ["UNIT_SYMBOLS", "format_bytes", "unit_symbol"]

UNIT_SYMBOLS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "angstrom": "Å"}
"""Symbols of the OME-NGFF space units the course's images use."""


def format_bytes(n: float) -> str:
    """A byte count in decimal units (like network speeds), one decimal from kB up.

    Parameters
    ----------
    n : float
        Number of bytes.

    Returns
    -------
    str
        E.g. ``"512 B"``, ``"612.3 kB"``, ``"1.2 MB"``; GB is the largest unit.

    Examples
    --------
    >>> format_bytes(512), format_bytes(612_345), format_bytes(3e12)
    ('512 B', '612.3 kB', '3000.0 GB')
    """
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def unit_symbol(unit: str | None) -> str:
    """The symbol of an OME-NGFF unit name.

    Parameters
    ----------
    unit : str or None
        E.g. ``"micrometer"``.

    Returns
    -------
    str
        ``"µm"`` for ``"micrometer"``; unknown units as given; ``"px"`` without a unit.

    Examples
    --------
    >>> unit_symbol("nanometer"), unit_symbol("parsec"), unit_symbol(None)
    ('nm', 'parsec', 'px')
    """
    if not unit:
        return "px"
    return UNIT_SYMBOLS.get(unit, unit)
