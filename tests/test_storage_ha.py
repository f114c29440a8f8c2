"""import_ha: the Home Assistant tibber_prices interval pool file, bare and enveloped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pricepool import PriceLevel, Span, StorageError
from pricepool.storage.ha_import import import_ha
from pricepool.storage.json_store import JsonFileStore

from .storage_model import assert_same

OSLO = "Europe/Oslo"


def nodes(first: str, count: int, minutes: int, total: float = 1.0) -> list[dict[str, Any]]:
    start = datetime.fromisoformat(first)
    return [
        {
            "startsAt": (start + timedelta(minutes=minutes * k)).isoformat(timespec="milliseconds"),
            "total": total + k,
            "energy": 0.8,
            "tax": None,
            "level": "NORMAL",
            "currency": "NOK",
        }
        for k in range(count)
    ]


def pool(*groups: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "version": 1,
        "home_id": "home-1",
        "fetch_groups": [{"fetched_at": at, "intervals": items} for at, items in groups],
    }


def envelope(data: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {
        "version": version,
        "minor_version": 1,
        "key": "tibber_prices.interval_pool.01JABCDEF",
        "data": data,
    }


BARE = pool(
    ("2025-11-25T13:05:00.123456+01:00", nodes("2025-11-26T00:00:00+01:00", 96, 15)),
    ("2025-11-24T10:00:00+01:00", nodes("2025-09-30T00:00:00+02:00", 24, 60, total=5.0)),
)


def test_a_bare_file_becomes_groups_in_fetch_order(tmp_path: Path) -> None:
    path = tmp_path / "tibber_prices.interval_pool.x"
    path.write_text(json.dumps(BARE))
    snapshot = import_ha(path, time_zone=OSLO)
    assert snapshot.home.id == "home-1"
    assert snapshot.home.currency == "NOK"
    assert len(snapshot.intervals) == 120
    first, second = snapshot.groups
    # The hourly fetch happened first, so it is group 1 although listed second.
    assert first.id == 1
    assert first.fetched_at == datetime(2025, 11, 24, 9, tzinfo=UTC)
    assert first.span == Span(
        datetime(2025, 9, 29, 22, tzinfo=UTC), datetime(2025, 9, 30, 22, tzinfo=UTC)
    )
    assert second.span.duration == timedelta(days=1)
    assert [i.length for i in snapshot.intervals[:24]] == [timedelta(hours=1)] * 24
    assert {i.length for i in snapshot.intervals[24:]} == {timedelta(minutes=15)}
    assert snapshot.intervals[0].start.isoformat() == "2025-09-30T00:00:00+02:00"
    assert snapshot.intervals[30].level is PriceLevel.NORMAL
    assert snapshot.coverage == (first.span, second.span)
    assert snapshot.pending == ()


def test_an_enveloped_file_gives_the_same_snapshot() -> None:
    assert_same(import_ha(envelope(BARE), time_zone=OSLO), import_ha(BARE, time_zone=OSLO))


async def test_an_import_saves_and_loads(tmp_path: Path) -> None:
    snapshot = import_ha(envelope(BARE), time_zone=OSLO)
    await JsonFileStore(tmp_path).save(snapshot)
    assert_same(await JsonFileStore(tmp_path).load("home-1"), snapshot)


def test_a_group_with_holes_is_split_and_later_fetches_win() -> None:
    early = nodes("2025-11-26T00:00:00+01:00", 8, 15)
    late = nodes("2025-11-26T01:00:00+01:00", 8, 15, total=9.0)
    holey = early[:2] + early[5:]
    snapshot = import_ha(
        pool(("2025-11-25T14:00:00+01:00", late), ("2025-11-25T13:00:00+01:00", holey)),
        time_zone=OSLO,
    )
    # The holey fetch makes two runs, 00:00-00:30 and 01:15-02:00 local; the later fetch
    # replaced all of the second, so that run (group 2) holds nothing and is left out.
    spans = [(g.id, g.span.start.hour, g.span.start.minute) for g in snapshot.groups]
    assert spans == [(1, 23, 0), (3, 0, 0)]
    totals = {i.start.astimezone(UTC).strftime("%H:%M"): i.total for i in snapshot.intervals}
    assert totals["00:00"] == 9.0  # 01:00 local: the later fetch wins
    assert totals["23:15"] == 2.0
    assert len(snapshot.intervals) == 2 + 8
    # The hole (00:30-01:15 local) was never answered by the early fetch alone.
    assert snapshot.coverage == (
        Span(datetime(2025, 11, 25, 23, tzinfo=UTC), datetime(2025, 11, 25, 23, 30, tzinfo=UTC)),
        Span(datetime(2025, 11, 26, 0, tzinfo=UTC), datetime(2025, 11, 26, 2, tzinfo=UTC)),
    )


def test_a_lone_interval_takes_its_length_from_the_date() -> None:
    snapshot = import_ha(
        pool(
            ("2025-11-25T13:00:00+01:00", nodes("2025-11-26T05:00:00+01:00", 1, 15)),
            ("2025-11-25T13:00:00+01:00", nodes("2025-01-26T05:00:00+01:00", 1, 60)),
        ),
        time_zone=OSLO,
    )
    assert [i.length.seconds for i in snapshot.intervals] == [3600, 900]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (envelope(BARE, version=2), "Store version 2"),
        ({**BARE, "version": 2}, "has version 2"),
        ({"homes": {"home-1": {}}}, "multi-home layout"),
        ({"home_id": "home-1"}, "expected version 1"),
        ({"version": 1, "data": [], "key": "k"}, "no object in its data"),
        (pool(("soon", [])), "cannot import"),
        (pool(("2025-11-25T13:00:00+01:00", [{"startsAt": "x"}])), "cannot import"),
        (pool(("2025-11-25T13:00:00+01:00", [{"startsAt": "2025-11-26T00:00:00"}])), "offset"),
    ],
)
def test_unknown_layouts_are_refused(document: Any, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        import_ha(document, time_zone=OSLO)


def test_a_file_that_is_not_json_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pool"
    with pytest.raises(StorageError, match=f"cannot read {path}"):
        import_ha(path, time_zone=OSLO)
    path.write_text("{")
    with pytest.raises(StorageError, match="is not JSON"):
        import_ha(path, time_zone=OSLO)
    path.write_text("[]")
    with pytest.raises(StorageError, match=f"{path} is not a tibber_prices interval pool"):
        import_ha(path, time_zone=OSLO)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(StorageError, match="Mars/Olympus"):
        import_ha(BARE, time_zone="Mars/Olympus")


BERLIN = "Europe/Berlin"


def test_a_hole_in_the_repeated_autumn_hour_stays_a_hole() -> None:
    # 2025-10-26 in Berlin: 02:00-03:00 happens twice (00:00Z-01:00Z and 01:00Z-02:00Z).
    day = nodes("2025-10-25T22:00:00+00:00", 100, 15)
    missing = {
        datetime(2025, 10, 26, 0, 15, tzinfo=UTC) + timedelta(minutes=15 * k) for k in range(4)
    }
    kept = [n for n in day if datetime.fromisoformat(n["startsAt"]) not in missing]
    assert len(kept) == 96
    snapshot = import_ha(pool(("2025-10-26T13:00:00+01:00", kept)), time_zone=BERLIN)
    # 02:15+02:00 (00:15Z) and 02:15+01:00 (01:15Z) show the same wall time: still a hole.
    assert snapshot.coverage == (
        Span(datetime(2025, 10, 25, 22, tzinfo=UTC), datetime(2025, 10, 26, 0, 15, tzinfo=UTC)),
        Span(datetime(2025, 10, 26, 1, 15, tzinfo=UTC), datetime(2025, 10, 26, 23, tzinfo=UTC)),
    )
    assert len(snapshot.groups) == 2


@pytest.mark.parametrize(
    ("start", "zone", "minutes"),
    [
        # Already 2025-10-01 in Berlin (a quarter-hour day) while still 09-30 in UTC.
        ("2025-10-01T00:30:00+02:00", BERLIN, 15),
        # Still 2025-09-30 in New York (an hourly day) while already 10-01 in UTC.
        ("2025-09-30T23:00:00-04:00", "America/New_York", 60),
    ],
)
def test_a_lone_interval_takes_the_length_of_its_local_day(
    start: str, zone: str, minutes: int
) -> None:
    snapshot = import_ha(pool(("2025-10-01T13:00:00+02:00", nodes(start, 1, 60))), time_zone=zone)
    [item] = snapshot.intervals
    assert item.length == timedelta(minutes=minutes)
