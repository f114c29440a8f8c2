"""``/metrics`` tells an operator what the service does, in Prometheus's terms."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from pricepool.clock import ManualClock
from pricepool.service import Hub, make_app
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

OSLO = ZoneInfo("Europe/Oslo")
HOME = DEFAULT_HOMES[0].id
TOKEN = "metrics-token-5f0b7c9e2a1d"
KEY = "k-123"


@dataclass
class _Rig:
    sim: Simulator
    clock: ManualClock
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, key: str | None = KEY) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with self.http.get(self.url + path, headers=headers) as answer:
            return answer.status, await answer.text()

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = await self.get("/metrics")
        assert status == 200
        assert TOKEN not in text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@pytest.fixture
async def rig() -> AsyncIterator[_Rig]:
    clock = ManualClock(datetime(2026, 11, 26, 12, 50, tzinfo=OSLO))

    async def sleep(seconds: float) -> None:
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
        app = make_app(hub, endpoint=sim.endpoint, api_key=KEY)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield _Rig(sim, clock, f"http://127.0.0.1:{runner.addresses[0][1]}", http)
        finally:
            await runner.cleanup()
            await hub.close()


def _home(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted({"home": HOME, **labels}.items()))


async def test_answers_are_counted_by_route_template(rig: _Rig) -> None:
    for _ in range(3):
        assert (await rig.get(f"/v1/homes/{HOME}/prices"))[0] == 200
    assert (await rig.get("/v1/homes/nowhere/prices"))[0] == 404
    seen = await rig.scrape()
    route = "/v1/homes/{home}/prices"

    def answered(status: str) -> float:
        labels = (("method", "GET"), ("route", route), ("status", status))
        return seen[("pricepool_http_requests_total", labels)]

    assert answered("200") == 3
    assert answered("404") == 1
    count = ("pricepool_http_request_duration_seconds_count", (("route", route),))
    assert seen[count] == 4
    # The asked path (a home's id) never becomes a label.
    assert not any(HOME in dict(labels).get("route", "") for _, labels in seen)


async def test_pool_state_and_the_price_in_force(rig: _Rig) -> None:
    await rig.get(f"/v1/homes/{HOME}/prices")
    seen = await rig.scrape()
    before = seen[_home("pricepool_intervals")]
    assert before >= 96
    assert seen[_home("pricepool_tomorrow_available")] == 0
    assert seen[("pricepool_upstream_requests_total", (("outcome", "ok"),))] == rig.sim.requests
    assert (
        seen[("pricepool_upstream_last_success_timestamp_seconds", ())] == rig.clock().timestamp()
    )
    _, body = await rig.get(f"/v1/homes/{HOME}/current")

    current = json.loads(body)
    assert seen[_home("pricepool_price", component="total", currency="NOK")] == current["price"]
    assert seen[("pricepool_build_info", (("version", __import__("pricepool").__version__),))] == 1
    # After publication (and the pending re-check) tomorrow is held.
    rig.clock.set(datetime(2026, 11, 26, 13, 6, tzinfo=OSLO))
    await rig.get(f"/v1/homes/{HOME}/prices?from=tomorrow&to=tomorrow")
    seen = await rig.scrape()
    assert seen[_home("pricepool_tomorrow_available")] == 1
    assert seen[_home("pricepool_intervals")] == before + 96


async def test_a_ban_shows_with_the_time_left(rig: _Rig) -> None:
    rig.sim.faults.status = 429  # without Retry-After: Tibber's ban
    await rig.get(f"/v1/homes/{HOME}/prices")
    seen = await rig.scrape()
    assert seen[("pricepool_upstream_banned", ())] == 1
    assert seen[("pricepool_upstream_ban_remaining_seconds", ())] > 0
    assert seen[("pricepool_upstream_requests_total", (("outcome", "rate_limited"),))] >= 1
    left = seen[("pricepool_upstream_requests_left", ())]
    assert 0 <= left < 100


async def test_metrics_need_the_key(rig: _Rig) -> None:
    assert (await rig.get("/metrics", key=None))[0] == 401
    assert (await rig.get("/metrics", key="wrong"))[0] == 401
    assert (await rig.get("/healthz", key=None))[0] == 200
