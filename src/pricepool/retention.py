"""The whole retention policy: how much a pool keeps, what it evicts first, what it spares."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Set
from datetime import datetime
from zoneinfo import ZoneInfo

from .clock import day_start
from .coverage import Coverage
from .spans import Edge, union
from .timeline import Timeline

__all__ = ["Retention"]


class Retention:
    """Keep at most ``max_intervals``, evicting whole fetch groups, oldest fetch first.

    A group holding any interval in the protected window (day before yesterday 00:00 to
    day after tomorrow 00:00, home-local) is never evicted, so a pool may stay above the
    limit when everything it holds is recent. The automatic policy (``keep``) also spares
    what reads under way are about to slice and fetches younger than ``recent`` seconds,
    so that a range larger than the limit is not fetched again on every request.
    """

    __slots__ = ("_calm", "max_intervals", "recent")

    def __init__(self, max_intervals: int = 35_040, recent: float = 0.0) -> None:
        if max_intervals < 1:
            raise ValueError(f"max_intervals must be at least 1, got {max_intervals}")
        self.max_intervals = max_intervals
        self.recent = recent
        # Until then ``keep`` has nothing it may evict (all protected or spared).
        self._calm = 0.0

    def __repr__(self) -> str:
        return f"Retention(max_intervals={self.max_intervals}, recent={self.recent})"

    @staticmethod
    def protected(now: datetime, tz: ZoneInfo) -> tuple[int, int]:
        """The protected window at ``now`` as POSIX seconds."""
        return (
            int(day_start(now, tz, -2).timestamp()),
            int(day_start(now, tz, 2).timestamp()),
        )

    def victims(
        self, timeline: Timeline, now: datetime, tz: ZoneInfo, spare: Set[int] = frozenset()
    ) -> list[int]:
        """The groups ``enforce`` would evict, oldest first, without evicting them.

        Groups in ``spare`` are kept like protected ones.
        """
        excess = len(timeline) - self.max_intervals
        if excess <= 0:
            return []
        safe = timeline.groups_in(*self.protected(now, tz))
        chosen: list[int] = []
        for group in timeline.groups:
            if excess <= 0:
                break
            if group.id in safe or group.id in spare:
                continue
            chosen.append(group.id)
            excess -= timeline.size(group.id)
        return chosen

    def enforce(
        self,
        timeline: Timeline,
        coverage: Coverage,
        now: datetime,
        tz: ZoneInfo,
        spare: Set[int] = frozenset(),
    ) -> int:
        """Evict until within the limit; evicted spans lose coverage. Returns intervals dropped."""
        dropped = 0
        for group in self.victims(timeline, now, tz, spare):
            count, lost = timeline.evict(group)
            dropped += count
            for start, end in lost:
                coverage.forget(start, end)
        return dropped

    def spare(
        self,
        timeline: Timeline,
        now: float,
        reading: Iterable[Edge] = (),
        held: Iterable[int] = (),
        *,
        recent: bool = True,
    ) -> tuple[set[int], float]:
        """Groups to keep besides the protected window, and until when at least.

        Kept: ``held`` groups (fetched for requests still to read them), groups in the
        ``reading`` ranges, and (with ``recent``) fetches younger than ``self.recent``.
        """
        spare = set(held)
        for lo, hi in union(reading):
            spare |= timeline.groups_in(lo, hi)
        until = math.inf
        for group in timeline.newest if recent else ():
            fetched = group.fetched_at.timestamp()
            if fetched + self.recent <= now:
                break
            spare.add(group.id)
            until = min(until, fetched + self.recent)
        return spare, until

    def keep(
        self,
        timeline: Timeline,
        coverage: Coverage,
        now: datetime,
        tz: ZoneInfo,
        reading: Collection[Edge] = (),
        held: Collection[int] = (),
    ) -> int:
        """The automatic policy, after a fetch or a read: evict what may go. O(1) when calm.

        When what is left over the limit is all protected or spared, nothing is looked
        at again until the window moves at midnight or the youngest spared fetch ages
        (``settle`` ends that early when new data comes).
        """
        if len(timeline) <= self.max_intervals:
            return 0
        stamp = now.timestamp()
        if stamp < self._calm:
            return 0
        spare, until = self.spare(timeline, stamp, reading, held)
        dropped = self.enforce(timeline, coverage, now, tz, spare)
        if not held and not reading and len(timeline) > self.max_intervals:
            self._calm = min(day_start(now, tz, 1).timestamp(), until)
        return dropped

    def sweep(
        self,
        timeline: Timeline,
        coverage: Coverage,
        now: datetime,
        tz: ZoneInfo,
        reading: Collection[Edge] = (),
        held: Collection[int] = (),
    ) -> int:
        """An explicit collection: like ``keep``, recent fetches included."""
        spare, _ = self.spare(timeline, now.timestamp(), reading, held, recent=False)
        return self.enforce(timeline, coverage, now, tz, spare)

    def settle(self) -> None:
        """New data came: the next ``keep`` looks again."""
        self._calm = 0.0
