"""``IntervalPool.query``: the intervals, and each missing part with its cause."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool import (
    Answer,
    Cause,
    FetchResult,
    Gap,
    HomeInfo,
    IntervalPool,
    InvalidRangeError,
    ManualClock,
    PricePoolError,
    Publication,
    RateLimitedError,
    SourceUnavailableError,
    Span,
    UnknownHomeError,
)
from pricepool.clock import local_midnight

from .fakes import FakeSource

BERLIN = ZoneInfo("Europe/Berlin")
HOME = "home-1"
TODAY = date(2026, 11, 26)


def at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def midnight(day: date) -> datetime:
    return local_midnight(day, BERLIN)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(TODAY, 9))


@pytest.fixture
def source(clock: ManualClock) -> FakeSource:
    return FakeSource(clock)


def pool_of(source: FakeSource, clock: ManualClock) -> IntervalPool:
    return IntervalPool(HOME, source, clock=clock)


async def test_a_published_range_is_complete_and_equals_get_intervals(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(days(-3)), midnight(days(0)))
    async with pool_of(source, clock) as pool:
        answer = await pool.query(*span)
        assert answer.complete
        assert answer.missing == ()
        assert answer.home == HomeInfo(HOME, "Europe/Berlin", "EUR", "Fake")
        assert answer.intervals == await pool.get_intervals(*span)
    assert answer.intervals == source.truth(HOME, *span)


async def test_days_past_the_horizon_are_unpublished_with_their_expected_time(
    source: FakeSource, clock: ManualClock
) -> None:
    # 09:00: today is out, tomorrow comes at 13:00 today, the day after at 13:00 tomorrow.
    async with pool_of(source, clock) as pool:
        answer = await pool.query(midnight(days(0)), midnight(days(3)))
    assert not answer.complete
    assert len(answer.intervals) == 96
    assert answer.missing == (
        Gap(
            Span(midnight(days(1)), midnight(days(2))),
            Cause.UNPUBLISHED,
            at(days(0), 13),
            at(days(0), 13),
        ),
        Gap(
            Span(midnight(days(2)), midnight(days(3))),
            Cause.UNPUBLISHED,
            at(days(1), 13),
            at(days(1), 13),
        ),
    )
    assert [g.expected_at.tzinfo for g in answer.missing] == [BERLIN, BERLIN]  # type: ignore[union-attr]


async def test_a_late_day_is_unpublished_and_says_when_it_is_asked_again(
    source: FakeSource, clock: ManualClock
) -> None:
    source.delay = timedelta(hours=1)  # published at 14:00, an hour late
    clock.set(at(TODAY, 13) + timedelta(minutes=5))
    tomorrow = (midnight(days(1)), midnight(days(2)))
    async with pool_of(source, clock) as pool:
        answer = await pool.query(midnight(days(0)), tomorrow[1])
        assert len(answer.intervals) == 96
        [gap] = answer.missing
        assert gap.span == Span(*tomorrow)
        assert gap.cause is Cause.UNPUBLISHED
        assert gap.expected_at == at(TODAY, 13)
        assert gap.retry_at == clock() + timedelta(minutes=15)  # the re-check interval
        assert gap.error is None
        calls = len(source.calls)
        assert (await pool.query(*tomorrow)).missing == (gap,)
        assert len(source.calls) == calls  # not asked again before retry_at
        clock.set(at(TODAY, 14) + timedelta(minutes=5))
        assert (await pool.query(*tomorrow)).complete


class Refused(SourceUnavailableError):
    """A source error carrying facts as attributes, as the Tibber source's do."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = "http://127.0.0.1:1/graphql"


async def test_a_source_failure_is_a_failed_gap_with_the_original_error(
    source: FakeSource, clock: ManualClock
) -> None:
    held = (midnight(days(-1)), midnight(days(0)))
    wide = (midnight(days(-3)), midnight(days(0)))
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(*held)
        error = Refused("HTTP 503", status=503)
        source.fail = error
        answer = await pool.query(*wide)  # does not raise
        assert answer.intervals == source.truth(HOME, *held)
        [gap] = answer.missing
        assert gap.span == Span(wide[0], held[0])
        assert gap.cause is Cause.FAILED
        assert gap.error is error
        assert (gap.error.status, gap.error.endpoint) == (503, "http://127.0.0.1:1/graphql")
        assert gap.retry_at == clock() + timedelta(seconds=30)  # the first back-off step
        clock.advance(10)
        again = await pool.query(*wide)  # quiet: the source is not asked
        assert [(g.error, g.retry_at) for g in again.missing] == [(error, gap.retry_at)]
        with pytest.raises(Refused) as raised:
            await pool.get_intervals(*wide)
        assert raised.value is error
        assert len(source.calls) == 2


async def test_a_rate_limit_gap_retries_when_the_source_said(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(days(-3)), midnight(days(-2)))
    async with pool_of(source, clock) as pool:
        source.fail = RateLimitedError("slow down", retry_after=120)
        [gap] = (await pool.query(*span)).missing
        assert gap.retry_at == clock() + timedelta(seconds=120)
        assert isinstance(gap.error, RateLimitedError)
        assert gap.error.retry_after == 120


