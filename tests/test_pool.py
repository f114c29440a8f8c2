"""Behaviour of IntervalPool that its users rely on."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool import (
    FetchResult,
    HomeInfo,
    IntervalPool,
    InvalidRangeError,
    InvalidResponseError,
    ManualClock,
    PricePoolError,
    RateLimitedError,
    SourceUnavailableError,
    Span,
)
from pricepool.answer import Cause
from pricepool.clock import local_midnight

from .fakes import FakeSource

BERLIN = ZoneInfo("Europe/Berlin")
HOME = "home-1"


def at(day: date, hour: int = 0, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def midnight(day: date, tz: ZoneInfo = BERLIN) -> datetime:
    return local_midnight(day, tz)


TODAY = date(2026, 11, 26)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(TODAY, 9))


@pytest.fixture
def source(clock: ManualClock) -> FakeSource:
    return FakeSource(clock)


def pool_of(source: FakeSource, clock: ManualClock, **kw: object) -> IntervalPool:
    return IntervalPool(HOME, source, clock=clock, **kw)  # type: ignore[arg-type]


async def asked(source: FakeSource, calls: int) -> None:
    """Let the loop run until the source has been asked ``calls`` times."""
    for _ in range(100):
        if len(source.calls) >= calls:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the source was asked {len(source.calls)} times, not {calls}")


async def test_returns_exactly_the_intervals_starting_in_range(
    source: FakeSource, clock: ManualClock
) -> None:
    async with pool_of(source, clock) as pool:
        start, end = at(TODAY, 6), at(TODAY, 8)
        got = await pool.get_intervals(start, end)
    assert got == source.truth(HOME, start, end)
    assert [i.start for i in got] == sorted(i.start for i in got)
    assert all(start <= i.start < end for i in got)
    assert len(got) == 8


async def test_intervals_are_in_the_home_zone(source: FakeSource, clock: ManualClock) -> None:
    async with pool_of(source, clock) as pool:
        got = await pool.get_intervals(at(TODAY, 0).astimezone(UTC), at(TODAY, 1).astimezone(UTC))
    assert {i.start.tzinfo for i in got} == {BERLIN}


async def test_off_grid_start(source: FakeSource, clock: ManualClock) -> None:
    start = at(TODAY, 14, 47).replace(second=0, microsecond=167996)
    async with pool_of(source, clock) as pool:
        got = await pool.get_intervals(start, at(TODAY, 16))
    assert got[0].start == at(TODAY, 15)
    assert len(got) == 4


async def test_leading_partial_interval_not_refetched(
    source: FakeSource, clock: ManualClock
) -> None:
    start = at(TODAY, 14, 47).replace(microsecond=167996)
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(start, at(TODAY, 18))
        for _ in range(5):
            clock.advance(60)
            await pool.get_intervals(start, at(TODAY, 18))
            await pool.get_intervals(at(TODAY, 14, 52), at(TODAY, 14, 58))
    assert len(source.calls) == 1


async def test_covered_range_makes_no_call(source: FakeSource, clock: ManualClock) -> None:
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(midnight(TODAY - timedelta(days=10)), midnight(TODAY))
        calls = len(source.calls)
        await pool.get_intervals(midnight(TODAY - timedelta(days=7)), at(TODAY - timedelta(1), 3))
        assert len(source.calls) == calls == 1
        assert pool.stats.hits == 1


async def test_gaps_are_fetched_as_whole_days_and_coalesced(
    source: FakeSource, clock: ManualClock
) -> None:
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(at(TODAY - timedelta(days=5), 10), at(TODAY - timedelta(5), 11))
        await pool.get_intervals(at(TODAY - timedelta(days=3), 10), at(TODAY - timedelta(3), 11))
        assert source.calls == [
            Span(midnight(TODAY - timedelta(5)), midnight(TODAY - timedelta(4))),
            Span(midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2))),
        ]
        got = await pool.get_intervals(midnight(TODAY - timedelta(6)), midnight(TODAY))
    # One call for the three holes? No: one per gap, the gaps being day 6, day 4, days 2-1.
    assert source.calls[2:] == [
        Span(midnight(TODAY - timedelta(6)), midnight(TODAY - timedelta(5))),
        Span(midnight(TODAY - timedelta(4)), midnight(TODAY - timedelta(3))),
        Span(midnight(TODAY - timedelta(2)), midnight(TODAY)),
    ]
    assert got == source.truth(HOME, midnight(TODAY - timedelta(6)), midnight(TODAY))


async def test_a_fall_back_day_of_100_quarter_hours(clock: ManualClock) -> None:
    day = date(2026, 10, 25)
    clock.set(at(day + timedelta(days=3), 9))
    source = FakeSource(clock)
    async with pool_of(source, clock) as pool:
        got = await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
    assert len(got) == 100
    assert len({i.start.timestamp() for i in got}) == 100
    two_am = [i for i in got if i.start.hour == 2]
    assert len(two_am) == 8  # the 02:00-03:00 hour happens twice
    assert got == source.truth(HOME, midnight(day), midnight(day + timedelta(1)))


async def test_spring_forward_day_of_92_quarter_hours(clock: ManualClock) -> None:
    day = date(2026, 3, 29)
    clock.set(at(day + timedelta(days=3), 9))
    source = FakeSource(clock)
    async with pool_of(source, clock) as pool:
        got = await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
    assert len(got) == 92
    assert not [i for i in got if i.start.hour == 2]


async def test_range_across_2025_10_01(clock: ManualClock) -> None:
    source = FakeSource(clock)
    start, end = midnight(date(2025, 9, 30)), midnight(date(2025, 10, 2))
    async with pool_of(source, clock) as pool:
        got = await pool.get_intervals(start, end)
    assert len(got) == 24 + 96
    assert {i.length for i in got[:24]} == {timedelta(hours=1)}
    assert {i.length for i in got[24:]} == {timedelta(minutes=15)}
    assert got == source.truth(HOME, start, end)


async def test_unpublished_tomorrow_not_refetched_per_request(
    source: FakeSource, clock: ManualClock
) -> None:
    tomorrow = TODAY + timedelta(days=1)
    source.delay = timedelta(hours=3)  # a late day: published at 16:00
    async with pool_of(source, clock) as pool:
        # Before 13:00: tomorrow cannot exist yet, so it is not asked for at all.
        assert await pool.get_intervals(midnight(tomorrow), midnight(tomorrow + timedelta(1))) == []
        assert source.calls == []
        clock.set(at(TODAY, 13))
        calls = []
        for _ in range(12):  # 13:00 to 15:45 every 15 minutes, many requests each time
            for _ in range(20):
                got = await pool.get_intervals(
                    midnight(tomorrow), midnight(tomorrow + timedelta(1))
                )
            calls.append(len(source.calls))
            assert got == []
            clock.advance(timedelta(minutes=15))
        assert calls == list(range(1, 13))  # one call per re-check interval, never per request
        got = await pool.get_intervals(midnight(tomorrow), midnight(tomorrow + timedelta(1)))
    assert len(got) == 96
    assert len(source.calls) == 13


async def test_recheck_interval_is_configurable(source: FakeSource, clock: ManualClock) -> None:
    tomorrow = TODAY + timedelta(days=1)
    source.delay = timedelta(hours=5)
    clock.set(at(TODAY, 13, 30))
    async with pool_of(source, clock, recheck=timedelta(hours=1)) as pool:
        for _ in range(8):
            await pool.get_intervals(midnight(tomorrow), midnight(tomorrow + timedelta(1)))
            clock.advance(timedelta(minutes=15))
    assert len(source.calls) == 2


async def test_publication_hour_is_configurable(source: FakeSource, clock: ManualClock) -> None:
    tomorrow = TODAY + timedelta(days=1)
    source.publish = time(11)
    clock.set(at(TODAY, 11, 30))
    async with pool_of(source, clock, publish_at=time(11)) as pool:
        got = await pool.get_intervals(midnight(tomorrow), midnight(tomorrow + timedelta(1)))
    assert len(got) == 96


async def test_refetched_values_win_and_count_as_revisions(
    source: FakeSource, clock: ManualClock
) -> None:
    day = TODAY - timedelta(days=10)
    async with pool_of(source, clock, max_intervals=96) as pool:
        await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
        source.version = 1
        clock.advance(timedelta(minutes=16))  # a fetch is kept for a re-check interval
        # Evicted by the next fetch (limit 96), so asked again: now with new prices.
        await pool.get_intervals(midnight(day + timedelta(1)), midnight(day + timedelta(2)))
        clock.advance(timedelta(minutes=16))
        got = await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
        assert got == source.truth(HOME, midnight(day), midnight(day + timedelta(1)))


async def test_revision_counted_when_source_changes_a_price(
    source: FakeSource, clock: ManualClock
) -> None:
    """A source that answers more than asked (Tibber's recent window) re-fetches held days."""
    day = TODAY - timedelta(days=3)
    held = Span(midnight(day), midnight(day + timedelta(1)))
    async with pool_of(source, clock) as pool:
        old = await pool.get_intervals(held.start, held.end)
        source.version = 1

        def wider(result: FetchResult) -> FetchResult:
            assert result.answered is not None
            span = Span(held.start, result.answered.end)
            return FetchResult(source.truth(HOME, span.start, span.end), span)

        source.mangle = wider
        await pool.get_intervals(held.end, midnight(TODAY))
        got = await pool.get_intervals(held.start, held.end)
        stats = pool.stats
    assert got == source.truth(HOME, held.start, held.end)
    assert stats.revisions == sum(1 for a, b in zip(got, old, strict=True) if not a.same_price(b))
    assert stats.revisions > 0
    assert stats.fetch_groups == 1  # moved to the newer group; the old one is gone
    assert stats.intervals == 3 * 96
    assert len(source.calls) == 2


async def test_retention_evicts_oldest_fetch_first_and_forgets_its_coverage(
    source: FakeSource, clock: ManualClock
) -> None:
    old = [TODAY - timedelta(days=d) for d in (30, 20, 10)]
    async with pool_of(source, clock, max_intervals=2 * 96) as pool:
        for day in old:
            await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
            clock.advance(timedelta(minutes=16))  # a fetch is kept for a re-check interval
        assert pool.stats.intervals == 2 * 96
        assert pool.stats.evictions == 96
        calls = len(source.calls)
        await pool.get_intervals(midnight(old[1]), midnight(old[1] + timedelta(1)))
        assert len(source.calls) == calls  # still held
        await pool.get_intervals(midnight(old[0]), midnight(old[0] + timedelta(1)))
        assert len(source.calls) == calls + 1  # evicted, so asked again


async def test_retention_never_evicts_the_protected_window(
    source: FakeSource, clock: ManualClock
) -> None:
    clock.set(at(TODAY, 14))
    async with pool_of(source, clock, max_intervals=10) as pool:
        recent = await pool.get_intervals(
            midnight(TODAY - timedelta(2)), midnight(TODAY + timedelta(2))
        )
        await pool.get_intervals(midnight(TODAY - timedelta(9)), midnight(TODAY - timedelta(8)))
        clock.advance(timedelta(minutes=15))  # the old day is kept a re-check interval
        assert (
            await pool.get_intervals(midnight(TODAY - timedelta(2)), midnight(TODAY + timedelta(2)))
            == recent
        )
        assert pool.stats.intervals == len(recent) == 4 * 96
        assert (
            await pool.get_intervals(midnight(TODAY - timedelta(2)), midnight(TODAY + timedelta(2)))
            == recent
        )
        assert len(source.calls) == 2


async def test_thousand_concurrent_identical_requests_make_one_call(
    source: FakeSource, clock: ManualClock
) -> None:
    source.gate = asyncio.Event()
    async with pool_of(source, clock) as pool:
        start, end = midnight(TODAY - timedelta(2)), midnight(TODAY + timedelta(1))
        tasks = [asyncio.create_task(pool.get_intervals(start, end)) for _ in range(1000)]
        await asyncio.sleep(0)
        source.gate.set()
        results = await asyncio.gather(*tasks)
    assert len(source.calls) == 1
    assert source.home_calls == 1
    assert all(r == results[0] for r in results)
    assert len(results[0]) == 3 * 96


async def test_overlapping_concurrent_requests_share_what_is_in_flight(
    source: FakeSource, clock: ManualClock
) -> None:
    source.gate = asyncio.Event()
    async with pool_of(source, clock) as pool:
        first = asyncio.create_task(
            pool.get_intervals(midnight(TODAY - timedelta(5)), midnight(TODAY - timedelta(2)))
        )
        await asked(source, 1)  # the first fetch is out before the second request comes
        second = asyncio.create_task(
            pool.get_intervals(midnight(TODAY - timedelta(4)), midnight(TODAY))
        )
        await asyncio.sleep(0)
        source.gate.set()
        await asyncio.gather(first, second)
    assert source.calls == [
        Span(midnight(TODAY - timedelta(5)), midnight(TODAY - timedelta(2))),
        Span(midnight(TODAY - timedelta(2)), midnight(TODAY)),
    ]


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), "start"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2), "end"),
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "end"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "end"),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "5 years"),
    ],
)
async def test_bad_ranges_are_refused_naming_the_argument(
    source: FakeSource, clock: ManualClock, start: datetime, end: datetime, named: str
) -> None:
    async with pool_of(source, clock) as pool:
        with pytest.raises(InvalidRangeError, match=named) as caught:
            await pool.get_intervals(start, end)
    assert isinstance(caught.value, ValueError)
    assert source.calls == []


