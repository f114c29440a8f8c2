"""Random request sequences against a source with a known truth."""

from __future__ import annotations

import asyncio
import itertools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricepool import (
    Cause,
    FetchResult,
    HomeInfo,
    IntervalPool,
    ManualClock,
    SourceUnavailableError,
    Span,
)
from pricepool.clock import local_midnight
from pricepool.coverage import union

from .fakes import FakeSource

ZONES = ["Europe/Berlin", "Europe/Oslo", "Europe/Stockholm"]
EPOCH = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def seconds(low: int, high: int) -> st.SearchStrategy[int]:
    """Seconds, often on the quarter-hour grid where off-by-one bugs live."""
    return st.one_of(
        st.integers(low // 900, high // 900).map(lambda q: q * 900), st.integers(low, high)
    )


requests = st.tuples(
    seconds(-400 * 86_400, 400 * 86_400),  # start, from now
    seconds(900, 20 * 86_400),  # length
    seconds(0, 3 * 86_400),  # clock advance before the request
    st.one_of(st.just(0), st.integers(1, 999_999)),  # microseconds off the grid
)


def overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    steps=st.lists(requests, min_size=1, max_size=12),
    offset=seconds(0, 86_399),
)
def test_answers_equal_the_truth_and_nothing_is_fetched_twice(
    zone: str, steps: list[tuple[int, int, int, int]], offset: int
) -> None:
    clock = ManualClock(EPOCH + timedelta(seconds=offset))
    source = FakeSource(clock, {"home": zone})

    async def run() -> None:
        async with IntervalPool("home", source, clock=clock, max_intervals=10**7) as pool:
            answered: list[Span] = []
            for start_s, length, advance, micro in steps:
                clock.advance(advance)
                start = clock() + timedelta(seconds=start_s, microseconds=micro)
                end = start + timedelta(seconds=length)
                before = len(source.calls)
                got = await pool.get_intervals(start, end)
                published = source.published_until(pool.home.tz)  # type: ignore[union-attr]
                truth = [i for i in source.truth("home", start, end) if i.start < published]
                assert got == truth
                assert [i.start.tzinfo for i in got] == [pool.home.tz] * len(got)  # type: ignore[union-attr]
                for span in source.calls[before:]:
                    assert not any(overlap(span, old) for old in answered), (span, answered)
                    answered.append(span)
                # Asking again at once never calls the source.
                calls = len(source.calls)
                assert await pool.get_intervals(start, end) == got
                assert len(source.calls) == calls
            spans = union(s.seconds for s in answered)
            assert [Span.from_seconds(*e) for e in spans] == pool.coverage()[0]

    asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    steps=st.lists(requests, min_size=1, max_size=10),
    limit=st.integers(96, 3000),
)
def test_answers_stay_true_under_retention(
    zone: str, steps: list[tuple[int, int, int, int]], limit: int
) -> None:
    clock = ManualClock(EPOCH)
    source = FakeSource(clock, {"home": zone})

    async def run() -> None:
        async with IntervalPool("home", source, clock=clock, max_intervals=limit) as pool:
            for start_s, length, advance, micro in steps:
                clock.advance(advance)
                start = clock() + timedelta(seconds=start_s, microseconds=micro)
                end = start + timedelta(seconds=length)
                got = await pool.get_intervals(start, end)
                published = source.published_until(pool.home.tz)  # type: ignore[union-attr]
                assert got == [i for i in source.truth("home", start, end) if i.start < published]
                # At rest, over the limit only while every fetch group is protected (holds
                # an interval from the day before yesterday to the day after tomorrow) or
                # younger than a re-check interval.
                if pool.stats.intervals > limit:
                    tz = ZoneInfo(zone)
                    today = clock().astimezone(tz).date()
                    low = local_midnight(today - timedelta(days=2), tz)
                    high = local_midnight(today + timedelta(days=2), tz)
                    held = pool.snapshot()
                    for group in held.groups:
                        members = held.members(group.id)
                        protected = any(low <= i.start < high for i in members)
                        young = clock() - group.fetched_at < timedelta(minutes=15)
                        assert protected or young, group

    asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    steps=st.lists(st.tuples(seconds(0, 3 * 3600), seconds(-3 * 86_400, 86_400)), max_size=40),
    late=st.integers(0, 8 * 3600),
)
def test_late_publication_costs_at_most_one_call_per_recheck(
    zone: str, steps: list[tuple[int, int]], late: int
) -> None:
    """A source that publishes up to 8 h late: answers are never wrong, only short, and
    no span is asked for twice within a re-check interval."""
    clock = ManualClock(EPOCH)
    source = FakeSource(clock, {"home": zone}, delay=timedelta(seconds=late))
    asked: list[tuple[datetime, Span]] = []
    fetch = source.fetch

    async def timed(home: HomeInfo, span: Span) -> FetchResult:
        asked.append((clock(), span))
        return await fetch(home, span)

    source.fetch = timed  # type: ignore[method-assign]

    async def run() -> None:
        async with IntervalPool("home", source, clock=clock) as pool:
            for advance, offset in steps:
                clock.advance(advance)
                start = clock() + timedelta(seconds=offset)
                end = start + timedelta(days=2)
                got = await pool.get_intervals(start, end)
                truth = source.truth("home", start, end)
                assert got == truth[: len(got)]  # a prefix: nothing wrong, at most short
            # Once the late day is out and a re-check has passed, nothing is missing.
            clock.advance(timedelta(hours=9, minutes=15))
            today = clock().astimezone(ZoneInfo(zone)).date()
            window = (
                local_midnight(today - timedelta(days=2), ZoneInfo(zone)),
                local_midnight(today + timedelta(days=1), ZoneInfo(zone)),
            )
            assert await pool.get_intervals(*window) == source.truth("home", *window)

    asyncio.run(run())
    for (t1, s1), (t2, s2) in itertools.combinations(asked, 2):
        if overlap(s1, s2):
            assert t2 - t1 >= timedelta(minutes=15), (t1, s1, t2, s2)


