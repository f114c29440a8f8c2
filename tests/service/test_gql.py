"""The service's Tibber-compatible GraphQL endpoint answers as the simulator does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pricepool.clock import ManualClock
from pricepool.service import Hub
from pricepool.service._gql import MAX_DEPTH, PATH, WEBSOCKET_URL, add_routes
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

tibber = pytest.importorskip("tibber")

# 14:00 in Oslo: today's and tomorrow's prices are out.
NOW = datetime(2025, 11, 25, 13, 0, tzinfo=UTC)
TOKEN = "upstream-secret-token"
OSLO = DEFAULT_HOMES[0].id


@dataclass
class _Rig:
    sim: Simulator
    hub: Hub
    url: str
    http: aiohttp.ClientSession

    async def ask(self, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = {"query": query, "variables": variables or {}}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.http.post(url, json=body, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
async def rig() -> AsyncIterator[_Rig]:
    async with _rig() as made:
        yield made


@asynccontextmanager
async def _rig() -> AsyncIterator[_Rig]:
    clock = ManualClock(NOW)

    async def sleep(seconds: float) -> None:
        # The source's back-off passes on the injected clock, not the wall clock.
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async with (
        Simulator(clock=clock, token=TOKEN) as sim,
        TibberSource(
            TOKEN,
            endpoint=sim.endpoint,
            clock=clock,
            monotonic=lambda: clock().timestamp(),
            sleep=sleep,
        ) as source,
        aiohttp.ClientSession() as http,
    ):
        hub = Hub(source, clock=clock)
        app = web.Application()
        add_routes(app, hub)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield _Rig(sim, hub, f"http://127.0.0.1:{port}{PATH}", http)
        finally:
            for pool in hub.pools.values():
                await pool.close()
            await runner.cleanup()


PRICE_INFO = """
query ($id: ID!, $res: PriceInfoResolution) { viewer { home(id: $id) { currentSubscription {
  priceInfo(resolution: $res) {
    current { startsAt total energy tax level currency }
    today { startsAt total energy tax level currency }
    tomorrow { startsAt total energy tax level currency }
  } } } } }
"""

RANGE = """
query ($id: ID!, $res: PriceInfoResolution!, $first: Int, $last: Int, $after: String,
       $before: String) {
  viewer { home(id: $id) { currentSubscription {
    priceInfoRange(resolution: $res, first: $first, last: $last, after: $after, before: $before) {
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage resolution currency count
                 minEnergy minTotal maxEnergy maxTotal }
      edges { cursor node { startsAt total energy tax level currency } }
      nodes { startsAt total }
    } } } } }
