"""Cached lookups: one day from pools of 1k to 1M intervals, a year, and the yardstick."""

from __future__ import annotations

from datetime import timedelta

from pricepool import IntervalPool

from .common import (
    END,
    QUARTER,
    TODAY,
    BenchSource,
    Config,
    Row,
    Run,
    at,
    clock,
    fill,
    interleaved,
    judge,
    midnight,
    pool_for,
    quarters,
)

# get_intervals refuses ranges over five years; four keeps each fill call well inside.
_CHUNK = 4 * 365 * 86_400
GROWTH = 1.5


async def run(cfg: Config) -> list[Row]:
    sizes = cfg.pick((1_000, 10_000, 100_000, 1_000_000), (1_000, 10_000, 100_000))
    # Many short runs spread over the whole section: on a shared machine every figure gets
    # its share of runs that fall between preemptions.
    repeat = cfg.pick(150, 40)
    target = 0.002
    setup: list[Row] = []

    biggest = max(sizes)
    started = clock()
    data = quarters(END - biggest * QUARTER, biggest)
    setup.append(
        Row(
            "lookup.build",
            f"build {biggest:,} PriceIntervals (setup, not pool work)",
            clock() - started,
            "s",
            note="PriceInterval() with validation, as a source parses them",
        )
    )

    pools: list[IntervalPool] = []
    for size in sizes:
        held = data if size == biggest else data[-size:]
        pool = pool_for(BenchSource(held))
        started = clock()
        await fill(pool, [*range(END - size * QUARTER, END, _CHUNK), END])
        filled = clock() - started
        if pool.stats.intervals != size:
            raise RuntimeError(f"pool holds {pool.stats.intervals}, expected {size}")
        pools.append(pool)
    setup.append(
        Row(
            "lookup.fill",
            f"fill a pool with {biggest:,} intervals ({pools[-1].stats.source_calls} fetches)",
            filled,
            "s",
            note="get_intervals over 4-year chunks; source answers from memory",
        )
    )

    day = (midnight(TODAY - timedelta(days=1)), midnight(TODAY))
    calls = [pool.stats.source_calls for pool in pools]
    runs = [_lookup(pool, day) for pool in pools]
    *figures, yard = await interleaved([*runs, _yardstick], repeat=repeat, target=target)
    if [pool.stats.source_calls for pool in pools] != calls:
        raise RuntimeError("a cached lookup reached the source; the figures would be wrong")

    rows = [
        Row(
            "lookup.yardstick",
            "yardstick: [dict(r) for r in rows], 96 dicts of 5 keys",
            yard * 1e6,
            "µs/op",
            note="timed in turn with the lookups below",
        )
    ]
    for size, per in zip(sizes, figures, strict=True):
        rows.append(
            Row(
                f"lookup.day.{size}",
                f"cached one-day lookup (96) + .total, pool of {size:,}",
                per * 1e6,
                "µs/op",
                f"≤ {yard * 1e6:.2f}",
                judge(per, yard),
            )
        )
    growth = figures[-1] / figures[0]
    rows.append(
        Row(
            "lookup.growth",
            f"one-day lookup, pool of {biggest:,} vs {min(sizes):,}",
            growth,
            "×",
            f"≤ {GROWTH} (flat)",
            judge(growth, GROWTH),
        )
    )

    year = (midnight(TODAY - timedelta(days=365)), midnight(TODAY))
    largest = pools[-1]
    count = len(await largest.get_intervals(at(year[0]), at(year[1])))
    (per,) = await interleaved([_lookup(largest, year)], repeat=cfg.pick(20, 5), target=0.01)
    rows.append(
        Row(
            "lookup.year",
            f"cached year lookup ({count:,}) + .total, pool of {biggest:,}",
            per * 1e6,
            "µs/op",
            note=f"{per * 1e9 / count:.1f} ns per interval",
        )
    )
    return rows + setup


def _lookup(pool: IntervalPool, span: tuple[int, int]) -> Run:
    """A timed loop of ``get_intervals(span)`` that reads every returned ``.total``."""
    a, b = at(span[0]), at(span[1])

    async def loop(number: int) -> float:
        total = 0.0
        started = clock()
        for _ in range(number):
            for item in await pool.get_intervals(a, b):
                total += item.total
        elapsed = clock() - started
        # Keeps the reads observable; a sum of prices is never exactly -1.
        return elapsed if total != -1.0 else 0.0

    return loop


def _rows() -> list[dict[str, object]]:
    """96 small dicts shaped like price nodes: what the yardstick copies."""
    return [
        {
            "startsAt": f"2026-05-31T{h // 4:02d}:{h % 4 * 15:02d}:00.000+02:00",
            "total": 0.2 + h / 1000,
            "energy": 0.16 + h / 1000,
            "tax": 0.04,
            "level": "NORMAL",
        }
        for h in range(96)
    ]


_ROWS = _rows()


async def _yardstick(number: int) -> float:
    rows = _ROWS
    started = clock()
    for _ in range(number):
        _ = [dict(r) for r in rows]
    return clock() - started
