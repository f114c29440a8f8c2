"""When day D's prices are expected, and the horizon (end of the last publishable day) now."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .clock import local_midnight

__all__ = ["PUBLISH_AT", "Publication"]

PUBLISH_AT = time(13)
"""Home-local time on D-1 at which day D's prices are expected: the one definition."""


class Publication:
    """Day D's prices are expected at ``at`` on D-1, home-local.

    Shared by whatever needs the calendar (pools, the command line, the service, the
    simulator). The horizon of a zone changes only at publication instants, so it is
    kept per zone until the next one: a cached request pays one dict lookup.
    """

    __slots__ = ("_cache", "at")

    def __init__(self, at: time = PUBLISH_AT) -> None:
        if at.tzinfo is not None:
            raise ValueError(f"publication time must be a home-local wall time, got {at}")
        self.at = at
        # zone -> (horizon, valid from, valid until), POSIX seconds
        self._cache: dict[ZoneInfo, tuple[int, float, float]] = {}

    def __repr__(self) -> str:
        return f"Publication(at={self.at.isoformat()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Publication) and other.at == self.at

    def __hash__(self) -> int:
        return hash(self.at)

    def expected(self, day: date, tz: ZoneInfo) -> datetime:
        """When prices of the local ``day`` are expected, in ``tz``."""
        # Through UTC, so a publication time inside a DST gap lands on a real instant.
        wall = datetime.combine(day - timedelta(days=1), self.at, tzinfo=tz)
        return wall.astimezone(UTC).astimezone(tz)

    def expected_at(self, stamp: float, tz: ZoneInfo) -> int:
        """When prices of the local day holding ``stamp`` are expected, as POSIX seconds."""
        day = datetime.fromtimestamp(stamp, tz).date()
        return int(self.expected(day, tz).timestamp())

    def horizon(self, now: datetime, tz: ZoneInfo) -> datetime:
        """End of the last day whose prices can be out at ``now``, in ``tz``."""
        return datetime.fromtimestamp(self.limit(now.timestamp(), tz), tz)

    def limit(self, stamp: float, tz: ZoneInfo) -> int:
        """``horizon`` as POSIX seconds, for an instant in POSIX seconds. O(1) when cached."""
        return self.window(stamp, tz)[0]

    def window(self, stamp: float, tz: ZoneInfo) -> tuple[int, float, float]:
        """The horizon at ``stamp`` and the instants between which it holds: ``[since, until)``.

        All POSIX seconds; a caller may keep the triple and ask again once outside it.
        """
        cached = self._cache.get(tz)
        # Clocks of pools sharing this object may differ: the entry holds its own range.
        if cached is not None and cached[1] <= stamp < cached[2]:
            return cached
        today = datetime.fromtimestamp(stamp, tz).date()
        tomorrow = today + timedelta(days=1)
        release = self.expected(tomorrow, tz).timestamp()
        if stamp < release:
            day, since, until = tomorrow, self.expected(today, tz).timestamp(), release
        else:
            day, since = tomorrow + timedelta(days=1), release
            until = self.expected(day, tz).timestamp()
        found = (int(local_midnight(day, tz).timestamp()), since, until)
        self._cache[tz] = found
        return found