async def test_source_failure_raises_typed_error_and_caches_nothing(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))
    async with pool_of(source, clock) as pool:
        source.fail = SourceUnavailableError("503 from the source")
        with pytest.raises(SourceUnavailableError):
            await pool.get_intervals(*span)
        assert pool.stats.intervals == 0
        clock.advance(30)  # the source is left alone for a while after a failure
        assert len(await pool.get_intervals(*span)) == 96  # asked again, not remembered as empty
        assert pool.stats.failures == 1


async def test_invalid_answer_is_refused_and_not_cached(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))

    def overlapping(result: FetchResult) -> FetchResult:
        rows = list(result.intervals)
        return FetchResult([*rows, rows[0].in_zone(ZoneInfo("UTC"))], result.answered)

    async with pool_of(source, clock) as pool:
        source.mangle = overlapping
        with pytest.raises(InvalidResponseError) as first:
            await pool.get_intervals(*span)
        assert pool.stats.intervals == 0
        assert pool.coverage() == ([], [])
        source.mangle = None
        with pytest.raises(InvalidResponseError) as again:
            await pool.get_intervals(*span)  # a bad answer is not asked for again at once
        assert again.value is first.value
        [gap] = (await pool.query(*span)).missing
        assert (gap.cause, gap.error) == (Cause.FAILED, first.value)
        assert gap.retry_at == clock() + timedelta(seconds=900)
        assert gap.span == Span(*span)
        assert len(source.calls) == 1
        other = (midnight(TODAY - timedelta(5)), midnight(TODAY - timedelta(4)))
        assert len(await pool.get_intervals(*other)) == 96  # other spans are asked as usual
        clock.advance(timedelta(minutes=15))
        assert len(await pool.get_intervals(*span)) == 96


