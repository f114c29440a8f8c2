"""SqliteStore: schema, diffs, other writers, corrupt and newer databases, failed saves."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pricepool import HomeInfo, PriceInterval, Span, StorageError
from pricepool.storage._codec import union
from pricepool.storage.base import Group, Pending, Snapshot
from pricepool.storage.sqlite_store import SCHEMA, SqliteStore

from .storage_model import Model, assert_same, replay, set_aside

START = datetime(2025, 3, 29, 23, tzinfo=UTC)  # the night the clocks go forward in Oslo
STEP = timedelta(minutes=15)


def model(home_id: str = "home-1") -> Model:
    return Model(HomeInfo(home_id, "Europe/Oslo", "NOK"))


def fetch(m: Model, first: int, count: int, total: float = 1.0) -> int:
    """Fetch ``count`` quarter-hours from quarter ``first`` into ``m``."""
    tz = m.home.tz
    start = START + STEP * first
    intervals = [
        PriceInterval((start + STEP * k).astimezone(tz), start + STEP * (k + 1), total + k / 100)
        for k in range(count)
    ]
    at = START + timedelta(seconds=len(m.groups) + first)
    return m.fetch(Span(start, start + STEP * count), intervals, at)


def year() -> Model:
    m = model()
    for d in range(365):
        fetch(m, 96 * d, 96)
    return m


def merged(m: Model) -> Snapshot:
    """``m``'s snapshot with its coverage merged, as the pool's is."""
    m.coverage = union(m.coverage)
    return m.snapshot()


async def test_round_trip_and_homes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sub" / "pool.db")
    one, two = model("home-1"), model("home-2")
    fetch(one, 0, 200)
    fetch(two, 10, 5, total=7.0)
    await store.save(one.snapshot())
    await store.save(two.snapshot())
    await store.close()
    fresh = SqliteStore(tmp_path / "sub" / "pool.db")
    assert await fresh.homes() == ["home-1", "home-2"]
    assert_same(await fresh.load("home-1"), one.snapshot())
    assert_same(await fresh.load("home-2"), two.snapshot())
    assert await fresh.load("home-3") is None
    await fresh.close()


async def test_the_database_is_wal_versioned_and_private(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = SqliteStore(path)
    assert await store.homes() == []
    assert not path.exists()  # nothing is created until something is saved
    m = model()
    fetch(m, 0, 4)
    await store.save(m.snapshot())
    await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA
    assert db.execute("PRAGMA application_id").fetchone()[0] == 0x70706F6C
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_saving_a_new_day_into_a_year_writes_about_a_day(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pool.db")
    m = year()
    await store.save(merged(m))
    db = store._db
    assert db is not None
    before = db.total_changes
    fetch(m, 96 * 365, 96)
    await store.save(merged(m))
    # 96 new rows, a group row, coverage, home: not 35,040.
    assert db.total_changes - before < 300
    assert_same(await SqliteStore(tmp_path / "pool.db").load("home-1"), m.snapshot())
    await store.close()


async def test_an_empty_answer_that_empties_part_of_a_group_is_saved(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pool.db")
    m = model()
    fetch(m, 0, 96)
    await store.save(m.snapshot())
    # The source answered hours 2-4 with nothing: no new group, but fewer intervals.
    m.fetch(Span(START + STEP * 8, START + STEP * 16), [], START + timedelta(days=1))
    await store.save(m.snapshot())
    assert_same(await SqliteStore(tmp_path / "pool.db").load("home-1"), m.snapshot())
    await store.close()


async def test_another_writer_between_saves_is_merged_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    ours, theirs = SqliteStore(path), SqliteStore(path)
    mine, other = model(), model()
    fetch(mine, 0, 96)
    await ours.save(mine.snapshot())
    fetch(other, 48, 96, total=5.0)
    fetch(other, 300, 4, total=6.0)
    await theirs.save(other.snapshot())
    fetch(mine, 96, 96)  # group 2 here, another group 2 there: ids are not identities
    await ours.save(mine.snapshot())
    # Their later fetch of quarters 48-144 wins over our first day; our second day is newer.
    both = replay(mine, other)
    assert_same(await SqliteStore(path).load("home-1"), merged(both))
    await ours.close()
    await theirs.close()


async def test_a_newer_schema_is_refused_and_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA application_id = {0x70706F6C}")
    db.execute(f"PRAGMA user_version = {SCHEMA + 1}")
    db.commit()
    db.close()
    content = path.read_bytes()
    store = SqliteStore(path)
    with pytest.raises(StorageError, match=f"schema version {SCHEMA + 1}, newer"):
        await store.load("home-1")
    m = model()
    fetch(m, 0, 4)
    with pytest.raises(StorageError, match="newer"):
        await store.save(m.snapshot())
    await store.close()
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["pool.db"]


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database, just some text " * 200,
        b"",
        b"SQLite format 3",
    ],
    ids=["text", "empty", "short-header"],
)
async def test_a_file_that_is_not_a_database_is_refused_and_never_changed(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    store = SqliteStore(path)
    m = model()
    fetch(m, 0, 8)
    for attempt in (store.load("home-1"), store.homes(), store.save(m.snapshot())):
        with pytest.raises(StorageError, match="is not a pricepool store") as caught:
            await attempt
        assert str(path) in str(caught.value)
    await store.close()
    assert path.read_bytes() == content
    assert os.listdir(tmp_path) == ["notes.txt"]


async def test_an_sqlite_database_of_something_else_is_refused_and_never_changed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()
    content = path.read_bytes()
    store = SqliteStore(path)
    with pytest.raises(StorageError, match="is not a pricepool store") as caught:
        await store.load("home-1")
    assert str(path) in str(caught.value)
    m = model()
    fetch(m, 0, 8)
    with pytest.raises(StorageError, match="is not a pricepool store"):
        await store.save(m.snapshot())
    await store.close()
    assert path.read_bytes() == content
    assert os.listdir(tmp_path) == ["app.db"]


async def test_a_damaged_pricepool_database_is_set_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pool.db"
    await two_homes(path)
    content = bytearray(path.read_bytes())
    # Keep the header (it names pricepool), wreck the pages after it.
    content[100:] = b"\xa5" * (len(content) - 100)
    path.write_bytes(bytes(content))
    with pytest.raises(StorageError, match="damaged pricepool store") as caught:
        await SqliteStore(path, create=False).load("home-1")
    assert str(path) in str(caught.value)
    assert path.read_bytes() == bytes(content)
    store = SqliteStore(path)
    with caplog.at_level(logging.WARNING, "pricepool.storage"):
        assert await store.load("home-1") is None
    [aside] = [p for p in set_aside(tmp_path) if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == bytes(content)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage()
    assert str(aside) in record.getMessage()
    m = model()
    fetch(m, 0, 8)
    await store.save(m.snapshot())
    assert_same(await SqliteStore(path).load("home-1"), m.snapshot())
    await store.close()


async def test_disk_full_raises_naming_the_path_and_keeps_the_last_save(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = SqliteStore(path)
    m = model()
    fetch(m, 0, 96)
    await store.save(m.snapshot())
    db = store._db
    assert db is not None
    # SQLite's own disk-full path: no page may be added beyond those the file has.
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    grown = model()
    for d in range(30):
        fetch(grown, 96 * d, 96)
    with pytest.raises(StorageError, match="full") as caught:
        await store.save(grown.snapshot())
    assert str(path) in str(caught.value)
    assert_same(await SqliteStore(path).load("home-1"), m.snapshot())
    # Room again: the next save (a full rewrite would also do) succeeds.
    db.execute("PRAGMA max_page_count = 1000000")
    await store.save(grown.snapshot())
    assert_same(await SqliteStore(path).load("home-1"), grown.snapshot())
    await store.close()


async def test_a_read_only_database_raises_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = SqliteStore(path)
    m = model()
    fetch(m, 0, 4)
    await store.save(m.snapshot())
    db = store._db
    assert db is not None
    # Root ignores file modes; query_only makes SQLite refuse writes the same way.
    db.execute("PRAGMA query_only = ON")
    fetch(m, 4, 4)
    with pytest.raises(StorageError, match="readonly") as caught:
        await store.save(m.snapshot())
    assert str(path) in str(caught.value)
    await store.close()


async def test_a_folder_that_cannot_exist_raises_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = SqliteStore(blocker / "pool.db")
    for attempt in (store.homes(), store.load("home-1")):
        with pytest.raises(StorageError, match="a part of its folder path is a file") as caught:
            await attempt
        assert str(blocker / "pool.db") in str(caught.value)


async def two_homes(path: Path) -> tuple[Model, Model]:
    one, two = model("home-1"), model("home-2")
    fetch(one, 0, 96)
    fetch(one, 200, 8)
    later = START + STEP * 300
    one.pending.append(Pending(Span(later, later + timedelta(days=1)), later - timedelta(hours=9)))
    fetch(two, 10, 5, total=7.0)
    async with SqliteStore(path) as store:
        await store.save(one.snapshot())
        await store.save(two.snapshot())
    return one, two


def corrupt(path: Path, statement: str) -> None:
    db = sqlite3.connect(path)
    db.execute(statement)
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "statement",
    [
        # datetime.fromtimestamp: OverflowError, OSError (EOVERFLOW), ValueError (year).
        "UPDATE groups SET fetched_at = 1e20 WHERE home = 1 AND id = 2",
        "UPDATE intervals SET start = 1000000000000000000 WHERE home = 1 AND start = "
        "(SELECT MIN(start) FROM intervals WHERE home = 1)",
        "UPDATE pending SET retry_at = -1000000000000 WHERE home = 1",
        "UPDATE coverage SET span_end = 'soon' WHERE home = 1",
        "UPDATE intervals SET level = 'FREE' WHERE home = 1 AND start = "
        "(SELECT MAX(start) FROM intervals WHERE home = 1)",
        "UPDATE homes SET time_zone = 'Mars/Olympus' WHERE id = 'home-1'",
    ],
)
async def test_a_bad_value_sets_that_home_aside_and_keeps_the_others(
    tmp_path: Path, statement: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pool.db"
    _, two = await two_homes(path)
    corrupt(path, statement)
    store = SqliteStore(path)
    with caplog.at_level(logging.WARNING, "pricepool.storage"):
        assert await store.load("home-1") is None
    # Only that home's rows moved, into a database of their own beside the store.
    [aside] = set_aside(tmp_path)
    assert aside.name.startswith("pool.db.corrupt.")
    [record] = caplog.records
    assert "home-1" in record.getMessage()
    assert str(path) in record.getMessage()
    assert str(aside) in record.getMessage()
    evidence = sqlite3.connect(aside)
    assert evidence.execute("SELECT id FROM homes").fetchall() == [("home-1",)]
    assert evidence.execute("SELECT COUNT(*) FROM intervals").fetchone() == (104,)
    assert evidence.execute("SELECT COUNT(*) FROM groups").fetchone() == (2,)
    assert evidence.execute("SELECT COUNT(*) FROM coverage").fetchone() == (2,)
    assert evidence.execute("SELECT COUNT(*) FROM pending").fetchone() == (1,)
    evidence.close()
    assert await store.homes() == ["home-2"]
    assert_same(await store.load("home-2"), two.snapshot())
    # Loading again finds nothing (no second copy); the pool starts empty and saves afresh.
    assert await store.load("home-1") is None
    assert len(set_aside(tmp_path)) == 1
    fresh = model("home-1")
    fetch(fresh, 0, 4)
    await store.save(fresh.snapshot())
    await store.close()
    async with SqliteStore(path) as again:
        assert_same(await again.load("home-1"), fresh.snapshot())
        assert_same(await again.load("home-2"), two.snapshot())


async def test_a_bad_value_that_cannot_be_set_aside_raises_naming_the_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pool.db"
    await two_homes(path)
    corrupt(
        path,
        "UPDATE intervals SET start = 1000000000000000000 WHERE home = 1 AND start = "
        "(SELECT MIN(start) FROM intervals WHERE home = 1)",
    )
    store = SqliteStore(path)
    await store.homes()
    assert store._db is not None
    store._db.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError, match="bad value") as caught:
        await store.load("home-1")
    assert str(path) in str(caught.value)
    assert "could not be set aside" in str(caught.value)
    assert set_aside(tmp_path) == []
    await store.close()


async def test_close_then_use_reopens(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pool.db")
    m = model()
    fetch(m, 0, 4)
    await store.save(m.snapshot())
    await store.close()
    await store.close()
    assert_same(await store.load("home-1"), m.snapshot())
    await store.close()


def test_a_snapshot_group_is_kept_with_its_fetch_time_to_the_microsecond() -> None:
    # A guard for the model used above: groups compare by instant.
    at = datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    group = Group(1, at, Span(at, at + STEP))
    home = HomeInfo("h", "UTC")
    assert Snapshot(home, groups=[group]).groups == (group,)


async def test_the_repeated_hour_of_autumn_loads_back(tmp_path: Path) -> None:
    """02:30 CEST and 02:30 CET are an hour apart; on the wall clock they look the same,
    and a check comparing wall times took the later for an overlap and set the home aside."""
    m = model()
    oslo = m.home.tz
    night = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    starts = (night, night + timedelta(hours=1))
    intervals = [
        PriceInterval(start=s.astimezone(oslo), end=(s + STEP).astimezone(oslo), total=1.0)
        for s in starts
    ]
    m.fetch(Span(night - timedelta(hours=1), night + timedelta(hours=2)), intervals, START)
    store = SqliteStore(tmp_path / "db")
    await store.save(m.snapshot())
    await store.close()
    loaded = SqliteStore(tmp_path / "db")
    assert_same(await loaded.load("home-1"), m.snapshot())
    await loaded.close()
    assert set_aside(tmp_path) == []
