"""DelayedSave: one write after a burst, a write of its own for changes made during one."""

from __future__ import annotations

import asyncio

import pytest

from pricepool import StorageError
from pricepool.storage.delayed import DelayedSave


class Target:
    """A value that changes, and the values written, read at write time."""

    def __init__(self) -> None:
        self.value = 0
        self.written: list[int] = []
        self.gate: asyncio.Event | None = None
        self.fail = False
        self.started = asyncio.Event()
        self.wrote = asyncio.Event()

    async def write(self) -> None:
        seen = self.value
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise StorageError("disk full")
        self.written.append(seen)
        self.wrote.set()


async def test_a_burst_is_one_write_of_the_state_at_write_time() -> None:
    target = Target()
    saver = DelayedSave(target.write, 0.01, "test data")
    for n in range(1, 50):
        target.value = n
        saver.schedule()
    await asyncio.wait_for(target.wrote.wait(), 1)
    assert target.written == [49]
    assert (saver.dirty, saver.saves) == (False, 1)
    await saver.close()
    assert target.written == [49]  # nothing left for the final write


async def test_a_change_during_a_write_gets_a_write_of_its_own() -> None:
    target = Target()
    target.gate = asyncio.Event()
    saver = DelayedSave(target.write, 0, "test data")
    target.value = 1
    saver.schedule()
    await asyncio.wait_for(target.started.wait(), 1)  # the write of 1 is held by the gate
    target.value = 2
    saver.schedule()
    target.gate.set()
    await saver.close()
    assert target.written == [1, 2]


async def test_close_flushes_rather_than_waiting_out_the_delay() -> None:
    target = Target()
    saver = DelayedSave(target.write, 3600, "test data")
    target.value = 7
    saver.schedule()
    await asyncio.wait_for(saver.close(), 1)
    assert target.written == [7]


async def test_a_failed_write_stays_unsaved_and_close_says_so() -> None:
    target = Target()
    target.fail = True
    saver = DelayedSave(target.write, 3600, "test data")
    saver.schedule()
    await saver.flush()
    assert saver.dirty
    assert saver.failed
    with pytest.raises(StorageError, match="could not save test data"):
        await saver.close()
    target.fail = False
    await saver.flush()
    assert (saver.dirty, target.written) == (False, [0])


async def test_final_writes_that_change_the_state_are_followed_by_another() -> None:
    """The pool's final saves take in what other writers stored meanwhile, which marks it
    changed again: close writes once more instead of failing with 'could not save ...:
    None' (seen in the 4-process test when two saves in a row brought something back)."""
    target = Target()
    saver = DelayedSave(target.write, 3600, "test data")

    async def write() -> None:
        await target.write()
        if len(target.written) <= 2:
            target.value += 1
            saver.schedule()

    saver.write = write
    saver.schedule()
    await saver.close()
    assert target.written == [0, 1, 2]
    assert not saver.dirty


async def test_a_state_that_changes_with_every_write_is_said_in_words() -> None:
    target = Target()
    saver = DelayedSave(target.write, 3600, "test data")

    async def write() -> None:
        await target.write()
        target.value += 1
        saver.schedule()

    saver.write = write
    saver.schedule()
    with pytest.raises(StorageError, match="kept changing while it was saved"):
        await saver.close()
    assert len(target.written) == 4  # the pending write, and three more


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="save_delay"):
        DelayedSave(Target().write, -1, "test data")
