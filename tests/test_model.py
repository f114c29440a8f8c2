"""PriceInterval, Span and HomeInfo: the values every other part relies on."""

from __future__ import annotations

import itertools
import math
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pricepool.clock import local_midnight
from pricepool.errors import InvalidResponseError, PricePoolError
from pricepool.model import HomeInfo, PriceInterval, PriceLevel, Span

from .helpers_parts import BERLIN, OSLO, interval

QUARTER = timedelta(minutes=15)
NODE: dict[str, Any] = {
    "startsAt": "2025-11-25T00:15:00.000+01:00",
    "total": 0.2543,
    "energy": 0.2,
    "tax": 0.0543,
    "level": "CHEAP",
    "currency": "NOK",
}


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


# ---------------------------------------------------------------- immutability


@pytest.mark.parametrize("name", ["start", "total", "energy", "tax", "level", "currency", "new"])
def test_setting_any_attribute_raises_and_leaves_the_interval_unchanged(name: str) -> None:
    item = interval(berlin(2026, 1, 5, 10), total=0.3, level=PriceLevel.CHEAP)
    before = (item.start, item.end, item.total, item.level)
    with pytest.raises(AttributeError, match="immutable"):
        setattr(item, name, 1.0)
    assert (item.start, item.end, item.total, item.level) == before


@pytest.mark.parametrize("name", ["start", "total", "level"])
def test_deleting_an_attribute_raises(name: str) -> None:
    item = interval(berlin(2026, 1, 5, 10), total=0.3, level=PriceLevel.CHEAP)
    before = getattr(item, name)
    with pytest.raises(AttributeError, match="immutable"):
        delattr(item, name)
    assert getattr(item, name) == before


# ---------------------------------------------------------------- equality


def test_same_instant_in_different_zones_is_equal_and_hashes_alike() -> None:
    in_berlin = interval(berlin(2026, 1, 5, 1), total=0.1)
    in_utc = interval(datetime(2026, 1, 5, 0, tzinfo=UTC), total=0.1)
    in_new_york = interval(datetime(2026, 1, 4, 19, tzinfo=ZoneInfo("America/New_York")), total=0.1)
    assert in_berlin == in_utc == in_new_york
    assert len({in_berlin, in_utc, in_new_york}) == 1


def test_repeated_wall_time_of_the_fall_back_night_gives_two_different_intervals() -> None:
    first = interval(berlin(2026, 10, 25, 2, 15, fold=0), total=0.1)
    second = interval(berlin(2026, 10, 25, 2, 15, fold=1), total=0.1)
    assert first != second
    assert len({first, second}) == 2
    assert second.start.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=1)


@pytest.mark.parametrize(
    "changes",
    [
        {"total": 0.31},
        {"energy": 0.2},
        {"tax": 0.05},
        {"level": PriceLevel.EXPENSIVE},
        {"currency": "SEK"},
        {"minutes": 60},
    ],
)
def test_intervals_differing_in_one_value_are_not_equal(changes: dict[str, Any]) -> None:
    base: dict[str, Any] = {"minutes": 15, "total": 0.3}
    one = interval(berlin(2026, 1, 5, 10), **base)
    other = interval(berlin(2026, 1, 5, 10), **{**base, **changes})
    assert one != other


def test_intervals_without_energy_and_tax_equal_each_other() -> None:
    # energy/tax are NaN inside; NaN must not make an interval unequal to its twin.
    one = interval(berlin(2026, 1, 5, 10), total=0.3)
    twin = interval(berlin(2026, 1, 5, 10), total=0.3)
    assert math.isnan(one.energy)
    assert math.isnan(one.tax)
    assert one == twin
    assert hash(one) == hash(twin)
    assert one == one  # reflexive although the fields hold NaN


