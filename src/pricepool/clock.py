"""Time as pricepool sees it: an injected clock and home-local day edges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Clock",
    "ManualClock",
    "day_ceil",
    "day_floor",
    "day_start",
    "local_midnight",
    "system_clock",
]

Clock = Callable[[], datetime]
"""A zero-argument callable returning the aware current instant."""


def system_clock() -> datetime:
    """The real current instant, in UTC."""
    return datetime.now(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``, as an aware datetime in ``tz``.

    Where midnight does not exist (a DST jump at 00:00) this is the first instant that does.
    """
    naive = datetime.combine(day, time(0), tzinfo=tz)
    # A round trip through UTC moves a non-existent wall time onto a real instant.
    return naive.astimezone(UTC).astimezone(tz)


def day_of(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day ``instant`` falls on in ``tz``."""
    return instant.astimezone(tz).date()


def day_start(instant: datetime, tz: ZoneInfo, offset: int = 0) -> datetime:
    """Local midnight of the day holding ``instant``, moved by ``offset`` calendar days."""
    return local_midnight(day_of(instant, tz) + timedelta(days=offset), tz)


def day_floor(instant: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight at or before ``instant``, in UTC."""
    return day_start(instant, tz).astimezone(UTC)


def day_ceil(instant: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight at or after ``instant``, in UTC."""
    floor = day_floor(instant, tz)
    if floor.timestamp() == instant.timestamp():
        return floor
    return day_start(instant, tz, 1).astimezone(UTC)


class ManualClock:
    """A clock that moves only when told: for tests, simulations and benchmarks."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware datetime, got {now!r}")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (seconds or a timedelta) and return the new now."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"ManualClock only moves forward, got {step}")
        # In UTC: adding to a zoned time is wall-clock arithmetic, wrong across DST.
        self.now = (self.now.astimezone(UTC) + step).astimezone(self.now.tzinfo)
        return self.now

    def set(self, now: datetime) -> None:
        """Jump to ``now`` (aware)."""
        if now.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware datetime, got {now!r}")
        self.now = now
