"""A stored home whose clocks fall back by half an hour loads as it was saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pricepool import Group, HomeInfo, PriceInterval, Snapshot, Span
from pricepool.storage._codec import check

HOWE = ZoneInfo("Australia/Lord_Howe")  # DST ends 2025-04-06 02:00 -> 01:30


def test_the_repeated_half_hour_is_in_order() -> None:
    home = HomeInfo("home-1", "Australia/Lord_Howe", "AUD")
    first = datetime(2025, 4, 5, 14, 30, tzinfo=UTC)
    # 01:30+11:00 and, half an hour later, 01:30+10:30: the same wall time, in order.
    items = [
        PriceInterval.lasting(
            (first + timedelta(minutes=30 * n)).astimezone(HOWE), 900, 0.1, 0.1, 0.0, None, "AUD"
        )
        for n in range(2)
    ]
    assert items[0].start.strftime("%H:%M") == items[1].start.strftime("%H:%M")
    span = Span(first, first + timedelta(hours=1))
    snapshot = Snapshot(
        home,
        groups=[Group(1, first, span)],
        intervals=items,
        group_ids=[1, 1],
        coverage=[span],
    )
    check(snapshot)
