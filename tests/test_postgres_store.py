"""PostgresStore on a real server: round trips, merges between writers, schema, secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from pricepool import (
    Group,
    HomeInfo,
    IntervalPool,
    ManualClock,
    Pending,
    PostgresStore,
    Snapshot,
    Span,
    StorageError,
)
from pricepool.cli import app
from pricepool.clock import local_midnight
from pricepool.model import zone
from pricepool.storage.postgres_dsn import Dsn, is_postgres
from pricepool.storage.postgres_store import SCHEMA

from .fakes import FakeSource, day_intervals
from .postgres_db import database, needs_server

__all__ = ["database"]

HOME = HomeInfo("home-1", "Europe/Berlin", "EUR", "Fake")
TZ = zone("Europe/Berlin")
NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)


def days(first: date, count: int, fetched: datetime, gid: int = 1, version: int = 0) -> Snapshot:
    """A snapshot holding ``count`` days from ``first`` as one fetch group."""
    items = []
    for n in range(count):
        items.extend(day_intervals(HOME.id, first + timedelta(days=n), TZ, version))
    span = Span(local_midnight(first, TZ), local_midnight(first + timedelta(days=count), TZ))
    return Snapshot(
        HOME,
        groups=[Group(gid, fetched, span)],
        intervals=items,
        group_ids=[gid] * len(items),
        coverage=[span],
    )


def joined(*parts: Snapshot, pending: list[Pending] | None = None) -> Snapshot:
    """One snapshot holding the groups of ``parts`` (their group ids must differ)."""
    rows = sorted(
        ((i, g) for p in parts for i, g in zip(p.intervals, p.group_ids, strict=True)),
        key=lambda r: r[0].start,
    )
    return Snapshot(
        HOME,
        groups=[g for p in parts for g in p.groups],
        intervals=[i for i, _ in rows],
        group_ids=[g for _, g in rows],
        coverage=[s for p in parts for s in p.coverage],
        pending=pending or [],
    )


def starts(snapshot: Snapshot | None) -> list[datetime]:
    assert snapshot is not None
    return [i.start for i in snapshot.intervals]


T1 = datetime(2025, 3, 1, tzinfo=UTC)
T2 = datetime(2025, 3, 2, tzinfo=UTC)


@needs_server
async def test_a_saved_home_loads_back_equal_in_another_store(database: str) -> None:
    # Across the spring DST night and the switch to quarter-hours.
    one = days(date(2025, 3, 29), 3, T1, gid=1)
    two = days(date(2025, 9, 30), 2, T2, gid=2)
    retry = datetime(2025, 11, 26, 13, tzinfo=UTC)
    tomorrow = Span(local_midnight(date(2025, 11, 27), TZ), local_midnight(date(2025, 11, 28), TZ))
    snapshot = joined(one, two, pending=[Pending(tomorrow, retry)])
    async with PostgresStore(database) as store:
        assert await store.save(snapshot) is None
    async with PostgresStore(database) as store:
        got = await store.load(HOME.id)
        assert await store.homes() == [HOME.id]
        assert await store.load("nobody") is None
    assert got is not None
    assert got.home == HOME
    assert list(got.intervals) == list(snapshot.intervals)
    assert [i.start.utcoffset() for i in got.intervals] == [
        i.start.utcoffset() for i in snapshot.intervals
    ]
    spans = [(T1, one.coverage[0]), (T2, two.coverage[0])]
    assert [(g.fetched_at, g.span) for g in got.groups] == spans
    assert list(got.coverage) == list(one.coverage) + list(two.coverage)
    assert list(got.pending) == [Pending(tomorrow, retry)]


@needs_server
async def test_two_writers_who_never_read_each_other_lose_nothing(database: str) -> None:
    march = days(date(2025, 3, 1), 31, T1)
    july = days(date(2025, 7, 1), 31, T2)
    async with PostgresStore(database) as a, PostgresStore(database) as b:
        assert await a.save(march) is None
        # b never loaded: its save brings back what a wrote, as a delta.
        delta = await b.save(july)
        assert starts(delta) == list(map(lambda i: i.start, march.intervals))
        assert list(delta.coverage) == [march.coverage[0]]  # type: ignore[union-attr]
        # a learns July on its next save, and nothing twice.
        again = await a.save(march)
        assert starts(again) == [i.start for i in july.intervals]
        assert list(again.coverage) == [july.coverage[0]]  # type: ignore[union-attr]
        assert await a.save(march) is None
    async with PostgresStore(database) as store:
        got = await store.load(HOME.id)
    assert starts(got) == sorted(i.start for i in [*march.intervals, *july.intervals])
    assert got is not None
    assert len(got.coverage) == 2


@needs_server
async def test_what_a_pool_let_go_of_is_kept_but_not_handed_back(database: str) -> None:
    march = days(date(2025, 3, 1), 31, T1, gid=1)
    july = days(date(2025, 7, 1), 31, T2, gid=2)
    async with PostgresStore(database) as store:
        assert await store.save(joined(march, july)) is None
        # Retention dropped March from the pool: the store keeps it (only gc removes), and
        # does not offer it back as if another process had saved it.
        assert await store.save(july) is None
    async with PostgresStore(database) as store:
        got = await store.load(HOME.id)
    assert starts(got) == [i.start for i in [*march.intervals, *july.intervals]]


@needs_server
async def test_the_newer_fetch_wins_whichever_saves_last(database: str) -> None:
    old = days(date(2025, 5, 1), 2, T1, version=0)
    new = days(date(2025, 5, 1), 2, T2, version=1)
    assert [i.total for i in old.intervals] != [i.total for i in new.intervals]
    for order in ((old, new), (new, old)):
        async with PostgresStore(database) as a, PostgresStore(database) as b:
            await a.save(order[0])
            await b.save(order[1])
            got = await _load(database)
            assert got is not None
            assert [i.total for i in got.intervals] == [i.total for i in new.intervals]
        async with await psycopg.AsyncConnection.connect(database) as conn:
            await conn.execute("DELETE FROM pricepool_homes")


@needs_server
async def test_a_newer_fetch_of_one_day_keeps_the_older_fetch_of_the_rest(database: str) -> None:
    month = days(date(2025, 5, 1), 31, T1, version=0)
    fix = days(date(2025, 5, 10), 1, T2, version=1)
    async with PostgresStore(database) as a, PostgresStore(database) as b:
        await b.save(fix)
        await a.save(month)  # older fetch, saved later
        got = await _load(database)
    assert got is not None
    tenth = local_midnight(date(2025, 5, 10), TZ)
    eleventh = tenth + timedelta(days=1)
    for item in got.intervals:
        truth = fix if tenth <= item.start < eleventh else month
        assert item.total == next(i.total for i in truth.intervals if i.start == item.start)
    assert len(got.intervals) == len(month.intervals)


@needs_server
async def test_pending_spans_merge_by_the_latest_word_and_go_when_answered(database: str) -> None:
    day = Span(local_midnight(date(2025, 11, 27), TZ), local_midnight(date(2025, 11, 28), TZ))
    early = Pending(day, datetime(2025, 11, 26, 12, tzinfo=UTC))
    later = Pending(day, datetime(2025, 11, 26, 13, tzinfo=UTC))
    async with PostgresStore(database) as a, PostgresStore(database) as b:
        await a.save(Snapshot(HOME, pending=[later]))
        delta = await b.save(Snapshot(HOME, pending=[early]))
        assert delta is not None
        assert list(delta.pending) == [later]
        answered = days(date(2025, 11, 27), 1, T2)
        await a.save(answered)
        got = await b.load(HOME.id)
    assert got is not None
    assert list(got.pending) == []


@needs_server
async def test_a_restarted_pool_on_postgres_asks_the_source_nothing(database: str) -> None:
    clock = ManualClock(NOW)
    first = FakeSource(clock)
    a, b = local_midnight(date(2025, 3, 20), TZ), local_midnight(date(2025, 4, 5), TZ)
    store = PostgresStore(database)
    async with store, IntervalPool(HOME.id, first, store=store, clock=clock, save_delay=0) as pool:
        want = await pool.get_intervals(a, b)
    assert first.calls
    again = FakeSource(clock)
    store = PostgresStore(database)
    async with store, IntervalPool(HOME.id, again, store=store, clock=clock) as pool:
        assert await pool.get_intervals(a, b) == want
    assert again.calls == []


@needs_server
async def test_the_schema_carries_a_version_and_a_newer_one_is_refused(database: str) -> None:
    async with PostgresStore(database) as store:
        await store.homes()
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        row = await (await conn.execute("SELECT version FROM pricepool_schema")).fetchone()
        assert row == (SCHEMA,)
        await conn.execute("UPDATE pricepool_schema SET version = %s", (SCHEMA + 1,))
    with pytest.raises(StorageError, match=f"version {SCHEMA + 1}, newer than .* {SCHEMA}"):
        async with PostgresStore(database) as store:
            await store.homes()


@needs_server
async def test_without_create_an_empty_database_is_refused_and_left_empty(database: str) -> None:
    with pytest.raises(StorageError, match="holds no pricepool store"):
        async with PostgresStore(database, create=False) as store:
            await store.homes()
    async with await psycopg.AsyncConnection.connect(database) as conn:
        row = await (await conn.execute("SELECT to_regclass('pricepool_schema')")).fetchone()
    assert row == (None,)


@needs_server
async def test_a_database_that_cannot_be_reached_says_so_without_the_password(
    tmp_path: object,
) -> None:
    dsn = f"postgresql://alice:s3cr%2Fet-pw@localhost:1/pricepool?host={tmp_path}"
    store = PostgresStore(dsn, timeout=1.0)
    assert "s3cr" not in repr(store)
    with pytest.raises(StorageError) as caught:
        await store.homes()
    await store.close()
    text = str(caught.value)
    assert "cannot open PostgreSQL database" in text
    assert "No such file or directory" in text  # libpq's own reason, not a pool timeout
    assert "s3cr" not in text
    assert "alice:***@" in text


def test_a_password_is_shown_nowhere_in_any_form_of_dsn() -> None:
    cases = [
        ("postgresql://u:hunter2x@db.example/p", "postgresql://u:***@db.example/p"),
        (
            "postgresql:///p?user=u&password=hunter2x&host=/tmp",
            "postgresql:///p?user=u&password=***&host=/tmp",
        ),
        ("host=/tmp user=u password=hunter2x dbname=p", "host=/tmp user=u password=*** dbname=p"),
        ("host=/tmp password='hunter 2x' dbname=p", "host=/tmp password=*** dbname=p"),
        ("postgresql://u:a@db/p", "postgresql://u:***@db/p"),
    ]
    for raw, shown in cases:
        dsn = Dsn(raw)
        assert str(dsn) == shown
        assert "hunter" not in repr(dsn)
    assert Dsn("postgresql://u:hunter2x@db/p").scrub("bad password hunter2x") == "bad password ***"
    # A one-letter password does not mangle words.
    assert Dsn("postgresql://u:a@db/p").scrub("a failed at a") == "*** failed at ***"
    assert Dsn("postgresql://u:a@db/p").scrub("cannot connect") == "cannot connect"


async def _load(dsn: str) -> Snapshot | None:
    async with PostgresStore(dsn) as store:
        return await store.load(HOME.id)


def test_a_libpq_key_value_string_names_a_database_not_a_file() -> None:
    for text in (
        "postgresql://u@db/p",
        "host=/run/postgresql dbname=prices",
        "dbname=prices",
        "host=db user=u password='a b' dbname=p",
    ):
        assert is_postgres(text), text
    for text in ("prices.db", "a=b.db", "./dbname=prices", "host=x notapair", "/tmp/x=y"):
        assert not is_postgres(text), text


@needs_server
def test_the_cli_reads_a_store_named_by_a_key_value_string(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not database.startswith("postgresql://")  # the fixture's own key=value form

    async def save() -> None:
        async with PostgresStore(database) as store:
            await store.save(days(date(2025, 3, 1), 2, T1))

    asyncio.run(save())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["cache", "stats", "--store", database, "-f", "json"])
    assert result.exit_code == 0, result.output
    assert HOME.id in result.output
    assert list(tmp_path.iterdir()) == []  # no SQLite file named after the string