async def test_allow_partial_serves_the_cache_and_logs_once(
    source: FakeSource, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with pool_of(source, clock) as pool:
        held = await pool.get_intervals(midnight(TODAY - timedelta(1)), midnight(TODAY))
        source.gate = asyncio.Event()
        source.fail = SourceUnavailableError("connection refused")
        wide = (midnight(TODAY - timedelta(3)), midnight(TODAY))
        tasks = [
            asyncio.create_task(pool.get_intervals(*wide, allow_partial=True)) for _ in range(5)
        ]
        await asyncio.sleep(0)
        source.gate.set()
        with caplog.at_level(logging.WARNING, logger="pricepool"):
            results = await asyncio.gather(*tasks)
    assert all(r == held for r in results)
    assert len([r for r in caplog.records if "connection refused" in r.getMessage()]) == 1


async def test_rate_limit_is_honoured_without_calling_again(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))
    async with pool_of(source, clock) as pool:
        source.fail = RateLimitedError("429", retry_after=600)
        with pytest.raises(RateLimitedError):
            await pool.get_intervals(*span)
        clock.advance(60)
        with pytest.raises(RateLimitedError) as caught:
            await pool.get_intervals(*span)
        assert caught.value.retry_after == 600  # the source's error, as it said it
        [gap] = (await pool.query(*span)).missing
        assert gap.error is caught.value
        assert gap.retry_at == clock() + timedelta(seconds=540)
        assert len(source.calls) == 1
        clock.advance(541)
        assert len(await pool.get_intervals(*span)) == 96
        assert len(source.calls) == 2


