"""The service on loopback over the simulator, both on one injected clock; and the real
``pricepool`` command as a child process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from pricepool import SqliteStore
from pricepool.clock import ManualClock
from pricepool.service import Hub, make_app
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

# 14:00 in Oslo: today's and tomorrow's prices are out.
NOW = datetime(2025, 11, 25, 13, 0, tzinfo=UTC)
TOKEN = "tibber-upstream-Z9qX7wVb3"
OSLO_HOME, STOCKHOLM_HOME, BERLIN_HOME = DEFAULT_HOMES
OSLO = OSLO_HOME.id
BERLIN = BERLIN_HOME.id


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Rig:
    sim: Simulator
    clock: ManualClock
    hub: Hub | None
    url: str
    http: aiohttp.ClientSession
    key: str | None = None
    seen: list[bytes] = field(default_factory=list)
    """Every byte every answer carried (status line, headers, body), for the leak test."""

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        given = dict(headers or {})
        if self.key is not None and "Authorization" not in given:
            given["Authorization"] = f"Bearer {self.key}"
        return given

    async def _kept(self, response: aiohttp.ClientResponse) -> Answer:
        body = await response.read()
        headers = CIMultiDict(response.headers)
        self.seen.append(f"{response.status} {response.reason}".encode())
        self.seen.append(repr(list(headers.items())).encode())
        self.seen.append(body)
        return Answer(response.status, headers, body)

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: str) -> Answer:
        async with self.http.get(
            self.url + path, params=params, headers=self._headers(headers)
        ) as response:
            return await self._kept(response)

    async def post(
        self,
        path: str,
        data: bytes | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        async with self.http.post(
            self.url + path, data=data, json=json, headers=self._headers(headers)
        ) as response:
            return await self._kept(response)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> Answer:
        return await self.post("/v1-beta/gql", json={"query": query, "variables": variables})


@asynccontextmanager
async def service(
    store: Path | None = None,
    *,
    now: datetime = NOW,
    api_key: str | None = None,
    **simulated: Any,
) -> AsyncIterator[Rig]:
    """The service's app (the real Hub, store and source) on 127.0.0.1, over a simulator;
    the clock moves only when a test (or the source's back-off) moves it."""
    clock = ManualClock(now)

    async def sleep(seconds: float) -> None:
        # The source's back-off passes on the injected clock, not the wall clock.
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async with Simulator(clock=clock, token=TOKEN, **simulated) as sim:
        source = TibberSource(
            TOKEN,
            endpoint=sim.endpoint,
            clock=clock,
            monotonic=lambda: clock().timestamp(),
            sleep=sleep,
        )
        hub = Hub(source, store=SqliteStore(store) if store else None, clock=clock, sleep=sleep)
        app = make_app(hub, endpoint=sim.endpoint, api_key=api_key)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as http:
                yield Rig(sim, clock, hub, f"http://127.0.0.1:{port}", http, key=api_key)
        finally:
            await runner.cleanup()
            await hub.close()


def child_env(home: Path) -> dict[str, str]:
    """The environment of a child ``pricepool``: no user config, data or token of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIBBER", "PRICEPOOL"))}
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        NO_COLOR="1",
        COLUMNS="120",
    )
    return env


async def cli(home: Path, *args: str) -> tuple[int, bytes, bytes]:
    """The real command, ``python -m pricepool.cli args``, in a child process."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pricepool.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(home),
    )
    out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out, err


READY = "pricepool serve: answering on "


@dataclass
class Process:
    child: asyncio.subprocess.Process
    url: str
    out: list[bytes]

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, bytes, bytes]:
        self.child.send_signal(sig)
        out, err = await asyncio.wait_for(self.child.communicate(), 60)
        assert self.child.returncode is not None
        return self.child.returncode, b"".join(self.out) + out, err


async def start(
    home: Path,
    endpoint: str,
    *args: str,
    token: str = TOKEN,
    now: datetime = NOW,
    env: dict[str, str] | None = None,
) -> Process:
    """``pricepool serve`` on a free loopback port, once it says it answers."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pricepool.cli",
        "--now",
        now.isoformat(),
        "serve",
        "--port",
        "0",
        "--token",
        token,
        "--endpoint",
        endpoint,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**child_env(home), **(env or {})},
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 60)
    if not line.startswith(READY.encode()):
        child.kill()
        _, err = await child.communicate()
        raise AssertionError(f"serve did not start: {line!r} {err.decode()}")
    return Process(child, line.decode().strip().removeprefix(READY), [line])


@asynccontextmanager
async def running(
    home: Path,
    endpoint: str,
    *args: str,
    token: str = TOKEN,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Process]:
    process = await start(home, endpoint, *args, token=token, env=env)
    try:
        yield process
    finally:
        if process.child.returncode is None:
            process.child.kill()
            await process.child.wait()
