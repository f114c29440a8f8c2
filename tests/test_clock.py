"""Home-local day edges and the manual clock."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool.clock import ManualClock, day_of, day_start, local_midnight, system_clock

from .helpers_parts import BERLIN, OSLO, STOCKHOLM

NORDIC = [BERLIN, OSLO, STOCKHOLM]
ZONE_IDS = ["Berlin", "Oslo", "Stockholm"]


@pytest.mark.parametrize("tz", NORDIC, ids=ZONE_IDS)
@pytest.mark.parametrize(
    ("day", "utc_midnight"),
    [
        (date(2026, 1, 15), datetime(2026, 1, 14, 23, tzinfo=UTC)),  # CET
        (date(2026, 7, 15), datetime(2026, 7, 14, 22, tzinfo=UTC)),  # CEST
        (date(2026, 3, 29), datetime(2026, 3, 28, 23, tzinfo=UTC)),  # spring forward at 02:00
        (date(2026, 3, 30), datetime(2026, 3, 29, 22, tzinfo=UTC)),
        (date(2026, 10, 25), datetime(2026, 10, 24, 22, tzinfo=UTC)),  # fall back at 03:00
        (date(2026, 10, 26), datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ],
)
def test_local_midnight_is_the_first_instant_of_the_local_day(
    tz: ZoneInfo, day: date, utc_midnight: datetime
) -> None:
    midnight = local_midnight(day, tz)
    assert midnight.astimezone(UTC) == utc_midnight
    assert midnight.tzinfo is tz
    assert (midnight.date(), midnight.hour, midnight.minute) == (day, 0, 0)


@pytest.mark.parametrize("tz", NORDIC, ids=ZONE_IDS)
@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 1, 15), 24), (date(2026, 3, 29), 23), (date(2026, 10, 25), 25)],
)
def test_local_day_lasts_23_24_or_25_hours(tz: ZoneInfo, day: date, hours: int) -> None:
    # Subtraction of aware datetimes in one zone is wall-clock; measure on the UTC line.
    start = local_midnight(day, tz).astimezone(UTC)
    end = local_midnight(day + timedelta(days=1), tz).astimezone(UTC)
    assert end - start == timedelta(hours=hours)


def test_local_midnight_that_does_not_exist_is_the_first_instant_that_does() -> None:
    # Chile springs forward at 00:00 -> 01:00 on 2024-09-08.
    santiago = ZoneInfo("America/Santiago")
    midnight = local_midnight(date(2024, 9, 8), santiago)
    assert midnight.astimezone(UTC) == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert (midnight.hour, midnight.utcoffset()) == (1, timedelta(hours=-3))
    before = midnight.astimezone(UTC) - timedelta(seconds=1)
    assert before.astimezone(santiago).date() == date(2024, 9, 7)


def test_local_midnight_that_happens_twice_is_the_first_one() -> None:
    # Cuba falls back 01:00 -> 00:00 on 2024-11-03: local midnight occurs twice.
    havana = ZoneInfo("America/Havana")
    midnight = local_midnight(date(2024, 11, 3), havana)
    assert midnight.astimezone(UTC) == datetime(2024, 11, 3, 4, tzinfo=UTC)
    before = midnight.astimezone(UTC) - timedelta(seconds=1)
    assert before.astimezone(havana).date() == date(2024, 11, 2)


@pytest.mark.parametrize("tz", NORDIC, ids=ZONE_IDS)
def test_day_start_offsets_cross_the_fall_back_day(tz: ZoneInfo) -> None:
    instant = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST on 2026-10-25
    edges = [day_start(instant, tz, k).astimezone(UTC) for k in (-1, 0, 1, 2)]
    assert edges == [
        datetime(2026, 10, 23, 22, tzinfo=UTC),
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
        datetime(2026, 10, 26, 23, tzinfo=UTC),
    ]
    lengths = [b - a for a, b in itertools.pairwise(edges)]
    assert lengths == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]


@pytest.mark.parametrize("tz", NORDIC, ids=ZONE_IDS)
def test_day_start_offsets_cross_the_spring_forward_day(tz: ZoneInfo) -> None:
    instant = datetime(2026, 3, 29, 12, tzinfo=tz)
    edges = [day_start(instant, tz, k).astimezone(UTC) for k in (-2, -1, 0, 1, 2)]
    lengths = [b - a for a, b in itertools.pairwise(edges)]
    assert lengths == [
        timedelta(hours=24),
        timedelta(hours=24),
        timedelta(hours=23),
        timedelta(hours=24),
    ]
    assert edges[2] == datetime(2026, 3, 28, 23, tzinfo=UTC)


def test_day_start_uses_the_home_local_date_not_the_utc_date() -> None:
    late_utc = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)  # already 2026-01-15 in Berlin
    assert day_of(late_utc, BERLIN) == date(2026, 1, 15)
    assert day_start(late_utc, BERLIN) == datetime(2026, 1, 15, tzinfo=BERLIN)
    assert day_start(late_utc, ZoneInfo("UTC")).date() == date(2026, 1, 14)


def test_day_start_of_midnight_itself_is_that_midnight() -> None:
    midnight = local_midnight(date(2026, 10, 25), OSLO)
    assert day_start(midnight, OSLO) == midnight
    just_before = midnight - timedelta(microseconds=1)
    assert day_start(just_before, OSLO) == local_midnight(date(2026, 10, 24), OSLO)


def test_day_start_is_given_in_the_home_zone() -> None:
    instant = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("America/New_York"))
    assert day_start(instant, STOCKHOLM).tzinfo is STOCKHOLM


# ---------------------------------------------------------------- clocks


def test_system_clock_is_aware_and_in_utc() -> None:
    now = system_clock()
    assert now.tzinfo is UTC


def test_manual_clock_stands_still_until_told() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=BERLIN)
    clock = ManualClock(start)
    assert clock() == start
    assert clock() == start


def test_manual_clock_advances_by_seconds_or_timedelta_and_returns_new_now() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.advance(90) == start + timedelta(seconds=90)
    assert clock.advance(0.5) == start + timedelta(seconds=90.5)
    assert clock.advance(timedelta(hours=1)) == start + timedelta(hours=1, seconds=90.5)
    assert clock() == start + timedelta(hours=1, seconds=90.5)
    assert clock.advance(0) == clock()


@pytest.mark.parametrize("delta", [-1, -0.001, timedelta(minutes=-15)])
def test_manual_clock_refuses_to_move_backwards(delta: float | timedelta) -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    clock = ManualClock(start)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(delta)
    assert clock() == start


def test_manual_clock_set_jumps_to_the_given_instant() -> None:
    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    target = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    clock.set(target)
    assert clock() is target


def test_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 5, 9))
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    clock = ManualClock(start)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 6, 9))
    assert clock() == start