async def test_unanswered_remainder_is_not_asked_for_on_every_request(
    source: FakeSource, clock: ManualClock
) -> None:
    day = TODAY - timedelta(days=4)

    def short(result: FetchResult) -> FetchResult:
        # Answers only the first half of what was asked (a page limit, say).
        assert result.answered is not None
        half = result.answered.start + (result.answered.end - result.answered.start) / 2
        return FetchResult(
            [i for i in result.intervals if i.start < half], Span(result.answered.start, half)
        )

    async with pool_of(source, clock) as pool:
        source.mangle = short
        day_span = (midnight(day), midnight(day + timedelta(1)))
        with pytest.raises(SourceUnavailableError, match="unanswered"):
            await pool.get_intervals(*day_span)  # a short answer is not passed off as whole
        for _ in range(10):
            got = await pool.get_intervals(*day_span, allow_partial=True)
            assert got == source.truth(HOME, midnight(day), at(day, 12))
        with pytest.raises(SourceUnavailableError, match="unanswered"):
            await pool.get_intervals(*day_span)
        answer = await pool.query(*day_span)
        assert [g.span for g in answer.missing] == [Span(at(day, 12), midnight(day + timedelta(1)))]
        assert answer.missing[0].retry_at is not None
        assert len(source.calls) == 1
        clock.advance(timedelta(minutes=15))
        source.mangle = None
        assert await pool.get_intervals(*day_span) == source.truth(HOME, *day_span)
        assert len(source.calls) == 2


