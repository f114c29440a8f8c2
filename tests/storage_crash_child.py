"""Child of the crash test: a pool fetching random days and saving, until it is killed.

Run as ``python -m tests.storage_crash_child <json|sqlite> <path> <seed>``; it starts
once a line arrives on stdin. After each
completed save it prints the day it fetched, so the parent knows what must survive; it
prints ``open`` once the pool has loaded the store.
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

ZONE = "Europe/Oslo"
FIRST = date(2024, 10, 15)  # both DST nights, hourly until 2025-10-01, quarter-hours after
DAYS = 365
HOMES = 3


def home(seed: int) -> str:
    """The home a child with ``seed`` works on: a few homes keep every run writing new days."""
    return f"home-{seed % HOMES}"


NOW = datetime(2025, 12, 1, 12, tzinfo=UTC)


def store(kind: str, path: str) -> Store:
    return JsonFileStore(path) if kind == "json" else SqliteStore(path)


async def main(kind: str, path: str, seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock(NOW)
    tz = zone(ZONE)
    source = FakeSource(clock, {home(seed): ZONE})
    # save_delay near zero: background autosaves race the explicit ones, as in real use.
    async with IntervalPool(
        home(seed),
        source,
        store=store(kind, path),
        clock=clock,
        save_delay=0.002,
        max_intervals=10**7,
    ) as pool:
        print("open", flush=True)
        while True:
            day = FIRST + timedelta(days=rng.randrange(DAYS))
            await pool.get_intervals(
                local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
            )
            await pool.save()
            print(day.isoformat(), flush=True)
            # A pause like a real caller's: a run then fills a few dozen days, not all of them.
            await asyncio.sleep(rng.uniform(0, 0.006))


if __name__ == "__main__":
    # Started early and told to go on stdin: the parent overlaps our imports with its checks.
    sys.stdin.readline()
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
