"""One of several processes sharing a store: fetch random ranges, save, log what was saved.

Run as ``python -m tests.shared_worker KIND PATH SEED SECONDS LOG [ENDPOINT]``. KIND is
``sqlite`` or ``json``. Without ENDPOINT the source is ``FakeSource`` (its truth is
``fakes.day_intervals``) on a clock standing at ``NOW`` plus the real time elapsed; with
one, ``TibberSource`` on that simulator and the system clock. Each range (1 to 30 days
within the year before ``NOW``, or before today with ENDPOINT) is appended to LOG as
``<start ISO> <end ISO>`` only after ``pool.save()`` returned. Any error ends the process
with a traceback on stderr and exit status 1; after SECONDS it closes the pool and exits 0.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import TextIO

from pricepool import IntervalPool, JsonFileStore, ManualClock, SqliteStore, Store, TibberSource
from pricepool.clock import local_midnight, system_clock
from pricepool.simulator import DEFAULT_HOMES
from pricepool.sources.base import PriceSource

from .fakes import FakeSource

HOME = "home-1"
"""The FakeSource home; with a simulator, its first home."""
ZONE = "Europe/Oslo"
NOW = datetime(2025, 12, 1, 12, tzinfo=UTC)
LONGEST = 30
SMALL = 4000
"""Intervals a worker keeps in memory (a year holds about 13,000): it lets go of ranges and
fetches them again, so every worker keeps writing to the store for the whole run."""


def store(kind: str, path: str) -> Store:
    return JsonFileStore(path) if kind == "json" else SqliteStore(path)


def first_day(today: date) -> date:
    return today - timedelta(days=365)


async def main(kind: str, path: str, seed: int, seconds: float, out: TextIO, endpoint: str) -> None:
    rng = random.Random(seed)
    began = time.monotonic()
    source: PriceSource
    if endpoint:
        clock = system_clock
        home = DEFAULT_HOMES[0].id
        source = TibberSource(
            "shared-token", endpoint=endpoint, retry_budget=30, max_requests=100_000
        )
    else:
        manual = ManualClock(NOW)
        clock = manual
        source = FakeSource(manual, {HOME: ZONE})
        home = HOME
    async with IntervalPool(
        home,
        source,
        store=store(kind, path),
        clock=clock,
        save_delay=0.01,
        max_intervals=SMALL,
        recheck=timedelta(seconds=1),
    ) as pool:
        info = await pool.resolve_home()
        tz = info.tz
        today = clock().astimezone(tz).date()
        while time.monotonic() - began < seconds:
            if not endpoint:
                manual.set(NOW + timedelta(seconds=time.monotonic() - began))
            days = rng.randint(1, LONGEST)
            start = first_day(today) + timedelta(days=rng.randrange(365 - days))
            a = local_midnight(start, tz)
            b = local_midnight(start + timedelta(days=days), tz)
            await pool.get_intervals(a, b)
            await pool.save()
            out.write(f"{a.isoformat()} {b.isoformat()}\n")
            out.flush()
    if isinstance(source, TibberSource):
        await source.close()


if __name__ == "__main__":
    kind, path, seed, seconds, log, *rest = sys.argv[1:]
    with open(log, "a", encoding="utf-8") as out:
        asyncio.run(main(kind, path, int(seed), float(seconds), out, rest[0] if rest else ""))
