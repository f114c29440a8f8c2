"""The pool's side of persistence: load on open, debounced saves, nothing lost on close."""

from __future__ import annotations

import asyncio
import errno
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pricepool import IntervalPool, ManualClock, PricePoolError, StorageError
from pricepool.clock import local_midnight

from .fakes import FakeSource, MemoryStore

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 26)
HOME = "home-1"


def day(offset: int) -> tuple[datetime, datetime]:
    d = TODAY + timedelta(days=offset)
    return local_midnight(d, BERLIN), local_midnight(d + timedelta(days=1), BERLIN)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.combine(TODAY, time(9), tzinfo=BERLIN))


async def test_restarted_pool_answers_what_it_knew_without_calls(clock: ManualClock) -> None:
    store = MemoryStore()
    source = FakeSource(clock)
    async with IntervalPool(HOME, source, store=store, clock=clock) as pool:
        first = [await pool.get_intervals(*day(-d)) for d in range(5)]
    fresh = FakeSource(clock)
    async with IntervalPool(HOME, fresh, store=store, clock=clock) as pool:
        again = [await pool.get_intervals(*day(-d)) for d in range(5)]
        assert pool.home is not None
        assert pool.home.time_zone == "Europe/Berlin"
    assert again == first
    assert fresh.calls == []
    assert fresh.home_calls == 0


async def test_burst_of_changes_is_one_write_after_the_quiet_period(clock: ManualClock) -> None:
    store = MemoryStore()
    source = FakeSource(clock)
    async with IntervalPool(HOME, source, store=store, clock=clock, save_delay=0.05) as pool:
        for d in range(10):
            await pool.get_intervals(*day(-d - 1))
        assert store.saves == 0  # nothing written during the burst
        await asyncio.wait_for(store.saved.wait(), 5)
        assert store.saves == 1
        assert len(store.snapshots[HOME].intervals) == 10 * 96  # taken at write time
    assert store.saves == 1  # close had nothing left to write


async def test_close_flushes_a_pending_save(clock: ManualClock) -> None:
    store = MemoryStore()
    pool = IntervalPool(HOME, FakeSource(clock), store=store, clock=clock, save_delay=3600)
    await pool.open()
    await pool.get_intervals(*day(-1))
    await pool.close()
    assert store.saves == 1
    assert len(store.snapshots[HOME].intervals) == 96


async def test_close_waits_for_a_save_in_progress_instead_of_cancelling_it(
    clock: ManualClock,
) -> None:
    store = MemoryStore()
    store.hold = asyncio.Event()
    pool = IntervalPool(HOME, FakeSource(clock), store=store, clock=clock, save_delay=0)
    await pool.open()
    await pool.get_intervals(*day(-1))
    await asyncio.sleep(0)  # the save starts and blocks in the store
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0)
    assert not closing.done()
    store.hold.set()
    await closing
    assert store.saves == 1
    assert len(store.snapshots[HOME].intervals) == 96


async def test_close_ends_every_background_task(clock: ManualClock) -> None:
    source = FakeSource(clock)
    source.gate = asyncio.Event()  # a fetch that never answers
    pool = IntervalPool(HOME, source, store=MemoryStore(), clock=clock, save_delay=3600)
    await pool.open()
    request = asyncio.create_task(pool.get_intervals(*day(-1)))
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(PricePoolError, match="closed"):
        await request
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []


async def test_failed_save_logs_once_keeps_serving_and_retries(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    store.fail = OSError(errno.ENOSPC, "No space left on device")
    source = FakeSource(clock)
    pool = IntervalPool(HOME, source, store=store, clock=clock, save_delay=0)
    await pool.open()
    with caplog.at_level(logging.ERROR, logger="pricepool"):
        for d in range(3):
            await pool.get_intervals(*day(-d - 1))
            for _ in range(3):
                await asyncio.sleep(0)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "/data/home-1.json" in errors[0].getMessage()
    assert "No space left" in errors[0].getMessage()
    assert store.saves == 0
    assert len(await pool.get_intervals(*day(-1))) == 96  # still serving from memory
    store.fail = None
    await pool.close()  # retried on close: nothing lost
    assert store.saves == 1
    assert len(store.snapshots[HOME].intervals) == 3 * 96


async def test_close_reports_a_save_it_could_not_make(clock: ManualClock) -> None:
    store = MemoryStore()
    store.fail = OSError(errno.EROFS, "Read-only file system")
    pool = IntervalPool(HOME, FakeSource(clock), store=store, clock=clock, save_delay=3600)
    await pool.open()
    await pool.get_intervals(*day(-1))
    with pytest.raises(StorageError, match="could not save"):
        await pool.close()


async def test_explicit_save_writes_now(clock: ManualClock) -> None:
    store = MemoryStore()
    async with IntervalPool(
        HOME, FakeSource(clock), store=store, clock=clock, save_delay=3600
    ) as pool:
        await pool.get_intervals(*day(-1))
        await pool.save()
        assert store.saves == 1
        await pool.save()
        assert store.saves == 1  # nothing changed since


async def test_pending_spans_survive_a_restart(clock: ManualClock) -> None:
    store = MemoryStore()
    source = FakeSource(clock)
    source.delay = timedelta(hours=4)
    clock.set(datetime.combine(TODAY, time(13, 5), tzinfo=BERLIN))
    async with IntervalPool(HOME, source, store=store, clock=clock) as pool:
        assert await pool.get_intervals(*day(1)) == []
    assert len(source.calls) == 1
    async with IntervalPool(HOME, source, store=store, clock=clock) as pool:
        assert await pool.get_intervals(*day(1)) == []
    assert len(source.calls) == 1  # the re-check time was remembered


async def test_gc_under_a_lower_limit_evicts_the_oldest_and_saves(clock: ManualClock) -> None:
    store = MemoryStore()
    source = FakeSource(clock)
    async with IntervalPool(HOME, source, store=store, clock=clock) as pool:
        for d in (30, 20, 10):
            await pool.get_intervals(*day(-d))
    clock.advance(timedelta(minutes=15))  # fetches are kept a re-check interval
    async with IntervalPool(HOME, source, store=store, clock=clock, max_intervals=96) as pool:
        assert len(pool.evictable()) == 2
        assert await pool.gc() == 2 * 96
        assert pool.evictable() == []
        saved = store.snapshots[HOME]
        assert [i.start for i in saved.intervals] == [
            i.start for i in source.truth(HOME, *day(-10))
        ]
        calls = len(source.calls)
        await pool.get_intervals(*day(-30))
        assert len(source.calls) == calls + 1  # its coverage went with it


async def test_a_change_made_during_a_save_gets_saved_too(clock: ManualClock) -> None:
    store = MemoryStore()
    store.hold = asyncio.Event()
    pool = IntervalPool(HOME, FakeSource(clock), store=store, clock=clock, save_delay=0.01)
    await pool.open()
    await pool.get_intervals(*day(-1))
    await asyncio.wait_for(store.writing.wait(), 5)  # the first save is under way
    await pool.get_intervals(*day(-2))  # changes while the first save is being written
    store.hold.set()
    store.saved.clear()
    await asyncio.wait_for(store.saved.wait(), 5)  # the first save
    store.saved.clear()
    await asyncio.wait_for(store.saved.wait(), 5)  # and one more for the change, unprompted
    assert len(store.snapshots[HOME].intervals) == 2 * 96
    await pool.close()


async def test_a_cancelled_close_still_flushes_and_a_second_close_waits_for_it(
    clock: ManualClock,
) -> None:
    store = MemoryStore()
    store.hold = asyncio.Event()
    pool = IntervalPool(HOME, FakeSource(clock), store=store, clock=clock, save_delay=3600)
    await pool.open()
    await pool.get_intervals(*day(-1))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pool.close(), 0.05)  # a shutdown timeout cancels close()
    assert store.saves == 0
    store.hold.set()
    await pool.close()
    assert store.saves == 1
    assert len(store.snapshots[HOME].intervals) == 96