def test_same_price_ignores_start_and_length() -> None:
    one = interval(berlin(2026, 1, 5, 10), total=0.3, level="CHEAP")
    later = interval(berlin(2026, 1, 6, 11), minutes=60, total=0.3, level="CHEAP")
    dearer = interval(berlin(2026, 1, 5, 10), total=0.31, level="CHEAP")
    assert one.same_price(later)
    assert not one.same_price(dearer)


# ---------------------------------------------------------------- end and DST


def test_end_of_last_summer_quarter_hour_before_fall_back_is_fifteen_utc_minutes_later() -> None:
    start = berlin(2026, 10, 25, 2, 45, fold=0)  # 02:45 CEST = 00:45 UTC
    end = berlin(2026, 10, 25, 2, 0, fold=1)  # 02:00 CET  = 01:00 UTC
    item = PriceInterval(start, end, 0.1)
    assert item.length == QUARTER
    assert item.end.astimezone(UTC) - item.start.astimezone(UTC) == QUARTER
    assert item.end.astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert item.end.utcoffset() == timedelta(hours=1)
    assert item.end.tzinfo is BERLIN


def test_end_of_last_winter_quarter_hour_before_spring_forward_is_three_cest() -> None:
    item = interval(berlin(2026, 3, 29, 1, 45), total=0.1)
    assert item.end.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert (item.end.hour, item.end.minute) == (3, 0)
    assert item.end.utcoffset() == timedelta(hours=2)


def test_end_is_shown_in_the_zone_of_start() -> None:
    item = PriceInterval(
        datetime(2026, 1, 5, 10, tzinfo=OSLO), datetime(2026, 1, 5, 10, tzinfo=UTC), 0.1
    )
    assert item.length == timedelta(hours=1)
    assert item.end.tzinfo is OSLO
    assert item.end == datetime(2026, 1, 5, 11, tzinfo=OSLO)


# ---------------------------------------------------------------- validation

START = datetime(2026, 1, 5, 10, tzinfo=BERLIN)
END = START + QUARTER


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"start": datetime(2026, 1, 5, 10)}, "start"),
        ({"end": datetime(2026, 1, 5, 10, 15)}, "end"),
        ({"end": START}, "end"),
        ({"end": START - QUARTER}, "end"),
        ({"start": START.replace(second=30), "end": END.replace(second=30)}, "minute"),
        ({"start": START.replace(microsecond=1), "end": END}, "minute"),
        ({"total": math.nan}, "total"),
        ({"total": math.inf}, "total"),
        ({"total": -math.inf}, "total"),
        ({"total": True}, "total"),
        ({"total": "0.25"}, "total"),
        ({"total": None}, "total"),
        ({"energy": math.nan}, "energy"),
        ({"energy": "0.2"}, "energy"),
        ({"tax": math.inf}, "tax"),
        ({"tax": False}, "tax"),
        ({"level": "SUPER_CHEAP"}, "SUPER_CHEAP"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_field(
    kwargs: dict[str, Any], named: str
) -> None:
    args: dict[str, Any] = {"start": START, "end": END, "total": 0.25, **kwargs}
    with pytest.raises(ValueError, match=named):
        PriceInterval(**args)


def test_integers_and_negative_prices_are_accepted_as_floats() -> None:
    item = PriceInterval(START, END, -1, energy=0, tax=2, level="NORMAL")
    assert (item.total, item.energy, item.tax) == (-1.0, 0.0, 2.0)
    assert isinstance(item.total, float)
    assert item.level is PriceLevel.NORMAL


# ---------------------------------------------------------------- Tibber nodes


def test_from_node_reads_tibber_startsat_with_offset_and_milliseconds() -> None:
    item = PriceInterval.from_node(NODE, tz=OSLO, length=QUARTER)
    assert item.start == datetime(2025, 11, 24, 23, 15, tzinfo=UTC)
    assert item.start.tzinfo is OSLO
    assert item.end == datetime(2025, 11, 24, 23, 30, tzinfo=UTC)
    assert (item.total, item.energy, item.tax) == (0.2543, 0.2, 0.0543)
    assert item.level is PriceLevel.CHEAP
    assert item.currency == "NOK"


def test_to_node_gives_back_the_tibber_node_exactly() -> None:
    assert PriceInterval.from_node(NODE, tz=OSLO, length=QUARTER).to_node() == NODE


def test_from_node_accepts_z_suffix_and_round_trips_in_home_zone() -> None:
    node = {**NODE, "startsAt": "2025-11-24T23:15:00.000Z"}
    item = PriceInterval.from_node(node, tz=OSLO, length=QUARTER)
    assert item == PriceInterval.from_node(NODE, tz=OSLO, length=QUARTER)
    out = item.to_node()
    assert out["startsAt"] == "2025-11-25T00:15:00.000+01:00"
    assert PriceInterval.from_node(out, tz=OSLO, length=QUARTER) == item


def test_from_node_takes_currency_from_argument_when_node_has_none() -> None:
    node = {k: v for k, v in NODE.items() if k != "currency"}
    assert PriceInterval.from_node(node, tz=OSLO, length=QUARTER, currency="SEK").currency == "SEK"
    assert PriceInterval.from_node(NODE, tz=OSLO, length=QUARTER, currency="SEK").currency == "NOK"


def test_from_node_without_energy_tax_level_keeps_them_unknown() -> None:
    node = {"startsAt": NODE["startsAt"], "total": 0.3}
    item = PriceInterval.from_node(node, tz=OSLO, length=timedelta(hours=1))
    assert item.level is None
    assert item.currency is None
    assert item.to_node() == {
        "startsAt": NODE["startsAt"],
        "total": 0.3,
        "energy": None,
        "tax": None,
        "level": None,
        "currency": None,
    }


def test_to_node_writes_missing_energy_and_tax_as_none_not_nan() -> None:
    node = interval(datetime(2026, 1, 5, 10, tzinfo=OSLO), total=0.3).to_node()
    assert node["energy"] is None
    assert node["tax"] is None
    assert node["startsAt"] == "2026-01-05T10:00:00.000+01:00"


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in NODE.items() if k != key}


