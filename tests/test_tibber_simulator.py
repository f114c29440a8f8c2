"""TibberSource against the local Tibber simulator: routing, paging, resolutions, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pricepool import FetchResult, HomeInfo, ManualClock, Span
from pricepool.clock import local_midnight
from pricepool.errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    SourceUnavailableError,
    UnknownHomeError,
)
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

OSLO = ZoneInfo("Europe/Oslo")
SIM_HOME = DEFAULT_HOMES[0]
HOME = HomeInfo(SIM_HOME.id, SIM_HOME.time_zone, SIM_HOME.currency, SIM_HOME.nickname)
BOTH = frozenset({"priceInfo", "priceInfoRange"})


def oslo(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return local_midnight(day, OSLO) + timedelta(hours=hour, minutes=minute)


def days(first: date, count: int) -> Span:
    return Span(oslo(first), oslo(first + timedelta(days=count)))


class Time:
    """Time that only moves when the source sleeps, so retries cost no real time.

    A sleep moves the simulator's clock too, so its rate-limit window passes.
    """

    def __init__(self, clock: ManualClock) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.clock = clock

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.clock.advance(seconds)
        await asyncio.sleep(0)


class Rig:
    def __init__(self, sim: Simulator, clock: ManualClock) -> None:
        self.sim = sim
        self.clock = clock
        self.time = Time(clock)

    def source(self, token: str = "sim-token", **kwargs: Any) -> TibberSource:
        return TibberSource(
            token,
            endpoint=self.sim.endpoint,
            clock=self.clock,
            sleep=self.time.sleep,
            monotonic=self.time.monotonic,
            **kwargs,
        )

    def check(self, result: FetchResult) -> None:
        """The answer holds exactly the simulator's truth, each interval as long as its slot."""
        assert result.answered is not None
        truth = self.sim.truth(HOME.id, result.answered.start, result.answered.end)
        assert [i.to_node() for i in result.intervals] == truth
        for a, b in zip(result.intervals, result.intervals[1:], strict=False):
            # In UTC: in one zone the autumn night's two 02:00s compare equal as wall clocks.
            assert a.end.astimezone(UTC) == b.start.astimezone(UTC)
        for i in result.intervals:
            quarter = i.start.astimezone(OSLO).date() >= date(2025, 10, 1)
            assert i.length == timedelta(minutes=15 if quarter else 60)


# Every test here runs against each way the API may page: what an edge's cursor names,
# whether ``after`` includes the instant it names, and the schema's caps or pages of 200
# (the recent window, 2 days, still fits one page: tests count its requests).
APIS = [
    {"cursors": cursors, "inclusive_after": inclusive, "page_limit": cap}
    for cursors in ("start", "end")
    for inclusive in (False, True)
    for cap in (None, 200)
]
_api: dict[str, Any] = {}


@pytest.fixture(
    autouse=True,
    params=APIS,
    ids=[
        f"{a['cursors']}-{'incl' if a['inclusive_after'] else 'excl'}-{a['page_limit']}"
        for a in APIS
    ],
)
def api(request: pytest.FixtureRequest) -> Any:
    _api.clear()
    _api.update(request.param)
    return request.param


async def rig(now: datetime, **kwargs: Any) -> AsyncIterator[Rig]:
    clock = ManualClock(now)
    options = {**_api, **kwargs}
    if _api.get("page_limit") and kwargs.get("page_limit"):
        options["page_limit"] = min(_api["page_limit"], kwargs["page_limit"])
    async with Simulator(clock=clock, **options) as sim:
        yield Rig(sim, clock)


@pytest.fixture
async def late() -> AsyncIterator[Rig]:
    """2026-04-15 10:00 Oslo: both DST changes of the quarter-hour era lie in history."""
    async for r in rig(oslo(date(2026, 4, 15), 10), page_limit=100):
        yield r


@pytest.fixture
async def morning() -> AsyncIterator[Rig]:
    """2025-11-10 10:00 Oslo, before tomorrow's prices are out."""
    async for r in rig(oslo(date(2025, 11, 10), 10)):
        yield r


async def test_homes(morning: Rig) -> None:
    async with morning.source() as src:
        homes = await src.homes()
        assert [h.id for h in homes] == [h.id for h in DEFAULT_HOMES]
        assert homes[0] == HOME
        assert {h.time_zone for h in homes} == {"Europe/Oslo", "Europe/Stockholm", "Europe/Berlin"}
        assert await src.home(DEFAULT_HOMES[2].id) == homes[2]
        with pytest.raises(UnknownHomeError):
            await src.home("no-such-home")
        assert src.requests == morning.sim.requests == 1


