"""TibberSource's reading of answers: slot counts, lengths, and servers that stop short."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pricepool import HomeInfo, ManualClock, Span
from pricepool.clock import local_midnight
from pricepool.errors import InvalidResponseError, RateLimitedError
from pricepool.model import PriceInterval
from pricepool.sources.tibber import TibberSource
from pricepool.sources.tibber.wire import Nodes, cursor, decode_cursor, slots

OSLO = ZoneInfo("Europe/Oslo")
HOME = HomeInfo("h1", "Europe/Oslo", "NOK")
TODAY = date(2025, 11, 10)
Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


def oslo(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return local_midnight(day, OSLO) + timedelta(hours=hour, minutes=minute)


def nodes(start: datetime, end: datetime, step: int = 15) -> list[dict[str, Any]]:
    """Price nodes every ``step`` minutes in [start, end), like Tibber's."""
    out = []
    at = start.astimezone(UTC)
    while at < end:
        stamp = at.astimezone(OSLO).isoformat(timespec="milliseconds")
        out.append({"startsAt": stamp, "total": 1.0, "level": "NORMAL", "currency": "NOK"})
        at += timedelta(minutes=step)
    return out


def connection(found: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    edges = [
        {"cursor": base64.b64encode(n["startsAt"].encode()).decode(), "node": n} for n in found
    ]
    end = edges[-1]["cursor"] if edges else None
    return {"pageInfo": {"endCursor": end, "hasNextPage": more}, "edges": edges}


def home(sub: dict[str, Any] | None, tz: str = "Europe/Oslo") -> dict[str, Any]:
    return {"data": {"viewer": {"home": {"id": "h1", "timeZone": tz, "currentSubscription": sub}}}}


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Any]]:
    servers: list[TestServer] = []

    async def start(answer: Answer) -> TibberSource:
        async def handle(request: web.Request) -> web.Response:
            sent = await request.json()
            return web.json_response(answer(sent["operationName"], sent["variables"]))

        app = web.Application()
        app.router.add_post("/gql", handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        clock = ManualClock(oslo(TODAY, 10))
        return TibberSource("t", endpoint=str(server.make_url("/gql")), clock=clock)

    yield start
    for server in servers:
        await server.close()


@pytest.mark.parametrize(
    ("first", "count"),
    [
        (date(2025, 11, 8), 192),
        (date(2025, 10, 25), 196),  # 2025-10-26 has 100 quarter-hours
        (date(2026, 3, 28), 188),  # 2026-03-29 has 92
        (date(2024, 10, 26), 49),  # hourly: 24 + 25
        (date(2025, 9, 30), 24 + 96),  # the switch to quarter-hours
    ],
)
def test_slots_of_two_days(first: date, count: int) -> None:
    assert slots(oslo(first), oslo(first + timedelta(days=2)), OSLO) == count


def test_slots_of_part_days() -> None:
    assert slots(oslo(TODAY, 10, 5), oslo(TODAY, 11), OSLO) == 4
    assert slots(oslo(date(2025, 1, 1), 10, 30), oslo(date(2025, 1, 1), 12), OSLO) == 2


def test_cursor_points_just_before_the_start() -> None:
    text = base64.b64decode(cursor(oslo(TODAY), OSLO)).decode()
    assert datetime.fromisoformat(text) == oslo(TODAY) - timedelta(seconds=1)


def intervals(found: list[Any], tz: ZoneInfo, currency: str | None) -> list[PriceInterval]:
    heard = Nodes()
    heard.add(found)
    return heard.intervals(tz, currency)


def test_lengths_come_from_the_data() -> None:
    hourly = nodes(oslo(date(2025, 9, 30), 22), oslo(date(2025, 10, 1)), 60)
    quarter = nodes(oslo(date(2025, 10, 1), 1), oslo(date(2025, 10, 1), 2))
    found = intervals([*hourly, *quarter], OSLO, None)
    assert [i.length.seconds // 60 for i in found] == [60, 60, 15, 15, 15, 15]


def test_a_lone_node_takes_its_dates_resolution_and_a_gap_stays_a_gap() -> None:
    old = nodes(oslo(date(2025, 3, 1), 5), oslo(date(2025, 3, 1), 6), 60)
    new = nodes(oslo(TODAY, 5), oslo(TODAY, 5, 15))
    gap = [*nodes(oslo(TODAY, 8), oslo(TODAY, 8, 30)), *nodes(oslo(TODAY, 10), oslo(TODAY, 11))]
    assert intervals(old, OSLO, None)[0].length == timedelta(hours=1)
    assert intervals(new, OSLO, None)[0].length == timedelta(minutes=15)
    found = intervals(gap, OSLO, "NOK")
    assert found[1].end == oslo(TODAY, 8, 30)
    assert found[1].currency == "NOK"


def test_duplicates_are_merged_by_start() -> None:
    twice = nodes(oslo(TODAY), oslo(TODAY, 1)) * 2
    assert len(intervals(twice, OSLO, None)) == 4


def recent(
    today: list[Any] | None, tomorrow: list[Any] | None, past: list[Any] | None = None
) -> dict[str, Any]:
    if past is None:
        past = nodes(oslo(TODAY - timedelta(days=2)), oslo(TODAY))
    sub = {
        "priceInfo": {"today": today, "tomorrow": tomorrow},
        "priceInfoRange": connection(past, False),
    }
    return home(sub)


WHOLE_TODAY = nodes(oslo(TODAY), oslo(TODAY + timedelta(days=1)))
RECENT = Span(oslo(TODAY - timedelta(days=2)), oslo(TODAY + timedelta(days=1)))


async def test_null_today_answers_the_past_days_and_today_is_pending(serve: Any) -> None:
    src = await serve(lambda *_: recent(None, None))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY), oslo(TODAY, 1)))
    assert result.answered == Span(RECENT.start, oslo(TODAY))
    assert result.pending == Span(oslo(TODAY), oslo(TODAY + timedelta(days=2)))
    assert len(result.intervals) == 192


