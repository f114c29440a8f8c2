"""Stores shared by several writers: a save merges, never overwrites (issue 9, point 1).

The same rules for every store: SQLite, JSON and (with a server) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pricepool import FetchResult, HomeInfo, IntervalPool, ManualClock, PriceInterval, Span
from pricepool.clock import local_midnight
from pricepool.model import zone
from pricepool.storage import JsonFileStore, PostgresStore, SqliteStore
from pricepool.storage.base import Pending, Snapshot, Store

from .fakes import FakeSource
from .postgres_db import database, needs_server

__all__ = ["database"]
from .storage_model import Model

START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
DAY = 96
HOME = HomeInfo("home-1", "UTC", "NOK")

Open = Callable[[], Store]


@pytest.fixture(params=["sqlite", "json", pytest.param("postgres", marks=needs_server)])
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    opened: list[Store] = []
    dsn = request.getfixturevalue("database") if request.param == "postgres" else ""

    def open_one() -> Store:
        store: Store
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / "pool.db")
        elif request.param == "json":
            store = JsonFileStore(tmp_path / "homes")
        else:
            store = PostgresStore(dsn)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


def truth(quarter: int, revision: int = 0) -> float:
    """The price of quarter ``quarter`` as fetched in ``revision``."""
    return round(quarter / 100 + revision, 2)


def fetch(m: Model, day: int, days: int = 1, *, at: int = 0, revision: int = 0) -> int:
    first = day * DAY
    start = START + STEP * first
    intervals = [
        PriceInterval(start + STEP * k, start + STEP * (k + 1), truth(first + k, revision))
        for k in range(days * DAY)
    ]
    fetched = START + timedelta(days=400, seconds=at)
    return m.fetch(Span(start, start + STEP * DAY * days), intervals, fetched)


def days_of(snapshot: Snapshot | None) -> set[int]:
    assert snapshot is not None
    return {int((i.start - START) / STEP) // DAY for i in snapshot.intervals}


def covered(snapshot: Snapshot | None, day: int) -> bool:
    assert snapshot is not None
    a = START + STEP * DAY * day
    return any(s.start <= a and a + STEP * DAY <= s.end for s in snapshot.coverage)


async def test_two_writers_that_never_read_keep_both_ranges(opener: Open) -> None:
    one, two = Model(HOME), Model(HOME)
    fetch(one, 60, 90, at=1)  # March to May
    fetch(two, 181, 31, at=2)  # July
    first, second = opener(), opener()
    await first.save(one.snapshot())
    await second.save(two.snapshot())
    stored = await opener().load("home-1")
    assert days_of(stored) == set(range(60, 150)) | set(range(181, 212))
    assert covered(stored, 70)
    assert covered(stored, 190)
    for store in (first, second):
        await store.close()


async def test_three_writers_after_loading_the_empty_store_keep_all_ranges(opener: Open) -> None:
    stores = [opener() for _ in range(3)]
    for store in stores:
        assert await store.load("home-1") is None
    for k, store in enumerate(stores):
        m = Model(HOME)
        fetch(m, 10 * k, 3, at=k)
        await store.save(m.snapshot())
    assert days_of(await opener().load("home-1")) == {0, 1, 2, 10, 11, 12, 20, 21, 22}
    for store in stores:
        await store.close()


async def test_a_writer_that_loaded_keeps_what_another_added_after(opener: Open) -> None:
    lib, cli = opener(), opener()
    mine = Model(HOME)
    fetch(mine, 0, 2, at=1)
    await lib.save(mine.snapshot())
    assert await lib.load("home-1") is not None
    june = Model(HOME)
    fetch(june, 151, 30, at=2)
    await cli.save(june.snapshot())
    fetch(mine, 5, 1, at=3)
    await lib.save(mine.snapshot())
    assert days_of(await opener().load("home-1")) == {0, 1, 5} | set(range(151, 181))
    for store in (lib, cli):
        await store.close()


async def test_a_save_returns_what_others_stored_and_none_when_nobody_else_wrote(
    opener: Open,
) -> None:
    a, b = opener(), opener()
    ma, mb = Model(HOME), Model(HOME)
    fetch(ma, 0, 2, at=1)
    assert await a.save(ma.snapshot()) is None
    fetch(mb, 10, 1, at=2)
    delta = await b.save(mb.snapshot())
    assert days_of(delta) == {0, 1}
    assert delta is not None
    assert covered(delta, 0)
    assert not covered(delta, 10)
    fetch(ma, 3, 1, at=3)
    delta = await a.save(ma.snapshot())
    assert days_of(delta) == {10}
    # Nothing new from others: nothing to take in.
    fetch(ma, 4, 1, at=4)
    assert await a.save(ma.snapshot()) is None
    for store in (a, b):
        await store.close()


async def test_the_newer_fetch_wins_whoever_saves_last(opener: Open) -> None:
    old, new = Model(HOME), Model(HOME)
    fetch(new, 5, 1, at=20, revision=1)
    fetch(old, 5, 1, at=10, revision=0)
    fetch(old, 6, 1, at=11, revision=0)
    a, b = opener(), opener()
    await a.save(new.snapshot())
    await b.save(old.snapshot())  # saved last, fetched first
    stored = await opener().load("home-1")
    assert stored is not None
    prices = {int((i.start - START) / STEP): i.total for i in stored.intervals}
    assert prices[5 * DAY] == truth(5 * DAY, 1)
    assert prices[6 * DAY] == truth(6 * DAY, 0)
    for store in (a, b):
        await store.close()


@pytest.mark.parametrize("empty_first", [True, False], ids=["empty-saved-first", "empty-last"])
async def test_a_newer_answer_without_prices_wins_whoever_saves_last(
    opener: Open, empty_first: bool
) -> None:
    """A day answered again without prices is empty in the store: an older fetch another
    writer saves later does not bring its prices back there."""
    old, new = Model(HOME), Model(HOME)
    fetch(old, 5, 1, at=10)
    fetch(old, 6, 1, at=11)
    day5 = Span(START + timedelta(days=5), START + timedelta(days=6))
    new.fetch(day5, [], START + timedelta(days=400, seconds=20))
    a, b = opener(), opener()
    for store, writer in ((a, new), (b, old)) if empty_first else ((b, old), (a, new)):
        await store.save(writer.snapshot())
    stored = await opener().load("home-1")
    assert days_of(stored) == {6}
    assert covered(stored, 5)
    for store in (a, b):
        await store.close()


async def test_a_writer_refetching_a_day_without_prices_empties_it(opener: Open) -> None:
    store = opener()
    m = Model(HOME)
    fetch(m, 5, 2, at=10)
    await store.save(m.snapshot())
    later = START + timedelta(days=400, seconds=20)
    m.fetch(Span(START + timedelta(days=5), START + timedelta(days=6)), [], later)
    await store.save(m.snapshot())
    stored = await opener().load("home-1")
    assert days_of(stored) == {6}
    assert covered(stored, 5)
    await store.close()


async def test_fetch_groups_of_two_writers_do_not_collide(opener: Open) -> None:
    """Both pools number their first fetch 1; the store keeps them apart."""
    one, two = Model(HOME), Model(HOME)
    fetch(one, 0, 1, at=1)
    fetch(two, 1, 1, at=2)
    a, b = opener(), opener()
    await a.save(one.snapshot())
    await b.save(two.snapshot())
    stored = await opener().load("home-1")
    assert stored is not None
    assert len(stored.groups) == 2
    assert {len(stored.members(g.id)) for g in stored.groups} == {DAY}
    for store in (a, b):
        await store.close()


async def test_pending_spans_merge_by_their_recheck_times(opener: Open) -> None:
    a, b = opener(), opener()
    one, two = Model(HOME), Model(HOME)
    fetch(one, 0, 1, at=1)
    fetch(two, 0, 1, at=1)
    tomorrow = Span(START + timedelta(days=1), START + timedelta(days=2))
    after = Span(START + timedelta(days=2), START + timedelta(days=3))
    early, late = START + timedelta(hours=13), START + timedelta(hours=14)
    one.pending = [Pending(tomorrow, early)]
    two.pending = [Pending(tomorrow, late), Pending(after, early)]
    await a.save(one.snapshot())
    await b.save(two.snapshot())
    stored = await opener().load("home-1")
    assert stored is not None
    assert list(stored.pending) == [Pending(tomorrow, late), Pending(after, early)]
    for store in (a, b):
        await store.close()


async def test_only_evict_removes_and_a_writer_holding_the_fetch_does_not_bring_it_back(
    opener: Open,
) -> None:
    a, gc = opener(), opener()
    held = Model(HOME)
    old = fetch(held, 0, 1, at=1)
    fetch(held, 1, 1, at=2)
    await a.save(held.snapshot())
    loaded = await gc.load("home-1")
    assert loaded is not None
    victim = next(g for g in loaded.groups if g.span.start == START)
    assert await gc.evict("home-1", [victim]) == DAY
    # The first writer still holds day 0 in memory and learns day 2: day 0 stays gone.
    fetch(held, 2, 1, at=3)
    assert held.groups[old].span.start == START
    await a.save(held.snapshot())
    stored = await opener().load("home-1")
    assert days_of(stored) == {1, 2}
    assert not covered(stored, 0)
    assert covered(stored, 1)
    for store in (a, gc):
        await store.close()


async def test_a_group_of_an_empty_answer_is_not_needed_to_keep_coverage(opener: Open) -> None:
    m = Model(HOME)
    fetch(m, 0, 1, at=1)
    m.fetch(Span(START + timedelta(days=3), START + timedelta(days=4)), [], START)
    store = opener()
    await store.save(m.snapshot())
    stored = await opener().load("home-1")
    assert covered(stored, 3)
    assert covered(stored, 0)
    await store.close()


# -- pools sharing a store ---------------------------------------------------------------

NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)  # tomorrow is published
BERLIN = zone("Europe/Berlin")


def days(a: date, b: date) -> tuple[datetime, datetime]:
    return local_midnight(a, BERLIN), local_midnight(b, BERLIN)


async def test_a_pool_takes_in_what_another_saved_and_does_not_fetch_it(opener: Open) -> None:
    clock = ManualClock(NOW)
    first, second = FakeSource(clock), FakeSource(clock)
    march = days(date(2025, 3, 1), date(2025, 6, 1))
    july = days(date(2025, 7, 1), date(2025, 8, 1))
    async with (
        IntervalPool("home-1", first, store=opener(), clock=clock, save_delay=0) as one,
        IntervalPool("home-1", second, store=opener(), clock=clock, save_delay=0) as two,
    ):
        want = await one.get_intervals(*march)
        await one.save()
        await two.get_intervals(*july)
        await two.save()  # the save brings back what the first pool saved
        calls = len(second.calls)
        assert await two.get_intervals(*march) == want
        assert len(second.calls) == calls
    stored = await opener().load("home-1")
    assert stored is not None
    held = {i.start for i in stored.intervals}
    assert march[0] in held
    assert july[0] in held


@pytest.mark.parametrize("empty_first", [True, False], ids=["empty-saved-first", "empty-last"])
async def test_a_pool_saves_an_answer_without_prices_so_it_wins_in_the_store(
    opener: Open, empty_first: bool
) -> None:
    """Two pools fetch one day; the later answer holds no prices. Whichever saves last,
    the store ends as the later answer left it, and a third pool asks nothing."""
    if isinstance(opener(), PostgresStore):
        pytest.skip("PostgreSQL pools claim a span: the second takes the first one's answer")
    clock = ManualClock(NOW)
    full, bare = FakeSource(clock), FakeSource(clock)
    bare.mangle = lambda r: FetchResult([], r.answered, r.pending)
    day = days(date(2025, 3, 1), date(2025, 3, 2))
    hour = 3600.0
    async with (
        IntervalPool("home-1", full, store=opener(), clock=clock, save_delay=hour) as old,
        IntervalPool("home-1", bare, store=opener(), clock=clock, save_delay=hour) as new,
    ):
        assert len(await old.get_intervals(*day)) == 24
        clock.advance(60)
        assert await new.get_intervals(*day) == []
        for pool in (new, old) if empty_first else (old, new):
            await pool.save()
    check = FakeSource(clock)
    async with IntervalPool("home-1", check, store=opener(), clock=clock) as third:
        assert await third.get_intervals(*day) == []
        assert check.calls == []


async def test_a_library_pool_closing_keeps_what_the_cli_added_meanwhile(opener: Open) -> None:
    clock = ManualClock(NOW)
    store = opener()
    june = days(date(2025, 6, 1), date(2025, 7, 1))
    async with IntervalPool("home-1", FakeSource(clock), store=store, clock=clock) as lib:
        await lib.get_intervals(*days(date(2025, 1, 1), date(2025, 1, 8)))
        await lib.save()
        cli = IntervalPool("home-1", FakeSource(clock), store=opener(), clock=clock)
        async with cli:
            await cli.get_intervals(*june)
        await lib.get_intervals(*days(date(2025, 2, 1), date(2025, 2, 2)))
    again = FakeSource(clock)
    async with IntervalPool("home-1", again, store=opener(), clock=clock) as check:
        assert len(await check.get_intervals(*june)) == 30 * 24
        assert len(await check.get_intervals(*days(date(2025, 1, 1), date(2025, 1, 8)))) == 7 * 24
        assert again.calls == []


async def test_gc_removes_from_the_store_and_another_pool_does_not_bring_it_back(
    opener: Open,
) -> None:
    clock = ManualClock(NOW)
    old = days(date(2025, 1, 1), date(2025, 1, 2))
    new = days(date(2025, 11, 25), date(2025, 11, 26))  # in the protected window
    async with IntervalPool("home-1", FakeSource(clock), store=opener(), clock=clock) as holder:
        await holder.get_intervals(*old)
        await holder.get_intervals(*new)
        await holder.save()
        cleaner = IntervalPool(
            "home-1", FakeSource(clock), store=opener(), clock=clock, max_intervals=24
        )
        async with cleaner:
            assert await cleaner.gc() > 0
        # The holder still has January in memory and learns another day: January stays gone.
        await holder.get_intervals(*days(date(2025, 11, 21), date(2025, 11, 22)))
    stored = await opener().load("home-1")
    assert stored is not None
    assert old[0] not in {i.start for i in stored.intervals}
    assert not any(s.start <= old[0] < s.end for s in stored.coverage)
    assert new[0] in {i.start for i in stored.intervals}


async def test_a_refetch_stamped_older_by_a_slow_clock_loses_nothing(opener: Open) -> None:
    # A writer re-fetched part of its own saved fetch, stamped earlier (its clock is behind
    # another's, or was reset): in the store the newer fetch keeps that part, so it must not
    # be dropped as "no longer held" (the 4-process test lost whole days this way).
    store = opener()
    m = Model(HOME)
    fetch(m, 0, 2, at=10)
    await store.save(m.snapshot())
    fetch(m, 1, 1, at=5)
    await store.save(m.snapshot())
    stored = await opener().load("home-1")
    assert days_of(stored) == {0, 1}
    assert covered(stored, 1)


class _Gated(SqliteStore):
    """An SQLite store whose next save waits for ``gate``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def save(self, snapshot: Snapshot) -> Snapshot | None:
        self.entered.set()
        if self.gate is not None:
            gate, self.gate = self.gate, None
            await gate.wait()
        return await super().save(snapshot)