async def test_stats_count_what_happened(source: FakeSource, clock: ManualClock) -> None:
    async with pool_of(source, clock) as pool:
        for _ in range(3):
            await pool.get_intervals(midnight(TODAY - timedelta(1)), midnight(TODAY))
        stats = pool.stats
    assert (stats.requests, stats.hits, stats.source_calls) == (3, 2, 1)
    assert (stats.intervals, stats.fetch_groups, stats.evictions) == (96, 1, 0)


async def test_closed_pool_refuses_requests(source: FakeSource, clock: ManualClock) -> None:
    pool = pool_of(source, clock)
    await pool.open()
    await pool.close()
    with pytest.raises(PricePoolError, match="closed"):
        await pool.get_intervals(midnight(TODAY), midnight(TODAY + timedelta(1)))


async def test_thirty_days_of_polling_cost_one_call_per_day(
    source: FakeSource, clock: ManualClock
) -> None:
    clock.set(at(TODAY, 0))
    async with pool_of(source, clock) as pool:
        for step in range(30 * 96):
            now = clock()
            local = now.astimezone(BERLIN).date()
            window = (midnight(local - timedelta(2)), midnight(local + timedelta(2)))
            got = await pool.get_intervals(*window)
            assert got == [
                i for i in source.truth(HOME, *window) if i.start < source.published_until(BERLIN)
            ], step
            clock.advance(timedelta(minutes=15))
    assert len(source.calls) <= 1 + 30
    assert pool.stats.requests == 30 * 96


