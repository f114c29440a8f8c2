"""What the source said of each span of one home: answered, pending until T, or failed until T.

Instants are whole POSIX seconds. Answered spans are kept as two sorted lists of
disjoint, non-touching ``[start, end)`` edges, so a lookup is a bisection. Spans not
answered may carry a word until a time: *pending* (the source called them unpublished)
or *failed* (the source failed for them, with its error). Planning asks this one object
which spans to fetch; answers ask it why a span is missing.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from .errors import SourceError
from .spans import Edge, missing, subtract, union

__all__ = ["Coverage", "Hold", "subtract", "union"]

# Unique across instances: a pool that replaces one (a restore) never repeats a number.
_REVISIONS = itertools.count(1)

Hold = tuple[int, int, int, SourceError | None]
"""``(start, end, until, error)``: not asked before ``until``; pending if ``error`` is None."""


class Coverage:
    """Answered spans, and spans pending or failed until a time, of one home."""

    __slots__ = ("_ends", "_holds", "_starts", "revision")

    def __init__(self) -> None:
        self.revision = next(_REVISIONS)
        self._starts: list[int] = []
        self._ends: list[int] = []
        # Small, sorted by start, disjoint.
        self._holds: list[Hold] = []

    def __iter__(self) -> Iterator[Edge]:
        """The answered spans, in order."""
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def pending(self) -> list[tuple[int, int, int]]:
        """Pending (unpublished) spans as ``(start, end, retry_at)``."""
        return [(lo, hi, until) for lo, hi, until, error in self._holds if error is None]

    @property
    def failed(self) -> list[Hold]:
        """Failed spans as ``(start, end, until, error)``, expired ones included."""
        return [h for h in self._holds if h[3] is not None]

    def covers(self, start: int, end: int) -> bool:
        """True when ``[start, end)`` was answered in full. O(log m)."""
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def missing(self, start: int, end: int) -> list[Edge]:
        """The parts of ``[start, end)`` never answered. O(log m + gaps)."""
        return missing(start, end, self._starts, self._ends)

    def record(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` answered; any pending or failed word on it ends. O(m) worst."""
        self.revision = next(_REVISIONS)
        if end <= start:
            return
        self._drop(start, end)
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
        self.revision = next(_REVISIONS)
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
        self.revision = next(_REVISIONS)
        self._hold(start, end, retry_at, None)

    def fail(self, start: int, end: int, until: int, error: SourceError) -> None:
        """Mark ``[start, end)`` failed with ``error`` until ``until``, replacing older word."""
        self.revision = next(_REVISIONS)
        self._hold(start, end, until, error)

    def waiting(self, start: int, end: int, now: int) -> list[Edge]:
        """The parts of ``[start, end)`` pending or failed and not yet due at ``now``."""
        return [(lo, hi) for lo, hi, _, _ in self.holds(start, end, now)]

    def holds(self, start: int, end: int, now: float) -> list[Hold]:
        """The words on ``[start, end)`` not yet due at ``now``, clipped to it; due ones end."""
        if not self._holds:
            return []
        if any(h[2] <= now for h in self._holds):
            self._holds = [h for h in self._holds if h[2] > now]
        return [
            (max(lo, start), min(hi, end), until, error)
            for lo, hi, until, error in self._holds
            if lo < end and hi > start
        ]

    def _hold(self, start: int, end: int, until: int, error: SourceError | None) -> None:
        if end <= start:
            return
        self._drop(start, end)
        self._holds.append((start, end, until, error))
        self._holds.sort(key=lambda h: h[0])

    def _drop(self, start: int, end: int) -> None:
        if not self._holds:
            return
        kept: list[Hold] = []
        for lo, hi, until, error in self._holds:
            for a, b in subtract(lo, hi, [(start, end)]):
                kept.append((a, b, until, error))
        self._holds = kept
