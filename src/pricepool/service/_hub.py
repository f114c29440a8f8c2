"""The service's state: one source, one store and one pool per home, shared by every route."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..clock import Clock, system_clock
from ..errors import (
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    StorageError,
    UnknownHomeError,
)
from ..model import HomeInfo, find_home
from ..pool import IntervalPool
from ..publication import Publication
from ..storage.base import Snapshot

if TYPE_CHECKING:
    from ..sources.tibber import TibberSource
    from ..storage.base import Store

__all__ = ["Hub", "Sleep", "match"]

log = logging.getLogger("pricepool.service")

Sleep = Callable[[float], Awaitable[None]]

# Clients asking at once arrive over a few milliseconds: what a pool is asked within this
# many seconds goes to the source as one plan (fewer, longer fetches), at this cost to the
# first asker of something not held.
_GATHER = 0.02


def match(wanted: str, homes: list[HomeInfo]) -> HomeInfo:
    """The home ``wanted`` names (see :func:`find_home`); UnknownHomeError when none does."""
    found = find_home(wanted, homes)
    if found is None:
        raise UnknownHomeError(f"no single home matches {wanted!r}")
    return found


class Hub:
    """One ``TibberSource`` (one rate limit, one ban state), one store, a pool per home.

    The home list comes from the store when it knows homes (a restart asks nothing), else
    from the source; it is refreshed from the source at most once per ``refresh``.
    """

    def __init__(
        self,
        source: TibberSource,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        publication: Publication | None = None,
        recheck: timedelta = timedelta(minutes=15),
        save_delay: float = 3.0,
        refresh: timedelta = timedelta(hours=6),
        meta_path: Path | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.meta_path = meta_path
        """Where the account's metadata (GraphQL) is kept between runs; None: memory only."""
        self.clock: Clock = clock or system_clock
        self.sleep = sleep
        self.publication = publication or Publication()
        self.recheck = recheck
        self._save_delay = save_delay
        self._refresh = refresh
        self.pools: dict[str, IntervalPool] = {}
        self._homes: list[HomeInfo] | None = None
        self._listed_at: float | None = None
        self._confirmed = False
        self._listing: asyncio.Lock = asyncio.Lock()
        self._opening: dict[str, asyncio.Task[IntervalPool]] = {}
        self._refs: dict[str, str] = {}
        self.closed = False

    def __repr__(self) -> str:
        return f"Hub(homes={len(self.pools)}, store={self.store!r})"

    @property
    def known(self) -> bool:
        """The home list is known (from the store or the source)."""
        return self._homes is not None

    async def ready(self) -> tuple[bool, str]:
        """Whether the service can answer: store usable and home list known; and why not."""
        if self._homes is None:
            # Asked here: a probe that gates all traffic must not wait for a client.
            try:
                await self.homes()
            except SourceError as err:
                return False, f"the home list is not known yet: {err}"
        check = getattr(self.store, "check", None)
        if check is not None and not await check():
            return False, "the store's database is unreachable"
        return True, "ready"

    async def homes(self, *, confirm: bool = False) -> list[HomeInfo]:
        """The account's homes, ordered by id: the store's at start, the source's once it
        has answered. ``confirm``: ask the source unless it has answered in this run."""
        async with self._listing:
            now = self.clock().timestamp()
            stale = (
                self._listed_at is None or now - self._listed_at >= self._refresh.total_seconds()
            )
            if self._homes is None and self.store is not None:
                stored = await self._stored()
                if stored:
                    self._homes = stored
                    # Known from the store: asked of the source only after ``refresh``.
                    self._listed_at = now
                    stale = False
            if self._homes is None or stale or (confirm and not self._confirmed):
                try:
                    found = await self.source.homes()
                except (SourceUnavailableError, RateLimitedError) as err:
                    if self._homes is None or confirm:
                        raise
                    log.warning("could not refresh the home list, keeping the known one: %s", err)
                else:
                    # One order whichever told it (the store lists by id), so an answer
                    # and its ETag stay the same across a restart.
                    self._homes = sorted(found, key=lambda h: h.id)
                    self._listed_at = now
                    self._confirmed = True
                    await self._remember(found)
            return list(self._homes)

    async def _remember(self, homes: list[HomeInfo]) -> None:
        """Put every home into the store, also one nobody has asked prices of yet: after a
        restart the store's list is the whole account, not the homes that were asked."""
        if self.store is None:
            return
        try:
            kept = set(await self.store.homes())
            for home in homes:
                if home.id not in kept:
                    await self.store.save(Snapshot(home))
        except (OSError, StorageError) as err:
            log.warning("could not keep the home list in the store: %s", err)

    async def _stored(self) -> list[HomeInfo]:
        assert self.store is not None
        found = []
        for home_id in await self.store.homes():
            snapshot = await self.store.load(home_id)
            if snapshot is not None:
                found.append(snapshot.home)
        return found

    async def pool(self, ref: str) -> IntervalPool:
        """The open pool of the home ``ref`` names (id, nickname or a unique id start).

        UnknownHomeError when the account has no such home.
        """
        found = self.pools.get(self._refs.get(ref, ref))
        if found is not None:
            return found
        try:
            home = match(ref, await self.homes())
        except UnknownHomeError:
            if self._confirmed:
                raise
            # The store's list may be older than the account: the source has the last word.
            home = match(ref, await self.homes(confirm=True))
        # A nickname asked every 30 s (Home Assistant) is matched once.
        self._refs[ref] = home.id
        found = self.pools.get(home.id)
        if found is not None:
            return found
        # Clients arriving together for a home not yet open share one opening.
        task = self._opening.get(home.id)
        if task is None:
            task = self._opening[home.id] = asyncio.ensure_future(self._open(home.id))
        return await asyncio.shield(task)

    async def _open(self, home_id: str) -> IntervalPool:
        try:
            pool = IntervalPool(
                home_id,
                self.source,
                store=self.store,
                clock=self.clock,
                recheck=self.recheck,
                save_delay=self._save_delay,
                publication=self.publication,
                gather=_GATHER,
            )
            await pool.open()
            self.pools[home_id] = pool
            return pool
        finally:
            self._opening.pop(home_id, None)

    def revision(self) -> tuple[object, ...]:
        """Differs whenever any pool's answers may have changed (time aside)."""
        return tuple((home_id, pool.revision) for home_id, pool in self.pools.items())

    def steady_until(self, now: datetime) -> float:
        """The soonest instant any pool's answers change by time alone (POSIX seconds)."""
        return min((pool.steady_until(now) for pool in self.pools.values()), default=math.inf)

    async def open_all(self) -> list[IntervalPool]:
        """A pool for every home of the account (for the publication watch and metrics)."""
        return [await self.pool(home.id) for home in await self.homes()]

    async def close(self) -> None:
        """Close every pool (each saves what it learned), then the store and the source."""
        if self.closed:
            return
        self.closed = True
        failures: list[BaseException] = []
        for pool in list(self.pools.values()):
            try:
                await pool.close()
            except Exception as err:  # noqa: BLE001 - every pool must get its chance to save
                log.error("could not save the prices of home %s: %s", pool.home_id, err)
                failures.append(err)
        try:
            if self.store is not None:
                await self.store.close()
        finally:
            await self.source.close()
        if failures:
            raise failures[0]
