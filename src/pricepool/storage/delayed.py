"""Debounced saving: one write a while after the last change, and a final one on close.

The shape of Home Assistant's ``Store.async_delay_save``: the caller's ``write`` builds
what it saves when it runs (so a burst of changes costs one snapshot), changes made
while a write is under way get a write of their own, and ``close`` flushes rather than
cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..errors import StorageError

__all__ = ["DelayedSave"]

log = logging.getLogger("pricepool")


class DelayedSave:
    """Calls ``write`` ``delay`` seconds after the last ``schedule``, and on ``flush``/``close``.

    ``write`` raises StorageError when the store fails: the change stays unsaved, is
    logged once (and once more when saving works again) and is written with the next
    change, ``flush`` or ``close``.
    """

    __slots__ = (
        "_closing",
        "_lock",
        "_task",
        "_wake",
        "delay",
        "dirty",
        "error",
        "failed",
        "failures",
        "name",
        "saves",
        "write",
    )

    def __init__(self, write: Callable[[], Awaitable[None]], delay: float, name: str) -> None:
        if delay < 0:
            raise ValueError(f"save_delay must not be negative, got {delay}")
        self.write = write
        self.delay = delay
        self.name = name
        """What is saved, for people: "prices of home X"."""
        self.dirty = False
        self.failed = False
        self.error: StorageError | None = None
        """Why the last write failed, while it stays unsaved."""
        self.saves = 0
        self.failures = 0
        """Writes that failed (each retry counts)."""
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def schedule(self) -> None:
        """Note a change: it is written ``delay`` seconds from the first unsaved one."""
        self.dirty = True
        if self._closing:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._later())

    async def flush(self) -> None:
        """Write what is not saved yet, now. Failures leave ``dirty`` set (and are logged)."""
        async with self._lock:
            if not self.dirty:
                return
            # Cleared before the write: a change made while it runs gets a write of its own.
            self.dirty = False
            try:
                await self.write()
            except StorageError as err:
                self.dirty = True
                self.error = err
                self.failures += 1
                if not self.failed:
                    # Once per outage, with the store's words (a read-only store names
                    # its path and the OS error); the pool keeps serving from memory.
                    log.error("saving %s failed: %s", self.name, err)
                self.failed = True
                return
            except BaseException:
                self.dirty = True
                raise
            if self.failed:
                log.info("saving %s works again", self.name)
            self.failed = False
            self.error = None
            self.saves += 1

    async def close(self) -> None:
        """The final write: a pending one is woken, not cancelled (it may be mid-write).

        StorageError when something stays unsaved.
        """
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            self._wake.set()
            await asyncio.wait([task])
        # A write may itself change what is saved (what other writers stored comes back
        # and is taken in): that gets a write of its own, a few times at most.
        for _ in range(3):
            await self.flush()
            if not self.dirty or self.error is not None:
                break
        if self.dirty:
            why = self.error or "it kept changing while it was saved"
            raise StorageError(f"could not save {self.name} on close: {why}") from self.error

    async def _later(self) -> None:
        # A failed save waits for the next change or for close.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.delay)
            await self.flush()
            if self._closing or self.failed or not self.dirty:
                return
