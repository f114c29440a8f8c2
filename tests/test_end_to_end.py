"""IntervalPool + TibberSource + the simulator, through HTTP on loopback."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool import IntervalPool, ManualClock, PriceInterval, SqliteStore, TibberSource
from pricepool.clock import local_midnight
from pricepool.simulator import DEFAULT_HOMES, Simulator

HOME = DEFAULT_HOMES[0]
TZ = HOME.time_zone


def nodes_as_intervals(sim: Simulator, start: datetime, end: datetime) -> list[tuple[str, float]]:
    return [(n["startsAt"], n["total"]) for n in sim.truth(HOME.id, start, end)]


def seen(got: list[PriceInterval]) -> list[tuple[str, float]]:
    return [(i.start.isoformat(timespec="milliseconds"), i.total) for i in got]


@pytest.mark.parametrize("zone", [home.time_zone for home in DEFAULT_HOMES])
async def test_thirty_days_of_polling_cost_one_price_request_per_day(zone: str) -> None:
    home = next(h for h in DEFAULT_HOMES if h.time_zone == zone)
    tz = ZoneInfo(zone)
    clock = ManualClock(local_midnight(date(2026, 10, 10), tz))  # the run crosses DST's end
    async with (
        Simulator(clock=clock) as sim,
        TibberSource("token", endpoint=sim.endpoint, clock=clock, max_requests=10_000) as source,
        IntervalPool(home.id, source, clock=clock) as pool,
    ):
        for _ in range(30 * 96):
            today = clock().astimezone(tz).date()
            window = (
                local_midnight(today - timedelta(days=2), tz),
                local_midnight(today + timedelta(days=2), tz),
            )
            got = await pool.get_intervals(*window)
            published = min(window[1], sim.published_until(home.id))
            truth = [(n["startsAt"], n["total"]) for n in sim.truth(home.id, window[0], published)]
            assert seen(got) == truth
            clock.advance(timedelta(minutes=15))
        prices = [r for r in sim.log if "homes" not in r.fields]
        homes = [r for r in sim.log if "homes" in r.fields]
    assert len(homes) == 1
    assert len(prices) <= 1 + 30
    assert pool.stats.requests == 30 * 96


async def test_restarted_pool_makes_no_request_for_what_it_knew(tmp_path: object) -> None:
    tz = ZoneInfo(TZ)
    clock = ManualClock(datetime.combine(date(2026, 11, 26), time(14), tzinfo=tz))
    path = f"{tmp_path}/prices.sqlite"
    ranges = [
        (local_midnight(date(2026, 11, 24), tz), local_midnight(date(2026, 11, 28), tz)),
        (local_midnight(date(2025, 9, 20), tz), local_midnight(date(2025, 10, 10), tz)),
    ]
    async with Simulator(clock=clock) as sim:
        async with (
            TibberSource("token", endpoint=sim.endpoint, clock=clock) as source,
            IntervalPool(HOME.id, source, clock=clock, store=SqliteStore(path)) as pool,
        ):
            first = [await pool.get_intervals(*r) for r in ranges]
        assert sim.requests > 0
        sim.reset_counters()
        async with (
            TibberSource("token", endpoint=sim.endpoint, clock=clock) as source,
            IntervalPool(HOME.id, source, clock=clock, store=SqliteStore(path)) as pool,
        ):
            again = [await pool.get_intervals(*r) for r in ranges]
        assert sim.requests == 0
    assert again == first
    assert seen(first[0]) == nodes_as_intervals(sim, *ranges[0])
    assert seen(first[1]) == nodes_as_intervals(sim, *ranges[1])
