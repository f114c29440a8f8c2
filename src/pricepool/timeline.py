"""The stored intervals of one home, keyed by UTC instant, each held by one fetch group.

Three parallel columns sorted by start: ``keys`` (POSIX seconds, an ``array('q')``),
``values`` (the intervals) and ``owners`` (the fetch group of each). A fetch replaces
the whole span it answered in one slice assignment, so there are no dead entries and no
index to rebuild; positions are never handed out.

Costs (n held intervals, k returned or replaced, g groups):

- ``slice``: O(log n + k)
- ``merge``: O(log n + k) plus one memmove of the columns' tail
- ``evict``: O(log n + span of the group) plus one memmove
- ``groups_in``: O(log n + k)
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .model import Group, PriceInterval, Span
from .spans import Edge, subtract

__all__ = ["Merge", "Timeline", "ordered"]

# Unique across instances: a pool that replaces one (a restore) never repeats a number.
_REVISIONS = itertools.count(1)

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Merge:
    """What one merge changed."""

    group: int | None
    added: int
    revised: int
    removed: int


def key(interval: PriceInterval) -> int:
    """The interval's start as whole POSIX seconds."""
    return int(interval.start.timestamp())


class Timeline:
    """Intervals of one home sorted by start, grouped by the fetch that brought them."""

    __slots__ = ("_counts", "_groups", "_keys", "_next", "_owners", "_values", "revision")

    def __init__(self) -> None:
        self.revision = next(_REVISIONS)
        self._keys = array("q")
        self._values: list[PriceInterval] = []
        self._owners = array("q")
        # Insertion order is fetch order: ids only grow.
        self._groups: dict[int, Group] = {}
        self._counts: dict[int, int] = {}
        self._next = 1

    def __len__(self) -> int:
        return len(self._values)

    @property
    def groups(self) -> Iterator[Group]:
        """Live fetch groups, oldest fetch first."""
        return iter(self._groups.values())

    @property
    def newest(self) -> Iterator[Group]:
        """Live fetch groups, newest fetch first."""
        return reversed(self._groups.values())

    @property
    def group_count(self) -> int:
        return len(self._groups)

    def size(self, group: int) -> int:
        """How many intervals ``group`` holds."""
        return self._counts.get(group, 0)

    def slice(self, start: int, end: int) -> list[PriceInterval]:
        """Intervals whose start lies in ``[start, end)``, sorted. O(log n + k)."""
        keys = self._keys
        return self._values[bisect_left(keys, start) : bisect_left(keys, end)]

    def merge(
        self,
        start: int,
        end: int,
        intervals: Sequence[PriceInterval],
        starts: Sequence[int],
        fetched_at: datetime,
    ) -> Merge:
        """Replace everything in ``[start, end)`` with ``intervals`` (sorted, inside it).

        ``starts`` are the intervals' keys. The new values win; an interval at a start
        that was already held with other values counts as revised. An answer without
        intervals empties the span and makes no group.
        """
        self.revision = next(_REVISIONS)
        keys = self._keys
        lo = bisect_left(keys, start)
        hi = bisect_left(keys, end)
        old_keys = keys[lo:hi]
        old_values = self._values[lo:hi]
        revised = 0
        if old_keys:
            held = dict(zip(old_keys, old_values, strict=True))
            for k, new in zip(starts, intervals, strict=True):
                old = held.get(k)
                if old is not None and not old.same_price(new):
                    revised += 1
            counts = self._counts
            for owner in self._owners[lo:hi]:
                left = counts[owner] - 1
                if left:
                    counts[owner] = left
                else:
                    del counts[owner]
                    del self._groups[owner]
        group: int | None = None
        if intervals:
            group = self._next
            self._next += 1
            self._groups[group] = Group(group, fetched_at, Span.from_seconds(start, end))
            self._counts[group] = len(intervals)
        keys[lo:hi] = array("q", starts)
        self._values[lo:hi] = intervals
        self._owners[lo:hi] = array("q", [group or 0]) * len(intervals)
        added = len(set(starts).difference(old_keys)) if old_keys else len(starts)
        return Merge(group, added, revised, len(old_keys) - (len(starts) - added))

    def groups_in(self, start: int, end: int) -> set[int]:
        """Groups holding an interval that starts in ``[start, end)``."""
        keys = self._keys
        return set(self._owners[bisect_left(keys, start) : bisect_left(keys, end)])

    def evict(self, group: int) -> tuple[int, list[Edge]]:
        """Drop every interval of ``group``.

        Returns how many were dropped and the spans that lose their coverage: the
        group's span less the intervals other groups still hold inside it.
        """
        self.revision = next(_REVISIONS)
        info = self._groups.pop(group)
        self._counts.pop(group)
        start, end = info.span.seconds
        keys, values, owners = self._keys, self._values, self._owners
        lo = bisect_left(keys, start)
        hi = bisect_left(keys, end)
        kept = [i for i in range(lo, hi) if owners[i] != group]
        holes = [(keys[i], key_end(values[i])) for i in kept]
        keys[lo:hi] = array("q", [keys[i] for i in kept])
        owners[lo:hi] = array("q", [owners[i] for i in kept])
        values[lo:hi] = [values[i] for i in kept]
        return (hi - lo) - len(kept), subtract(start, end, holes)

    def columns(self) -> tuple[list[PriceInterval], array[int]]:
        """Copies of the values and their owners, for a snapshot. O(n) memcpy."""
        return list(self._values), array("q", self._owners)

    def load(
        self, groups: Sequence[Group], intervals: Sequence[PriceInterval], owners: Sequence[int]
    ) -> None:
        """Replace everything with stored state (intervals sorted, owners parallel)."""
        self.revision = next(_REVISIONS)
        if len(owners) != len(intervals):
            raise ValueError(f"{len(intervals)} intervals but {len(owners)} owners")
        live = {g.id: g for g in groups}
        counts: dict[int, int] = {}
        for owner in owners:
            if owner not in live:
                raise ValueError(f"interval held by unknown fetch group {owner}")
            counts[owner] = counts.get(owner, 0) + 1
        starts = [key(i) for i in intervals]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise ValueError("stored intervals are not sorted by start without duplicates")
        self._keys = array("q", starts)
        self._values = list(intervals)
        self._owners = array("q", owners)
        self._groups = {g.id: g for g in sorted(groups, key=lambda g: g.id) if g.id in counts}
        self._counts = counts
        self._next = max(live, default=0) + 1


def ordered(
    intervals: Iterable[PriceInterval], start: int, end: int, tz: ZoneInfo
) -> tuple[list[int], list[PriceInterval]]:
    """The keys and intervals starting in ``[start, end)``, sorted, shown in ``tz``: ready to merge.

    ValueError names the first interval that overlaps the one before. O(k log k).
    """
    rows = sorted(((key(i), i) for i in intervals), key=lambda r: r[0])
    starts: list[int] = []
    kept: list[PriceInterval] = []
    last_end = None
    for stamp, interval in rows:
        if not start <= stamp < end:
            continue
        if last_end is not None and stamp < last_end:
            raise ValueError(f"overlapping intervals at {interval.start.isoformat()}")
        last_end = stamp + interval.length // _SECOND
        starts.append(stamp)
        kept.append(interval.in_zone(tz))
    return starts, kept


def key_end(interval: PriceInterval) -> int:
    """The interval's end as whole POSIX seconds."""
    return key(interval) + int(interval.length.total_seconds())