RANGE_PATH = ["viewer", "home", "currentSubscription", "priceInfoRange"]


def failing_history(code: str = "INTERNAL_SERVER_ERROR") -> Answer:
    """Partial data: today and tomorrow, a null range and an error about it alone."""

    def answer(*_: Any) -> dict[str, Any]:
        body = recent(WHOLE_TODAY, None)
        body["data"]["viewer"]["home"]["currentSubscription"]["priceInfoRange"] = None
        body["errors"] = [
            {"message": "Internal error", "path": RANGE_PATH, "extensions": {"code": code}}
        ]
        return body

    return answer


async def test_an_error_about_the_history_alone_keeps_today(serve: Any) -> None:
    src = await serve(failing_history())
    async with src:
        result = await src.fetch(HOME, RECENT)
    # Today stands; the two days before are left out (the pool marks them unanswered).
    assert result.answered == Span(oslo(TODAY), RECENT.end)
    assert len(result.intervals) == 96
    assert result.pending == Span(RECENT.end, RECENT.end + timedelta(days=1))


async def test_a_rate_limit_about_the_history_still_stops_everything(serve: Any) -> None:
    src = await serve(failing_history("TOO_MANY_REQUESTS"))
    async with src:
        with pytest.raises(RateLimitedError):
            await src.fetch(HOME, RECENT)


async def test_null_tomorrow_is_pending(serve: Any) -> None:
    src = await serve(lambda *_: recent(WHOLE_TODAY, None))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY), oslo(TODAY, 1)))
    assert result.answered == RECENT
    assert result.pending == Span(RECENT.end, RECENT.end + timedelta(days=1))


async def test_a_partial_today_answers_to_its_last_node(serve: Any) -> None:
    src = await serve(lambda *_: recent(WHOLE_TODAY[:40], []))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY), oslo(TODAY, 1)))
    assert result.answered == Span(RECENT.start, oslo(TODAY, 10))
    assert result.pending is None


async def test_a_today_for_another_day_is_not_trusted(serve: Any) -> None:
    yesterday = nodes(oslo(TODAY - timedelta(days=1)), oslo(TODAY))
    src = await serve(lambda *_: recent(yesterday, []))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY), oslo(TODAY, 1)))
    assert result.answered == Span(RECENT.start, oslo(TODAY))


async def test_history_cut_short_ends_the_answer_and_skips_the_recent_request(
    serve: Any,
) -> None:
    calls: list[str] = []
    start = date(2025, 11, 1)

    def answer(name: str, variables: dict[str, Any]) -> dict[str, Any]:
        calls.append(name)
        # A server that stops after 50 nodes and says there is nothing more.
        return home({"priceInfoRange": connection(nodes(oslo(start), oslo(TODAY))[:50], False)})

    src = await serve(answer)
    async with src:
        result = await src.fetch(HOME, Span(oslo(start), oslo(TODAY, 1)))
    assert calls == ["PricepoolHistory"]
    assert result.answered == Span(oslo(start), oslo(start, 12, 30))
    assert len(result.intervals) == 50


