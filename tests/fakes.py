"""An in-memory price source with a known truth, for tests of the pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pricepool import FetchResult, HomeInfo, PriceInterval, PriceLevel, Snapshot, Span
from pricepool.clock import Clock, local_midnight
from pricepool.errors import SourceError, StorageError, UnknownHomeError
from pricepool.model import Group

SWITCH = date(2025, 10, 1)  # quarter-hour prices from this day on
LEVELS = list(PriceLevel)


@lru_cache(maxsize=4096)
def day_intervals(
    home: str, day: date, tz: ZoneInfo, version: int = 0, currency: str = "EUR"
) -> tuple[PriceInterval, ...]:
    """The truth for one local day: hourly before SWITCH, quarter-hours from it."""
    step = timedelta(minutes=15 if day >= SWITCH else 60)
    start = local_midnight(day, tz).astimezone(UTC)
    end = local_midnight(day + timedelta(days=1), tz).astimezone(UTC)
    seed = sum(map(ord, home))
    out = []
    while start < end:
        stamp = int(start.timestamp())
        cents = (stamp // 900 * 2654435761 + seed * 97 + version * 31) % 4000 - 500
        total = round(cents / 10000, 4)
        out.append(
            PriceInterval(
                start.astimezone(tz),
                (start + step).astimezone(tz),
                total,
                round(total * 0.8, 4),
                round(total - round(total * 0.8, 4), 4),
                LEVELS[(stamp // 900) % 5],
                currency,
            )
        )
        start += step
    return tuple(out)


class FakeSource:
    """Answers any span with deterministic prices; day D is published at 13:00 on D-1.

    ``calls`` lists the spans asked for. ``fail`` (an exception) is raised by the next
    fetch. ``gate`` (an Event), when set to a cleared event, holds every fetch until set.
    ``version`` changes the prices (to make revisions).
    """

    def __init__(
        self,
        clock: Clock,
        homes: dict[str, str] | None = None,
        *,
        publish: time = time(13),
        delay: timedelta = timedelta(0),
    ) -> None:
        self.clock = clock
        self.homes = homes or {"home-1": "Europe/Berlin"}
        self.publish = publish
        self.delay = delay
        self.calls: list[Span] = []
        self.home_calls = 0
        self.fail: SourceError | None = None
        self.gate: asyncio.Event | None = None
        self.version = 0
        self.mangle: Callable[[FetchResult], FetchResult] | None = None

    async def home(self, home_id: str) -> HomeInfo:
        self.home_calls += 1
        if home_id not in self.homes:
            raise UnknownHomeError(f"no home {home_id!r}")
        return HomeInfo(home_id, self.homes[home_id], "EUR", "Fake")

    def published_until(self, tz: ZoneInfo) -> datetime:
        now = self.clock().astimezone(tz)
        release = datetime.combine(now.date(), self.publish, tzinfo=tz) + self.delay
        days = 2 if now >= release else 1
        return local_midnight(now.date() + timedelta(days=days), tz)

    def truth(self, home: str, start: datetime, end: datetime) -> list[PriceInterval]:
        tz = ZoneInfo(self.homes[home])
        day = start.astimezone(tz).date() - timedelta(days=1)
        out: list[PriceInterval] = []
        while local_midnight(day, tz) < end:
            out.extend(
                i for i in day_intervals(home, day, tz, self.version) if start <= i.start < end
            )
            day += timedelta(days=1)
        return out

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        self.calls.append(span)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        tz = home.tz
        until = self.published_until(tz)
        answered = None if span.start >= until else Span(span.start, min(span.end, until))
        pending = None
        tomorrow = local_midnight(self.clock().astimezone(tz).date() + timedelta(days=1), tz)
        if until == tomorrow and span.end > until and span.start < until + timedelta(days=1):
            pending = Span(max(span.start, until), min(span.end, until + timedelta(days=1)))
        intervals = (
            self.truth(home.id, answered.start, answered.end) if answered is not None else []
        )
        result = FetchResult(intervals, answered, pending)
        if self.mangle is not None:
            result = self.mangle(result)
        return result


class MemoryStore:
    """A store in memory that counts saves and can be told to fail."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.saves = 0
        self.fail: OSError | None = None
        self.saved = asyncio.Event()
        self.closed = False
        self.hold: asyncio.Event | None = None
        self.writing = asyncio.Event()
        self.evicted: list[Group] = []

    async def load(self, home_id: str) -> Snapshot | None:
        return self.snapshots.get(home_id)

    async def evict(self, home_id: str, groups: Sequence[Group]) -> int:
        self.evicted.extend(groups)
        return 0

    async def save(self, snapshot: Snapshot) -> Snapshot | None:
        self.writing.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise StorageError(f"cannot write /data/{snapshot.home.id}.json: {self.fail}")
        self.snapshots[snapshot.home.id] = snapshot
        self.saves += 1
        self.saved.set()
        return None

    async def homes(self) -> list[str]:
        return sorted(self.snapshots)

    async def close(self) -> None:
        self.closed = True