@pytest.mark.parametrize(
    ("node", "named"),
    [
        (_without("startsAt"), "startsAt"),
        ({**NODE, "startsAt": 1764026100}, "startsAt"),
        ({**NODE, "startsAt": "tomorrow at noon"}, "startsAt"),
        ({**NODE, "startsAt": "2025-11-25T00:15:00.000"}, "offset"),
        ({**NODE, "startsAt": "2025-11-25T00:15:30.000+01:00"}, "minute"),
        (_without("total"), "total"),
        ({**NODE, "total": None}, "total"),
        ({**NODE, "total": math.nan}, "total"),
        ({**NODE, "total": "0.25"}, "total"),
        ({**NODE, "energy": math.inf}, "energy"),
        ({**NODE, "level": "SUPER_CHEAP"}, "level"),
        ({**NODE, "level": "cheap"}, "level"),
    ],
)
def test_from_node_rejects_untrustworthy_nodes_naming_the_problem(
    node: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidResponseError, match=named) as caught:
        PriceInterval.from_node(node, tz=OSLO, length=QUARTER)
    assert isinstance(caught.value, PricePoolError)


def _fall_back_day_nodes(step: timedelta) -> list[dict[str, Any]]:
    """Nodes of 2026-10-25 in Berlin, startsAt in the local offset as Tibber sends them."""
    start = local_midnight(date(2026, 10, 25), BERLIN).astimezone(UTC)
    end = local_midnight(date(2026, 10, 26), BERLIN).astimezone(UTC)
    nodes = []
    while start < end:
        local = start.astimezone(BERLIN)
        nodes.append({"startsAt": local.isoformat(timespec="milliseconds"), "total": 0.1})
        start += step
    return nodes


