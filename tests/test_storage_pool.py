"""A pool restarted on either store answers what it knew without asking the source."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pricepool import IntervalPool, JsonFileStore, ManualClock, SqliteStore, StorageError
from pricepool.clock import local_midnight
from pricepool.model import zone

from .fakes import FakeSource

HOME = "home-1"
TZ = zone("Europe/Berlin")
NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)  # tomorrow is published


def make(kind: str, folder: Path) -> JsonFileStore | SqliteStore:
    return JsonFileStore(folder) if kind == "json" else SqliteStore(folder / "pool.db")


@pytest.mark.parametrize("kind", ["json", "sqlite"])
async def test_a_restarted_pool_asks_the_source_nothing_it_was_told(
    kind: str, tmp_path: Path
) -> None:
    # Hourly history across both DST nights, the switch to quarter-hours, today and tomorrow.
    ranges = [
        (date(2024, 10, 20), date(2024, 11, 3)),
        (date(2025, 3, 25), date(2025, 4, 2)),
        (date(2025, 9, 28), date(2025, 10, 3)),
        (date(2025, 11, 24), date(2025, 11, 28)),
    ]
    clock = ManualClock(NOW)
    first = FakeSource(clock)
    answers = []
    store = make(kind, tmp_path)
    async with IntervalPool(HOME, first, store=store, clock=clock, save_delay=0) as pool:
        for a, b in ranges:
            answers.append(await pool.get_intervals(local_midnight(a, TZ), local_midnight(b, TZ)))
    await store.close()
    assert first.calls

    again = FakeSource(clock)
    store = make(kind, tmp_path)
    async with IntervalPool(HOME, again, store=store, clock=clock) as pool:
        for (a, b), want in zip(ranges, answers, strict=True):
            got = await pool.get_intervals(local_midnight(a, TZ), local_midnight(b, TZ))
            assert got == want
            assert [i.start.utcoffset() for i in got] == [i.start.utcoffset() for i in want]
        # A day inside a known range, and one more day: only the new one is asked for.
        await pool.get_intervals(
            local_midnight(date(2025, 3, 30), TZ), local_midnight(date(2025, 3, 31), TZ)
        )
        assert again.calls == []
        await pool.get_intervals(
            local_midnight(date(2025, 5, 1), TZ), local_midnight(date(2025, 5, 2), TZ)
        )
        assert len(again.calls) == 1
    await store.close()
    assert again.home_calls == 0
    # What the second pool added was saved on close too.
    store = make(kind, tmp_path)
    snapshot = await store.load(HOME)
    await store.close()
    assert snapshot is not None
    may = [i for i in snapshot.intervals if i.start.date() == date(2025, 5, 1)]
    assert len(may) == 24
    assert snapshot.intervals[-1].end == local_midnight(date(2025, 11, 28), TZ)
    assert all(i.length in (timedelta(hours=1), timedelta(minutes=15)) for i in may)


@pytest.mark.parametrize("kind", ["sqlite", "json"])
async def test_a_store_used_as_a_context_manager_is_closed_and_reopens(
    kind: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 11, 26, 9, tzinfo=UTC))
    source = FakeSource(clock)
    span = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    async with (
        make(kind, tmp_path) as store,
        IntervalPool("home-1", source, store=store, clock=clock) as pool,
    ):
        held = await pool.get_intervals(*span)
    if isinstance(store, SqliteStore):
        assert store._db is None  # the connection was released
    async with (
        make(kind, tmp_path) as store,
        IntervalPool("home-1", source, store=store, clock=clock) as pool,
    ):
        assert await pool.get_intervals(*span) == held
    assert len(source.calls) == 1


async def test_a_pool_on_a_read_only_sqlite_store_reads_it_and_says_once_it_cannot_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(NOW)
    day = (local_midnight(date(2025, 5, 1), TZ), local_midnight(date(2025, 5, 2), TZ))
    store = SqliteStore(tmp_path / "pool.db")
    async with IntervalPool(HOME, FakeSource(clock), store=store, clock=clock) as pool:
        await pool.get_intervals(*day)
    await store.close()
    before = _read_only(tmp_path)
    if os.geteuid() == 0:
        # Root may write anyway; the store asks access() as it would for anyone.
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and not (mode & os.W_OK))
    source = FakeSource(clock)
    store = SqliteStore(tmp_path / "pool.db")
    try:
        with caplog.at_level(logging.WARNING, logger="pricepool"):
            pool = IntervalPool(HOME, source, store=store, clock=clock, save_delay=0)
            await pool.open()
            assert len(await pool.get_intervals(*day)) == 24  # read from the store
            assert source.calls == []
            for n in range(2, 5):
                later = (
                    local_midnight(date(2025, 5, n), TZ),
                    local_midnight(date(2025, 5, n + 1), TZ),
                )
                assert len(await pool.get_intervals(*later)) == 24  # kept in memory
            with pytest.raises(StorageError):
                await pool.close()
        said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(said) == 1, said
        assert str(tmp_path / "pool.db") in said[0]
        assert "read-only" in said[0]
    finally:
        await store.close()
        os.chmod(tmp_path, 0o755)  # so that pytest can remove it
    # Only the database: as root, SQLite may still make its -shm in the read-only folder.
    assert _database(tmp_path) == before


def _read_only(folder: Path) -> bytes:
    """Make the store's folder and file read-only; the database's bytes."""
    (folder / "pool.db").chmod(0o444)
    folder.chmod(0o555)
    return _database(folder)


def _database(folder: Path) -> bytes:
    return (folder / "pool.db").read_bytes()
