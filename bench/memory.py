"""Memory per held interval with a year held, by tracemalloc."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from datetime import timedelta

from pricepool import PriceInterval

from .common import (
    TODAY,
    BenchSource,
    Config,
    Row,
    at,
    edges,
    fill,
    judge,
    pool_for,
)

BUDGET = 256


async def run(cfg: Config) -> list[Row]:
    # One size in both modes: a year is the budget's case and takes about a second.
    first_day = TODAY - timedelta(days=364)
    days = edges(first_day, 365)
    # A source that builds every answer afresh and keeps nothing: whatever is still
    # allocated after the fill belongs to the pool.
    pool = pool_for(BenchSource())
    # The home is asked first (a range past the horizon costs no fetch), so only the
    # intervals and their bookkeeping fall between the two readings.
    await pool.get_intervals(at(days[-1] + 86_400), at(days[-1] + 2 * 86_400))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await fill(pool, days)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    held = pool.stats.intervals
    groups = pool.stats.fetch_groups
    per = (after - before) / held
    values = await pool.get_intervals(at(days[0]), at(days[-1]))
    rows = [
        Row(
            "memory.per_interval",
            f"memory per held interval, a year held ({held:,} in {groups} daily fetches)",
            per,
            "bytes",
            f"≤ {BUDGET}",
            judge(per, BUDGET),
            note="tracemalloc growth over the fill ÷ intervals; source keeps nothing",
        ),
        Row(
            "memory.objects",
            "of which the interval objects (PriceInterval, start, floats)",
            _objects(values) / len(values),
            "bytes",
            note="sys.getsizeof of each interval and what only it refers to",
        ),
    ]
    return rows


def _objects(values: list[PriceInterval]) -> int:
    """Bytes of the intervals and the objects each holds alone (start and floats)."""
    seen: set[int] = set()
    total = 0
    for item in values:
        for part in (item, item.start, item.total, item.energy, item.tax):
            if id(part) not in seen:
                seen.add(id(part))
                total += sys.getsizeof(part)
    return total
