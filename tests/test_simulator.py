"""The simulator speaks Tibber's schema, keeps time exactly and misbehaves on request."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import math
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from pricepool.clock import ManualClock, local_midnight
from pricepool.model import zone
from pricepool.simulator import DEFAULT_HOMES, Faults, SimHome, SimRequest, Simulator, serve

OSLO, STOCKHOLM, BERLIN = DEFAULT_HOMES
START = datetime(2025, 11, 25, 10, 0, tzinfo=UTC)  # 11:00 in Oslo: tomorrow not out yet
LEVELS = {"VERY_CHEAP", "CHEAP", "NORMAL", "EXPENSIVE", "VERY_EXPENSIVE"}

PRICES = """
query Prices($id: ID!, $res: PriceInfoResolution!) {
  viewer { home(id: $id) { id timeZone currentSubscription {
    priceInfo(resolution: $res) {
      current { startsAt total energy tax level currency }
      today { startsAt total energy tax level currency }
      tomorrow { startsAt total energy tax level currency }
    }
  } } }
}
"""

RANGE = """
query Range($id: ID!, $first: Int, $last: Int, $before: String, $after: String) {
  viewer { home(id: $id) { currentSubscription {
    priceInfoRange(resolution: QUARTER_HOURLY, first: $first, last: $last,
                   before: $before, after: $after) {
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage count currency }
      edges { cursor node { startsAt total energy tax level currency } }
      nodes { startsAt }
    }
  } } }
}
"""


def cursor(instant: datetime) -> str:
    return base64.b64encode(instant.isoformat().encode()).decode()


def at(node: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(node["startsAt"])


def local(day: date, hour: int, minute: int = 0, tz: str = OSLO.time_zone) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz))


class Client:
    """A thin GraphQL client for the tests: status and decoded body of each POST."""

    def __init__(self, session: aiohttp.ClientSession, sim: Simulator) -> None:
        self.session = session
        self.sim = sim

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = "test-token",
        wait: float = 10.0,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with self.session.post(
            self.sim.endpoint,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=wait),
        ) as response:
            text = await response.text()
            body: Any = text
            if response.content_type == "application/json":
                try:
                    body = json.loads(text)
                except ValueError:
                    body = text
            return response.status, body, response

    async def prices(self, home: SimHome, res: str = "QUARTER_HOURLY") -> dict[str, Any]:
        status, body, _ = await self.post(PRICES, {"id": home.id, "res": res})
        assert status == 200, body
        assert "errors" not in body, body
        info: dict[str, Any] = body["data"]["viewer"]["home"]["currentSubscription"]["priceInfo"]
        return info

    async def range(self, home: SimHome = OSLO, **args: Any) -> dict[str, Any]:
        status, body, _ = await self.post(RANGE, {"id": home.id, **args})
        assert status == 200, body
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["viewer"]["home"]["currentSubscription"][
            "priceInfoRange"
        ]
        return found


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Simulator]:
    async with Simulator(clock=clock, rate_limit=10_000) as simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def client(session: aiohttp.ClientSession, sim: Simulator) -> Client:
    return Client(session, sim)


# -- the schema -----------------------------------------------------------------------------


async def test_viewer_and_home_answer_tibbers_field_names(client: Client) -> None:
    query = """
    { viewer {
        login userId name websocketSubscriptionUrl
        homes {
          id timeZone appNickname
          address { address1 address2 address3 city postalCode country latitude longitude }
          owner { name isCompany language contactInfo { email mobile } }
          meteringPointData { consumptionEan energyTaxType estimatedAnnualConsumption
                              gridCompany productionEan vatType }
          currentSubscription { id status validFrom validTo statusReason
                                priceInfo { current { currency } } }
          subscriptions { id status validFrom validTo statusReason }
          features { realTimeConsumptionEnabled }
        }
    } }
    """
    status, body, response = await client.post(query)
    assert status == 200
    assert response.content_type == "application/json"
    viewer = body["data"]["viewer"]
    assert viewer["userId"]
    assert viewer["name"]
    assert viewer["login"]
    assert viewer["websocketSubscriptionUrl"].startswith("ws://127.0.0.1:")
    homes = viewer["homes"]
    assert [h["id"] for h in homes] == [h.id for h in DEFAULT_HOMES]
    assert [h["timeZone"] for h in homes] == ["Europe/Oslo", "Europe/Stockholm", "Europe/Berlin"]
    currencies = [h["currentSubscription"]["priceInfo"]["current"]["currency"] for h in homes]
    assert currencies == ["NOK", "SEK", "EUR"]
    for home in homes:
        assert home["currentSubscription"]["status"] == "running"
        assert home["subscriptions"][0]["status"] == "running"
        assert home["address"]["country"]
        assert home["owner"]["name"]
        assert home["features"]["realTimeConsumptionEnabled"] is False


async def test_home_by_id_and_unknown_home(client: Client) -> None:
    query = "query($id: ID!) { viewer { home(id: $id) { id appNickname timeZone } } }"
    status, body, _ = await client.post(query, {"id": BERLIN.id})
    assert status == 200
    assert body["data"]["viewer"]["home"] == {
        "id": BERLIN.id,
        "appNickname": BERLIN.nickname,
        "timeZone": "Europe/Berlin",
    }
    status, body, _ = await client.post(query, {"id": "no-such-home"})
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_default_homes_are_three_zones_and_currencies() -> None:
    assert [(h.time_zone, h.currency) for h in DEFAULT_HOMES] == [
        ("Europe/Oslo", "NOK"),
        ("Europe/Stockholm", "SEK"),
        ("Europe/Berlin", "EUR"),
    ]
    assert len({h.id for h in DEFAULT_HOMES}) == 3


async def test_invalid_queries_are_graphql_errors_not_crashes(client: Client) -> None:
    status, body, _ = await client.post("{ viewer { homes { id ")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    status, body, _ = await client.post("{ viewer { homes { price } } }")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    status, body, _ = await client.post(RANGE, {"id": OSLO.id, "first": -1})
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for bad in ("not base64 !", base64.b64encode(b"yesterday").decode()):
        status, body, _ = await client.post(RANGE, {"id": OSLO.id, "first": 5, "after": bad})
        assert status == 200
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    async with client.session.post(
        client.sim.endpoint, data=b"{nope", headers={"Authorization": "Bearer t"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_form_encoded_bodies_are_accepted(client: Client) -> None:
    # pyTibber posts its query form-encoded, not as JSON.
    async with client.session.post(
        client.sim.endpoint,
        data={"query": "{ viewer { name } }"},
        headers={"Authorization": "Bearer t"},
    ) as response:
        assert response.status == 200
        assert (await response.json())["data"]["viewer"]["name"]


async def test_get_serves_a_health_text(client: Client) -> None:
    async with client.session.get(client.sim.endpoint) as response:
        assert response.status == 200
        assert "simulator" in await response.text()
    assert client.sim.requests == 0


# -- prices and time ------------------------------------------------------------------------


async def test_today_tomorrow_and_current(client: Client, clock: ManualClock) -> None:
    info = await client.prices(OSLO)
    today = [at(n) for n in info["today"]]
    assert len(today) == 96
    assert today[0] == local(date(2025, 11, 25), 0)
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(today))
    assert info["tomorrow"] == []
    assert info["current"]["startsAt"] == "2025-11-25T11:00:00.000+01:00"
    assert info["today"][0]["startsAt"] == "2025-11-25T00:00:00.000+01:00"
    clock.advance(timedelta(minutes=20))
    assert (await client.prices(OSLO))["current"]["startsAt"] == "2025-11-25T11:15:00.000+01:00"


async def test_tomorrow_appears_at_publish_hour(client: Client, clock: ManualClock) -> None:
    day = date(2025, 11, 25)
    clock.set(local(day, 12, 59))
    assert (await client.prices(OSLO))["tomorrow"] == []
    assert client.sim.published_until(OSLO.id) == local_midnight(
        day + timedelta(1), zone(OSLO.time_zone)
    )
    clock.set(local(day, 13, 0))
    tomorrow = (await client.prices(OSLO))["tomorrow"]
    assert len(tomorrow) == 96
    assert at(tomorrow[0]) == local(day + timedelta(1), 0)
    assert client.sim.published_until(OSLO.id) == local_midnight(
        day + timedelta(2), zone(OSLO.time_zone)
    )
    # Publication is by home-local time; Berlin shares Oslo's offset.
    assert len((await client.prices(BERLIN))["tomorrow"]) == 96


async def test_publish_delay_models_a_late_day(session: aiohttp.ClientSession) -> None:
    day = date(2025, 11, 25)
    clock = ManualClock(local(day, 13, 15))
    async with Simulator(clock=clock, publish_delay=timedelta(minutes=30)) as sim:
        client = Client(session, sim)
        assert (await client.prices(OSLO))["tomorrow"] == []
        clock.set(local(day, 13, 30))
        assert len((await client.prices(OSLO))["tomorrow"]) == 96


async def test_publish_hour_is_configurable(session: aiohttp.ClientSession) -> None:
    clock = ManualClock(local(date(2025, 11, 25), 12, 0))
    async with Simulator(clock=clock, publish_hour=12) as sim:
        assert len((await Client(session, sim).prices(OSLO))["tomorrow"]) == 96


@pytest.mark.parametrize(
    ("day", "count"),
    [(date(2026, 10, 25), 100), (date(2026, 3, 29), 92), (date(2026, 3, 30), 96)],
)
async def test_dst_days_have_92_or_100_quarter_hours(
    client: Client, clock: ManualClock, day: date, count: int
) -> None:
    clock.set(local(day, 9, tz=BERLIN.time_zone))
    today = (await client.prices(BERLIN))["today"]
    assert len(today) == count
    instants = [at(n) for n in today]
    assert all((b - a) == timedelta(minutes=15) for a, b in itertools.pairwise(instants))
    tz = zone(BERLIN.time_zone)
    assert instants[0] == local_midnight(day, tz)
    assert instants[-1] + timedelta(minutes=15) == local_midnight(day + timedelta(1), tz)
    hourly = (await client.prices(BERLIN, "HOURLY"))["today"]
    assert len(hourly) == count // 4


async def test_autumn_night_shows_both_two_oclocks(client: Client, clock: ManualClock) -> None:
    clock.set(local(date(2026, 10, 25), 9, tz=BERLIN.time_zone))
    stamps = [n["startsAt"] for n in (await client.prices(BERLIN))["today"]]
    assert "2026-10-25T02:00:00.000+02:00" in stamps
    assert "2026-10-25T02:00:00.000+01:00" in stamps


async def test_hourly_before_october_2025(client: Client, clock: ManualClock) -> None:
    clock.set(local(date(2025, 9, 30), 9))
    info = await client.prices(OSLO, "QUARTER_HOURLY")
    today = [at(n) for n in info["today"]]
    assert len(today) == 24
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(today))
    assert info["current"]["startsAt"] == "2025-09-30T09:00:00.000+02:00"
    # Published at 13:00 on 30 September, tomorrow is the first quarter-hourly day.
    clock.set(local(date(2025, 9, 30), 13))
    assert len((await client.prices(OSLO))["tomorrow"]) == 96
    truth = client.sim.truth(
        OSLO.id, local(date(2025, 9, 30), 0), local(date(2025, 10, 2), 0), "QUARTER_HOURLY"
    )
    assert len(truth) == 24 + 96


def test_hourly_resolution_averages_quarter_hours(sim: Simulator) -> None:
    start, end = local(date(2025, 11, 20), 0), local(date(2025, 11, 21), 0)
    quarters = sim.truth(OSLO.id, start, end)
    hours = sim.truth(OSLO.id, start, end, "HOURLY")
    assert len(quarters) == 96
    assert len(hours) == 24
    for i, hour in enumerate(hours):
        group = quarters[4 * i : 4 * i + 4]
        assert hour["startsAt"] == group[0]["startsAt"]
        assert hour["energy"] == pytest.approx(sum(q["energy"] for q in group) / 4, abs=1e-4)
        assert hour["tax"] == pytest.approx(sum(q["tax"] for q in group) / 4, abs=1e-4)
        assert hour["total"] == pytest.approx(hour["energy"] + hour["tax"], abs=1e-9)
        assert hour["level"] in LEVELS


def test_prices_are_believable() -> None:
    sim = Simulator()
    ranges = {"NOK": (0.3, 3.0), "SEK": (0.3, 3.0), "EUR": (0.1, 0.5)}
    negatives = 0
    for home in DEFAULT_HOMES:
        tz = zone(home.time_zone)
        nodes = sim.truth(
            home.id,
            local_midnight(date(2025, 10, 1), tz),
            local_midnight(date(2026, 10, 1), tz),
        )
        assert len(nodes) == 365 * 96  # one spring and one autumn change cancel out
        low, high = ranges[home.currency]
        totals = sorted(n["total"] for n in nodes)
        median = totals[len(totals) // 2]
        assert low <= median <= high, (home.currency, median)
        # The bulk lies in the currency's usual band; a few windy nights go below it.
        assert low * 0.5 <= totals[len(totals) // 20]
        assert totals[-len(totals) // 20] <= high * 1.5
        negatives += sum(n["total"] < 0 for n in nodes)
        levels = {n["level"] for n in nodes}
        assert levels == LEVELS
        for node in nodes:
            assert node["total"] == pytest.approx(node["energy"] + node["tax"], abs=1e-9)
            assert node["currency"] == home.currency
            assert round(node["total"], 4) == node["total"]
    assert negatives > 0


def test_evening_is_dearer_than_night_on_average() -> None:
    sim = Simulator()
    tz = zone(OSLO.time_zone)
    nodes = sim.truth(
        OSLO.id, local_midnight(date(2026, 1, 1), tz), local_midnight(date(2026, 2, 1), tz)
    )
    night = [n["total"] for n in nodes if at(n).hour in (2, 3, 4)]
    evening = [n["total"] for n in nodes if at(n).hour in (17, 18, 19)]
    assert sum(evening) / len(evening) > 1.2 * sum(night) / len(night)


def test_truth_is_deterministic_and_differs_per_home() -> None:
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)
    one, two = Simulator(seed=1), Simulator(seed=2)
    assert one.truth(OSLO.id, start, end) == two.truth(OSLO.id, start, end)
    assert one.truth(OSLO.id, start, end) == one.truth(OSLO.id, start, end)
    oslo = [n["total"] for n in one.truth(OSLO.id, start, end)]
    stockholm = [n["total"] for n in one.truth(STOCKHOLM.id, start, end)]
    assert oslo != stockholm
    custom = SimHome(id="home-x", nickname="X", time_zone="Europe/Oslo", currency="NOK")
    other = SimHome(id="home-y", nickname="Y", time_zone="Europe/Oslo", currency="NOK")
    sim = Simulator(homes=[custom, other])
    assert [n["total"] for n in sim.truth("home-x", start, end)] != [
        n["total"] for n in sim.truth("home-y", start, end)
    ]


def test_truth_takes_half_open_spans_and_rejects_bad_input(sim: Simulator) -> None:
    start = local(date(2025, 11, 20), 10)
    nodes = sim.truth(OSLO.id, start, start + timedelta(hours=1))
    assert [n["startsAt"][11:16] for n in nodes] == ["10:00", "10:15", "10:30", "10:45"]
    assert sim.truth(OSLO.id, start + timedelta(minutes=1), start + timedelta(minutes=15)) == []
    with pytest.raises(KeyError):
        sim.truth("nope", start, start + timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        sim.truth(OSLO.id, datetime(2025, 1, 1), start)


# -- priceInfoRange -------------------------------------------------------------------------


async def test_range_is_history_up_to_today(client: Client) -> None:
    page = await client.range(last=10)
    nodes = [e["node"] for e in page["edges"]]
    assert len(nodes) == 10
    assert nodes[-1]["startsAt"] == "2025-11-24T23:45:00.000+01:00"
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["nodes"] == [{"startsAt": n["startsAt"]} for n in nodes]
    # Nothing of today or tomorrow, even after publication.
    beyond = await client.range(first=10, after=cursor(local(date(2025, 11, 24), 23, 40)))
    assert [e["node"]["startsAt"] for e in beyond["edges"]] == ["2025-11-24T23:45:00.000+01:00"]
    assert beyond["pageInfo"]["hasNextPage"] is False


async def test_range_cursor_semantics(client: Client) -> None:
    day = date(2025, 11, 20)
    midnight = local(day, 0)
    page = await client.range(first=4, after=cursor(midnight))
    starts = [e["node"]["startsAt"][11:16] for e in page["edges"]]
    assert starts == ["00:15", "00:30", "00:45", "01:00"]  # strictly after
    info = page["pageInfo"]
    assert info["count"] == 4
    assert info["currency"] == "NOK"
    assert info["startCursor"] == page["edges"][0]["cursor"]
    assert info["endCursor"] == page["edges"][-1]["cursor"]
    assert info["hasNextPage"] is True
    assert base64.b64decode(info["endCursor"]).decode() == "2025-11-20T01:00:00.000+01:00"
    # An edge's cursor continues right after it.
    following = await client.range(first=1, after=info["endCursor"])
    assert following["edges"][0]["node"]["startsAt"][11:16] == "01:15"

    before = await client.range(last=2, before=cursor(midnight))
    assert [e["node"]["startsAt"] for e in before["edges"]] == [
        "2025-11-19T23:30:00.000+01:00",
        "2025-11-19T23:45:00.000+01:00",
    ]
    both = await client.range(first=8, last=3, after=cursor(midnight - timedelta(seconds=1)))
    assert [e["node"]["startsAt"][11:16] for e in both["edges"]] == ["01:15", "01:30", "01:45"]
    between = await client.range(
        first=100, after=cursor(midnight), before=cursor(midnight + timedelta(hours=1))
    )
    assert len(between["edges"]) == 3
    assert between["pageInfo"]["hasNextPage"] is False
    utc = base64.b64encode(b"2025-11-19T23:00:00Z").decode()
    assert (await client.range(first=1, after=utc))["edges"][0]["node"]["startsAt"] == (
        "2025-11-20T00:15:00.000+01:00"
    )
    empty = await client.range(first=0, after=cursor(midnight))
    assert empty["edges"] == []
    assert empty["pageInfo"]["endCursor"] is None
    assert empty["pageInfo"]["hasNextPage"] is True


async def test_range_spans_the_resolution_switch(client: Client) -> None:
    page = await client.range(first=30, after=cursor(local(date(2025, 9, 30), 17, 30)))
    starts = [at(e["node"]) for e in page["edges"]]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert starts[0] == local(date(2025, 9, 30), 18)
    assert gaps[:6] == [timedelta(hours=1)] * 6
    assert set(gaps[6:]) == {timedelta(minutes=15)}


@pytest.mark.parametrize("names", ["start", "end"])
async def test_paging_with_page_limit_returns_every_node_once(
    session: aiohttp.ClientSession, clock: ManualClock, names: str
) -> None:
    """A client paging by the server's own ``endCursor`` gets every node once, whatever
    the cursors name (with end cursors, "after" a node's end is the next node)."""
    async with Simulator(clock=clock, page_limit=50, rate_limit=10_000, cursors=names) as sim:
        client = Client(session, sim)
        start = local(date(2025, 11, 19), 0)
        # The end cursor of the node before ``start`` is ``start`` itself.
        after = cursor(start if names == "end" else start - timedelta(seconds=1))
        seen: list[str] = []
        pages = 0
        while True:
            page = await client.range(first=1000, after=after)
            pages += 1
            assert len(page["edges"]) <= 50
            seen += [e["node"]["startsAt"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        expected = sim.truth(OSLO.id, start, local(date(2025, 11, 25), 0))
        assert seen == [n["startsAt"] for n in expected]
        assert len(seen) == len(set(seen)) == 6 * 96
        assert pages == math.ceil(6 * 96 / 50)
        assert (await client.range(last=1000))["pageInfo"]["count"] == 50


async def test_range_nodes_equal_truth(client: Client) -> None:
    start = local(date(2025, 11, 23), 0)
    page = await client.range(first=192, after=cursor(start - timedelta(minutes=1)))
    nodes = [e["node"] for e in page["edges"]]
    assert nodes == client.sim.truth(OSLO.id, start, start + timedelta(days=2))


# -- rate limit, tokens, faults ---------------------------------------------------------------


async def test_rate_limit_then_recovery(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    async with Simulator(clock=clock, rate_limit=3, rate_window=60) as sim:
        client = Client(session, sim)
        for _ in range(3):
            clock.advance(10)
            assert (await client.post("{ viewer { name } }"))[0] == 200
        status, body, response = await client.post("{ viewer { name } }")
        assert status == 429
        # The first request was 20 s ago: its slot frees in 40 s.
        assert response.headers["Retry-After"] == "40"
        assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_REQUESTS", "retryAfter": 40}
        clock.advance(39)
        assert (await client.post("{ viewer { name } }"))[0] == 429
        clock.advance(1)
        assert (await client.post("{ viewer { name } }"))[0] == 200
        assert sim.requests == 6
        assert [r.status for r in sim.log] == [200, 200, 200, 429, 429, 200]


async def test_any_token_by_default_but_one_is_needed(client: Client) -> None:
    assert (await client.post("{ viewer { name } }", token="whatever"))[0] == 200
    status, body, _response = await client.post("{ viewer { name } }", token=None)
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.post("{ viewer { name } }", token=""))[0] == 401


async def test_a_configured_token_must_match(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with Simulator(clock=clock, token="s3cret") as sim:
        client = Client(session, sim)
        assert (await client.post("{ viewer { name } }", token="s3cret"))[0] == 200
        status, body, _ = await client.post("{ viewer { name } }", token="wrong")
        assert status == 200  # as Tibber since 2025-01: a GraphQL error, not HTTP 401
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "data" not in body or body["data"] is None
        assert (await client.post("{ viewer { name } }", token=None))[0] == 401


async def test_fault_error_rate_is_seeded(session: aiohttp.ClientSession) -> None:
    statuses: list[list[int]] = []
    for _ in range(2):
        async with Simulator(seed=7, rate_limit=10_000) as sim:
            sim.faults.error_rate = 0.5
            client = Client(session, sim)
            statuses.append([(await client.post("{ viewer { name } }"))[0] for _ in range(20)])
    assert statuses[0] == statuses[1]
    assert set(statuses[0]) == {200, 503}


async def test_fault_error_rate_one_always_fails(client: Client) -> None:
    client.sim.faults.error_rate = 1.0
    status, _body, response = await client.post("{ viewer { name } }")
    assert status == 503
    assert response.content_type == "text/html"


async def test_fault_status_and_fail_next(client: Client) -> None:
    faults = client.sim.faults
    faults.fail_next = 2
    assert [(await client.post("{ viewer { name } }"))[0] for _ in range(3)] == [503, 503, 200]
    faults.status, faults.fail_next = 502, 1
    assert (await client.post("{ viewer { name } }"))[0] == 502
    assert (await client.post("{ viewer { name } }"))[0] == 502  # status stays forced
    faults.status = None
    assert (await client.post("{ viewer { name } }"))[0] == 200


async def test_fault_retry_after_on_injected_429_and_503(client: Client) -> None:
    faults = client.sim.faults
    faults.status, faults.retry_after = 429, 7.0
    status, body, response = await client.post("{ viewer { name } }")
    assert status == 429
    assert response.headers["Retry-After"] == "7"
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_REQUESTS", "retryAfter": 7.0}
    faults.status = 503
    status, _, response = await client.post("{ viewer { name } }")
    assert status == 503
    assert response.headers["Retry-After"] == "7"


async def test_fault_latency_delays_the_answer(client: Client) -> None:
    client.sim.faults.latency = 0.2
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert (await client.post("{ viewer { name } }"))[0] == 200
    assert loop.time() - began >= 0.2


async def test_fault_hang_never_answers(client: Client) -> None:
    client.sim.faults.hang = True
    with pytest.raises(asyncio.TimeoutError):
        await client.post("{ viewer { name } }", wait=0.2)
    assert client.sim.requests == 1
    assert client.sim.log[-1].status == 0
    client.sim.faults.hang = False
    assert (await client.post("{ viewer { name } }"))[0] == 200


async def test_fault_malformed_and_non_graphql_bodies(client: Client) -> None:
    client.sim.faults.malformed = True
    status, body, response = await client.post("{ viewer { name } }")
    assert status == 200
    assert response.content_type == "application/json"
    assert isinstance(body, str)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    client.sim.faults.malformed = False
    client.sim.faults.non_graphql = True
    status, body, response = await client.post("{ viewer { name } }")
    assert status == 200
    assert response.content_type == "text/html"
    assert "blocked" in body


async def test_fault_empty_today(client: Client, clock: ManualClock) -> None:
    clock.set(local(date(2025, 11, 25), 14))
    client.sim.faults.empty_today = True
    info = await client.prices(OSLO)
    assert info == {"current": None, "today": [], "tomorrow": []}


async def test_fault_null_subscription(client: Client) -> None:
    client.sim.faults.null_subscription = True
    status, body, _ = await client.post(PRICES, {"id": OSLO.id, "res": "HOURLY"})
    assert status == 200
    assert "errors" not in body
    assert body["data"]["viewer"]["home"]["currentSubscription"] is None


async def test_fault_invalid_token(client: Client) -> None:
    client.sim.faults.invalid_token = True
    status, body, _ = await client.post("{ viewer { name } }")
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_fault_errors_without_extensions(client: Client) -> None:
    client.sim.faults.errors_without_extensions = True
    status, body, _ = await client.post("{ viewer { name } }")
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["extensions"] is None


def test_faults_default_to_none() -> None:
    assert Faults() == Faults(
        error_rate=0.0,
        latency=0.0,
        hang=False,
        malformed=False,
        non_graphql=False,
        empty_today=False,
        null_subscription=False,
        invalid_token=False,
        errors_without_extensions=False,
        status=None,
        fail_next=0,
        retry_after=None,
    )


# -- counters, lifecycle ------------------------------------------------------------------


async def test_log_records_price_fields_and_counters_reset(
    client: Client, clock: ManualClock
) -> None:
    sim = client.sim
    await client.post("{ viewer { homes { id timeZone } } }")
    await client.prices(OSLO)
    await client.range(last=5)
    await client.post("{ viewer { homes { id } } }", token=None)
    assert sim.requests == 4
    assert [SimRequest(r.at, r.status, r.fields) for r in sim.log] == [
        SimRequest(START, 200, frozenset({"homes"})),
        SimRequest(START, 200, frozenset({"priceInfo"})),
        SimRequest(START, 200, frozenset({"priceInfoRange"})),
        SimRequest(START, 401, frozenset({"homes"})),
    ]
    assert sim.log[0].variables is None
    assert sim.log[1].variables == {"id": OSLO.id, "res": "QUARTER_HOURLY"}
    combined = """query($id: ID!) { viewer { home(id: $id) { currentSubscription {
        priceInfoRange(resolution: QUARTER_HOURLY, last: 2) { nodes { total } }
        ...P } } } }
      fragment P on Subscription { priceInfo { today { total } } }"""
    clock.advance(60)
    await client.post(combined, {"id": OSLO.id})
    assert sim.log[-1] == SimRequest(
        START + timedelta(seconds=60),
        200,
        frozenset({"priceInfo", "priceInfoRange"}),
        {"id": OSLO.id},
    )
    sim.reset_counters()
    assert sim.requests == 0
    assert sim.log == []


async def test_endpoint_lifecycle(session: aiohttp.ClientSession) -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.endpoint
    url = await sim.start()
    assert url == sim.endpoint
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/v1-beta/gql")
    with pytest.raises(RuntimeError):
        await sim.start()
    await sim.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await session.post(url, json={"query": "{ viewer { name } }"})


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one home"):
        Simulator(homes=[])
    with pytest.raises(ValueError, match="publish_hour"):
        Simulator(publish_hour=24)
    with pytest.raises(ValueError, match="page_limit"):
        Simulator(page_limit=0)
    with pytest.raises(ValueError, match="token"):
        Simulator(token="")
    with pytest.raises(ValueError, match="time zone"):
        SimHome(id="x", nickname="x", time_zone="Mars/Olympus", currency="NOK")


async def test_serve_runs_until_cancelled(
    session: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    task = asyncio.create_task(serve("127.0.0.1", 0, token="tok"))
    url = ""
    for _ in range(500):  # waiting for the server to come up, not controlling time
        out = capsys.readouterr().out
        if "http://" in out:
            url = next(w for w in out.split() if w.startswith("http://"))
            break
        await asyncio.sleep(0.01)
    assert url.endswith("/v1-beta/gql")
    async with session.post(
        url, json={"query": "{ viewer { name } }"}, headers={"Authorization": "Bearer tok"}
    ) as response:
        assert response.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_many_requests_are_fast(client: Client) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(200):
        await client.prices(OSLO)
    # Generous: the point is "no per-request recomputation", not a benchmark.
    assert loop.time() - began < 10


async def test_publication_follows_each_homes_own_zone(session: aiohttp.ClientSession) -> None:
    york = SimHome(id="ny-1", nickname="Loft", time_zone="America/New_York", currency="USD")
    clock = ManualClock(local(date(2025, 11, 25), 13))  # 07:00 in New York
    async with Simulator(clock=clock, homes=[OSLO, york]) as sim:
        client = Client(session, sim)
        assert len((await client.prices(OSLO))["tomorrow"]) == 96
        assert (await client.prices(york))["tomorrow"] == []
        clock.set(datetime(2025, 11, 25, 13, 0, tzinfo=zone("America/New_York")))
        tomorrow = (await client.prices(york))["tomorrow"]
        assert tomorrow[0]["startsAt"] == "2025-11-26T00:00:00.000-05:00"


async def test_answers_change_within_a_quarter_hour_when_they_should(
    session: aiohttp.ClientSession,
) -> None:
    day = date(2025, 11, 25)
    clock = ManualClock(local(day, 13, 5))
    async with Simulator(clock=clock, publish_delay=timedelta(minutes=7)) as sim:
        client = Client(session, sim)
        assert (await client.prices(OSLO))["tomorrow"] == []
        clock.set(local(day, 13, 7))
        assert len((await client.prices(OSLO))["tomorrow"]) == 96
        sim.faults.empty_today = True
        assert (await client.prices(OSLO))["today"] == []
        sim.faults.empty_today = False
        sim.faults.null_subscription = True
        status, body, _ = await client.post(PRICES, {"id": OSLO.id, "res": "HOURLY"})
        assert status == 200
        assert body["data"]["viewer"]["home"]["currentSubscription"] is None


# -- the process -------------------------------------------------------------------------


def _start_process(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pricepool.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "serving Tibber's API at http://127.0.0.1:" in first, first
    return process, first.rsplit(" ", 1)[-1].strip()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_process_stops_cleanly_on_each_signal(sig: signal.Signals) -> None:
    process, _ = _start_process()
    try:
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + sig.value
    assert err.strip() == f"pricepool simulator stopped by {sig.name}"


def test_the_process_takes_the_real_apis_behaviours_as_options() -> None:
    process, endpoint = _start_process("--ban", "600", "--rate-limit", "1", "--token-error", "exp")
    try:
        headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
        query = json.dumps({"query": "{ viewer { homes { id } } }"}).encode()
        first = urllib.request.urlopen(urllib.request.Request(endpoint, query, headers), timeout=10)
        error = json.loads(first.read())["errors"][0]
        assert '"exp" claim' in error["message"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        with pytest.raises(urllib.error.HTTPError) as banned:
            urllib.request.urlopen(urllib.request.Request(endpoint, query, headers), timeout=10)
        assert banned.value.code == 429
        assert banned.value.headers.get_content_type() == "text/plain"
        assert banned.value.headers.get("Retry-After") is None
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_the_help_lists_every_behaviour() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "pricepool.simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--ban",
        "--page-limit",
        "--cursors",
        "--inclusive-after",
        "--quarter-outage",
        "--null-range",
        "--token-error",
    ):
        assert option in shown


async def test_each_request_is_logged_for_simulator_verbose(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """``pricepool simulator -v`` shows what it is asked and what it answers."""
    with caplog.at_level(logging.INFO, logger="pricepool.simulator"):
        status, _, _ = await client.post("{ viewer { homes { id } } }", token=None)
    assert status == 401
    assert [r.getMessage() for r in caplog.records] == ["request 1 - {}: HTTP 401"]