class Flaky(FakeSource):
    """Fails the calls ``failures`` marks (cycled), each with a fresh error."""

    def __init__(self, clock: ManualClock, zone: str, failures: list[bool]) -> None:
        super().__init__(clock, {"home": zone})
        self.failures = failures

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        if self.failures[len(self.calls) % len(self.failures)]:
            self.calls.append(span)
            raise SourceUnavailableError(f"call {len(self.calls)} failed")
        return await super().fetch(home, span)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    rounds=st.lists(st.lists(requests, min_size=1, max_size=4), min_size=1, max_size=6),
    failures=st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_query_accounts_for_every_second_of_the_range(
    zone: str, rounds: list[list[tuple[int, int, int, int]]], failures: list[bool]
) -> None:
    clock = ManualClock(EPOCH)
    source = Flaky(clock, zone, failures)

    async def run() -> None:
        async with IntervalPool("home", source, clock=clock, max_intervals=10**7) as pool:
            for batch in rounds:
                clock.advance(batch[0][2])
                ranges = []
                for start_s, length, _, micro in batch:
                    start = clock() + timedelta(seconds=start_s, microseconds=micro)
                    ranges.append((start, start + timedelta(seconds=length)))
                # Arriving together: planned in one turn.
                answers = await asyncio.gather(*(pool.query(*r) for r in ranges))
                answered = pool.coverage()[0]
                for (start, end), answer in zip(ranges, answers, strict=True):
                    gaps = [g.span for g in answer.missing]
                    assert all(a.end <= b.start for a, b in itertools.pairwise(gaps))
                    assert all(start <= g.start and g.end <= end for g in gaps)
                    # Every second is either missing (with a cause) or answered.
                    lo, hi = math.ceil(start.timestamp()), math.ceil(end.timestamp())
                    held = [s.seconds for s in answered] + [g.seconds for g in gaps]
                    covered = union((max(e[0], lo), min(e[1], hi)) for e in held)
                    assert covered == [(lo, hi)], (covered, lo, hi)
                    # What is returned is the truth, and nothing in a gap.
                    truth = source.truth("home", start, end)
                    outside = [i for i in truth if not any(i.start in g for g in gaps)]
                    assert answer.intervals == outside
                    for gap in answer.missing:
                        if gap.cause is Cause.FAILED:
                            assert isinstance(gap.error, SourceUnavailableError)
                        else:
                            assert gap.expected_at is not None
                            assert gap.retry_at is not None

    asyncio.run(run())