async def test_unknown_home_in_a_price_query(morning: Rig) -> None:
    async with morning.source() as src:
        with pytest.raises(UnknownHomeError):
            await src.fetch(HomeInfo("no-such-home", "Europe/Oslo"), days(date(2025, 1, 1), 1))


async def test_history_pages_across_the_page_limit(late: Rig) -> None:
    async with late.source() as src:
        result = await src.fetch(HOME, Span(oslo(date(2025, 11, 3), 5), oslo(date(2025, 11, 12))))
        assert result.answered == days(date(2025, 11, 3), 9)
        assert len(result.intervals) == 9 * 96
        # 864 nodes at 100 a page, no extra request to learn that the span is full.
        assert src.requests == 9
    assert result.pending is None
    assert all(r.fields == {"priceInfoRange"} for r in late.sim.log)
    late.check(result)


async def test_hourly_history_before_the_switch(late: Rig) -> None:
    async with late.source() as src:
        result = await src.fetch(HOME, Span(oslo(date(2024, 6, 3), 12), oslo(date(2024, 6, 4), 1)))
        assert result.answered == days(date(2024, 6, 3), 2)
        assert len(result.intervals) == 48
        assert src.requests == 1
    late.check(result)


async def test_a_span_across_the_switch_to_quarter_hours(late: Rig) -> None:
    async with late.source() as src:
        result = await src.fetch(HOME, days(date(2025, 9, 29), 4))
    assert len(result.intervals) == 24 + 24 + 96 + 96
    late.check(result)


@pytest.mark.parametrize(
    ("day", "count"),
    [
        (date(2024, 3, 31), 23),
        (date(2024, 10, 27), 25),
        (date(2025, 10, 26), 100),
        (date(2026, 3, 29), 92),
    ],
)
async def test_dst_days(late: Rig, day: date, count: int) -> None:
    async with late.source() as src:
        result = await src.fetch(HOME, days(day, 1))
    assert result.answered == days(day, 1)
    assert len(result.intervals) == count
    late.check(result)


async def test_before_the_homes_data_begins_is_answered_empty(late: Rig) -> None:
    async with late.source() as src:
        result = await src.fetch(HOME, days(date(2020, 5, 1), 3))
    assert result.answered == days(date(2020, 5, 1), 3)
    assert result.intervals == []


async def test_recent_window_in_one_request_with_tomorrow_pending(morning: Rig) -> None:
    today = date(2025, 11, 10)
    async with morning.source() as src:
        result = await src.fetch(HOME, Span(oslo(today, 6), oslo(today, 12)))
        assert src.requests == 1
    assert morning.sim.log[0].fields == BOTH
    assert result.answered == Span(oslo(date(2025, 11, 8)), oslo(date(2025, 11, 11)))
    assert result.pending == days(date(2025, 11, 11), 1)
    assert result.retry_at is None
    assert result.home is None
    morning.check(result)


async def test_tomorrow_is_answered_after_publication(morning: Rig) -> None:
    morning.clock.set(oslo(date(2025, 11, 10), 13, 5))
    async with morning.source() as src:
        result = await src.fetch(HOME, days(date(2025, 11, 11), 1))
        assert src.requests == 1
    assert result.answered == Span(oslo(date(2025, 11, 8)), oslo(date(2025, 11, 12)))
    assert result.pending is None
    assert len(result.intervals) == 4 * 96
    morning.check(result)


async def test_recent_window_over_a_dst_change() -> None:
    # Today 2025-10-27: the two past days hold 100 + 96 quarter-hours.
    async for r in rig(oslo(date(2025, 10, 27), 15)):
        async with r.source() as src:
            result = await src.fetch(HOME, days(date(2025, 10, 25), 1))
            assert src.requests == 1
        assert result.answered == Span(oslo(date(2025, 10, 25)), oslo(date(2025, 10, 29)))
        assert len(result.intervals) == 96 + 100 + 96 + 96
        r.check(result)


@pytest.mark.parametrize(
    ("now", "count"),
    [
        (oslo(date(2026, 10, 24), 13, 30), 96 + 96 + 96 + 100),  # tomorrow has 25 hours
        (oslo(date(2026, 10, 25), 13, 30), 96 + 96 + 100 + 96),  # today has 25 hours
        (oslo(date(2026, 3, 28), 13, 30), 96 + 96 + 96 + 92),  # tomorrow has 23 hours
    ],
)
async def test_today_or_tomorrow_on_a_dst_day(now: datetime, count: int) -> None:
    async for r in rig(now):
        async with r.source() as src:
            result = await src.fetch(HOME, Span(now, now + timedelta(hours=1)))
            assert src.requests == 1
        day = now.astimezone(OSLO).date()
        assert result.answered == Span(oslo(day - timedelta(days=2)), oslo(day + timedelta(days=2)))
        assert len(result.intervals) == count
        r.check(result)


