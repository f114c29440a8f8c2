"""Small builders shared by the unit tests of the parts (model, timeline, retention …)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pricepool.clock import local_midnight
from pricepool.model import PriceInterval
from pricepool.timeline import Merge, Timeline

BERLIN = ZoneInfo("Europe/Berlin")
OSLO = ZoneInfo("Europe/Oslo")
STOCKHOLM = ZoneInfo("Europe/Stockholm")

HOUR = 3600
QUARTER = 900

# A plain winter Monday, far from any DST change; timeline tests count hours from it.
T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
FETCHED = datetime(2026, 1, 10, 12, tzinfo=UTC)


def interval(
    start: datetime,
    minutes: int = 15,
    total: float = 0.25,
    **extra: object,
) -> PriceInterval:
    """An interval of ``minutes`` from ``start``; the end is computed on the UTC line."""
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)
    return PriceInterval(start, end, total, **extra)  # type: ignore[arg-type]


def at_seconds(
    stamp: int, length: int = HOUR, total: float = 0.25, tz: ZoneInfo | None = None
) -> PriceInterval:
    """An interval starting at POSIX second ``stamp``, ``length`` seconds long."""
    start = datetime.fromtimestamp(stamp, UTC)
    if tz is not None:
        start = start.astimezone(tz)
    return interval(start, length // 60, total)


def hours(*offsets: int, total: float = 0.25, length: int = HOUR) -> list[PriceInterval]:
    """Intervals at ``T0 + offset`` hours."""
    return [at_seconds(T0 + o * HOUR, length, total) for o in offsets]


def key_of(item: PriceInterval) -> int:
    return int(item.start.timestamp())


def keys(items: Iterable[PriceInterval]) -> list[int]:
    return [key_of(i) for i in items]


def merge(
    timeline: Timeline,
    start: int,
    end: int,
    items: Sequence[PriceInterval],
    fetched_at: datetime = FETCHED,
) -> Merge:
    """Merge ``items`` as the answer for ``[start, end)`` (POSIX seconds)."""
    return timeline.merge(start, end, list(items), keys(items), fetched_at)


def day_hours(day: date, tz: ZoneInfo, total: float = 0.25) -> list[PriceInterval]:
    """Every hourly interval of the local ``day`` in ``tz`` (23, 24 or 25 of them)."""
    start = int(local_midnight(day, tz).timestamp())
    end = int(local_midnight(day + timedelta(days=1), tz).timestamp())
    return [at_seconds(s, HOUR, total, tz) for s in range(start, end, HOUR)]


def day_span(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """The local ``day`` in ``tz`` as POSIX seconds ``[start, end)``."""
    return (
        int(local_midnight(day, tz).timestamp()),
        int(local_midnight(day + timedelta(days=1), tz).timestamp()),
    )
