"""Span algebra on ``[start, end)`` edges in whole POSIX seconds: the only copy.

An edge is a ``(start, end)`` pair of ints. "Sorted, disjoint" lists are what every
function returns and what ``subtract`` and ``missing`` expect.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

__all__ = ["Edge", "missing", "subtract", "union"]

Edge = tuple[int, int]


def union(spans: Iterable[Edge]) -> list[Edge]:
    """The sorted union of ``spans``; touching spans are joined. O(s log s)."""
    out: list[Edge] = []
    for lo, hi in sorted(spans):
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract(start: int, end: int, holes: Iterable[Edge]) -> list[Edge]:
    """``[start, end)`` less the sorted, disjoint ``holes``. O(holes)."""
    out: list[Edge] = []
    cursor = start
    for lo, hi in holes:
        if hi <= cursor:
            continue
        if lo >= end:
            break
        if lo > cursor:
            out.append((cursor, lo))
        cursor = max(cursor, hi)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return out


def missing(start: int, end: int, starts: Sequence[int], ends: Sequence[int]) -> list[Edge]:
    """``[start, end)`` less the disjoint spans held as parallel sorted ``starts``/``ends``.

    O(log m + parts): only the spans that can touch the range are visited.
    """
    i = max(bisect_right(starts, start) - 1, 0)
    j = bisect_left(starts, end)
    return subtract(start, end, zip(starts[i:j], ends[i:j], strict=True))