async def test_a_short_answer_leaves_a_failed_gap_for_the_rest(
    source: FakeSource, clock: ManualClock
) -> None:
    day = (midnight(days(-4)), midnight(days(-3)))

    def short(result: FetchResult) -> FetchResult:
        assert result.answered is not None
        half = at(days(-4), 12)
        return FetchResult([i for i in result.intervals if i.start < half], Span(day[0], half))

    async with pool_of(source, clock) as pool:
        source.mangle = short
        answer = await pool.query(*day)
    assert len(answer.intervals) == 48
    [gap] = answer.missing
    assert (gap.span, gap.cause) == (Span(at(days(-4), 12), day[1]), Cause.FAILED)
    assert isinstance(gap.error, SourceUnavailableError)
    assert gap.retry_at == clock() + timedelta(minutes=15)


async def test_gaps_are_sorted_disjoint_and_inside_the_range(
    source: FakeSource, clock: ManualClock
) -> None:
    clock.set(at(TODAY, 14))
    start, end = at(days(-2), 7), at(days(3), 5)
    async with pool_of(source, clock) as pool:
        source.fail = SourceUnavailableError("down")
        await pool.get_intervals(midnight(days(-2)), midnight(days(-1)), allow_partial=True)
        clock.advance(10)  # within the first back-off step
        answer = await pool.query(start, end)
    spans = [g.span for g in answer.missing]
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert all(start <= s.start and s.end <= end for s in spans)
    # The source is quiet after a failure: failed from the request's start up to the
    # horizon (the end of tomorrow, at 14:00); past it one unpublished gap per day.
    assert spans == [
        Span(start, midnight(days(2))),
        Span(midnight(days(2)), midnight(days(3))),
        Span(midnight(days(3)), end),
    ]
    assert [g.cause for g in answer.missing] == [Cause.FAILED, *[Cause.UNPUBLISHED] * 2]


async def test_query_refuses_bad_ranges_and_a_closed_pool(
    source: FakeSource, clock: ManualClock
) -> None:
    pool = pool_of(source, clock)
    with pytest.raises(InvalidRangeError, match="end"):
        await pool.query(at(TODAY, 5), at(TODAY, 4))
    with pytest.raises(InvalidRangeError, match="timezone-aware"):
        await pool.query(datetime(2026, 11, 26), at(TODAY, 4))
    await pool.close()
    with pytest.raises(PricePoolError, match="closed"):
        await pool.query(at(TODAY, 1), at(TODAY, 4))


async def test_query_raises_when_the_home_cannot_be_resolved(clock: ManualClock) -> None:
    pool = IntervalPool("nobody", FakeSource(clock), clock=clock)
    with pytest.raises(UnknownHomeError):
        await pool.query(at(TODAY, 1), at(TODAY, 4))
    with pytest.raises(UnknownHomeError):
        await pool.resolve_home()
    await pool.close()


async def test_resolve_home_asks_once_and_shares_the_answer(
    source: FakeSource, clock: ManualClock
) -> None:
    async with pool_of(source, clock) as pool:
        homes = await asyncio.gather(*(pool.resolve_home() for _ in range(10)))
        assert homes == [HomeInfo(HOME, "Europe/Berlin", "EUR", "Fake")] * 10
        assert source.home_calls == 1
        assert pool.home == homes[0]


def test_an_answer_is_complete_only_without_gaps() -> None:
    home = HomeInfo(HOME, "Europe/Berlin")
    gap = Gap(Span(at(TODAY), at(TODAY, 1)), Cause.UNPUBLISHED)
    assert Answer(home, [], ()).complete
    assert not Answer(home, [], (gap,)).complete
    assert Cause.FAILED == "failed"


async def test_pools_share_one_publication_calendar(clock: ManualClock) -> None:
    noon = Publication(time(12))
    source = FakeSource(clock, {HOME: "Europe/Berlin", "home-2": "America/New_York"})
    clock.set(at(TODAY, 12) + timedelta(minutes=30))
    async with (
        IntervalPool(HOME, source, clock=clock, publication=noon) as berlin,
        IntervalPool("home-2", source, clock=clock, publication=noon) as new_york,
    ):
        await berlin.resolve_home()
        await new_york.resolve_home()
        # 12:30 in Berlin is past noon: tomorrow is out; 06:30 in New York is not.
        assert berlin.published_until() == midnight(days(2))
        ny = ZoneInfo("America/New_York")
        assert new_york.published_until() == local_midnight(days(1), ny)
        [gap] = (await berlin.query(midnight(days(2)), midnight(days(3)))).missing
        assert gap.expected_at == at(days(1), 12)


def test_publish_at_and_a_different_publication_are_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="publish_at or publication"):
        IntervalPool(
            HOME, FakeSource(clock), clock=clock, publish_at=time(14), publication=Publication()
        )


class Comparable(SourceUnavailableError):
    """An error that compares by message, and so is not hashable."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Comparable) and str(other) == str(self)

    __hash__ = None  # type: ignore[assignment]


async def test_an_unhashable_source_error_is_kept_and_raised_again(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(days(-3)), midnight(days(-2)))
    async with pool_of(source, clock) as pool:
        error = Comparable("down")
        source.fail = error
        for _ in range(3):
            with pytest.raises(Comparable) as raised:
                await pool.get_intervals(*span)
            assert raised.value is error
        assert [g.error for g in (await pool.query(*span)).missing] == [error]