async def test_an_answer_without_prices_landing_during_a_save_is_saved_too(
    tmp_path: Path,
) -> None:
    """Found in review: the pool dropped an empty answer that landed while a save ran, so
    another writer's older fetch of that day, saved later, brought its prices back."""
    clock = ManualClock(NOW)
    path = tmp_path / "pool.db"
    old = IntervalPool(  # saved last, on close
        "home-1", FakeSource(clock), store=SqliteStore(path), clock=clock, save_delay=3600
    )
    await old.open()
    day_a = days(date(2025, 3, 1), date(2025, 3, 2))
    day_b = days(date(2025, 3, 5), date(2025, 3, 6))
    assert len(await old.get_intervals(*day_b)) == 24  # the older fetch
    clock.advance(60)
    store = _Gated(path)
    bare = FakeSource(clock)
    bare.mangle = lambda r: FetchResult([], r.answered, r.pending)
    async with IntervalPool("home-1", bare, store=store, clock=clock, save_delay=0) as pool:
        await pool.resolve_home()
        await pool.save()
        gate = asyncio.Event()
        store.gate = gate
        store.entered.clear()
        assert await pool.get_intervals(*day_a) == []
        await store.entered.wait()  # the save of day A runs, its snapshot taken
        assert await pool.get_intervals(*day_b) == []  # the newer, empty answer lands
        gate.set()
        await pool.save()
    await old.close()
    check = FakeSource(clock)
    async with IntervalPool("home-1", check, store=SqliteStore(path), clock=clock) as third:
        assert await third.get_intervals(*day_b) == []
        assert check.calls == []
