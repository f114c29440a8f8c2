"""``pricepool demo``: the whole story on loopback, with no token and no network."""

from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.text import Text

from pricepool import (
    PUBLISH_AT,
    IntervalPool,
    ManualClock,
    PriceInterval,
    SqliteStore,
    TibberSource,
    system_clock,
)
from pricepool.numbers import money, over
from pricepool.simulator import DEFAULT_HOMES, Simulator

from .cheapest import cheapest_window
from .output import REPEATED_HOUR, WINDOW_MARK, chart, days_table, homes_table, hours
from .when import midnight

__all__ = ["run_demo"]

REQUESTS = 100


async def _ask(pool: IntervalPool, ranges: list[tuple[datetime, datetime]]) -> int:
    """Ask the pool for every range; the number of intervals handed out."""
    served = 0
    for start, end in ranges:
        served += len(await pool.get_intervals(start, end))
    return served


def _ranges(today: datetime, seed: int) -> list[tuple[datetime, datetime]]:
    """What a home automation asks over a day: ranges within the last week and tomorrow."""
    rng = random.Random(seed)
    first = today - timedelta(days=7)
    found = []
    for _ in range(REQUESTS):
        start = first + timedelta(minutes=15 * rng.randrange(0, 8 * 96))
        found.append((start, start + timedelta(minutes=15 * rng.randrange(1, 97))))
    return found


async def run_demo(out: Console, *, now: datetime | None = None, colour: bool) -> None:
    """Serve the simulator, fetch, show, then show what the cache saved across a restart."""
    began = time.perf_counter()
    real = now or system_clock()
    tz = ZoneInfo(DEFAULT_HOMES[0].time_zone)
    local = real.astimezone(tz)
    moved = local.time() < PUBLISH_AT
    # Before publication tomorrow's prices are not out; the demo's clock stands an hour after.
    at = (
        local.replace(hour=PUBLISH_AT.hour + 1, minute=0, second=0, microsecond=0)
        if moved
        else local
    )
    clock = ManualClock(at)
    today = midnight(at.date(), tz)
    tomorrow = midnight(at.date() + timedelta(days=1), tz)
    after = midnight(at.date() + timedelta(days=2), tz)

    with tempfile.TemporaryDirectory(prefix="pricepool-demo-") as folder:
        path = Path(folder) / "pricepool.sqlite"
        async with Simulator(clock=clock) as sim:
            out.print(
                Text.assemble(
                    ("pricepool demo", "bold"), f" · simulated Tibber API at {sim.endpoint}"
                )
            )
            out.print(f"[dim]A SQLite store in a temporary folder: {path.name}[/dim]")
            if moved:
                out.print(
                    f"[dim]Tomorrow's prices come at {PUBLISH_AT:%H:%M} {tz.key}; the demo's "
                    f"clock is set to {at:%H:%M}.[/dim]",
                    soft_wrap=True,
                )
            store = SqliteStore(path)
            async with TibberSource("demo-token", endpoint=sim.endpoint, clock=clock) as source:
                homes = await source.homes()
                out.print(homes_table(homes, "The account's homes"))
                main = homes[0]
                pool = IntervalPool(main.id, source, store=store, clock=clock)
                async with pool:
                    items = await pool.get_intervals(today, after)
                    calls = sim.requests
                    currency = (items[0].currency if items else None) or main.currency or ""
                    _show_days(
                        out, main.nickname or main.id, items, today, tomorrow, currency, at, colour
                    )
                    ranges = _ranges(today, seed=at.toordinal())
                    before = sim.requests
                    served = await _ask(pool, ranges)
                    first_run = sim.requests - before
                    stats = pool.stats
                await store.close()
            out.print()
            out.print(Text("What the cache saved", style="bold"))
            out.print(
                f"  today and tomorrow: {len(items)} intervals for {calls} API requests "
                "(homes, prices)"
            )
            out.print(
                f"  {REQUESTS} requests within the last week: {served} intervals for "
                f"{first_run} API requests"
            )
            out.print(
                f"  the pool: {stats.requests} requests, {stats.hits} answered from memory, "
                f"{stats.source_calls} fetches"
            )

            # A restart: a new store object, source and pool on the same SQLite file.
            store = SqliteStore(path)
            async with TibberSource("demo-token", endpoint=sim.endpoint, clock=clock) as source:
                before = sim.requests
                async with IntervalPool(main.id, source, store=store, clock=clock) as again:
                    served = await _ask(again, [(today, after), *ranges])
                    held = again.stats.intervals
                restart = sim.requests - before
                await store.close()
            size = path.stat().st_size
            out.print(
                f"  after a restart, the same {REQUESTS + 1} requests: {served} intervals "
                f"for [bold]{restart} API requests[/bold]"
            )
            out.print(f"    (from SQLite: {held} intervals held, {size / 1024:.0f} KiB)")
            out.print(
                f"  in all: {sim.requests} API requests for {2 * REQUESTS + 2} price requests, "
                f"{time.perf_counter() - began:.1f} s"
            )


def _show_days(
    out: Console,
    name: str,
    items: list[PriceInterval],
    today: datetime,
    tomorrow: datetime,
    currency: str,
    at: datetime,
    colour: bool,
) -> None:
    zone = ZoneInfo(str(today.tzinfo))
    first = [i for i in items if i.start < tomorrow]
    second = [i for i in items if i.start >= tomorrow]
    window = cheapest_window(items, timedelta(hours=3), lo=at)
    days = [
        (f"today {today:%a %d}", hours(first, zone)),
        (f"tomorrow {tomorrow:%a %d}", hours(second, zone)),
    ]
    out.print(
        days_table(days, currency, window, title=f"{name} · hourly averages · {currency}/kWh")
    )
    if any(hour.start.fold for _, found in days for hour in found):
        out.print(f"* {REPEATED_HOUR}")
    out.print(
        Text.from_ansi(
            chart(
                items,
                tz=zone,
                title=f"{currency}/kWh, every interval of today and tomorrow"
                + (f" · {WINDOW_MARK} the cheapest 3 hours" if window is not None else ""),
                width=min(out.width, 110) - 1,
                colour=colour,
                window=window,
            )
        )
    )
    if window is not None:
        out.print(
            Text.assemble(
                ("Cheapest 3 hours from now: ", "bold"),
                f"{window.start:%a %H:%M} – {window.end:%H:%M}, average ",
                (f"{money(over(items, window.start, window.end))} {currency}/kWh", "bold green"),
                " (◀ above)",
            )
        )