def test_from_node_reads_every_quarter_hour_of_spring_forward_day() -> None:
    start = local_midnight(date(2026, 3, 29), BERLIN)
    nodes = []
    for n in range(92):
        local = (start.astimezone(UTC) + n * QUARTER).astimezone(BERLIN)
        nodes.append({"startsAt": local.isoformat(timespec="milliseconds"), "total": 0.1})
    items = [PriceInterval.from_node(n, tz=BERLIN, length=QUARTER) for n in nodes]
    assert all(i.length == QUARTER for i in items)
    assert all(a.end == b.start for a, b in itertools.pairwise(items))


@pytest.mark.parametrize("step", [QUARTER, timedelta(hours=1)], ids=["quarter", "hour"])
def test_from_node_reads_every_interval_of_fall_back_day_with_its_true_length(
    step: timedelta,
) -> None:
    # Regression: a wall-clock end made 02:45 CEST last 75 min and refused 02:00-02:30 CET.
    nodes = _fall_back_day_nodes(step)
    assert len(nodes) == (100 if step == QUARTER else 25)
    items = [PriceInterval.from_node(n, tz=BERLIN, length=step) for n in nodes]
    assert [i.length for i in items] == [step] * len(nodes)
    assert all(a.end == b.start for a, b in itertools.pairwise(items))


def test_from_node_second_0215_of_fall_back_night_parses() -> None:
    # Regression: from_node once added the length in wall-clock time and refused this node.
    node = {"startsAt": "2026-10-25T02:15:00.000+01:00", "total": 0.1}
    item = PriceInterval.from_node(node, tz=BERLIN, length=QUARTER)
    # In UTC: Python never calls an ambiguous wall time equal across zones (PEP 495).
    assert item.end.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert item.length == QUARTER


# ---------------------------------------------------------------- pickle, zones


@pytest.mark.parametrize(
    "item",
    [
        interval(berlin(2026, 1, 5, 10), total=0.3),
        interval(berlin(2026, 10, 25, 2, 15, fold=1), total=0.3, energy=0.2, tax=0.1),
        interval(datetime(2026, 1, 5, tzinfo=UTC), minutes=60, total=-0.01, level="VERY_CHEAP"),
        PriceInterval.from_node(NODE, tz=OSLO, length=QUARTER),
    ],
)
def test_pickle_round_trip_keeps_instant_zone_and_values(item: PriceInterval) -> None:
    back = pickle.loads(pickle.dumps(item))
    assert back == item
    assert back.start.tzinfo == item.start.tzinfo
    assert back.start.utcoffset() == item.start.utcoffset()
    assert back.end == item.end
    assert back.length == item.length
    assert back.level is item.level
    assert math.isnan(back.energy) == math.isnan(item.energy)
    assert back.to_node() == item.to_node()


def test_in_zone_keeps_the_instant_and_values_but_shows_the_new_zone() -> None:
    item = interval(berlin(2026, 10, 25, 2, 45, fold=0), total=0.3, level="CHEAP", currency="EUR")
    moved = item.in_zone(OSLO)
    assert moved == item
    assert moved.start.tzinfo is OSLO
    assert moved.start.astimezone(UTC) == item.start.astimezone(UTC)
    # Compared in UTC: Python never calls an ambiguous wall time equal across zones (PEP 495).
    assert moved.end.astimezone(UTC) == item.end.astimezone(UTC)
    assert moved.end.tzinfo is OSLO
    assert moved.length == item.length
    assert moved.same_price(item)
    utc = item.in_zone(ZoneInfo("UTC"))
    assert utc.start.hour == 0
    assert utc.start.minute == 45


# ---------------------------------------------------------------- Span


def test_span_is_held_in_utc_whatever_zone_it_was_given_in() -> None:
    span = Span(berlin(2026, 1, 5), datetime(2026, 1, 5, 2, tzinfo=timezone(timedelta(hours=2))))
    assert span.start.tzinfo is UTC
    assert span.end.tzinfo is UTC
    assert span.start == datetime(2026, 1, 4, 23, tzinfo=UTC)
    assert span.end == datetime(2026, 1, 5, 0, tzinfo=UTC)
    assert span.duration == timedelta(hours=1)


