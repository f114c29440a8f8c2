"""Concurrency: bursts on an empty pool share fetches; latency of cached bursts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pricepool import IntervalPool

from .common import (
    END,
    TODAY,
    BenchSource,
    Config,
    Row,
    at,
    clock,
    edges,
    fill,
    midnight,
    pool_for,
    span_data,
)

BURST = 1_000
CACHED = 10_000
_NOTES = {
    "p50": "perf_counter around each await, GC on; all bursts pooled",
    # Seen with the collector off too: the OS preempting the process, not the pool.
    "max": "the worst single request: on a shared machine, a preemption",
}


async def run(cfg: Config) -> list[Row]:
    rows = await _empty_burst()
    rows.append(await _shifted_windows())
    rows.extend(await _cached_burst(cfg.pick(3, 1)))
    return rows


async def _empty_burst() -> list[Row]:
    # A source that takes 5 ms per call, so every request arrives while the fetch is out.
    source = BenchSource(delay=0.005)
    pool = pool_for(source)
    a, b = at(midnight(TODAY - timedelta(days=2))), at(END)
    started = clock()
    answers = await asyncio.gather(*(pool.get_intervals(a, b) for _ in range(BURST)))
    wall = clock() - started
    sizes = {len(answer) for answer in answers}
    if len(sizes) != 1:
        raise RuntimeError(f"identical concurrent requests got different answers: {sizes}")
    return [
        Row(
            "concurrency.fetches",
            f"{BURST:,} concurrent identical requests, empty pool: source fetches",
            source.calls,
            "calls",
            "= 1",
            "ok" if source.calls == 1 else "over",
            note=f"home lookups {source.home_calls}; all got {sizes.pop()} intervals; "
            f"burst {wall * 1e3:.0f} ms with a 5 ms source",
        )
    ]


async def _shifted_windows() -> Row:
    # 200 windows of 65 days, each a day later than the one before, all at once.
    source = BenchSource(delay=0.005)
    pool = pool_for(source)
    first = TODAY - timedelta(days=300)
    windows = [
        (at(midnight(first + timedelta(days=n))), at(midnight(first + timedelta(days=n + 65))))
        for n in range(200)
    ]
    answers = await asyncio.gather(*(pool.get_intervals(*w) for w in windows))
    if any(len(a) < 64 * 96 for a in answers):
        raise RuntimeError("a shifted window came back short")
    return Row(
        "concurrency.shifted",
        "200 concurrent 65-day windows, each a day later, empty pool: source fetches",
        source.calls,
        "calls",
        "≤ 5",
        "ok" if source.calls <= 5 else "over",
        note="requests of one event-loop turn are planned together (was one call each)",
    )


async def _cached_burst(bursts: int) -> list[Row]:
    first_day = TODAY - timedelta(days=364)
    days = edges(first_day, 365)
    pool = pool_for(BenchSource(span_data(days[0], days[-1])))
    await fill(pool, days)
    a, b = at(midnight(TODAY - timedelta(days=1))), at(midnight(TODAY))
    calls = pool.stats.source_calls
    latencies: list[float] = []
    walls: list[float] = []
    for _ in range(bursts):
        started = clock()
        latencies.extend(await asyncio.gather(*(_timed(pool, a, b) for _ in range(CACHED))))
        walls.append(clock() - started)
    if pool.stats.source_calls != calls:
        raise RuntimeError("a cached request reached the source; the figures would be wrong")
    latencies.sort()
    wall = min(walls)
    rows = [
        Row(
            f"concurrency.{name}",
            f"{CACHED:,} concurrent cached one-day requests: {name} latency",
            _quantile(latencies, q) * 1e6,
            "µs",
            note=_NOTES.get(name, ""),
        )
        for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0))
    ]
    rows.append(
        Row(
            "concurrency.throughput",
            f"{CACHED:,} concurrent cached requests: whole burst",
            wall * 1e3,
            "ms",
            note=f"{CACHED / wall:,.0f} requests/s through asyncio.gather (task creation included)",
        )
    )
    return rows


async def _timed(pool: IntervalPool, a: object, b: object) -> float:
    started = clock()
    await pool.get_intervals(a, b)  # type: ignore[arg-type]
    return clock() - started


def _quantile(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile of sorted ``ordered``."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
