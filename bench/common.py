"""What every section shares: result rows, timing, a fast in-memory source, test data."""

from __future__ import annotations

import asyncio
import gc
import time
from array import array
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import TypeVar
from zoneinfo import ZoneInfo

from pricepool import (
    FetchResult,
    HomeInfo,
    IntervalPool,
    ManualClock,
    PriceInterval,
    PriceLevel,
    Span,
)
from pricepool.clock import local_midnight

__all__ = [
    "END",
    "HOME",
    "NOW",
    "QUARTER",
    "TODAY",
    "TZ",
    "BenchSource",
    "Config",
    "Row",
    "Run",
    "at",
    "clock",
    "edges",
    "fill",
    "interleaved",
    "judge",
    "midnight",
    "pool_for",
    "quarters",
    "span_data",
]

HOME = HomeInfo("bench-home", "Europe/Berlin", "EUR", "Bench")
TZ: ZoneInfo = HOME.tz
QUARTER = 900
# A fixed "now" before the day's publication: the pool may ask through the end of today.
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=TZ)
END = int(local_midnight(NOW.date() + timedelta(days=1), TZ).timestamp())
"""End of the last publishable day at NOW (POSIX seconds): every data set ends here."""

TODAY = NOW.date()
_LEVELS = list(PriceLevel)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Config:
    quick: bool

    def pick(self, full: T, quick: T) -> T:
        return quick if self.quick else full


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of the report. ``verdict`` is empty for figures without a budget."""

    id: str
    measure: str
    figure: float | None
    unit: str
    budget: str = ""
    verdict: str = ""
    note: str = ""


def judge(figure: float, limit: float) -> str:
    return "ok" if figure <= limit else "over"


def at(stamp: int) -> datetime:
    """The instant ``stamp`` (POSIX seconds) in the bench home's zone."""
    return datetime.fromtimestamp(stamp, TZ)


def quarters(first: int, count: int, version: int = 0) -> list[PriceInterval]:
    """``count`` quarter-hour intervals from ``first``, as a source would build them.

    Values are a cheap hash of the instant (``version`` changes them, for revisions);
    each interval has its own start and floats, as parsed from an API answer.
    """
    out: list[PriceInterval] = []
    for n in range(count):
        stamp = first + n * QUARTER
        cents = (stamp // QUARTER * 2654435761 + version * 7919) % 4000 - 500
        total = cents / 10000
        energy = round(total * 0.8, 4)
        out.append(
            PriceInterval(
                datetime.fromtimestamp(stamp, TZ),
                datetime.fromtimestamp(stamp + QUARTER, UTC),
                total,
                energy,
                round(total - energy, 4),
                _LEVELS[(stamp // QUARTER) % 5],
                "EUR",
            )
        )
    return out


class BenchSource:
    """A source that answers at once: from ``data`` (sorted) when given, else freshly built.

    It answers whatever span it is asked for; the pool itself never asks past what can be
    published, so no publication rule is needed here. ``delay`` makes each call yield to
    the loop that long, so concurrent requests really overlap.
    """

    def __init__(self, data: Sequence[PriceInterval] | None = None, *, delay: float = 0.0) -> None:
        self.data = data
        self._keys = array("q", [int(i.start.timestamp()) for i in data or ()])
        self.delay = delay
        self.calls = 0
        self.home_calls = 0

    async def home(self, home_id: str) -> HomeInfo:
        self.home_calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return HOME

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        lo, hi = span.seconds
        if self.data is None:
            first = -(-lo // QUARTER) * QUARTER
            got: Sequence[PriceInterval] = quarters(first, max(0, -(-(hi - first) // QUARTER)))
        else:
            keys = self._keys
            got = self.data[bisect_left(keys, lo) : bisect_left(keys, hi)]
        return FetchResult(got, span)


def pool_for(source: BenchSource, *, max_intervals: int = 10**8) -> IntervalPool:
    """A pool of the bench home at NOW; by default too large a limit for retention to act."""
    return IntervalPool(
        HOME.id, source, clock=ManualClock(NOW), max_intervals=max_intervals, save_delay=0
    )


def midnight(day: date) -> int:
    """Local midnight of ``day`` in the bench home's zone, as POSIX seconds."""
    return int(local_midnight(day, TZ).timestamp())


def edges(first: date, days: int, step: int = 1) -> list[int]:
    """Local midnights from ``first`` every ``step`` days, through ``first + days``."""
    marks = [midnight(first + timedelta(days=d)) for d in range(0, days, step)]
    return [*marks, midnight(first + timedelta(days=days))]


def span_data(start: int, end: int, version: int = 0) -> list[PriceInterval]:
    """Every quarter-hour in ``[start, end)`` (edges on the quarter-hour grid)."""
    return quarters(start, (end - start) // QUARTER, version)


async def fill(pool: IntervalPool, marks: Sequence[int]) -> None:
    """Ask for each ``[marks[i], marks[i + 1])`` in turn: one fetch group each."""
    for lo, hi in pairwise(marks):
        await pool.get_intervals(at(lo), at(hi))


Run = Callable[[int], Awaitable[float]]
"""``run(number)`` performs an operation ``number`` times and returns the seconds taken."""


async def interleaved(runs: Sequence[Run], *, repeat: int, target: float) -> list[float]:
    """Seconds per operation of each of ``runs``, timed in turn, round after round.

    Each run's ``number`` grows until one run lasts ``target`` seconds; then ``repeat``
    rounds time every run once and the least time of each counts (timeit's rule: the
    minimum is the run least disturbed). Taking turns exposes figures that are compared
    with each other to the same load on a shared machine. The garbage collector is off
    while timing, as in timeit, so that a collection of held objects lands on no run.
    """
    numbers = []
    for run in runs:
        number = 1
        while await _quiet(run, number) < target and number < 1 << 24:
            number *= 4
        numbers.append(number)
    least = [float("inf")] * len(runs)
    for _ in range(repeat):
        for n, (run, number) in enumerate(zip(runs, numbers, strict=True)):
            least[n] = min(least[n], await _quiet(run, number) / number)
    return least


async def _quiet(run: Run, number: int) -> float:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return await run(number)
    finally:
        if enabled:
            gc.enable()


def clock() -> float:
    return time.perf_counter()
