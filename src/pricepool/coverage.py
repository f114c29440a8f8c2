"""Which spans the source has answered, and which it said are not published yet.

Instants are whole POSIX seconds. Answered spans are kept as two sorted lists of
disjoint, non-touching ``[start, end)`` edges, so a lookup is a bisection.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

__all__ = ["Coverage"]

Edge = tuple[int, int]


def subtract(start: int, end: int, holes: Iterable[Edge]) -> list[Edge]:
    """``[start, end)`` less the sorted, disjoint ``holes``."""
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


def union(spans: Iterable[Edge]) -> list[Edge]:
    """The sorted union of ``spans``; touching spans are joined."""
    out: list[Edge] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


class Coverage:
    """Answered spans and pending (unpublished) spans of one home."""

    __slots__ = ("_ends", "_pending", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        # (start, end, retry_at): small, sorted by start, disjoint.
        self._pending: list[tuple[int, int, int]] = []

    def __iter__(self) -> Iterator[Edge]:
        """The answered spans, in order."""
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def pending(self) -> list[tuple[int, int, int]]:
        """Pending spans as ``(start, end, retry_at)``."""
        return list(self._pending)

    def covers(self, start: int, end: int) -> bool:
        """True when ``[start, end)`` was answered in full. O(log m)."""
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def missing(self, start: int, end: int) -> list[Edge]:
        """The parts of ``[start, end)`` never answered. O(log m + gaps)."""
        starts, ends = self._starts, self._ends
        i = max(bisect_right(starts, start) - 1, 0)
        j = bisect_left(starts, end)
        return subtract(start, end, zip(starts[i:j], ends[i:j], strict=True))

    def record(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` answered; it is no longer pending. O(m) worst case."""
        if end <= start:
            return
        self._drop_pending(start, end)
        starts, ends = self._starts, self._ends
        # Everything touching [start, end) collapses into one span.
        i = bisect_left(ends, start)
        j = bisect_right(starts, end)
        if i < j:
            start = min(start, starts[i])
            end = max(end, ends[j - 1])
        starts[i:j] = [start]
        ends[i:j] = [end]

    def forget(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` unanswered again (its intervals were evicted)."""
        if end <= start:
            return
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, start)
        j = bisect_left(starts, end)
        if i >= j:
            return
        keep: list[Edge] = []
        if starts[i] < start:
            keep.append((starts[i], start))
        if ends[j - 1] > end:
            keep.append((end, ends[j - 1]))
        starts[i:j] = [lo for lo, _ in keep]
        ends[i:j] = [hi for _, hi in keep]

    def defer(self, start: int, end: int, retry_at: int) -> None:
        """Mark ``[start, end)`` pending until ``retry_at``, replacing older word on it."""
        if end <= start:
            return
        self._drop_pending(start, end)
        self._pending.append((start, end, retry_at))
        self._pending.sort()

    def waiting(self, start: int, end: int, now: int) -> list[Edge]:
        """The parts of ``[start, end)`` pending and not yet due at ``now``."""
        if not self._pending:
            return []
        self._pending = [p for p in self._pending if p[2] > now]
        return [
            (max(lo, start), min(hi, end)) for lo, hi, _ in self._pending if lo < end and hi > start
        ]

    def _drop_pending(self, start: int, end: int) -> None:
        if not self._pending:
            return
        kept: list[tuple[int, int, int]] = []
        for lo, hi, due in self._pending:
            for a, b in subtract(lo, hi, [(start, end)]):
                kept.append((a, b, due))
        self._pending = kept
