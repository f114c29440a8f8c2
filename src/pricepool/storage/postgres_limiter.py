"""One request budget and one ban for every process that shares a PostgreSQL database.

The window (``max_requests`` per ``per_seconds``) and the ban live in two small tables.
Claiming a slot is one transaction: lock the budget's row in ``pricepool_limits`` (so
processes take turns), refuse while banned, drop requests older than the window, count
the rest, and record this one if there is room. N processes together therefore never
send more than ``max_requests`` in any window.

Times come from the database server (``clock_timestamp()``), so processes whose clocks
disagree still share one window, unless a ``clock`` is injected (tests). When the
database cannot be reached the limiter keeps the same window in memory for this process
and says so once: a process alone cannot know what the others sent, so it is the best
it can do, and it answers rather than stalls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ..clock import Clock, system_clock
from ..errors import RateLimitedError, StorageError
from .postgres_store import PostgresStore

__all__ = ["PostgresLimiter"]

log = logging.getLogger("pricepool.storage")


class PostgresLimiter:
    """At most ``max_requests`` per ``per_seconds`` across every process on ``store``'s
    database: a ``RequestLimiter`` for ``TibberSource(limiter=...)``.

    ``name`` names the budget: one per API token (processes using different tokens have
    different budgets). ``slot`` is what the Tibber transport holds around a request
    (how many go at once is the transport's business, per process); ``ban`` records the
    API's own order to wait, which then stops every process.
    """

    def __init__(
        self,
        store: PostgresStore,
        *,
        name: str = "tibber",
        max_requests: int = 100,
        per_seconds: float = 300.0,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, got {max_requests}")
        if not per_seconds > 0:
            raise ValueError(f"per_seconds must be positive, got {per_seconds}")
        if not name:
            raise ValueError("name must not be empty")
        self.store = store
        self.name = name
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        # Requests in the shared window when this process last counted them.
        self._counted = 0
        # Used only while the database cannot be reached.
        self._local: list[datetime] = []
        self._local_ban: tuple[datetime, str] | None = None
        self._alone = False

    def __repr__(self) -> str:
        return (
            f"PostgresLimiter({self.store!r}, name={self.name!r}, "
            f"{self.max_requests} per {self.per_seconds:g} s)"
        )

    @asynccontextmanager
    async def slot(self, patience: float) -> AsyncIterator[None]:
        """Hold one request's place; wait at most ``patience`` seconds for it.

        Raises RateLimitedError (``own``, ``banned`` during a ban, ``retry_after`` and
        ``clear_after``) when the window stays full, or a ban lasts, longer than that.
        """
        await self._take(patience)
        yield

    def left(self) -> int:
        """Requests the shared window had room for when this process last counted."""
        return max(self.max_requests - self._counted, 0)

    async def ban(self, retry_after: float, reason: str) -> None:
        """Stop every process for ``retry_after`` seconds (the API said so)."""
        try:
            async with self.store._conn("record a ban") as conn, conn.transaction():
                now = await self._now(conn)
                until = now + timedelta(seconds=retry_after)
                await conn.execute(
                    "INSERT INTO pricepool_limits (name, banned_until, reason) "
                    "VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "banned_until = GREATEST(pricepool_limits.banned_until, "
                    "excluded.banned_until), reason = excluded.reason",
                    (self.name, until, reason),
                )
            self._back()
        except StorageError as err:
            self._lost(err)
            now = self._local_now()
            self._local_ban = (now + timedelta(seconds=retry_after), reason)

    async def banned(self) -> tuple[datetime, str] | None:
        """Until when, and why, every process must wait; None when not banned."""
        try:
            async with self.store._conn("read the ban") as conn, conn.transaction():
                now = await self._now(conn)
                row = await (
                    await conn.execute(
                        "SELECT banned_until, reason FROM pricepool_limits WHERE name = %s",
                        (self.name,),
                    )
                ).fetchone()
        except StorageError as err:
            self._lost(err)
            ban = self._local_ban
            return ban if ban is not None and ban[0] > self._local_now() else None
        if row is None or row[0] is None or row[0] <= now:
            return None
        return row[0].astimezone(UTC), str(row[1] or "")

    async def _take(self, patience: float) -> None:
        waited = 0.0
        while True:
            try:
                wait = await self._claim()
                self._back()
            except StorageError as err:
                self._lost(err)
                wait = self._claim_local()
            if wait is None:
                return
            seconds, why, banned, clear = wait
            if waited + seconds > patience:
                raise RateLimitedError(
                    why, retry_after=seconds, banned=banned, own=True, clear_after=clear
                )
            await self._sleep(seconds)
            waited += seconds

    async def _claim(self) -> _Wait | None:
        """Record one request if the window and the ban allow; else how long to wait."""
        async with self.store._conn("claim a request slot") as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO pricepool_limits (name) VALUES (%s) ON CONFLICT DO NOTHING",
                (self.name,),
            )
            # The row lock: every process claiming from this budget takes its turn here.
            row = await (
                await conn.execute(
                    "SELECT banned_until, reason FROM pricepool_limits WHERE name = %s FOR UPDATE",
                    (self.name,),
                )
            ).fetchone()
            assert row is not None
            now = await self._now(conn)
            banned_until, reason = row
            edge = now - timedelta(seconds=self.per_seconds)
            await conn.execute(
                "DELETE FROM pricepool_requests WHERE name = %s AND at <= %s", (self.name, edge)
            )
            count, oldest, newest = await _row(
                conn,
                "SELECT count(*), min(at), max(at) FROM pricepool_requests WHERE name = %s",
                (self.name,),
            )
            self._counted = count
            clear = (newest - edge).total_seconds() if newest is not None else 0.0
            if banned_until is not None and banned_until > now:
                return _banned((banned_until - now).total_seconds(), reason, clear)
            if count < self.max_requests:
                await conn.execute(
                    "INSERT INTO pricepool_requests (name, at) VALUES (%s, %s)", (self.name, now)
                )
                self._counted = count + 1
                return None
            wait = (oldest - edge).total_seconds()
            return wait, self._full(wait), False, clear

    def _claim_local(self) -> _Wait | None:
        now = self._local_now()
        edge = now - timedelta(seconds=self.per_seconds)
        self._local = [at for at in self._local if at > edge]
        self._counted = len(self._local)
        clear = (self._local[-1] - edge).total_seconds() if self._local else 0.0
        ban = self._local_ban
        if ban is not None and ban[0] > now:
            return _banned((ban[0] - now).total_seconds(), ban[1], clear)
        if len(self._local) < self.max_requests:
            self._local.append(now)
            self._counted += 1
            return None
        wait = (self._local[0] - edge).total_seconds()
        return wait, self._full(wait), False, clear

    def _full(self, wait: float) -> str:
        return (
            f"pricepool's shared limit of {self.max_requests} requests per "
            f"{self.per_seconds:g} s is reached; next request possible in {wait:.1f} s"
        )

    async def _now(self, conn: Any) -> datetime:
        if self._clock is not None:
            return self._clock().astimezone(UTC)
        found = await _row(conn, "SELECT clock_timestamp()", ())
        return found[0].astimezone(UTC)  # type: ignore[no-any-return]

    def _local_now(self) -> datetime:
        return (self._clock or system_clock)().astimezone(UTC)

    def _lost(self, err: StorageError) -> None:
        if not self._alone:
            self._alone = True
            log.warning(
                "request budget %r: %s; keeping it in this process only until it is back",
                self.name,
                err,
            )

    def _back(self) -> None:
        if self._alone:
            self._alone = False
            log.info("request budget %r is shared through the database again", self.name)


_Wait = tuple[float, str, bool, float]
"""Seconds to wait, why (for people), whether banned, seconds until the window is clear."""


def _banned(seconds: float, reason: str | None, clear: float) -> _Wait:
    why = f" ({reason})" if reason else ""
    text = f"the API asked every pricepool process to wait {seconds:.0f} s{why}"
    return seconds, text, True, max(seconds, clear)


async def _row(conn: Any, query: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    found = await (await conn.execute(query, params)).fetchone()
    assert found is not None
    return tuple(found)
