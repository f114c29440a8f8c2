"""API economy: HTTP requests three consumers cost over 30 simulated days, beside a bound,
and what a year of history costs to back-fill (quarter-hourly and hourly).

Each consumer gets its own simulator, TibberSource and pool, and polls every 15 minutes
of a ManualClock that jumps from poll to poll (no real waiting).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pricepool import IntervalPool, ManualClock, PricePoolError
from pricepool.clock import day_start, local_midnight
from pricepool.model import zone

from .common import Config, Row

STEP = timedelta(minutes=15)
PUBLISH_HOUR = 13
MONTHS = 12
# Starts at local midnight and crosses the spring DST change (2026-03-29) on purpose.
FIRST_DAY = date(2026, 3, 16)
QUARTERS_FROM = date(2025, 10, 1)
# The schema's page caps (issue 10); pricepool asked pages of 500 quarter-hours before.
CAP = {"QUARTER_HOURLY": 672, "HOURLY": 744}
OLD_PAGE = 500
# A year of each resolution, both wholly history at NOW_BACKFILL.
YEARS = {
    "quarter-hourly": (date(2025, 10, 1), date(2026, 10, 1)),
    "hourly": (date(2024, 10, 1), date(2025, 10, 1)),
}
NOW_BACKFILL = date(2026, 11, 2)


Poll = Callable[[IntervalPool, datetime], Awaitable[None]]


async def run(cfg: Config) -> list[Row]:
    try:
        sim_mod = importlib.import_module("pricepool.simulator")
        tibber = importlib.import_module("pricepool.sources.tibber")
    except ImportError as err:
        return [Row("economy", f"API economy: not available ({err.name})", None, "", verdict="n/a")]
    days = cfg.pick(30, 30)
    homes = sim_mod.DEFAULT_HOMES
    home = next((h for h in homes if h.time_zone == "Europe/Berlin"), homes[0])
    tz = zone(home.time_zone)
    start = local_midnight(FIRST_DAY, tz)
    ticks = days * 24 * 4
    last = start + STEP * (ticks - 1)

    reader = _History(tz, FIRST_DAY)
    # (id, label, poll, reads tomorrow once published)
    consumers: list[tuple[str, str, Poll, bool]] = [
        (
            "coordinator",
            "coordinator: [day before yesterday, tomorrow) after 13:00",
            _coordinator,
            True,
        ),
        ("naive", "naive: always through the end of tomorrow", _naive, True),
        ("history", "history reader: a year back a month per poll, plus today", reader.poll, False),
    ]
    rows: list[Row] = []
    for key, label, poll, tomorrow in consumers:
        done = await _simulate(sim_mod, tibber, home, start, ticks, poll)
        days_new = _new_days(start, last, tz, tomorrow)
        bound = 1 + days_new
        how = f"1 first + {days_new} publications read"
        if key == "history":
            pages = reader.pages()
            bound += pages
            how += f" + {pages} history pages (⌈nodes/page cap⌉ per month)"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(done.kinds.items()))
        failed = f"; {done.failures} failed polls" if done.failures else ""
        rows.append(
            Row(
                f"economy.{key}",
                f"{label} ({days} days, {ticks:,} polls)",
                done.requests,
                "requests",
                f"bound {bound}",
                "ok" if done.requests <= bound else f"+{done.requests - bound}",
                note=f"bound = {how}; made: {kinds}{failed}",
            )
        )
    rows += await _backfills(sim_mod, tibber, home, tz)
    return rows


async def _backfills(sim_mod: Any, tibber: Any, home: Any, tz: Any) -> list[Row]:
    """Requests one ``get_intervals`` over a year of history costs, beside the least."""
    rows = []
    for name, (first, end) in YEARS.items():
        lo, hi = local_midnight(first, tz), local_midnight(end, tz)
        clock = ManualClock(local_midnight(NOW_BACKFILL, tz))
        async with sim_mod.Simulator(clock=clock) as sim:
            source = tibber.TibberSource(
                "bench-token", endpoint=sim.endpoint, clock=clock, max_requests=1_000_000
            )
            pool = IntervalPool(home.id, source, clock=clock)
            try:
                await pool.get_intervals(lo, hi)
            finally:
                await pool.close()
                await source.close()
            made = sum(1 for r in sim.log if _kind(r.fields) == "history")
        nodes = _slots(lo, hi, tz)
        kind = "QUARTER_HOURLY" if first >= QUARTERS_FROM else "HOURLY"
        least = math.ceil(nodes / CAP[kind])
        before = math.ceil(nodes / OLD_PAGE)
        rows.append(
            Row(
                f"economy.backfill.{name.split('-')[0]}",
                f"back-fill a year of {name} history ({nodes:,} nodes)",
                made,
                "requests",
                f"least {least}",
                "ok" if made <= least else f"+{made - least}",
                note=f"before issue 10: {before} (pages of {OLD_PAGE}, always QUARTER_HOURLY); "
                f"now pages of {CAP[kind]} ({kind})",
            )
        )
    return rows


@dataclass
class _Done:
    requests: int
    kinds: dict[str, int]
    failures: int


async def _simulate(
    sim_mod: Any, tibber: Any, home: Any, start: datetime, ticks: int, poll: Poll
) -> _Done:
    clock = ManualClock(start)
    failures = 0
    async with sim_mod.Simulator(clock=clock, publish_hour=PUBLISH_HOUR) as sim:
        # The client-side limit runs on real monotonic time, which barely moves here: a
        # month of polls takes seconds. Lifted so that it cannot shape the count.
        source = tibber.TibberSource(
            "bench-token", endpoint=sim.endpoint, clock=clock, max_requests=1_000_000
        )
        pool = IntervalPool(home.id, source, clock=clock)
        try:
            for tick in range(ticks):
                clock.set(start + STEP * tick)
                try:
                    await poll(pool, clock())
                except PricePoolError:
                    failures += 1
        finally:
            await pool.close()
            await source.close()
        kinds: dict[str, int] = {}
        for request in sim.log:
            kind = _kind(request.fields)
            kinds[kind] = kinds.get(kind, 0) + 1
        return _Done(sim.requests, kinds, failures)


def _kind(fields: frozenset[str]) -> str:
    # The home list also selects priceInfo (for the currency); recent asks both price fields.
    if "homes" in fields:
        return "homes"
    if "priceInfo" in fields:
        return "recent"
    if "priceInfoRange" in fields:
        return "history"
    return "other"


def _new_days(start: datetime, last: datetime, tz: Any, tomorrow: bool) -> int:
    """Days a consumer needs that were not published at its first poll.

    Each becomes needed at a different poll (its publication, or its midnight for a
    consumer that never reads tomorrow), so no request can serve two of them.
    """
    first = start.astimezone(tz)
    known = first.date() + timedelta(days=_tomorrow_known(start, tz) - 1)
    final = last.astimezone(tz)
    needed = final.date() + timedelta(days=_tomorrow_known(last, tz) - 1 if tomorrow else 0)
    return max(0, (needed - known).days)


def _tomorrow_known(now: datetime, tz: Any) -> int:
    return 2 if now.astimezone(tz).hour >= PUBLISH_HOUR else 1


async def _coordinator(pool: IntervalPool, now: datetime) -> None:
    tz = pool.home.tz if pool.home else zone("Europe/Berlin")
    await pool.get_intervals(day_start(now, tz, -2), day_start(now, tz, _tomorrow_known(now, tz)))


async def _naive(pool: IntervalPool, now: datetime) -> None:
    tz = pool.home.tz if pool.home else zone("Europe/Berlin")
    await pool.get_intervals(day_start(now, tz, -2), day_start(now, tz, 2))


class _History:
    """Polls today and, on each of its first twelve polls, reads one older month."""

    def __init__(self, tz: Any, first: date) -> None:
        self.tz = tz
        self.months: list[tuple[datetime, datetime]] = []
        top = date(first.year, first.month, 1)
        for _ in range(MONTHS):
            bottom = (top - timedelta(days=1)).replace(day=1)
            self.months.append((local_midnight(bottom, tz), local_midnight(top, tz)))
            top = bottom
        self.read = 0

    async def poll(self, pool: IntervalPool, now: datetime) -> None:
        await pool.get_intervals(day_start(now, self.tz), day_start(now, self.tz, 1))
        if self.read < len(self.months):
            lo, hi = self.months[self.read]
            self.read += 1
            await pool.get_intervals(lo, hi)

    def pages(self) -> int:
        """Least history requests for the months: each month's slots over its page cap."""
        return sum(
            math.ceil(_slots(lo, hi, self.tz) / CAP[_kind_of(lo, self.tz)])
            for lo, hi in self.months
        )


def _kind_of(instant: datetime, tz: Any) -> str:
    return "QUARTER_HOURLY" if instant.astimezone(tz).date() >= QUARTERS_FROM else "HOURLY"


def _slots(lo: datetime, hi: datetime, tz: Any) -> int:
    """Price nodes in ``[lo, hi)``: hourly before 2025-10-01 (home-local), then quarters."""
    count = 0
    day = lo.astimezone(tz).date()
    while (head := local_midnight(day, tz)) < hi:
        tail = local_midnight(day + timedelta(days=1), tz)
        # Timestamps, not wall clocks: DST days have 23 or 25 hours.
        length = int(tail.timestamp() - head.timestamp())
        count += length // (900 if day >= QUARTERS_FROM else 3600)
        day += timedelta(days=1)
    return count
