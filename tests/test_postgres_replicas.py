"""Replicas on one PostgreSQL database, as real processes: one fetch per span, a holder
killed mid-fetch, restarts that ask nothing, and a database that goes away and comes back.

The replicas are library processes (``tests/postgres_child.py``: a pool on a Tibber source
on one shared database), not ``pricepool serve``, which lives on another branch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pricepool import IntervalPool, ManualClock, PostgresStore
from pricepool.clock import local_midnight
from pricepool.model import zone
from pricepool.simulator import DEFAULT_HOMES, Simulator

from .fakes import FakeSource
from .postgres_db import SERVER, database, needs_server, with_database

__all__ = ["database"]

ROOT = Path(__file__).resolve().parent.parent
CHILD = (sys.executable, "-m", "tests.postgres_child")
HOME = "home-1"
TZ = zone("Europe/Berlin")
NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CHILD, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@needs_server
async def test_a_replica_killed_while_holding_a_fetch_claim_is_taken_over(database: str) -> None:
    a, b = local_midnight(date(2025, 6, 1), TZ), local_midnight(date(2025, 6, 15), TZ)
    async with PostgresStore(database) as store:
        await store.homes()  # the schema exists before the child claims
    holder = spawn("hold", database, HOME, str(int(a.timestamp())), str(int(b.timestamp())))
    try:
        assert holder.stdout is not None
        line = await asyncio.to_thread(holder.stdout.readline)
        assert line.strip() == "held"
        clock = ManualClock(NOW)
        source = FakeSource(clock)
        async with (
            PostgresStore(database) as store,
            IntervalPool(HOME, source, store=store, clock=clock) as pool,
        ):
            asked = asyncio.create_task(pool.get_intervals(a, b))
            done, _ = await asyncio.wait([asked], timeout=1.0)
            assert not done, "the span was fetched while another process held its claim"
            assert source.calls == []
            os.kill(holder.pid, signal.SIGKILL)
            got = await asyncio.wait_for(asked, 20)
        assert got == source.truth(HOME, a, b)
        assert len(source.calls) == 1
        async with PostgresStore(database) as store:
            saved = await store.load(HOME)
        assert saved is not None
        assert list(saved.intervals) == got
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def reference() -> Iterator[str]:
    """A second fresh database, for the single-process run."""
    name = f"pricepool_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(SERVER, name)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def ranges(seed: int, count: int) -> list[str]:
    """``count`` overlapping ranges of 1 to 60 days within 2024 (hourly history)."""
    rng = random.Random(seed)
    out = []
    first = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(count):
        start = first + timedelta(days=rng.randrange(0, 300))
        end = start + timedelta(days=rng.randrange(1, 61))
        out.append(f"{int(start.timestamp())}:{int(end.timestamp())}")
    return out


async def run(dsn: str, endpoint: str, home: str, parts: list[list[str]]) -> list[dict[str, int]]:
    children = [spawn("pool", dsn, endpoint, home, *part) for part in parts]
    answers: list[dict[str, int]] = []
    for child in children:
        out, err = await asyncio.to_thread(child.communicate, timeout=120)
        assert child.returncode == 0, err
        lines = out.splitlines()
        assert lines[-1].startswith("calls ")
        for line in lines[:-1]:
            answer = json.loads(line)
            del answer["seconds"]  # how long it took is the bench's business
            answers.append(answer)
    return answers


@needs_server
async def test_three_replicas_ask_no_more_than_one_and_restarts_ask_nothing(
    database: str, reference: str, simulator: Simulator
) -> None:
    home = DEFAULT_HOMES[0].id
    # 300 clients at once: 100 on each replica, or all on the one process.
    asked = ranges(7, 300)
    alone = await run(reference, simulator.endpoint, home, [asked])
    single = [r for r in simulator.log if "priceInfoRange" in r.fields]
    simulator.log.clear()

    together = await run(database, simulator.endpoint, home, [asked[i::3] for i in range(3)])
    shared = [r for r in simulator.log if "priceInfoRange" in r.fields]
    # The same answers whatever process gave them.
    key = lambda r: (r["start"], r["end"])  # noqa: E731
    assert sorted(together, key=key) == sorted(alone, key=key)
    assert all(r["count"] > 0 for r in together)
    # No span asked twice: at most one request more per replica than one process needed
    # (a replica that finds part of its range saved asks for the rest in pieces).
    print(f"upstream price requests: one process {len(single)}, three replicas {len(shared)}")
    assert len(shared) <= len(single) + 3, (len(shared), len(single))
    assert all(r.status == 200 for r in simulator.log)
    stamps = sorted(r.at for r in simulator.log)
    for i, start in enumerate(stamps):
        assert len([t for t in stamps[i:] if t < start + timedelta(minutes=5)]) <= 100
    simulator.log.clear()

    again = await run(database, simulator.endpoint, home, [asked[i::3] for i in range(3)])
    assert sorted(again, key=key) == sorted(alone, key=key)
    assert simulator.log == []


@needs_server
async def test_a_pool_keeps_answering_while_the_database_is_away_and_saves_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A cluster of its own, stopped and started again; in /tmp, where its unprivileged
    # owner can reach it (pytest's folders are the test user's alone).
    script = ROOT / ".ci" / "postgres"
    folder = Path(tempfile.mkdtemp(prefix="pricepool-pg."))

    async def cluster(action: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run, [str(script), action, str(folder)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    dsn = await cluster("start")
    try:
        clock = ManualClock(NOW)
        source = FakeSource(clock)
        day = [local_midnight(date(2025, 6, d), TZ) for d in (1, 2, 3)]
        store = PostgresStore(dsn, timeout=2.0)
        async with IntervalPool(HOME, source, store=store, clock=clock, save_delay=0) as pool:
            first = await pool.get_intervals(day[0], day[1])
            await pool.save()
            await cluster("halt")
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="pricepool"):
                second = await pool.get_intervals(day[1], day[2])
                assert await pool.get_intervals(day[0], day[1]) == first
                await pool.get_intervals(day[1], day[2])
                with pytest.raises(Exception, match="could not save"):
                    await pool.save()
            assert len(source.calls) == 2
            said = [r for r in caplog.records if r.name.startswith("pricepool")]
            assert len([r for r in said if "unreachable" in r.getMessage()]) == 1
            assert len([r for r in said if "saving" in r.getMessage()]) == 1
            # What a service's /readyz reads: not ready while the server is away.
            assert store.reachable is False
            assert await store.check() is False
            await cluster("start")
            with caplog.at_level(logging.INFO, logger="pricepool"):
                assert await store.check() is True
            assert store.reachable is True
            assert any("reachable again" in r.getMessage() for r in caplog.records)
            await pool.save()
        await store.close()
        async with PostgresStore(dsn) as again:
            saved = await again.load(HOME)
        assert saved is not None
        assert list(saved.intervals) == first + second
    finally:
        await cluster("stop")