"""

META = """
{ viewer { name userId login websocketSubscriptionUrl homes {
  id timeZone appNickname appAvatar size type mainFuseSize
  address { address1 postalCode city country latitude longitude }
  owner { id name firstName lastName language contactInfo { email mobile } }
  meteringPointData { consumptionEan gridCompany priceAreaCode vatType }
  features { realTimeConsumptionEnabled }
  currentSubscription { id status validFrom subscriber { name } }
  subscriptions { id status validFrom validTo statusReason }
} } }
"""


async def _same(rig: _Rig, query: str, variables: dict[str, Any]) -> Any:
    direct = await rig.ask(rig.sim.endpoint, query, variables)
    served = await rig.ask(rig.url, query, variables)
    assert served == direct
    assert direct[0] == 200
    assert "errors" not in direct[1]
    return served[1]


@pytest.mark.parametrize("resolution", ["QUARTER_HOURLY", "HOURLY"])
@pytest.mark.parametrize(
    "now",
    [
        NOW,  # tomorrow published
        NOW - timedelta(hours=3),  # before publication: tomorrow empty
        datetime(2025, 10, 26, 9, 0, tzinfo=UTC),  # the autumn DST day: 25 hours
        datetime(2026, 3, 28, 13, 30, tzinfo=UTC),  # tomorrow is the spring DST day
        datetime(2025, 9, 30, 13, 0, tzinfo=UTC),  # tomorrow is the first quarter-hour day
    ],
)
async def test_price_info_equals_the_simulator(rig: _Rig, resolution: str, now: datetime) -> None:
    rig.hub.clock.set(now)
    for home in DEFAULT_HOMES:
        data = await _same(rig, PRICE_INFO, {"id": home.id, "res": resolution})
        info = data["data"]["viewer"]["home"]["currentSubscription"]["priceInfo"]
        assert info["today"]
        assert info["current"] is not None


async def test_price_info_defaults_to_hourly(rig: _Rig) -> None:
    query = "query ($id: ID!) { viewer { home(id: $id) { currentSubscription { priceInfo { "
    query += "today { startsAt total level } } } } } }"
    data = await _same(rig, query, {"id": OSLO})
    assert len(data["data"]["viewer"]["home"]["currentSubscription"]["priceInfo"]["today"]) == 24


@pytest.mark.parametrize("resolution", ["QUARTER_HOURLY", "HOURLY"])
async def test_price_info_range_pages_equal_the_simulator(rig: _Rig, resolution: str) -> None:
    # The newest page, then three pages back by startCursor, then forward again by endCursor.
    variables: dict[str, Any] = {"id": OSLO, "res": resolution, "last": 96}
    data = await _same(rig, RANGE, variables)
    for _ in range(3):
        info = data["data"]["viewer"]["home"]["currentSubscription"]["priceInfoRange"]
        assert info["pageInfo"]["hasPreviousPage"] is True
        variables = {**variables, "before": info["pageInfo"]["startCursor"]}
        data = await _same(rig, RANGE, variables)
    info = data["data"]["viewer"]["home"]["currentSubscription"]["priceInfoRange"]
    forward = {"id": OSLO, "res": resolution, "first": 50, "after": info["pageInfo"]["endCursor"]}
    data = await _same(rig, RANGE, forward)
    assert data["data"]["viewer"]["home"]["currentSubscription"]["priceInfoRange"]["pageInfo"][
        "hasNextPage"
    ]


async def test_range_across_the_quarter_hour_switch_and_dst(rig: _Rig) -> None:
    # Hourly September, quarter-hourly October and the autumn night, in one page each way.
    for resolution in ("QUARTER_HOURLY", "HOURLY"):
        cursor = "MjAyNS0wOS0yOVQwMDowMDowMC4wMDArMDI6MDA="  # 2025-09-29T00:00+02:00
        variables = {"id": OSLO, "res": resolution, "first": 400, "after": cursor}
        await _same(rig, RANGE, variables)
        before = "MjAyNS0xMC0yN1QwMDowMDowMC4wMDArMDE6MDA="  # 2025-10-27T00:00+01:00
        await _same(rig, RANGE, {"id": OSLO, "res": resolution, "last": 200, "before": before})


async def test_home_metadata_equals_the_simulator_and_is_read_once(rig: _Rig) -> None:
    served = await rig.ask(rig.url, META)
    direct = await rig.ask(rig.sim.endpoint, META)
    assert served[0] == 200
    viewer = served[1]["data"]["viewer"]
    # Tibber's live-data endpoint, never the service's or the upstream's own.
    assert viewer.pop("websocketSubscriptionUrl") == WEBSOCKET_URL
    direct[1]["data"]["viewer"].pop("websocketSubscriptionUrl")
    assert served[1] == direct[1]
    rig.sim.reset_counters()
    for _ in range(5):
        assert (await rig.ask(rig.url, META))[1]["data"]["viewer"]["homes"] == viewer["homes"]
    assert rig.sim.requests == 0
    rig.hub.clock.advance(timedelta(days=1, seconds=1))
    await rig.ask(rig.url, META)
    assert rig.sim.requests == 1  # refreshed after a day


async def test_pytibber_through_the_service_reads_what_it_reads_directly(
    rig: _Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def read(endpoint: str) -> list[dict[str, Any]]:
        monkeypatch.setattr(tibber, "API_ENDPOINT", endpoint)
        connection = tibber.Tibber(access_token=TOKEN, websession=rig.http, user_agent="tests")
        await connection.update_info()
        seen = []
        for home in connection.get_homes():
            await home.update_info_and_price_info()
            seen.append(
                {
                    "id": home.home_id,
                    "prices": home.price_total,
                    "info": home.info,
                    "currency": home.currency,
                    "name": home.name,
                    "address": home.address1,
                    "realtime": home.has_real_time_consumption,
                    "active": home.has_active_subscription,
                }
            )
        return [{"user": connection.user_id, "name": connection.name}, *seen]

    direct = await read(rig.sim.endpoint)
    served = await read(rig.url)
    assert served == direct
    assert [entry["id"] for entry in served[1:]] == [home.id for home in DEFAULT_HOMES]
    assert all(len(entry["prices"]) == 192 for entry in served[1:])


async def test_a_field_outside_the_schema_is_an_error_naming_it(rig: _Rig) -> None:
    query = "{ viewer { homes { id consumption { nodes { cost } } } } }"
    status, body = await rig.ask(rig.url, query)
    assert status == 400
    assert "data" not in body
    assert "consumption" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_documents_too_deep_or_too_wide_are_refused(rig: _Rig) -> None:
    # viewer plus 99 aliases is 100 fields: served; one more is refused.
    aliases = " ".join(f"a{i}: login" for i in range(99))
    assert (await rig.ask(rig.url, f"{{ viewer {{ {aliases} }} }}"))[0] == 200
    status, body = await rig.ask(rig.url, f"{{ viewer {{ {aliases} more: name }} }}")
    assert status == 400
    assert "101 fields" in body["errors"][0]["message"]
    # Fragments are counted as expanded: five spreads of a 25-field fragment are 126 fields.
    fragment = "fragment f on Viewer { " + " ".join(f"b{i}: login" for i in range(25)) + " }"
    spreads = "{ viewer { ...f ...f ...f ...f ...f } } "
    status, body = await rig.ask(rig.url, spreads + fragment)
    assert status == 400
    assert "126 fields" in body["errors"][0]["message"]
    # Depth 10 passes the limit (and then fails validation by its unknown fields); 11 does not.
    for depth, refused in ((MAX_DEPTH, "x1"), (MAX_DEPTH + 1, "levels deep")):
        nested = "".join(f"x{i} {{ " for i in range(1, depth)) + "y" + " }" * (depth - 1)
        status, body = await rig.ask(rig.url, f"{{ {nested} }}")
        assert status == 400
        assert refused in body["errors"][0]["message"]
    assert "11 levels deep" in body["errors"][0]["message"]


async def test_fifty_clients_cost_the_upstream_what_one_costs() -> None:
    def asks(r: _Rig, i: int) -> list[Any]:
        # Overlapping pages of the last one to two days, and today/tomorrow.
        page = {"id": OSLO, "res": "QUARTER_HOURLY", "last": 96 + i}
        return [r.ask(r.url, RANGE, page), r.ask(r.url, PRICE_INFO, {"id": OSLO})]

    async with _rig() as one:
        widest = await asyncio.gather(*asks(one, 49))
        alone = one.sim.requests
    async with _rig() as many:
        answers = await asyncio.gather(*(a for i in range(50) for a in asks(many, i)))
        together = many.sim.requests
    assert all(a[0] == 200 and "errors" not in a[1] for a in [*widest, *answers])
    assert answers[-2:] == widest
    assert together == alone


BOTH = """
query ($id: ID!, $before: String) { viewer { home(id: $id) { currentSubscription {
  priceInfo(resolution: QUARTER_HOURLY) { today { startsAt total } tomorrow { startsAt } }
  priceInfoRange(resolution: QUARTER_HOURLY, last: 96, before: $before) {
    nodes { startsAt total } pageInfo { count } }
} } } }
"""
MONTH_AGO = "MjAyNS0xMC0yNVQwMDowMDowMC4wMDArMDI6MDA="  # 2025-10-25T00:00+02:00


async def test_a_ban_serves_what_is_cached_and_says_when_to_come_back(rig: _Rig) -> None:
    warm = await rig.ask(rig.url, PRICE_INFO, {"id": OSLO, "res": "QUARTER_HOURLY"})
    assert "errors" not in warm[1]
    rig.sim.faults.status = 429
    rig.sim.faults.retry_after = 120
    status, body = await rig.ask(rig.url, BOTH, {"id": OSLO, "before": MONTH_AGO})
    assert status == 200
    sub = body["data"]["viewer"]["home"]["currentSubscription"]
    # The cached days are served; the month-old page the upstream refused is empty...
    assert len(sub["priceInfo"]["today"]) == 96
    assert len(sub["priceInfo"]["tomorrow"]) == 96
    assert sub["priceInfoRange"]["nodes"] == []
    # ...and says why, where, and when to ask again.
    [error] = body["errors"]
    assert error["path"] == ["viewer", "home", "currentSubscription", "priceInfoRange"]
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert 0 < error["extensions"]["retryAfter"] <= 120
    assert TOKEN not in str(body)

    # While the ban lasts nobody's question reaches the upstream.
    sent = rig.sim.requests
    for n in range(1, 6):
        rig.hub.clock.advance(timedelta(seconds=20))
        _, again = await rig.ask(rig.url, BOTH, {"id": OSLO, "before": MONTH_AGO})
        [error] = again["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
        assert error["extensions"]["retryAfter"] == 120 - 20 * n
    assert rig.sim.requests == sent

    rig.sim.faults.status = None
    rig.hub.clock.advance(timedelta(seconds=21))
    _, after = await rig.ask(rig.url, BOTH, {"id": OSLO, "before": MONTH_AGO})
    assert "errors" not in after
    assert (
        after["data"]["viewer"]["home"]["currentSubscription"]["priceInfoRange"]["pageInfo"][
            "count"
        ]
        == 96
    )


async def test_other_upstream_failures_carry_a_code(rig: _Rig) -> None:
    await rig.ask(rig.url, META)  # metadata known: only prices are asked below
    rig.sim.faults.status = 503
    _, body = await rig.ask(rig.url, BOTH, {"id": OSLO, "before": MONTH_AGO})
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"SERVICE_UNAVAILABLE"}
    # The home is known from the metadata: only the price fields fail.
    sub = body["data"]["viewer"]["home"]["currentSubscription"]
    assert sub["priceInfo"] is None
    assert sub["priceInfoRange"] is None


async def test_an_unknown_home_is_not_found(rig: _Rig) -> None:
    _, body = await rig.ask(rig.url, PRICE_INFO, {"id": "no-such-home"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "no-such-home" in body["errors"][0]["message"]
