"""One request budget and one ban across every process on a PostgreSQL database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pricepool import (
    ManualClock,
    PostgresStore,
    RateLimitedError,
    Span,
    SqliteStore,
    TibberSource,
)
from pricepool._cli.config import limiter_for
from pricepool.clock import local_midnight
from pricepool.simulator import Simulator
from pricepool.sources.tibber import RequestLimiter
from pricepool.storage import PostgresLimiter

from .postgres_db import database, needs_server

__all__ = ["database"]

ROOT = Path(__file__).resolve().parent.parent
CHILD = (sys.executable, "-m", "tests.postgres_child")
NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)


@needs_server
async def test_two_limiters_on_one_database_share_one_window(database: str) -> None:
    clock = ManualClock(NOW)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    async with PostgresStore(database) as one, PostgresStore(database) as two:
        a = PostgresLimiter(one, max_requests=3, per_seconds=60, clock=clock, sleep=sleep)
        b = PostgresLimiter(two, max_requests=3, per_seconds=60, clock=clock, sleep=sleep)
        for limiter in (a, b, a):
            async with limiter.slot(patience=0):
                clock.advance(1)
        with pytest.raises(RateLimitedError) as caught:
            async with b.slot(patience=10):
                pass
        assert caught.value.retry_after == pytest.approx(57)
        # Another budget name is not touched by this one.
        other = PostgresLimiter(two, name="other", max_requests=3, per_seconds=60, clock=clock)
        async with other.slot(patience=0):
            pass
        # With patience the slot waits for the oldest request to leave the window.
        async with b.slot(patience=60):
            pass
        assert slept == [pytest.approx(57)]


@needs_server
async def test_a_ban_recorded_by_one_process_stops_all(database: str) -> None:
    clock = ManualClock(NOW)
    async with PostgresStore(database) as one, PostgresStore(database) as two:
        a = PostgresLimiter(one, clock=clock)
        b = PostgresLimiter(two, clock=clock)
        await a.ban(30, "HTTP 429 from the API")
        banned = await b.banned()
        assert banned == (NOW + timedelta(seconds=30), "HTTP 429 from the API")
        with pytest.raises(RateLimitedError, match="HTTP 429 from the API") as caught:
            async with b.slot(patience=5):
                pass
        assert caught.value.retry_after == pytest.approx(30)
        clock.advance(30)
        assert await b.banned() is None
        async with b.slot(patience=0):
            pass


async def test_without_a_database_the_limiter_keeps_the_window_in_memory(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    store = PostgresStore(f"postgresql:///x?host={tmp_path}", timeout=1.0)
    limiter = PostgresLimiter(store, max_requests=2, per_seconds=60, clock=clock)
    for _ in range(2):
        async with limiter.slot(patience=0):
            pass
    with pytest.raises(RateLimitedError):
        async with limiter.slot(patience=0):
            pass
    clock.advance(60)
    await limiter.ban(10, "told to wait")
    with pytest.raises(RateLimitedError, match="told to wait"):
        async with limiter.slot(patience=0):
            pass
    await store.close()


@needs_server
def test_processes_sharing_a_budget_never_exceed_it_in_any_window(database: str) -> None:
    most, per, each, count = 6, 1.0, 6, 4
    asyncio.run(_schema(database))
    # Every request recorded, kept by the test (the limiter drops what leaves the window).
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE TABLE audit (at timestamptz NOT NULL)")
        conn.execute(
            "CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO audit VALUES (NEW.at); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER audit AFTER INSERT ON pricepool_requests "
            "FOR EACH ROW EXECUTE FUNCTION audit()"
        )
    children = [
        subprocess.Popen(
            [*CHILD, "limit", database, str(each), str(most), str(per)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        assert out.strip() == "done"
    with psycopg.connect(database) as conn:
        times = [at for (at,) in conn.execute("SELECT at FROM audit ORDER BY at").fetchall()]
    assert len(times) == each * count
    window = timedelta(seconds=per)
    for i, start in enumerate(times):
        inside = [t for t in times[i:] if t < start + window]
        assert len(inside) <= most, f"{len(inside)} requests within {per} s from {start}"


async def _schema(dsn: str) -> None:
    async with PostgresStore(dsn) as store:
        await store.homes()


@needs_server
async def test_the_shared_limiter_is_a_tibber_request_limiter_and_counts_all_processes(
    database: str,
) -> None:
    clock = ManualClock(NOW)
    async with PostgresStore(database) as one, PostgresStore(database) as two:
        a = PostgresLimiter(one, max_requests=5, per_seconds=60, clock=clock)
        b = PostgresLimiter(two, max_requests=5, per_seconds=60, clock=clock)
        assert isinstance(a, RequestLimiter)
        assert b.left() == 5
        for _ in range(3):
            async with a.slot(patience=0):
                pass
        async with b.slot(patience=0):
            pass
        # b counted a's three requests when it took its own.
        assert b.left() == 1
        await a.ban(20, "HTTP 429 from the API")
        with pytest.raises(RateLimitedError) as caught:
            async with b.slot(patience=0):
                pass
        assert caught.value.banned
        assert caught.value.own
        assert caught.value.retry_after == pytest.approx(20)
        # The window clears 60 s after the last of its requests.
        assert caught.value.clear_after == pytest.approx(60)


@needs_server
async def test_processes_on_one_database_with_one_token_share_one_budget(
    database: str, tmp_path: Path
) -> None:
    async with PostgresStore(database) as one, PostgresStore(database) as two:
        a, b = limiter_for(one, "secret-token"), limiter_for(two, "secret-token")
        assert isinstance(a, PostgresLimiter)
        assert isinstance(b, PostgresLimiter)
        assert a.name == b.name
        assert "secret-token" not in a.name
        assert "secret-token" not in repr(a)
        other = limiter_for(one, "another-token")
        assert isinstance(other, PostgresLimiter)
        assert other.name != a.name
    # A file store has no one to share with: the source keeps its own limiter.
    assert limiter_for(SqliteStore(tmp_path / "s.db"), "secret-token") is None


@needs_server
async def test_tibber_sources_on_one_database_stop_at_the_shared_limit(database: str) -> None:
    sim = Simulator()
    await sim.start()
    try:
        async with PostgresStore(database) as one, PostgresStore(database) as two:
            limiters = [
                PostgresLimiter(store, max_requests=3, per_seconds=300) for store in (one, two)
            ]
            sources = [
                TibberSource("t", endpoint=sim.endpoint, limiter=lim, retry_budget=0)
                for lim in limiters
            ]
            home = (await sources[0].homes())[0]
            day = local_midnight(date(2024, 3, 1), home.tz)
            sent = len(sim.log)
            for i in range(3 - sent):
                await sources[i % 2].fetch(home, Span(day, day + timedelta(days=i + 1)))
            with pytest.raises(RateLimitedError) as caught:
                await sources[1].fetch(home, Span(day, day + timedelta(days=9)))
            assert caught.value.own
            for source in sources:
                await source.close()
        # Three requests went out, the fourth was refused before it left this machine.
        assert len(sim.log) == 3
    finally:
        await sim.stop()
