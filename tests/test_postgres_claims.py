"""One fetch per span across pools that share a PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

from pricepool import (
    Group,
    HomeInfo,
    IntervalPool,
    ManualClock,
    PostgresStore,
    PriceInterval,
    Snapshot,
    Span,
)
from pricepool.clock import local_midnight
from pricepool.model import zone

from .fakes import FakeSource
from .postgres_db import database, needs_server

__all__ = ["database"]

HOME = "home-1"
TZ = zone("Europe/Berlin")
NOW = datetime(2025, 11, 26, 14, tzinfo=UTC)


@needs_server
async def test_pools_on_one_database_ask_the_source_once_for_a_span(database: str) -> None:
    clock = ManualClock(NOW)
    sources = [FakeSource(clock) for _ in range(3)]
    gate = asyncio.Event()
    for source in sources:
        source.gate = gate
    stores = [PostgresStore(database) for _ in sources]
    pools = [
        IntervalPool(HOME, source, store=store, clock=clock)
        for source, store in zip(sources, stores, strict=True)
    ]
    a, b = local_midnight(date(2025, 6, 1), TZ), local_midnight(date(2025, 6, 8), TZ)
    try:
        for pool in pools:
            await pool.open()
        asks = [asyncio.create_task(pool.get_intervals(a, b)) for pool in pools]
        for _ in range(500):
            if any(s.calls for s in sources):
                break
            await asyncio.sleep(0.01)
        # The others wait on the claim; let them look at the database a few times.
        await asyncio.sleep(0.6)
        assert sum(len(s.calls) for s in sources) == 1
        gate.set()
        answers = await asyncio.gather(*asks)
    finally:
        for pool in pools:
            await pool.close()
        for store in stores:
            await store.close()
    assert sum(len(s.calls) for s in sources) == 1
    truth = sources[0].truth(HOME, a, b)
    assert all(answer == truth for answer in answers)
    assert sum(pool.stats.source_calls for pool in pools) == 1


@needs_server
async def test_a_span_another_pool_saved_is_read_not_fetched(database: str) -> None:
    clock = ManualClock(NOW)
    first, second = FakeSource(clock), FakeSource(clock)
    a, b = local_midnight(date(2025, 6, 1), TZ), local_midnight(date(2025, 6, 3), TZ)
    # Both open before anything is stored: the second learns of the days only then.
    async with (
        PostgresStore(database) as one,
        PostgresStore(database) as two,
        IntervalPool(HOME, first, store=one, clock=clock) as p1,
        IntervalPool(HOME, second, store=two, clock=clock) as p2,
    ):
        want = await p1.get_intervals(a, b)
        assert await p2.get_intervals(a, b) == want
    assert len(first.calls) == 1
    assert second.calls == []


@needs_server
async def test_fetches_under_way_for_many_homes_leave_connections_for_saves(
    database: str,
) -> None:
    # A service with many homes: claims held during long fetches must not starve saves.
    a, b = local_midnight(date(2025, 6, 1), TZ), local_midnight(date(2025, 6, 2), TZ)
    span = Span(a, b)
    async with PostgresStore(database, size=2, timeout=2.0) as store:
        async with contextlib.AsyncExitStack() as held:
            for n in range(8):
                assert await held.enter_async_context(store.claim(f"home-{n}", span)) is None
            home = HomeInfo("other", "Europe/Berlin", "EUR", None)
            assert await store.save(Snapshot(home, coverage=[span])) is None
            # In this process too, a second claim on a held span waits for the first.
            second = asyncio.create_task(_claimed(store, "home-0", span))
            done, _ = await asyncio.wait([second], timeout=0.6)
            assert not done
        assert await asyncio.wait_for(second, 5) is None


async def _claimed(store: PostgresStore, home: str, span: Span) -> Snapshot | None:
    async with store.claim(home, span) as known:
        return known


@needs_server
async def test_a_span_taken_from_the_database_keeps_its_fetch_time(database: str) -> None:
    # B takes a day A fetched; A then fetches it again with revised prices; B's next save
    # must not pass the older prices off as newer ones.
    home = HomeInfo(HOME, "Europe/Berlin", "EUR", "Fake")
    day = date(2025, 6, 1)
    a, b = local_midnight(day, TZ), local_midnight(date(2025, 6, 2), TZ)
    fetched = datetime(2025, 6, 2, tzinfo=UTC)
    clock = ManualClock(NOW)
    source = FakeSource(clock)
    old = source.truth(HOME, a, b)
    source.version = 1
    new = source.truth(HOME, a, b)
    assert [i.total for i in old] != [i.total for i in new]

    def snapshot(items: list[PriceInterval], at: datetime) -> Snapshot:
        span = Span(a, b)
        return Snapshot(
            home,
            groups=[Group(1, at, span)],
            intervals=items,
            group_ids=[1] * len(items),
            coverage=[span],
        )

    async with PostgresStore(database) as first, PostgresStore(database) as second:
        async with IntervalPool(HOME, source, store=second, clock=clock) as pool:
            await first.save(snapshot(old, fetched))  # after B opened: B must take it
            assert [i.total for i in await pool.get_intervals(a, b)] == [i.total for i in old]
            assert source.calls == []
            await first.save(snapshot(new, fetched + timedelta(days=1)))  # before NOW
            await pool.save()
        got = await first.load(HOME)
    assert got is not None
    assert [i.total for i in got.intervals] == [i.total for i in new]


@needs_server
async def test_a_pool_learns_what_another_process_saved_before_it_is_asked(
    database: str,
) -> None:
    clock = ManualClock(NOW)
    first, second = FakeSource(clock), FakeSource(clock)
    a, b = local_midnight(date(2025, 6, 1), TZ), local_midnight(date(2025, 6, 3), TZ)
    async with (
        PostgresStore(database) as one,
        PostgresStore(database) as two,
        IntervalPool(HOME, first, store=one, clock=clock, save_delay=0) as p1,
        IntervalPool(HOME, second, store=two, clock=clock, save_delay=0) as p2,
    ):
        # A replica that has been serving (it knows its home) ...
        before = await p2.get_intervals(a - timedelta(days=2), a)
        want = await p1.get_intervals(a, b)
        # ... asks nothing of June: NOTIFY tells its store, its next write brings the days in.
        for _ in range(500):
            covered, _ = p2.coverage()
            if any(s.start <= a and s.end >= b for s in covered):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second pool never learned of the saved days")
        hits = p2.stats.hits
        assert await p2.get_intervals(a, b) == want
        # Answered from memory: no claim, no read of the database.
        assert p2.stats.hits == hits + 1
    assert before
    assert len(first.calls) == 1
    assert len(second.calls) == 1  # its own two days of May