async def test_a_fetch_is_not_evicted_before_its_request_reads_it(
    source: FakeSource, clock: ManualClock
) -> None:
    """Found by the property test: with the limit held by the protected window, the
    old day a request just fetched was evicted at once and the request got nothing."""
    old = TODAY - timedelta(days=3)
    async with pool_of(source, clock, max_intervals=96) as pool:
        await pool.get_intervals(at(TODAY, 10), at(TODAY, 11))
        got = await pool.get_intervals(at(old, 23, 45), midnight(old + timedelta(1)))
        assert got == source.truth(HOME, at(old, 23, 45), midnight(old + timedelta(1)))
        assert len(got) == 1
        assert pool.stats.intervals == 2 * 96  # kept a re-check interval, then evicted
        clock.advance(timedelta(minutes=15))
        await pool.get_intervals(at(TODAY, 10), at(TODAY, 11))
        assert pool.stats.intervals == 96


async def test_published_until_moves_at_the_publication_hour(
    source: FakeSource, clock: ManualClock
) -> None:
    async with pool_of(source, clock) as pool:
        assert pool.published_until() is None  # the home is not known yet
        await pool.get_intervals(midnight(TODAY), midnight(TODAY + timedelta(1)))
        assert pool.published_until() == midnight(TODAY + timedelta(1))
        clock.set(at(TODAY, 13))
        assert pool.published_until() == midnight(TODAY + timedelta(2))


async def test_the_cached_part_of_a_waiting_request_is_not_evicted_under_it(
    source: FakeSource, clock: ManualClock
) -> None:
    """Review finding: another request's retention evicted days a waiting request held."""
    first = TODAY - timedelta(days=30)
    async with pool_of(source, clock, max_intervals=4 * 96) as pool:
        for d in range(4):
            await pool.get_intervals(
                midnight(first + timedelta(d)), midnight(first + timedelta(d + 1))
            )
            clock.advance(timedelta(minutes=16))
        gate = source.gate = asyncio.Event()
        wide = asyncio.create_task(
            pool.get_intervals(midnight(first), midnight(first + timedelta(5)))
        )
        for _ in range(3):
            await asyncio.sleep(0)  # the wide request's fetch of day 5 now waits at the gate
        source.gate = None
        # This one is answered at once; its retention must not take days 1-4 from `wide`.
        await pool.get_intervals(midnight(first + timedelta(9)), midnight(first + timedelta(10)))
        gate.set()
        got = await wide
    assert got == source.truth(HOME, midnight(first), midnight(first + timedelta(5)))


async def test_a_range_larger_than_the_limit_is_not_fetched_on_every_request(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(TODAY - timedelta(40)), midnight(TODAY - timedelta(10)))
    async with pool_of(source, clock, max_intervals=10 * 96) as pool:
        for _ in range(5):
            assert await pool.get_intervals(*span) == source.truth(HOME, *span)
        assert len(source.calls) == 1
        clock.advance(timedelta(minutes=15))
        await pool.get_intervals(midnight(TODAY - timedelta(1)), midnight(TODAY))
        assert pool.stats.intervals <= 10 * 96  # evicted once its re-check interval passed