async def test_recent_window_when_a_page_is_short(morning: Rig) -> None:
    morning.sim.page_limit = 50
    async with morning.source() as src:
        result = await src.fetch(HOME, days(date(2025, 11, 10), 1))
        # The combined request, then history pages for the rest of the two past days.
        assert src.requests == 4
    assert morning.sim.log[0].fields == BOTH
    assert result.answered == Span(oslo(date(2025, 11, 8)), oslo(date(2025, 11, 11)))
    morning.check(result)


async def test_span_over_history_and_recent_days(morning: Rig, api: dict[str, Any]) -> None:
    async with morning.source() as src:
        result = await src.fetch(HOME, Span(oslo(date(2025, 11, 4), 3), oslo(date(2025, 11, 10))))
        # Four days of history: 384 quarter-hours, one page of 672 or two of 200.
        pages = 1 if api["page_limit"] is None else 2
        assert src.requests == pages + 1
    assert [r.fields for r in morning.sim.log] == [{"priceInfoRange"}] * pages + [BOTH]
    assert result.answered == Span(oslo(date(2025, 11, 4)), oslo(date(2025, 11, 11)))
    assert result.pending == days(date(2025, 11, 11), 1)
    morning.check(result)


async def test_days_after_tomorrow_are_not_asked(morning: Rig) -> None:
    async with morning.source() as src:
        result = await src.fetch(HOME, days(date(2025, 11, 12), 3))
        assert src.requests == 0
    assert result.answered is None
    assert result.intervals == []


async def test_fresher_home_info_comes_back(morning: Rig) -> None:
    stale = HomeInfo(HOME.id, "Europe/Oslo", None, "Fjellstua")
    async with morning.source() as src:
        assert (await src.home(HOME.id)) == HOME
        result = await src.fetch(stale, days(date(2025, 3, 1), 1))
        assert result.home == HOME
        moved = HomeInfo(HOME.id, "Europe/Berlin", "NOK", "Fjellstua")
        again = await src.fetch(moved, days(date(2025, 3, 1), 1))
        assert again.home == HOME
        assert await src.home(HOME.id) == HOME


async def test_empty_today_answers_the_past_days_and_today_is_pending(morning: Rig) -> None:
    morning.sim.faults.empty_today = True
    async with morning.source() as src:
        result = await src.fetch(HOME, days(date(2025, 11, 10), 1))
    assert result.answered == Span(oslo(date(2025, 11, 8)), oslo(date(2025, 11, 10)))
    # Not "unanswered": nothing is out yet, so the pool asks again at its usual interval.
    assert result.pending == days(date(2025, 11, 10), 2)
    assert result.retry_at is None
    morning.check(result)


async def test_null_subscription_answers_nothing(morning: Rig) -> None:
    morning.sim.faults.null_subscription = True
    async with morning.source() as src:
        recent = await src.fetch(HOME, days(date(2025, 11, 10), 1))
        old = await src.fetch(HOME, days(date(2025, 3, 1), 1))
    for result in (recent, old):
        assert result.answered is None
        assert result.intervals == []
    assert recent.pending == days(date(2025, 11, 10), 2)
    assert old.pending is None


@pytest.mark.parametrize(
    ("fault", "value", "error"),
    [
        ("malformed", True, InvalidResponseError),
        ("non_graphql", True, InvalidResponseError),
        ("errors_without_extensions", True, InvalidResponseError),
        ("invalid_token", True, AuthenticationError),
        ("status", 401, AuthenticationError),
        ("status", 403, AuthenticationError),
        ("status", 500, SourceUnavailableError),
        ("error_rate", 1.0, SourceUnavailableError),
    ],
)
async def test_faults_map_to_typed_errors(
    morning: Rig, fault: str, value: object, error: type[Exception]
) -> None:
    setattr(morning.sim.faults, fault, value)
    async with morning.source(retry_budget=5) as src:
        with pytest.raises(error):
            await src.fetch(HOME, days(date(2025, 11, 10), 1))
        retried = src.requests > 1
    assert retried == (error is SourceUnavailableError)
    assert sum(morning.time.sleeps) <= 5


async def test_wrong_token(morning: Rig) -> None:
    morning.sim.token = "the-right-one"
    async with morning.source("a-wrong-one") as src:
        with pytest.raises(AuthenticationError, match="invalid token"):
            await src.homes()
        assert src.requests == 1


