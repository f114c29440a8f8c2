"""Many requests at once: planned together, and every failure delivered and retrieved."""

from __future__ import annotations

import asyncio
import gc
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pricepool import FetchResult, HomeInfo, IntervalPool, ManualClock, RateLimitedError, Span
from pricepool.clock import local_midnight

from .fakes import FakeSource

BERLIN = ZoneInfo("Europe/Berlin")
HOME = "home-1"
TODAY = date(2026, 11, 26)


def midnight(day: date) -> datetime:
    return local_midnight(day, BERLIN)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.combine(TODAY, time(9), tzinfo=BERLIN))


async def test_shifted_windows_arriving_together_make_a_handful_of_calls(
    clock: ManualClock,
) -> None:
    source = FakeSource(clock)
    first = TODAY - timedelta(days=300)
    windows = [
        (midnight(first + timedelta(days=n)), midnight(first + timedelta(days=n + 65)))
        for n in range(200)
    ]
    async with IntervalPool(HOME, source, clock=clock) as pool:
        answers = await asyncio.gather(*(pool.get_intervals(*w) for w in windows))
    assert len(source.calls) <= 5
    for window, got in zip(windows, answers, strict=True):
        assert got == source.truth(HOME, *window)


class Limited(FakeSource):
    """A source over its rate limit: every fetch is refused once the gate opens."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.gate = asyncio.Event()

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        self.calls.append(span)
        assert self.gate is not None
        await self.gate.wait()
        raise RateLimitedError("too many requests", retry_after=60)


async def asked(source: FakeSource, calls: int) -> None:
    """Let the loop run until the source has been asked ``calls`` times."""
    for _ in range(100):
        if len(source.calls) >= calls:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the source was asked {len(source.calls)} times, not {calls}")


async def test_a_rate_limit_hitting_many_requests_leaves_nothing_unretrieved(
    clock: ManualClock,
) -> None:
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        source = Limited(clock)
        pool = IntervalPool(HOME, source, clock=clock)
        first = TODAY - timedelta(days=100)
        tasks = []
        # Windows shifted by a day, each arriving once the previous one's call is out:
        # request k waits on k + 1 calls, the first of which fails for all of them.
        for n in range(20):
            window = (midnight(first + timedelta(days=n)), midnight(first + timedelta(days=n + 65)))
            tasks.append(asyncio.create_task(pool.get_intervals(*window)))
            await asked(source, n + 1)
        assert source.gate is not None
        source.gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
        assert len(source.calls) == 20
        assert all(isinstance(r, RateLimitedError) for r in results)
        # The errors' tracebacks keep the flights alive; asyncio reports an unretrieved
        # failure when its task is collected.
        del tasks, pool, results
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert seen == []
