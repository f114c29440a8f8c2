"""``pricepool serve`` replicas on one PostgreSQL database, as real processes behind no
balancer but the test's round robin: one fetch per span, one rate limit, a replica killed
mid-fetch, and restarts that ask nothing."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from pricepool.simulator import DEFAULT_HOMES, Simulator

from .postgres_db import database, needs_server
from .test_postgres_replicas import reference

__all__ = ["database", "reference"]

ROOT = Path(__file__).resolve().parent.parent
HOME = DEFAULT_HOMES[0].id
PRICES = f"/v1/homes/{HOME}/prices"
PIDS: dict[str, int] = {}
LOGS: dict[int, str] = {}
"""What each replica (by pid) wrote on stderr, once it has stopped."""


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def replicas(dsn: str, endpoint: str, count: int) -> AsyncIterator[list[str]]:
    """``count`` ``pricepool serve`` processes on ``dsn``; their base URLs (``PIDS`` maps
    each to its process). Stopped with SIGTERM, each must exit 0."""
    env = {**os.environ, "PRICEPOOL_STORE": _url(dsn), "TIBBER_TOKEN": "replica-token"}
    env.pop("PRICEPOOL_API_KEY", None)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pricepool.cli",
            "serve",
            "--port",
            "0",
            "--endpoint",
            endpoint,
            "-q",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    try:
        urls = []
        for proc in procs:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert "answering on http://" in line, line
            urls.append(line.rsplit(" ", 1)[1].strip())
            PIDS[urls[-1]] = proc.pid
        yield urls
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
            LOGS[proc.pid] = err.decode()
            assert proc.returncode in (0, -signal.SIGKILL), err.decode()


def _url(dsn: str) -> str:
    """``dsn`` as the postgresql:// URL ``--store`` takes (the fixtures give key=value)."""
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    parts = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    name = parts.pop("dbname", "postgres")
    url = f"postgresql:///{quote(name)}?{urlencode(parts)}"
    assert url.startswith("postgresql://")
    return url


def ranges(seed: int, count: int) -> Iterator[dict[str, str]]:
    """``count`` overlapping ranges of 1 to 60 days within 2024 (hourly history)."""
    rng = random.Random(seed)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(count):
        start = first + timedelta(days=rng.randrange(0, 300))
        end = start + timedelta(days=rng.randrange(1, 61))
        yield {"from": start.isoformat(), "to": end.isoformat()}


async def ask(urls: list[str], asked: list[dict[str, str]]) -> list[bytes]:
    """Every range at once, spread round robin over ``urls``; the bodies in asked order."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(n: int, params: dict[str, str]) -> bytes:
            async with http.get(urls[n % len(urls)] + PRICES, params=params) as answer:
                body = await answer.read()
                assert answer.status == 200, body
                return body

        return list(await asyncio.gather(*(one(n, p) for n, p in enumerate(asked))))


def price_requests(sim: Simulator) -> int:
    return len([r for r in sim.log if "priceInfoRange" in r.fields])


@needs_server
async def test_three_replicas_cost_what_one_costs_and_restarts_cost_nothing(
    database: str, reference: str, simulator: Simulator
) -> None:
    asked = list(ranges(11, 300))
    async with replicas(reference, simulator.endpoint, 1) as one:
        alone = await ask(one, asked)
    single = price_requests(simulator)
    simulator.log.clear()

    async with replicas(database, simulator.endpoint, 3) as three:
        together = await ask(three, asked)
    shared = price_requests(simulator)
    # Every answer is the one a single process gives, byte for byte.
    assert together == alone
    print(f"upstream price requests: one process {single}, three replicas {shared}")
    assert shared <= single + 3, (shared, single)
    assert all(r.status == 200 for r in simulator.log)
    stamps = sorted(r.at for r in simulator.log)
    for i, start in enumerate(stamps):
        assert len([t for t in stamps[i:] if t < start + timedelta(minutes=5)]) <= 100
    simulator.log.clear()

    # All replicas restarted: what the database holds costs no request.
    async with replicas(database, simulator.endpoint, 3) as again:
        assert await ask(again, asked) == alone
    assert price_requests(simulator) == 0


@needs_server
async def test_a_replica_killed_mid_fetch_leaves_the_span_to_another(
    database: str, simulator: Simulator
) -> None:
    span = {"from": "2024-03-01T00:00:00+00:00", "to": "2024-03-20T00:00:00+00:00"}
    async with replicas(database, simulator.endpoint, 1) as first:
        # Learn the home first, so the slow part below is the price fetch.
        await ask(first, [{"from": "2024-01-01T00:00:00+00:00", "to": "2024-01-02T00:00:00+00:00"}])
    async with replicas(database, simulator.endpoint, 2) as (victim, heir):
        simulator.faults.latency = 3.0
        async with aiohttp.ClientSession() as http:
            doomed = asyncio.ensure_future(http.get(victim + PRICES, params=span))
            # The victim has taken the span's claim and waits on the slow upstream.
            for _ in range(100):
                if any("priceInfoRange" in r.fields for r in simulator.log[-5:]) or (
                    simulator.requests > 2
                ):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            os.kill(PIDS[victim], signal.SIGKILL)
            with pytest.raises(aiohttp.ClientError):
                await doomed
            simulator.faults.latency = 0.0
            async with http.get(heir + PRICES, params=span) as answer:
                assert answer.status == 200
                body = await answer.json()
    assert body["missing"] == []
    assert len(body["intervals"]) == 19 * 24
    assert body["source_error"] is None


@needs_server
async def test_a_replica_answers_while_the_database_is_away_and_saves_when_back(
    simulator: Simulator,
) -> None:
    # A cluster of its own, halted and started again (in /tmp, where its unprivileged owner
    # can reach it).
    script = ROOT / ".ci" / "postgres"
    folder = Path(tempfile.mkdtemp(prefix="pricepool-pg."))

    async def cluster(action: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run, [str(script), action, str(folder)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    march = {"from": "2024-03-01T00:00:00+00:00", "to": "2024-03-08T00:00:00+00:00"}
    april = {"from": "2024-04-01T00:00:00+00:00", "to": "2024-04-08T00:00:00+00:00"}
    dsn = await cluster("start")
    try:
        async with (
            replicas(dsn, simulator.endpoint, 1) as (url,),
            aiohttp.ClientSession() as http,
        ):

            async def ready() -> int:
                async with http.get(url + "/readyz") as answer:
                    return answer.status

            first = await ask([url], [march])
            assert await ready() == 200
            await cluster("halt")
            # Answered from memory, and from the API for what memory lacks.
            assert await ask([url], [march]) == first
            await ask([url], [april])
            assert await ready() == 503
            await cluster("start")
            for _ in range(100):
                if await ready() == 200:
                    break
                await asyncio.sleep(0.1)
            assert await ready() == 200
        said = [line for line in LOGS[PIDS[url]].splitlines() if "unreachable" in line]
        assert len(said) == 1, LOGS[PIDS[url]]
        assert "WARNING" in said[0]
        assert "answering from memory" in said[0]
        # Stopped (SIGTERM): what it learned while the database was away is saved.
        sent = price_requests(simulator)
        async with replicas(dsn, simulator.endpoint, 1) as again:
            await ask(again, [march, april])
        assert price_requests(simulator) == sent
    finally:
        await cluster("stop")
