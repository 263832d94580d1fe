"""One writer of plain-text tables: columns left-aligned, two spaces apart, no trailing spaces.

The gradcheck report, ``symgrad.testing``'s mismatch message and the claims report print
their tables with it, so they line up the same way.
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["format_table"]


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, indent: str = "") -> list[str]:
    """The lines of a table: ``header`` then ``rows``, each column as wide as its widest cell.

    Every line starts with ``indent`` and has its trailing spaces removed, so a last column
    of long text (an explanation) is never padded.

    >>> format_table(("name", "value"), [("w1", "0.5"), ("bias", "-1")])
    ['name  value', 'w1    0.5', 'bias  -1']
    """
    cells = [tuple(header)] + [tuple(row) for row in rows]
    widths = [max(len(line[k]) for line in cells) for k in range(len(cells[0]))]
    return [indent + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