async def test_failures_back_off_and_partial_answers_log_once(
    source: FakeSource, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    held = (midnight(TODAY - timedelta(1)), midnight(TODAY))
    wide = (midnight(TODAY - timedelta(5)), midnight(TODAY))
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(*held)

        original = source.fetch

        async def failing(home: object, span: Span) -> FetchResult:
            source.calls.append(span)
            raise SourceUnavailableError("connection refused")

        source.fetch = failing  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="pricepool"):
            for _ in range(100):
                assert len(await pool.get_intervals(*wide, allow_partial=True)) == 96
                clock.advance(10)
        # 1,000 s of requests every 10 s: calls at 0, 30, 90, 210, 450, 930 s (doubling).
        assert len(source.calls) == 1 + 6
        assert len(caplog.records) == 6  # once per failed call, not once per request
        with pytest.raises(SourceUnavailableError, match="connection refused"):
            await pool.get_intervals(*wide)
        gaps = (await pool.query(*wide)).missing
        assert [g.cause for g in gaps] == [Cause.FAILED]
        # Last call at 930 s, then the step of 900 s (the re-check interval, the ceiling).
        assert gaps[0].retry_at == clock() + timedelta(seconds=930 + 900 - 1000)
        source.fetch = original  # type: ignore[method-assign]
        clock.advance(timedelta(minutes=15))
        assert len(await pool.get_intervals(*wide)) == 5 * 96


async def test_one_failure_shared_by_many_requests_keeps_a_short_traceback(
    source: FakeSource, clock: ManualClock
) -> None:
    source.gate = asyncio.Event()
    source.fail = SourceUnavailableError("503")
    span = (midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))
    async with pool_of(source, clock) as pool:
        tasks = [asyncio.create_task(pool.get_intervals(*span)) for _ in range(1000)]
        await asyncio.sleep(0)
        source.gate.set()
        errors = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(e, SourceUnavailableError) for e in errors)
    depth = 0
    trace = errors[-1].__traceback__  # type: ignore[union-attr]
    while trace is not None:
        depth += 1
        trace = trace.tb_next
    assert depth < 20


async def test_an_invalid_answer_does_not_change_the_home(
    source: FakeSource, clock: ManualClock
) -> None:
    def bad(result: FetchResult) -> FetchResult:
        rows = list(result.intervals)
        return FetchResult(
            [*rows, rows[0]], result.answered, home=HomeInfo(HOME, "America/New_York", "USD")
        )

    async with pool_of(source, clock) as pool:
        source.mangle = bad
        with pytest.raises(InvalidResponseError):
            await pool.get_intervals(midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))
        assert pool.home is not None
        assert pool.home.time_zone == "Europe/Berlin"


async def test_publication_inside_the_repeated_autumn_hour(clock: ManualClock) -> None:
    day = date(2026, 10, 25)
    source = FakeSource(clock, publish=time(2, 30))
    # 02:15 CET, the second pass: 45 minutes after the 02:30 CEST publication.
    clock.set(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))
    async with pool_of(source, clock, publish_at=time(2, 30)) as pool:
        await pool.get_intervals(midnight(day), midnight(day + timedelta(1)))
        assert pool.published_until() == midnight(day + timedelta(2))


async def test_a_range_inside_one_second_is_empty_not_an_error(
    source: FakeSource, clock: ManualClock
) -> None:
    async with pool_of(source, clock) as pool:
        start = at(TODAY, 10).replace(microsecond=200_000)
        assert await pool.get_intervals(start, start.replace(microsecond=900_000)) == []


async def test_requests_for_a_pending_day_count_as_hits(
    source: FakeSource, clock: ManualClock
) -> None:
    source.delay = timedelta(hours=4)
    clock.set(at(TODAY, 13, 30))
    tomorrow = (midnight(TODAY + timedelta(1)), midnight(TODAY + timedelta(2)))
    async with pool_of(source, clock) as pool:
        for _ in range(10):
            await pool.get_intervals(*tomorrow)
        stats = pool.stats
    assert (stats.requests, stats.source_calls, stats.hits) == (10, 1, 9)