async def test_transient_failures_are_retried(morning: Rig) -> None:
    morning.sim.faults.fail_next = 2
    async with morning.source() as src:
        result = await src.fetch(HOME, days(date(2025, 11, 10), 1))
        assert src.requests == 3
    assert len(morning.time.sleeps) == 2
    morning.check(result)


async def test_429_is_not_retried_and_the_next_call_waits_its_retry_after() -> None:
    async for r in rig(oslo(date(2025, 11, 10), 10), rate_limit=1, rate_window=6):
        async with r.source() as src:
            await src.homes()
            with pytest.raises(RateLimitedError) as caught:
                await src.fetch(HOME, days(date(2025, 3, 1), 1))
            assert caught.value.retry_after == 6
            result = await src.fetch(HOME, days(date(2025, 3, 1), 1))
            assert src.requests == 3
        assert [x.status for x in r.sim.log] == [200, 429, 200]
        assert r.time.sleeps == [6.0]
        r.check(result)


async def test_503_retry_after_is_respected(morning: Rig) -> None:
    morning.sim.faults.fail_next = 1
    morning.sim.faults.retry_after = 9
    async with morning.source() as src:
        await src.homes()
    assert morning.time.sleeps == [9.0]


async def test_simulators_rate_limit_beyond_the_budget() -> None:
    async for r in rig(oslo(date(2025, 11, 10), 10), rate_limit=2, rate_window=300):
        async with r.source(retry_budget=30) as src:
            await src.homes()
            await src.fetch(HOME, days(date(2025, 3, 1), 1))
            with pytest.raises(RateLimitedError) as caught:
                await src.fetch(HOME, days(date(2025, 3, 2), 1))
            assert src.requests == 3
        assert caught.value.retry_after == 300
        assert r.time.sleeps == []


async def test_hang_times_out(morning: Rig) -> None:
    morning.sim.faults.hang = True
    async with morning.source(timeout=0.2, retry_budget=0) as src:
        with pytest.raises(SourceUnavailableError, match="did not answer"):
            await src.homes()


async def test_latency_beyond_the_timeout(morning: Rig) -> None:
    morning.sim.faults.latency = 0.5
    async with morning.source(timeout=0.1, retry_budget=0) as src:
        with pytest.raises(SourceUnavailableError):
            await src.homes()


RECENT_DAYS = (date(2025, 11, 9), date(2025, 11, 10), date(2025, 11, 11))


async def test_concurrent_fetches_of_recent_days_share_one_request(morning: Rig) -> None:
    morning.clock.set(oslo(date(2025, 11, 10), 13, 5))
    async with morning.source() as src:
        results = await asyncio.gather(*(src.fetch(HOME, days(d, 1)) for d in RECENT_DAYS))
        assert src.requests == 1
    assert [r.fields for r in morning.sim.log] == [BOTH]
    for result in results:
        assert result.answered == Span(oslo(date(2025, 11, 8)), oslo(date(2025, 11, 12)))
        morning.check(result)


async def test_a_cancelled_fetch_leaves_the_shared_request_to_the_others(morning: Rig) -> None:
    morning.sim.faults.latency = 0.2
    async with morning.source() as src:
        first, second = (asyncio.create_task(src.fetch(HOME, days(d, 1))) for d in RECENT_DAYS[:2])
        await asyncio.sleep(0.05)
        first.cancel()
        result = await second
        with pytest.raises(asyncio.CancelledError):
            await first
        assert src.requests == 1
    morning.check(result)


async def test_when_every_fetch_is_cancelled_the_next_one_asks_again(morning: Rig) -> None:
    morning.sim.faults.latency = 0.2
    async with morning.source() as src:
        tasks = [asyncio.create_task(src.fetch(HOME, days(d, 1))) for d in RECENT_DAYS[:2]]
        await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(task.cancelled() for task in tasks)
        morning.sim.faults.latency = 0
        result = await src.fetch(HOME, days(RECENT_DAYS[1], 1))
        assert src.requests == 2
    morning.check(result)


async def test_a_failed_shared_request_fails_every_fetch_and_is_not_kept(morning: Rig) -> None:
    morning.sim.faults.status = 500
    async with morning.source(retry_budget=0, down_for=0) as src:
        outcomes = await asyncio.gather(
            *(src.fetch(HOME, days(d, 1)) for d in RECENT_DAYS), return_exceptions=True
        )
        assert [type(o) for o in outcomes] == [SourceUnavailableError] * 3
        assert src.requests == 1
        morning.sim.faults.status = None
        result = await src.fetch(HOME, days(RECENT_DAYS[1], 1))
        assert src.requests == 2
    morning.check(result)
