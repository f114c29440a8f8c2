"""Publication: when day D is expected, and the horizon at a given instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool import PUBLISH_AT, Publication

OSLO = ZoneInfo("Europe/Oslo")
BERLIN = ZoneInfo("Europe/Berlin")


def test_day_d_is_expected_at_13_on_d_minus_1_home_local_by_default() -> None:
    publication = Publication()
    assert publication.at == PUBLISH_AT
    expected = publication.expected(date(2026, 11, 27), OSLO)
    assert expected == datetime(2026, 11, 26, PUBLISH_AT.hour, tzinfo=OSLO)
    assert expected.tzinfo is OSLO


@pytest.mark.parametrize(
    ("now", "horizon"),
    [
        (datetime(2026, 11, 26, 12, 59, tzinfo=OSLO), datetime(2026, 11, 27, tzinfo=OSLO)),
        (datetime(2026, 11, 26, 13, 0, tzinfo=OSLO), datetime(2026, 11, 28, tzinfo=OSLO)),
        (datetime(2026, 11, 26, 23, 59, tzinfo=OSLO), datetime(2026, 11, 28, tzinfo=OSLO)),
        (datetime(2026, 11, 27, 0, 0, tzinfo=OSLO), datetime(2026, 11, 28, tzinfo=OSLO)),
    ],
)
def test_the_horizon_moves_at_publication_time(now: datetime, horizon: datetime) -> None:
    assert Publication().horizon(now, OSLO) == horizon


def test_one_object_serves_clocks_and_zones_that_differ() -> None:
    # A cached horizon must not leak between pools with other clocks or zones.
    publication = Publication()
    late = datetime(2026, 11, 26, 14, tzinfo=OSLO)
    early = datetime(2026, 3, 1, 9, tzinfo=OSLO)
    assert publication.horizon(late, OSLO) == datetime(2026, 11, 28, tzinfo=OSLO)
    assert publication.horizon(early, OSLO) == datetime(2026, 3, 2, tzinfo=OSLO)
    assert publication.horizon(late, OSLO) == datetime(2026, 11, 28, tzinfo=OSLO)
    ny = ZoneInfo("America/New_York")
    assert publication.horizon(late, ny) == datetime(2026, 11, 27, tzinfo=ny)  # 08:00 there


def test_a_publication_time_in_the_spring_gap_is_a_real_instant() -> None:
    publication = Publication(time(2, 30))
    expected = publication.expected(date(2026, 3, 30), BERLIN)  # 02:30 on 29 March is skipped
    assert expected.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_the_horizon_across_the_autumn_night_counts_elapsed_time() -> None:
    publication = Publication(time(2, 30))
    # 02:15 CET on 25 October, the second pass: after the 02:30 CEST publication.
    now = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    assert publication.horizon(now, BERLIN) == datetime(2026, 10, 27, tzinfo=BERLIN)
    before = now - timedelta(hours=1, minutes=1)  # 02:14 CEST, the first pass: before
    assert publication.horizon(before, BERLIN) == datetime(2026, 10, 26, tzinfo=BERLIN)


def test_an_aware_publication_time_is_refused() -> None:
    with pytest.raises(ValueError, match="wall time"):
        Publication(time(13, tzinfo=UTC))