async def test_a_day_called_unpublished_early_is_not_due_before_its_publication(
    source: FakeSource, clock: ManualClock
) -> None:
    """A source answering more than asked (Tibber's recent window) reports tomorrow as
    pending at 10:00; the pool's record says to look again at 13:00, not at 10:15."""
    tomorrow = TODAY + timedelta(days=1)

    def with_tomorrow_pending(result: FetchResult) -> FetchResult:
        return FetchResult(
            result.intervals,
            result.answered,
            Span(midnight(tomorrow), midnight(tomorrow + timedelta(1))),
        )

    clock.set(at(TODAY, 10))
    source.mangle = with_tomorrow_pending
    async with pool_of(source, clock) as pool:
        await pool.get_intervals(midnight(TODAY), midnight(tomorrow))
        _, pending = pool.coverage()
    assert [p.retry_at for p in pending] == [at(TODAY, 13)]


class _NoMessage(SourceUnavailableError):
    def __init__(self) -> None:
        super().__init__("the source is down")


async def test_a_source_error_without_a_message_argument_is_reported_not_crashed_on(
    source: FakeSource, clock: ManualClock
) -> None:
    span = (midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)))
    async with pool_of(source, clock) as pool:
        source.fail = _NoMessage()
        with pytest.raises(_NoMessage):
            await pool.get_intervals(*span)
        with pytest.raises(_NoMessage):
            await pool.get_intervals(*span)  # the same error, until the back-off ends


async def test_concurrent_failures_of_one_outage_back_off_one_step(
    source: FakeSource, clock: ManualClock
) -> None:
    async def down(home: HomeInfo, span: Span) -> FetchResult:
        source.calls.append(span)
        await gate.wait()
        raise SourceUnavailableError("connection refused")

    async with pool_of(source, clock) as pool:
        await pool.get_intervals(midnight(TODAY), midnight(TODAY + timedelta(1)))
        gate = asyncio.Event()
        source.fetch = down  # type: ignore[method-assign]
        days = [
            (midnight(TODAY - timedelta(d)), midnight(TODAY - timedelta(d - 1)))
            for d in range(3, 9)
        ]
        calls = len(source.calls)
        tasks = []
        for d in days:  # one call each: every failure of the outage is its own
            tasks.append(asyncio.create_task(pool.get_intervals(*d)))
            await asked(source, calls + len(tasks))
        gate.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert len(source.calls) == calls + len(days)
        with pytest.raises(SourceUnavailableError):
            await pool.get_intervals(*days[0])
        [gap] = (await pool.query(*days[0])).missing
        assert gap.retry_at == clock() + timedelta(seconds=30)


async def test_a_bug_in_the_source_is_raised_even_to_partial_requests(
    source: FakeSource, clock: ManualClock
) -> None:
    async def broken(home: HomeInfo, span: Span) -> FetchResult:
        raise KeyError("startsAt")

    async with pool_of(source, clock) as pool:
        source.fetch = broken  # type: ignore[method-assign]
        with pytest.raises(KeyError):
            await pool.get_intervals(
                midnight(TODAY - timedelta(3)), midnight(TODAY - timedelta(2)), allow_partial=True
            )


async def test_a_failing_home_lookup_backs_off(source: FakeSource, clock: ManualClock) -> None:
    async def down(home_id: str) -> HomeInfo:
        source.home_calls += 1
        raise SourceUnavailableError("connection refused")

    source.home = down  # type: ignore[method-assign]
    async with pool_of(source, clock) as pool:
        for _ in range(10):
            with pytest.raises(SourceUnavailableError):
                await pool.get_intervals(midnight(TODAY), midnight(TODAY + timedelta(1)))
            clock.advance(1)
        assert source.home_calls == 1
        assert pool.stats.failures == 1
