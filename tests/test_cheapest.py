"""``pricepool.cheapest`` over an Answer of the pool: windows never cross what is missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pricepool import Answer, Cause, Gap, HomeInfo, PriceInterval, Span
from pricepool.cheapest import average, cheapest_slots, cheapest_window

OSLO = ZoneInfo("Europe/Oslo")
HOME = HomeInfo("home-1", "Europe/Oslo", "NOK")
START = datetime(2026, 11, 26, tzinfo=OSLO)


def hours(prices: list[float], first: int = 0) -> list[PriceInterval]:
    return [
        PriceInterval(START + timedelta(hours=first + n), START + timedelta(hours=first + n + 1), p)
        for n, p in enumerate(prices)
    ]


def test_the_cheapest_window_of_an_answer_does_not_bridge_a_gap() -> None:
    # 0.1 at 03:00 and 0.1 at 05:00, with 04:00 missing (the source failed for it).
    before = hours([0.9, 0.9, 0.9, 0.1])
    after = hours([0.1, 0.95, 0.95], first=5)
    gap = Gap(Span(START + timedelta(hours=4), START + timedelta(hours=5)), Cause.FAILED)
    answer = Answer(HOME, [*before, *after], (gap,))
    window = cheapest_window(answer, timedelta(hours=2))
    assert window is not None
    assert (window.start, window.end) == (START + timedelta(hours=2), START + timedelta(hours=4))
    assert window.average == 0.5
    assert window == cheapest_window(answer.intervals, timedelta(hours=2))
    assert window.start.tzinfo is OSLO


def test_slots_and_average_take_an_answer_or_a_list() -> None:
    items = hours([0.5, 0.2, 0.9, 0.1])
    answer = Answer(HOME, items, ())
    assert cheapest_slots(answer, 2) == [items[1], items[3]]
    assert cheapest_slots(answer, 2) == cheapest_slots(items, 2)
    assert average(answer) == average(items) == 0.425
    assert average(Answer(HOME, [], ())) is None
