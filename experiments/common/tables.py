"""Tables of results, as markdown (READMEs) or aligned text (a run's summary).

One formatter for every study, so a README table is printed by a command from a
stored results file instead of typed by hand. No jax, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["interval", "markdown", "text"]


def interval(mean: float | None, low: float | None = None, high: float | None = None, *, scale: float = 1.0,
             digits: int = 2, signed: bool = False) -> str:
    """``"98.44 [98.25, 98.63]"``: a mean and its interval, times ``scale``.

    Args:
      mean, low, high: the values (None or NaN: missing; a missing bound prints the mean alone).
      scale: multiply by this (100 for percentages stored as fractions).
      digits: decimals.
      signed: a ``+`` in front of positive values (differences).

    >>> interval(0.98442, 0.98251, 0.98633, scale=100)
    '98.44 [98.25, 98.63]'
    >>> interval(0.001, -0.0001, 0.0021, scale=100, signed=True)
    '+0.10 [-0.01, +0.21]'
    """

    def missing(x) -> bool:
        return x is None or (isinstance(x, float) and not math.isfinite(x))

    def number(x: float) -> str:
        return f"{x * scale:{'+' if signed else ''}.{digits}f}"

    if missing(mean):
        return "n/a"
    if missing(low) or missing(high):
        return number(mean)
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def _check(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[list[str]]:
    cells = [[str(c) for c in row] for row in rows]
    for n, row in enumerate(cells):
        if len(row) != len(header):
            raise ValueError(f"table: row {n} has {len(row)} cells, the header {len(header)}: {row}")
    return cells


def markdown(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table (``| a | b |`` rows under a ``|---|`` line).

    Args:
      header: column titles.
      rows: one sequence of cells per row, as many as the header (cells are ``str()``-ed).

    >>> print(markdown(["arm", "acc"], [["a", 1.5]]))
    | arm | acc |
    |---|---|
    | a | 1.5 |
    """
    cells = _check(header, rows)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned plain-text table: the first column left-aligned, the others right-aligned.

    Args:
      header: column titles.
      rows: one sequence of cells per row, as many as the header.

    >>> print(text(["arm", "acc"], [["a", 1.5], ["long", 10.25]]))
    arm     acc
    a       1.5
    long  10.25
    """
    cells = _check(header, rows)
    widths = [max(len(str(r[i])) for r in [list(header), *cells]) for i in range(len(header))]
    lines = []
    for row in [list(header), *cells]:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
