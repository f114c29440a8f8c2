"""Retention: evict whole fetch groups, oldest fetch first, never the protected window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool.coverage import Coverage
from pricepool.retention import Retention
from pricepool.timeline import Timeline

from .helpers_parts import BERLIN, HOUR, OSLO, at_seconds, day_hours, day_span, merge

# "Now" is 2026-03-15 12:00 in Oslo: the protected window is 03-13 00:00 .. 03-17 00:00.
NOW = datetime(2026, 3, 15, 12, tzinfo=OSLO)
TZ = OSLO


class Pool:
    """A timeline and its coverage, filled one local day (one fetch group) at a time."""

    def __init__(self, tz: ZoneInfo = TZ) -> None:
        self.tz = tz
        self.timeline = Timeline()
        self.coverage = Coverage()
        self.groups: dict[date, int] = {}

    def fetch_day(self, day: date, total: float = 0.25) -> int:
        start, end = day_span(day, self.tz)
        result = merge(self.timeline, start, end, day_hours(day, self.tz, total))
        self.coverage.record(start, end)
        assert result.group is not None
        self.groups[day] = result.group
        return result.group

    def ids(self) -> list[int]:
        return [g.id for g in self.timeline.groups]


def test_protected_window_runs_from_day_before_yesterday_to_day_after_tomorrow() -> None:
    lo, hi = Retention.protected(NOW, TZ)
    assert datetime.fromtimestamp(lo, TZ) == datetime(2026, 3, 13, tzinfo=TZ)
    assert datetime.fromtimestamp(hi, TZ) == datetime(2026, 3, 17, tzinfo=TZ)


def test_protected_window_is_home_local_across_spring_forward() -> None:
    now = datetime(2026, 3, 30, 0, 30, tzinfo=BERLIN)  # still 29 March in UTC
    lo, hi = Retention.protected(now, BERLIN)
    assert datetime.fromtimestamp(lo, UTC) == datetime(2026, 3, 27, 23, tzinfo=UTC)  # CET
    assert datetime.fromtimestamp(hi, UTC) == datetime(2026, 3, 31, 22, tzinfo=UTC)  # CEST
    assert hi - lo == 4 * 24 * HOUR - HOUR


def test_max_intervals_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_intervals"):
        Retention(0)


def test_nothing_is_evicted_at_or_under_the_limit() -> None:
    pool = Pool()
    for day in (date(2026, 1, 1), date(2026, 1, 2)):
        pool.fetch_day(day)
    retention = Retention(max_intervals=48)
    assert retention.victims(pool.timeline, NOW, TZ) == []
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 0
    assert len(pool.timeline) == 48
    assert pool.coverage.covers(*day_span(date(2026, 1, 1), TZ))


def test_oldest_fetch_is_evicted_first_not_the_oldest_prices() -> None:
    pool = Pool()
    fetched_first = pool.fetch_day(date(2026, 1, 2))
    pool.fetch_day(date(2026, 1, 1))
    pool.fetch_day(date(2026, 1, 3))
    retention = Retention(max_intervals=3 * 24 - 1)
    assert retention.victims(pool.timeline, NOW, TZ) == [fetched_first]
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 24
    assert pool.ids() == [pool.groups[date(2026, 1, 1)], pool.groups[date(2026, 1, 3)]]
    assert pool.timeline.slice(*day_span(date(2026, 1, 2), TZ)) == []


def test_eviction_takes_whole_groups_until_within_the_limit() -> None:
    pool = Pool()
    days = [date(2026, 1, d) for d in (1, 2, 3, 4)]
    for day in days:
        pool.fetch_day(day)
    retention = Retention(max_intervals=4 * 24 - 25)  # one group is not enough
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 48
    assert len(pool.timeline) == 48
    assert pool.ids() == [pool.groups[days[2]], pool.groups[days[3]]]


def test_protected_window_is_never_evicted_even_over_the_limit() -> None:
    pool = Pool()
    protected = [date(2026, 3, d) for d in (13, 14, 15, 16)]
    for day in protected:  # fetched first: the oldest groups
        pool.fetch_day(day)
    old = pool.fetch_day(date(2026, 1, 1))
    retention = Retention(max_intervals=1)
    assert retention.victims(pool.timeline, NOW, TZ) == [old]
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 24
    assert len(pool.timeline) == 4 * 24 > retention.max_intervals
    assert pool.ids() == [pool.groups[d] for d in protected]
    for day in protected:
        assert pool.coverage.covers(*day_span(day, TZ))
    # Nothing more to take: a second run evicts nothing.
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 0


def test_days_just_outside_the_window_are_evictable() -> None:
    pool = Pool()
    before = pool.fetch_day(date(2026, 3, 12))  # ends at the window's start
    after = pool.fetch_day(date(2026, 3, 17))  # starts at the window's end
    assert Retention(max_intervals=1).victims(pool.timeline, NOW, TZ) == [before, after]


def test_a_group_with_a_single_interval_in_the_window_is_protected() -> None:
    pool = Pool()
    window_start = int(datetime(2026, 3, 13, tzinfo=TZ).timestamp())
    start = window_start - 23 * HOUR
    items = [at_seconds(s, HOUR, 0.25, TZ) for s in range(start, window_start + HOUR, HOUR)]
    straddling = merge(pool.timeline, start, window_start + HOUR, items).group
    old = pool.fetch_day(date(2026, 1, 1))
    assert Retention(max_intervals=1).victims(pool.timeline, NOW, TZ) == [old]
    assert straddling in pool.ids()


def test_evicted_spans_are_forgotten_by_coverage() -> None:
    pool = Pool()
    pool.fetch_day(date(2026, 1, 1))
    pool.fetch_day(date(2026, 1, 2))
    Retention(max_intervals=24).enforce(pool.timeline, pool.coverage, NOW, TZ)
    jan1 = day_span(date(2026, 1, 1), TZ)
    assert pool.coverage.missing(*jan1) == [jan1]
    assert pool.coverage.covers(*day_span(date(2026, 1, 2), TZ))


def test_eviction_keeps_coverage_of_what_a_newer_fetch_answered_inside_the_old_span() -> None:
    pool = Pool()
    old = pool.fetch_day(date(2026, 1, 1))
    start, end = day_span(date(2026, 1, 1), TZ)
    refetched = [at_seconds(start + n * HOUR, HOUR, 0.9, TZ) for n in range(6)]
    newer = merge(pool.timeline, start, start + 6 * HOUR, refetched).group
    pool.coverage.record(start, start + 6 * HOUR)
    retention = Retention(max_intervals=6)
    assert retention.victims(pool.timeline, NOW, TZ) == [old]
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ) == 18
    assert pool.ids() == [newer]
    assert pool.timeline.slice(start, end) == refetched
    assert pool.coverage.missing(start, end) == [(start + 6 * HOUR, end)]


@pytest.mark.parametrize("limit", [1, 24, 40, 48, 71, 72, 100])
def test_victims_names_exactly_the_groups_enforce_evicts(limit: int) -> None:
    pool = Pool()
    for day in (date(2026, 1, 3), date(2026, 3, 14), date(2026, 1, 1), date(2026, 2, 1)):
        pool.fetch_day(day)
    retention = Retention(max_intervals=limit)
    before = {g: pool.timeline.size(g) for g in pool.ids()}
    victims = retention.victims(pool.timeline, NOW, TZ)
    assert len(pool.timeline) == 96  # a dry run changes nothing
    dropped = retention.enforce(pool.timeline, pool.coverage, NOW, TZ)
    assert set(before) - set(pool.ids()) == set(victims)
    assert dropped == sum(before[g] for g in victims)
    assert pool.groups[date(2026, 3, 14)] not in victims
    if limit >= 96:
        assert victims == []


def test_window_moves_with_the_clock() -> None:
    pool = Pool()
    day = pool.fetch_day(date(2026, 3, 13))
    retention = Retention(max_intervals=1)
    assert retention.victims(pool.timeline, NOW, TZ) == []
    next_day = NOW + timedelta(days=1)  # the window now starts on 03-14
    assert retention.victims(pool.timeline, next_day, TZ) == [day]


def test_spared_groups_are_kept_like_protected_ones_and_the_next_oldest_goes() -> None:
    pool = Pool()
    spared = pool.fetch_day(date(2026, 1, 1))
    next_oldest = pool.fetch_day(date(2026, 1, 2))
    pool.fetch_day(date(2026, 1, 3))
    retention = Retention(max_intervals=3 * 24 - 1)
    assert retention.victims(pool.timeline, NOW, TZ, spare={spared}) == [next_oldest]
    assert retention.enforce(pool.timeline, pool.coverage, NOW, TZ, spare={spared}) == 24
    assert spared in pool.ids()
    assert next_oldest not in pool.ids()
    assert pool.coverage.covers(*day_span(date(2026, 1, 1), TZ))


def test_keep_spares_reads_under_way_held_groups_and_recent_fetches() -> None:
    pool = Pool()
    old, read, held = (pool.fetch_day(date(2026, 1, d)) for d in (1, 2, 3))
    fresh_day = date(2026, 1, 4)
    start, end = day_span(fresh_day, TZ)
    fresh = merge(
        pool.timeline, start, end, day_hours(fresh_day, TZ), NOW - timedelta(minutes=5)
    ).group
    pool.coverage.record(start, end)
    retention = Retention(max_intervals=24, recent=900)
    reading = [day_span(date(2026, 1, 2), TZ)]
    assert retention.keep(pool.timeline, pool.coverage, NOW, TZ, reading, [held]) == 24
    assert pool.ids() == [read, held, fresh]
    assert not pool.coverage.covers(*day_span(date(2026, 1, 1), TZ))
    assert old not in pool.ids()


def test_keep_rests_while_all_is_protected_until_new_data_comes() -> None:
    pool = Pool()
    today = pool.fetch_day(NOW.date())  # protected
    retention = Retention(max_intervals=1)
    assert retention.keep(pool.timeline, pool.coverage, NOW, TZ) == 0  # at rest until midnight
    old = pool.fetch_day(date(2026, 1, 1))
    later = NOW + timedelta(minutes=1)
    assert retention.keep(pool.timeline, pool.coverage, later, TZ) == 0  # still at rest
    retention.settle()  # the pool says new data came
    assert retention.keep(pool.timeline, pool.coverage, later, TZ) == 24
    assert pool.ids() == [today]
    assert old not in pool.ids()


def test_keep_evicts_a_recent_fetch_once_it_has_aged() -> None:
    pool = Pool()
    fresh_day = date(2026, 1, 4)
    start, end = day_span(fresh_day, TZ)
    merge(pool.timeline, start, end, day_hours(fresh_day, TZ), NOW - timedelta(minutes=5))
    retention = Retention(max_intervals=1, recent=900)
    assert retention.keep(pool.timeline, pool.coverage, NOW, TZ) == 0  # spared: 5 min old
    assert retention.keep(pool.timeline, pool.coverage, NOW + timedelta(minutes=9), TZ) == 0
    assert retention.keep(pool.timeline, pool.coverage, NOW + timedelta(minutes=11), TZ) == 24


def test_sweep_does_not_spare_recent_fetches() -> None:
    pool = Pool()
    fresh_day = date(2026, 1, 4)
    start, end = day_span(fresh_day, TZ)
    merge(pool.timeline, start, end, day_hours(fresh_day, TZ), NOW - timedelta(minutes=5))
    retention = Retention(max_intervals=1, recent=900)
    assert retention.sweep(pool.timeline, pool.coverage, NOW, TZ) == 24