async def test_a_node_repeated_at_each_page_edge_is_dropped(serve: Any) -> None:
    # Tibber since 2025-01: a page ``after`` a node's cursor starts with that node again.
    calls: list[dict[str, Any]] = []
    start = date(2025, 11, 1)

    def answer(name: str, variables: dict[str, Any]) -> dict[str, Any]:
        calls.append(variables)
        at = decode_cursor(variables["after"], OSLO) + timedelta(seconds=1)
        first = at - timedelta(minutes=15) if at > oslo(start) else at
        found = nodes(max(first, oslo(start)), min(at + timedelta(hours=5), oslo(start, 24)))
        return home(
            {
                "priceInfoRange": connection(
                    found, found[-1] != nodes(oslo(start), oslo(start, 24))[-1]
                )
            }
        )

    src = await serve(answer)
    async with src:
        result = await src.fetch(HOME, Span(oslo(start), oslo(start, 24)))
    assert result.answered == Span(oslo(start), oslo(start, 24))
    assert [i.start for i in result.intervals] == [
        oslo(start) + timedelta(minutes=15 * k) for k in range(96)
    ]
    assert len(calls) == 5


async def test_a_page_adding_nothing_ends_paging_with_an_error(serve: Any) -> None:
    calls: list[dict[str, Any]] = []
    start = date(2025, 11, 1)

    def answer(name: str, variables: dict[str, Any]) -> dict[str, Any]:
        calls.append(variables)
        return home({"priceInfoRange": connection(nodes(oslo(start), oslo(start, 5)), True)})

    src = await serve(answer)
    async with src:
        result = await src.fetch(HOME, Span(oslo(start), oslo(start, 12)))
    # The first page stands; the walk ends with the error, never a loop.
    assert result.answered == Span(oslo(start), oslo(start, 5))
    assert isinstance(result.error, InvalidResponseError)
    assert "repeats what came before" in str(result.error)
    assert len(calls) == 2
    # A day's 96 slots and 76 after the first 20, each with one node to spare.
    assert calls[0]["first"] == 96 + 1
    assert calls[1]["first"] == 76 + 1


async def test_intervals_outside_the_answer_are_dropped_and_home_refreshed(serve: Any) -> None:
    start = date(2025, 11, 1)
    # More than asked: the whole page runs into the next day.
    found = nodes(oslo(start), oslo(start + timedelta(days=1), 6))
    for node in found:
        node["currency"] = "EUR"
    src = await serve(lambda *_: home({"priceInfoRange": connection(found, True)}, "Europe/Berlin"))
    async with src:
        result = await src.fetch(HOME, Span(oslo(start, 3), oslo(start, 4)))
    assert result.answered == Span(oslo(start), oslo(start + timedelta(days=1)))
    assert len(result.intervals) == 96
    assert result.home == HomeInfo("h1", "Europe/Berlin", "EUR")


async def test_an_empty_range_before_a_published_today_is_not_an_answer(serve: Any) -> None:
    # Tibber sent today but no nodes for the two days before: a glitch, not "none exist".
    src = await serve(lambda *_: recent(WHOLE_TODAY, None, past=[]))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY - timedelta(days=1)), oslo(TODAY, 1)))
    assert result.answered == Span(oslo(TODAY), RECENT.end)
    assert result.pending == Span(RECENT.end, RECENT.end + timedelta(days=1))
    assert len(result.intervals) == 96
    assert all(i.start >= oslo(TODAY) for i in result.intervals)


async def test_an_empty_range_after_history_keeps_the_answer_contiguous(serve: Any) -> None:
    start = TODAY - timedelta(days=4)

    def answer(name: str, variables: dict[str, Any]) -> dict[str, Any]:
        if name == "PricepoolHistory":
            found = nodes(oslo(start), RECENT.start)
            return home({"priceInfoRange": connection(found, False)})
        return recent(WHOLE_TODAY, None, past=[])

    src = await serve(answer)
    async with src:
        result = await src.fetch(HOME, Span(oslo(start), oslo(TODAY, 1)))
    # The recent days were not answered, so nothing after them may count as answered either.
    assert result.answered == Span(oslo(start), RECENT.start)
    assert len(result.intervals) == 2 * 96


async def test_an_empty_range_and_an_empty_today_answer_nothing(serve: Any) -> None:
    src = await serve(lambda *_: recent([], [], past=[]))
    async with src:
        result = await src.fetch(HOME, Span(oslo(TODAY), oslo(TODAY, 1)))
    assert result.answered is None
    assert result.intervals == []


async def test_an_empty_history_page_still_answers_the_days_before_the_data(serve: Any) -> None:
    src = await serve(lambda *_: home({"priceInfoRange": connection([], False)}))
    async with src:
        old = Span(oslo(date(2020, 5, 1)), oslo(date(2020, 5, 3)))
        result = await src.fetch(HOME, old)
    assert result.answered == old
    assert result.intervals == []
