"""Answers kept by the service stay true: a new quarter-hour, a publication or a new fetch
gives a new answer, never the one rendered before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from pricepool.clock import ManualClock
from pricepool.service import Hub, make_app
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

OSLO = ZoneInfo("Europe/Oslo")
HOME = DEFAULT_HOMES[0].id
TOMORROW_GQL = (
    "{ viewer { homes { currentSubscription { priceInfo(resolution: QUARTER_HOURLY) {"
    " current { startsAt } tomorrow { startsAt } } } } } }"
)


@dataclass
class _Rig:
    sim: Simulator
    clock: ManualClock
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> Any:
        async with self.http.get(self.url + path) as answer:
            assert answer.status == 200
            return await answer.json()

    async def gql(self, query: str) -> Any:
        async with self.http.post(self.url + "/v1-beta/gql", json={"query": query}) as answer:
            return await answer.json()


@pytest.fixture
async def rig() -> AsyncIterator[_Rig]:
    clock = ManualClock(datetime(2026, 11, 26, 12, 50, tzinfo=OSLO))

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async with (
        Simulator(clock=clock) as sim,
        TibberSource(
            "t",
            endpoint=sim.endpoint,
            clock=clock,
            monotonic=lambda: clock().timestamp(),
            sleep=sleep,
        ) as source,
        aiohttp.ClientSession() as http,
    ):
        hub = Hub(source, clock=clock)
        runner = web.AppRunner(make_app(hub, endpoint=sim.endpoint), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield _Rig(sim, clock, f"http://127.0.0.1:{runner.addresses[0][1]}", http)
        finally:
            await runner.cleanup()
            await hub.close()


async def test_current_moves_with_the_quarter_hour(rig: _Rig) -> None:
    first = await rig.get(f"/v1/homes/{HOME}/current")
    sent = rig.sim.requests
    assert await rig.get(f"/v1/homes/{HOME}/current") == first
    assert rig.sim.requests == sent  # Home Assistant's next poll: a cache hit
    rig.clock.advance(timedelta(minutes=15))
    later = await rig.get(f"/v1/homes/{HOME}/current")
    assert later["start"] == first["end"]
    assert (
        later["price"]
        == later["today"][[d["start"] for d in later["today"]].index(later["start"])]["total"]
    )


async def test_tomorrow_appears_once_published(rig: _Rig) -> None:
    path = f"/v1/homes/{HOME}/prices?from=today&to=tomorrow"
    before = await rig.get(path)
    assert before["unpublished"] is not None
    gql = await rig.gql(TOMORROW_GQL)
    assert gql["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["tomorrow"] == []
    # Asked before 13:00, tomorrow is pending for one re-check (15 minutes).
    rig.clock.set(datetime(2026, 11, 26, 13, 5, tzinfo=OSLO))
    after = await rig.get(path)
    assert after["unpublished"] is None
    assert len(after["intervals"]) == 2 * 96
    gql = await rig.gql(TOMORROW_GQL)
    assert (
        len(gql["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["tomorrow"]) == 96
    )


async def test_a_fetch_for_another_range_does_not_serve_a_stale_coverage(rig: _Rig) -> None:
    path = f"/v1/homes/{HOME}/coverage"
    async with rig.http.get(rig.url + path) as answer:
        empty = await answer.json()
    await rig.get(f"/v1/homes/{HOME}/prices?from=2026-11-01&to=2026-11-02")
    async with rig.http.get(rig.url + path) as answer:
        filled = await answer.json()
    assert filled["covered"] != empty["covered"]
    # The pool learns more through another route: the kept coverage answer is not served.
    await rig.gql(
        "{ viewer { homes { currentSubscription { priceInfoRange(resolution: QUARTER_HOURLY,"
        ' first: 96, after: "MjAyNi0xMS0xMFQwMDowMDowMC4wMDArMDE6MDA=") { nodes { total } } } } } }'
    )
    async with rig.http.get(rig.url + path) as answer:
        wider = await answer.json()
    assert wider["covered"] != filled["covered"]