def test_span_keeps_the_fold_of_the_repeated_hour() -> None:
    span = Span(berlin(2026, 10, 25, 2, fold=0), berlin(2026, 10, 25, 2, fold=1))
    assert span.duration == timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (datetime(2026, 1, 5), datetime(2026, 1, 6, tzinfo=UTC), "start"),
        (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6), "end"),
        ("2026-01-05", datetime(2026, 1, 6, tzinfo=UTC), "start"),
        (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC), "after"),
        (datetime(2026, 1, 5, 1, tzinfo=BERLIN), datetime(2026, 1, 5, tzinfo=UTC), "after"),
    ],
)
def test_span_rejects_naive_and_empty(start: Any, end: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Span(start, end)


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (10.25, 20.5, (10, 21)),
        (10.0, 20.0, (10, 20)),
        (-1.5, -0.25, (-2, 0)),
    ],
)
def test_span_seconds_floor_the_start_and_ceil_the_end(
    start: float, end: float, seconds: tuple[int, int]
) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    span = Span(epoch + timedelta(seconds=start), epoch + timedelta(seconds=end))
    assert span.seconds == seconds


def test_span_from_seconds_round_trips_and_contains_is_half_open() -> None:
    span = Span.from_seconds(1_767_571_200, 1_767_574_800)
    assert span.seconds == (1_767_571_200, 1_767_574_800)
    assert span.start in span
    assert span.end - timedelta(microseconds=1) in span
    assert span.end not in span
    assert span.start - timedelta(microseconds=1) not in span


def test_span_contains_local_times_of_the_repeated_hour_by_instant() -> None:
    span = Span(datetime(2026, 10, 25, 1, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC))
    assert berlin(2026, 10, 25, 2, fold=1) in span  # 02:00 CET = 01:00 UTC
    assert berlin(2026, 10, 25, 2, 59, fold=1) in span
    assert berlin(2026, 10, 25, 2, fold=0) not in span  # 02:00 CEST = 00:00 UTC


# ---------------------------------------------------------------- HomeInfo


@pytest.mark.parametrize("name", ["Europe/Nowhere", "", "CEST"])
def test_home_info_rejects_unknown_zones_naming_them(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        HomeInfo("home-1", name)


def test_home_info_rejects_an_empty_id() -> None:
    with pytest.raises(ValueError, match="id"):
        HomeInfo("", "Europe/Oslo")


def test_home_info_gives_its_zone() -> None:
    home = HomeInfo("home-1", "Europe/Stockholm", "SEK")
    assert home.tz == ZoneInfo("Europe/Stockholm")
    assert home.currency == "SEK"


def test_lasting_builds_the_same_interval_as_start_and_end() -> None:
    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, 2, 45, tzinfo=tz)  # the first 02:45, before the clocks go back
    made = PriceInterval.lasting(start, 900, 0.25, 0.2, 0.05, "CHEAP", "EUR")
    assert made == PriceInterval(
        start,
        (start.astimezone(UTC) + timedelta(minutes=15)).astimezone(tz),
        0.25,
        0.2,
        0.05,
        "CHEAP",
        "EUR",
    )
    assert made.end.astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("seconds", [0, -900, 900.0, True])
def test_lasting_refuses_a_length_that_is_not_positive_whole_seconds(seconds: object) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="length"):
        PriceInterval.lasting(start, seconds, 0.1)  # type: ignore[arg-type]


def test_a_negative_zero_price_is_zero_so_output_does_not_depend_on_the_cache() -> None:
    """The API may send -0.0; a store may not keep the sign, and CSV showed "-0.0" only on
    a fresh fetch."""
    start = datetime(2025, 4, 18, 21, tzinfo=UTC)
    item = PriceInterval(start, start + timedelta(hours=1), -0.0, -0.0, -0.0)
    assert [math.copysign(1.0, v) for v in (item.total, item.energy, item.tax)] == [1.0] * 3
