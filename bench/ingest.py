"""Ingest: new days into a year, re-fetches, retention of a year, the memory of a fetched year."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from pricepool import FetchResult, IntervalPool, ManualClock, PriceInterval, Span
from pricepool.clock import local_midnight
from pricepool.retention import Retention
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

from .common import (
    END,
    HOME,
    NOW,
    TODAY,
    TZ,
    BenchSource,
    Config,
    Row,
    at,
    clock,
    edges,
    fill,
    judge,
    midnight,
    pool_for,
    span_data,
)

YEAR = 35_040
BUDGET = 256


async def run(cfg: Config) -> list[Row]:
    # Blocks of four days (384 quarter-hours) end at END; 15 stay clear of the March DST day.
    blocks = cfg.pick(15, 5)
    first_day = TODAY + timedelta(days=1 - 365 - 4 * blocks)
    data = span_data(midnight(first_day), END)
    year = edges(first_day, 365)
    marks = edges(first_day + timedelta(days=365), 4 * blocks, 4)
    rows: list[Row] = []

    # New days through the public path: planning, single-flight task, _apply, retention check.
    source = BenchSource(data)
    pool = await _year_pool(source, year)
    calls = source.calls

    async def fetch_block(lo: int, hi: int) -> int:
        return len(await pool.get_intervals(at(lo), at(hi)))

    least, size = await _each(fetch_block, list(pairwise(marks)))
    if source.calls - calls != blocks:
        raise RuntimeError("each new block should have cost exactly one fetch")
    rows.append(
        Row(
            "ingest.new.get_intervals",
            f"merge {size} new intervals into a year via get_intervals",
            least * 1e6,
            "µs/op",
            note="4 new days, source answers at once; includes planning and the fetch task",
        )
    )

    # The same merges straight through IntervalPool._apply: validation, sort, merge, coverage.
    pool = await _year_pool(BenchSource(data), year)
    answers = [(_answer(data, lo, hi), lo, hi) for lo, hi in pairwise(marks)]
    least = _each_sync(lambda a: _apply(pool, a), answers)
    rows.append(
        Row(
            "ingest.new.apply",
            f"merge {size} new intervals into a year via _apply",
            least * 1e6,
            "µs/op",
            note="IntervalPool._apply with a prebuilt FetchResult (the pool's ingest path)",
        )
    )

    # Re-fetches of the newest four days: equal values (touches), then changed ones.
    lo, hi = marks[-2], marks[-1]
    same = [(FetchResult(span_data(lo, hi), _span(lo, hi)), lo, hi) for _ in range(blocks)]
    revisions = pool.stats.revisions
    least = _each_sync(lambda a: _apply(pool, a), same)
    if pool.stats.revisions != revisions:
        raise RuntimeError("a re-fetch of equal values counted revisions")
    rows.append(
        Row(
            "ingest.touch",
            f"re-fetch of the same {size}, all values equal (touches)",
            least * 1e6,
            "µs/op",
            note="_apply; fresh objects with equal values replace the held ones",
        )
    )
    # Versions alternate so that every answer changes every value.
    changed = [
        (FetchResult(span_data(lo, hi, 1 + n % 2), _span(lo, hi)), lo, hi) for n in range(blocks)
    ]
    least = _each_sync(lambda a: _apply(pool, a), changed)
    if pool.stats.revisions - revisions != blocks * size:
        raise RuntimeError("a re-fetch of changed values did not count every revision")
    rows.append(
        Row(
            "ingest.revise",
            f"re-fetch of the same {size}, all values changed (revisions)",
            least * 1e6,
            "µs/op",
            note="_apply",
        )
    )

    rows.extend(await _retention(cfg))
    rows.append(await _fetched_year())
    return rows


async def _fetched_year() -> Row:
    """Bytes per interval of a year asked of the Tibber source in one call, as it returns.

    tracemalloc around the one ``get_intervals``, with the returned list still held; the
    simulator (in this process) has served the year once before, so its caches are not
    counted, and each pool has a source of its own (the source's limiter counts pages).
    """
    oslo = ZoneInfo("Europe/Oslo")
    clock = ManualClock(datetime(2026, 11, 26, 9, tzinfo=oslo))
    home = DEFAULT_HOMES[0]
    lo, hi = local_midnight(date(2025, 11, 26), oslo), local_midnight(date(2026, 11, 26), oslo)
    async with Simulator(clock=clock, rate_limit=10_000) as sim:
        for measured in (False, True):
            async with TibberSource("sim-token", endpoint=sim.endpoint, clock=clock) as source:
                pool = IntervalPool(home.id, source, clock=clock, max_intervals=10**8)
                await pool.resolve_home()
                gc.collect()
                if measured:
                    tracemalloc.start()
                try:
                    before = tracemalloc.get_traced_memory()[0]
                    values = await pool.get_intervals(lo, hi)
                    gc.collect()
                    after = tracemalloc.get_traced_memory()[0]
                finally:
                    tracemalloc.stop()
                calls = pool.stats.source_calls
                await pool.close()
    per = (after - before) / len(values)
    return Row(
        "memory.fetched_year",
        f"memory per interval, a year ({len(values):,}) fetched and returned once",
        per,
        "bytes",
        f"≤ {BUDGET}",
        judge(per, BUDGET),
        note=f"TibberSource + simulator, {calls} source call; tracemalloc around "
        "get_intervals, returned list included",
    )


async def _retention(cfg: Config) -> list[Row]:
    """Evict a year from a pool holding two, kept by daily fetches (one group a day)."""
    first_day = TODAY + timedelta(days=1 - 730)
    data = span_data(midnight(first_day), END)
    days = edges(first_day, 730)
    least = float("inf")
    dropped = groups = 0
    for _ in range(cfg.pick(3, 1)):
        pool = await _year_pool(BenchSource(data), days)
        before = pool.stats.fetch_groups
        # The pool enforces its limit after every fetch; here the limit drops below what it
        # holds, as when a pool opens a store written with a larger limit.
        rule = Retention(YEAR)
        timeline, coverage = pool._timeline, pool._coverage
        gc.disable()
        try:
            started = clock()
            dropped = rule.enforce(timeline, coverage, NOW, TZ)
            least = min(least, clock() - started)
        finally:
            gc.enable()
        groups = before - timeline.group_count
    return [
        Row(
            "ingest.retention",
            f"retention: evict a year ({dropped:,} intervals, {groups} groups) from two",
            least * 1e3,
            "ms",
            note=f"Retention.enforce on the pool's timeline; {least * 1e6 / groups:.0f} µs/group",
        )
    ]


async def _year_pool(source: BenchSource, days: Sequence[int]) -> IntervalPool:
    pool = pool_for(source)
    await fill(pool, days)
    return pool


def _span(lo: int, hi: int) -> Span:
    return Span(at(lo), at(hi))


def _answer(data: Sequence[PriceInterval], lo: int, hi: int) -> FetchResult:
    return FetchResult([i for i in data if lo <= i.start.timestamp() < hi], _span(lo, hi))


Answer = tuple[FetchResult, int, int]


def _apply(pool: IntervalPool, answer: Answer) -> None:
    result, lo, hi = answer
    pool._apply(result, lo, hi, HOME)


async def _each(
    op: Callable[[int, int], Awaitable[int]], spans: list[tuple[int, int]]
) -> tuple[float, int]:
    """The least seconds one awaited ``op`` took over ``spans``, and the size it returned."""
    least = float("inf")
    size = 0
    gc.disable()
    try:
        for lo, hi in spans:
            started = clock()
            size = await op(lo, hi)
            least = min(least, clock() - started)
    finally:
        gc.enable()
    return least, size


def _each_sync(op: Callable[[Answer], None], answers: list[Answer]) -> float:
    """The least seconds ``op`` took over ``answers``, each used once."""
    least = float("inf")
    gc.disable()
    try:
        for answer in answers:
            started = clock()
            op(answer)
            least = min(least, clock() - started)
    finally:
        gc.enable()
    return least
