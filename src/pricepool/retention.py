"""How much a pool keeps: the protected window and eviction of the oldest fetches."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .clock import day_start
from .coverage import Coverage
from .timeline import Timeline

__all__ = ["Retention"]


@dataclass(frozen=True, slots=True)
class Retention:
    """Keep at most ``max_intervals``, evicting whole fetch groups, oldest fetch first.

    A group holding any interval in the protected window (day before yesterday 00:00 to
    day after tomorrow 00:00, home-local) is never evicted, so a pool may stay above the
    limit when everything it holds is recent.
    """

    max_intervals: int = 35_040

    def __post_init__(self) -> None:
        if self.max_intervals < 1:
            raise ValueError(f"max_intervals must be at least 1, got {self.max_intervals}")

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
