"""One request budget and one ban across every process on a PostgreSQL database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pricepool import ManualClock, PostgresStore, RateLimitedError
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
