"""Tomorrow's prices are pushed: the service asks at publication time and tells subscribers
of ``/events`` when the day is late and when it arrives, costing one request per re-check."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
HOME = DEFAULT_HOMES[0]
START = datetime(2026, 11, 26, 12, 50, tzinfo=OSLO)


@dataclass
class _Sleeper:
    """The hub's sleep: each sleeper waits until the test moves the clock past its wake."""

    clock: ManualClock
    waiting: list[tuple[datetime, asyncio.Future[None]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((self.clock() + timedelta(seconds=seconds), future))
        self.changed.set()
        await future

    async def settle(self, sleepers: int) -> None:
        """Until ``sleepers`` watches sleep again (their requests go over real sockets)."""
        while len(self.waiting) < sleepers:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 10)
            except TimeoutError:
                break
        # A watch that just woke may still be on its way to its next sleep.
        await asyncio.sleep(0.05)

    async def run_until(self, until: datetime, sleepers: int) -> None:
        """Move the clock to ``until``, waking each sleeper in turn at its time."""
        while True:
            await self.settle(sleepers)
            due = sorted((w for w in self.waiting if w[0] <= until), key=lambda w: w[0])
            if not due:
                break
            wake, future = due[0]
            self.waiting.remove(due[0])
            if wake > self.clock():
                self.clock.set(wake)
            future.set_result(None)
        self.clock.set(until)


@dataclass
class _Rig:
    sim: Simulator
    clock: ManualClock
    sleeper: _Sleeper
    url: str
    http: aiohttp.ClientSession
    runner: web.AppRunner

    async def subscribe(self, home: str) -> aiohttp.ClientResponse:
        answer = await self.http.get(f"{self.url}/v1/homes/{home}/events")
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        return answer


async def _event(stream: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next event of ``stream`` (comments and the retry line skipped)."""
    kind = ""
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: "):
            return kind, json.loads(line[6:])


@pytest.fixture
async def rig() -> AsyncIterator[_Rig]:
    clock = ManualClock(START)
    sleeper = _Sleeper(clock)

    async def backoff(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async with (
        Simulator(clock=clock, publish_delay=timedelta(hours=1)) as sim,
        TibberSource(
            "t",
            endpoint=sim.endpoint,
            clock=clock,
            monotonic=lambda: clock().timestamp(),
            sleep=backoff,
        ) as source,
        aiohttp.ClientSession() as http,
    ):
        hub = Hub(source, clock=clock, sleep=sleeper)
        runner = web.AppRunner(make_app(hub, endpoint=sim.endpoint, watch=True), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield _Rig(
                sim, clock, sleeper, f"http://127.0.0.1:{runner.addresses[0][1]}", http, runner
            )
        finally:
            for _, future in sleeper.waiting:
                future.cancel()
            await runner.cleanup()
            await hub.close()


HOMES = len(DEFAULT_HOMES)


async def test_a_late_day_is_announced_then_pushed_within_one_recheck(rig: _Rig) -> None:
    stream = await rig.subscribe(HOME.nickname or HOME.id)
    await rig.sleeper.settle(HOMES)
    assert rig.sim.requests <= 1  # the home list; nothing is asked before 13:00
    await rig.sleeper.run_until(START.replace(hour=13, minute=1), HOMES)
    kind, data = await _event(stream)
    assert kind == "unpublished"
    assert data["home"] == HOME.id
    assert data["day"] == "2026-11-27"
    assert data["expected_at"] == "2026-11-26T13:00:00+01:00"
    assert datetime.fromisoformat(data["retry_at"]) <= START.replace(hour=13, minute=16)
    sent = rig.sim.requests
    # Published at 14:00 (an hour late): pushed at the first re-check after that.
    await rig.sleeper.run_until(START.replace(hour=14, minute=16), HOMES)
    kind, data = await _event(stream)
    assert kind == "prices"
    assert data["day"] == "2026-11-27"
    assert data["intervals"] == 96
    assert data["min"] <= data["average"] <= data["max"]
    # 13:15, 13:30, 13:45 and 14:00 for each home: one request per re-check, no more.
    assert rig.sim.requests - sent <= 4 * HOMES
    stream.close()


async def test_a_late_subscriber_is_told_the_latest_at_once(rig: _Rig) -> None:
    await rig.sleeper.run_until(START.replace(hour=14, minute=16), HOMES)
    stream = await rig.subscribe(HOME.id)
    kind, data = await _event(stream)
    assert (kind, data["day"]) == ("prices", "2026-11-27")
    stream.close()


async def _said(stream: aiohttp.ClientResponse) -> tuple[int, str]:
    """The id and kind of the next event of ``stream``."""
    kind, ident = "", -1
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("id: "):
            ident = int(line[4:])
        elif line.startswith("data: "):
            return ident, kind


async def test_a_reconnecting_subscriber_is_not_told_again_what_it_heard(rig: _Rig) -> None:
    await rig.sleeper.run_until(START.replace(hour=13, minute=1), HOMES)
    stream = await rig.subscribe(HOME.id)
    heard, kind = await _said(stream)
    assert kind == "unpublished"
    stream.close()
    url = f"{rig.url}/v1/homes/{HOME.id}/events"
    # As EventSource reconnects: with the id it saw. The next event is the new one.
    again = await rig.http.get(url, headers={"Last-Event-ID": str(heard)})
    await rig.sleeper.run_until(START.replace(hour=14, minute=16), HOMES)
    later, kind = await _said(again)
    assert kind == "prices"
    assert later > heard
    again.close()
    # An older id, or one that is not ours, gets the latest at once.
    for told in (str(heard), "nonsense"):
        late = await rig.http.get(url, headers={"Last-Event-ID": told})
        assert await _said(late) == (later, "prices")
        late.close()


async def test_a_held_day_costs_no_request_and_days_roll_on(rig: _Rig) -> None:
    await rig.sleeper.run_until(START.replace(hour=14, minute=16), HOMES)
    sent = rig.sim.requests
    # Nothing more is asked until the next day's publication.
    await rig.sleeper.run_until(START.replace(day=27, hour=12, minute=59), HOMES)
    assert rig.sim.requests == sent
    stream = await rig.subscribe(HOME.id)
    assert (await _event(stream))[0] == "prices"  # the latest, for 2026-11-27
    await rig.sleeper.run_until(START.replace(day=27, hour=13, minute=1), HOMES)
    kind, data = await _event(stream)
    assert (kind, data["day"]) == ("unpublished", "2026-11-28")
    stream.close()


async def test_an_unknown_home_is_404(rig: _Rig) -> None:
    async with rig.http.get(f"{rig.url}/v1/homes/nowhere/events") as answer:
        assert answer.status == 404
        assert (await answer.json())["error"]["parameter"] == "home"


async def test_a_stop_ends_every_stream_at_once(rig: _Rig) -> None:
    stream = await rig.subscribe(HOME.id)
    started = time.monotonic()
    await rig.runner.cleanup()
    assert time.monotonic() - started < 5
    assert await asyncio.wait_for(stream.content.read(), 5) is not None
    assert stream.content.at_eof()
