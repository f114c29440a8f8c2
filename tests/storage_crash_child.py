"""Child of the crash test: a pool fetching random days and saving, until it is killed.

Run as ``python -m tests.storage_crash_child <json|sqlite> <path> <seed>``. After each
completed save it prints the day it fetched, so the parent knows what must survive.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, date, datetime, timedelta

from pricepool import IntervalPool, JsonFileStore, ManualClock, SqliteStore, Store
from pricepool.clock import local_midnight
from pricepool.model import zone

from .fakes import FakeSource

HOME = "home-1"
ZONE = "Europe/Oslo"
FIRST = date(2024, 9, 1)  # hourly history until 2025-10-01, quarter-hours after
DAYS = 450
NOW = datetime(2025, 12, 1, 12, tzinfo=UTC)


def store(kind: str, path: str) -> Store:
    return JsonFileStore(path) if kind == "json" else SqliteStore(path)


async def main(kind: str, path: str, seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock(NOW)
    tz = zone(ZONE)
    source = FakeSource(clock, {HOME: ZONE})
    # save_delay near zero: background autosaves race the explicit ones, as in real use.
    async with IntervalPool(
        HOME, source, store=store(kind, path), clock=clock, save_delay=0.002, max_intervals=10**7
    ) as pool:
        while True:
            day = FIRST + timedelta(days=rng.randrange(DAYS))
            await pool.get_intervals(
                local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
            )
            await pool.save()
            print(day.isoformat(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
