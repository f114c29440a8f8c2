"""Many homes in one PostgreSQL database, shared by any number of processes.

Schema (version in ``pricepool_schema``); interval starts and span edges are POSIX
seconds, fetch and re-check times ``timestamptz``::

    pricepool_homes(key, id UNIQUE, time_zone, currency, nickname, revision)
    pricepool_groups(home, id, fetched_at, span_start, span_end)
                         PRIMARY KEY (home, id), UNIQUE (home, fetched_at, span_start, span_end)
    pricepool_intervals(home, start, length_s, total, energy, tax, level, currency,
                        group_id, fetched_at, rev)        PRIMARY KEY (home, start)
    pricepool_coverage(home, span_start, span_end)        PRIMARY KEY (home, span_start)
    pricepool_pending(home, span_start, span_end, retry_at)
    pricepool_limits(name, banned_until, reason), pricepool_requests(name, at)

A save merges, never overwrites: it locks the home's row (so saves of one home take
turns), bumps its ``revision``, and writes only the fetch groups it has not written or
read before. A group replaces the stored rows of its span that came from an older fetch
and leaves alone the parts a newer fetch (by anyone) answered; coverage is the union,
pending spans keep the latest word. Every interval row carries the revision that wrote
it, so what other writers saved since this store last looked is one index range, and
``save`` returns it. A one-day read or write is O(log n + day).

A group is known across processes by what it is (fetch time and span), not by a
number: numbers in snapshots are this process's, mapped on each save.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from ..errors import StorageError
from ..model import Group, HomeInfo, Pending, PriceInterval, Span
from ._codec import BAD_VALUE, interval, row, union
from .base import Snapshot
from .postgres_dsn import Dsn

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["SCHEMA", "PostgresStore"]

log = logging.getLogger("pricepool.storage")

CHANNEL = "pricepool"
"""The NOTIFY channel: payload ``saved <store> <home>`` after a save that wrote something,
``free <store> <home>`` after a claim; ``<store>`` tells a store its own news."""

_V1 = (
    """CREATE TABLE pricepool_homes (
        key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        time_zone text NOT NULL,
        currency text,
        nickname text,
        revision bigint NOT NULL DEFAULT 0)""",
    """CREATE TABLE pricepool_groups (
        home bigint NOT NULL REFERENCES pricepool_homes (key) ON DELETE CASCADE,
        id bigint GENERATED ALWAYS AS IDENTITY,
        fetched_at timestamptz NOT NULL,
        span_start bigint NOT NULL,
        span_end bigint NOT NULL,
        PRIMARY KEY (home, id),
        UNIQUE (home, fetched_at, span_start, span_end))""",
    "CREATE INDEX pricepool_groups_span ON pricepool_groups (home, span_start)",
    """CREATE TABLE pricepool_intervals (
        home bigint NOT NULL REFERENCES pricepool_homes (key) ON DELETE CASCADE,
        start bigint NOT NULL,
        length_s integer NOT NULL,
        total double precision NOT NULL,
        energy double precision,
        tax double precision,
        level text,
        currency text,
        group_id bigint NOT NULL,
        fetched_at timestamptz NOT NULL,
        rev bigint NOT NULL,
        PRIMARY KEY (home, start))""",
    "CREATE INDEX pricepool_intervals_rev ON pricepool_intervals (home, rev)",
    """CREATE TABLE pricepool_coverage (
        home bigint NOT NULL REFERENCES pricepool_homes (key) ON DELETE CASCADE,
        span_start bigint NOT NULL,
        span_end bigint NOT NULL,
        PRIMARY KEY (home, span_start))""",
    """CREATE TABLE pricepool_pending (
        home bigint NOT NULL REFERENCES pricepool_homes (key) ON DELETE CASCADE,
        span_start bigint NOT NULL,
        span_end bigint NOT NULL,
        retry_at timestamptz NOT NULL,
        PRIMARY KEY (home, span_start))""",
    """CREATE TABLE pricepool_limits (
        name text PRIMARY KEY,
        banned_until timestamptz,
        reason text)""",
    """CREATE TABLE pricepool_requests (
        name text NOT NULL,
        at timestamptz NOT NULL)""",
    "CREATE INDEX pricepool_requests_at ON pricepool_requests (name, at)",
)

MIGRATIONS: list[Sequence[str]] = [_V1]
"""``MIGRATIONS[v]`` takes the database from schema ``v`` to ``v + 1``, in one transaction."""

SCHEMA = len(MIGRATIONS)

# Any constant: migrations of one database take turns on this transaction lock.
_MIGRATION_LOCK = 0x70726963
# Claims lock weeks: coarse enough that a year's back-fill takes 53 locks, not 365.
_BUCKET = 7 * 86_400
_POLL = 0.25
# While someone watches, a lost LISTEN connection is tried again this often.
_RELISTEN = 1.0
# A claim waits this long for a connection before fetching without one.
_CLAIM_WAIT = 2.0
_EXTRA = "the PostgreSQL store needs its driver: pip install 'pricepool[postgres]'"

Edge = tuple[int, int]


@dataclass(slots=True)
class _Seen:
    """What this store knows the database holds for a home: its revision when last
    read or written, and the fetch groups (by what they are) with their database ids."""

    revision: int
    groups: dict[tuple[datetime, int, int], int] = field(default_factory=dict)
    coverage: list[Edge] = field(default_factory=list)
    pending: list[tuple[int, int, datetime]] = field(default_factory=list)


def _natural(group: Group) -> tuple[datetime, int, int]:
    a, b = group.span.seconds
    return group.fetched_at.astimezone(UTC), a, b


class PostgresStore:
    """Snapshots of many homes in the PostgreSQL database ``dsn`` names.

    ``dsn`` is a libpq connection string (``postgresql://user@host/db`` or key=value);
    its password is never shown (``repr``, logs and errors carry ``***``). The schema is
    created or migrated on first use, unless ``create`` is False (then a database
    without it is refused). Connections come from a small pool of at most ``size``;
    an operation waits at most ``timeout`` seconds for one before raising StorageError.
    """

    def __init__(
        self, dsn: str, *, create: bool = True, size: int = 10, timeout: float = 10.0
    ) -> None:
        if size < 2:
            raise ValueError(f"size must be at least 2, got {size}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.dsn = Dsn(dsn)
        self.create = create
        self._size = size
        self._timeout = timeout
        self._pool: AsyncConnectionPool[Any] | None = None
        self._opening = asyncio.Lock()
        self._seen: dict[str, _Seen] = {}
        self._listener: asyncio.Task[None] | None = None
        self._news = asyncio.Event()
        self._tag = uuid.uuid4().hex[:12]
        self._watchers: dict[str, list[Callable[[], None]]] = {}
        # Every advisory lock of this store lives on this one connection.
        self._locker: AsyncConnection[Any] | None = None
        self._locking = asyncio.Lock()
        self._held: set[tuple[int, int]] = set()
        self._down_said = False
        self.reachable = True
        """False from the moment the server could not be reached until an operation
        reached it again (``check`` tries): what a service's readiness reports."""
        try:
            import psycopg  # noqa: F401
            import psycopg_pool  # noqa: F401
        except ImportError as err:
            raise StorageError(_EXTRA) from err

    def __repr__(self) -> str:
        return f"PostgresStore({str(self.dsn)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections ---------------------------------------------------------------------

    def _error(self, doing: str, err: BaseException) -> StorageError:
        text = self.dsn.scrub(str(err).strip() or type(err).__name__)
        if doing == "open":
            return StorageError(f"cannot open PostgreSQL database {self.dsn}: {text}")
        return StorageError(f"cannot {doing} in PostgreSQL database {self.dsn}: {text}")

    async def _connected(self) -> AsyncConnectionPool[Any]:
        async with self._opening:
            if self._pool is None:
                self._pool = await self._open()
            return self._pool

    async def _open(self) -> AsyncConnectionPool[Any]:
        from psycopg import AsyncConnection, Error
        from psycopg_pool import AsyncConnectionPool

        async def configure(conn: AsyncConnection[Any]) -> None:
            # Instants come back in UTC whatever the server's zone.
            await conn.execute("SET TIME ZONE 'UTC'")
            await conn.commit()

        # One direct connection first: its failure carries libpq's reason, where a pool
        # would only say that it timed out.
        try:
            first = await asyncio.wait_for(
                AsyncConnection.connect(self.dsn.value, connect_timeout=_whole(self._timeout)),
                self._timeout,
            )
        except (Error, OSError, TimeoutError) as err:
            raise self._error("open", err) from err
        try:
            await configure(first)
            await self._migrate(first)
        except (Error, OSError) as err:
            raise self._error("open", err) from err
        finally:
            await first.close()
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.dsn.value,
            min_size=1,
            max_size=self._size,
            timeout=self._timeout,
            configure=configure,
            # Checked when handed out: after the server restarts, a dead connection is
            # replaced instead of failing the next save.
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="pricepool",
        )
        await pool.open(wait=False)
        return pool

    async def _migrate(self, conn: AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            found = await (
                await conn.execute("SELECT to_regclass('pricepool_schema') IS NOT NULL")
            ).fetchone()
            version = 0
            if found and found[0]:
                got = await (await conn.execute("SELECT version FROM pricepool_schema")).fetchone()
                version = int(got[0]) if got else 0
            if version > SCHEMA:
                raise StorageError(
                    f"PostgreSQL database {self.dsn} has pricepool schema version {version}, "
                    f"newer than this pricepool's {SCHEMA}; refusing to read or change it"
                )
            if version == SCHEMA:
                return
            if not self.create:
                raise StorageError(
                    f"PostgreSQL database {self.dsn} holds no pricepool store "
                    f"(schema version {version}, this pricepool's is {SCHEMA})"
                )
            if not (found and found[0]):
                await conn.execute("CREATE TABLE pricepool_schema (version integer NOT NULL)")
                await conn.execute("INSERT INTO pricepool_schema VALUES (0)")
            for step in MIGRATIONS[version:]:
                for statement in step:
                    await conn.execute(statement)
            await conn.execute("UPDATE pricepool_schema SET version = %s", (SCHEMA,))
            log.info("PostgreSQL store %s: schema %d -> %d", self.dsn, version, SCHEMA)

    @contextlib.asynccontextmanager
    async def _conn(self, doing: str) -> AsyncIterator[AsyncConnection[Any]]:
        from psycopg import Error
        from psycopg_pool import PoolTimeout

        try:
            pool = await self._connected()
        except StorageError as err:
            if err.__cause__ is not None:  # the server, not a refused schema
                self._down(err)
            raise
        try:
            async with pool.connection() as conn:
                yield conn
        except (Error, PoolTimeout, OSError) as err:
            raise self._error(doing, await self._lost(pool, err)) from err
        self._up()

    async def check(self) -> bool:
        """Whether the database answers now; connects afresh when it was lost (sets
        ``reachable``, says in the log when it goes and when it is back)."""
        try:
            async with self._conn("reach the server") as conn:
                await conn.execute("SELECT 1")
        except StorageError:
            return False
        return True

    async def _lost(self, pool: AsyncConnectionPool[Any], err: BaseException) -> BaseException:
        """After a connection could not be had or broke: when the server cannot be
        reached, drop the pool, so that the next call connects afresh the moment the
        server is back (the pool's own reconnection backs off for minutes). Returns
        what to tell: libpq's reason rather than a pool's timeout."""
        from psycopg import AsyncConnection, Error, OperationalError
        from psycopg_pool import PoolTimeout

        if not isinstance(err, PoolTimeout | OperationalError):
            return err
        if isinstance(err, PoolTimeout) and pool.get_stats().get("pool_size", 0) >= self._size:
            return err  # busy, not lost
        try:
            probe = await asyncio.wait_for(
                AsyncConnection.connect(self.dsn.value, connect_timeout=_whole(_CLAIM_WAIT)),
                _CLAIM_WAIT + 1,
            )
        except (Error, OSError, TimeoutError) as down:
            reason: BaseException = down
            self._down(down)
        else:
            await probe.close()
            if isinstance(err, OperationalError):
                return err  # the server is there: a failure of this statement
            reason = err
        async with self._opening:
            if self._pool is pool:
                self._pool = None
        # Connections in use (held claims) are closed when they come back.
        await pool.close(timeout=1.0)
        return reason

    async def close(self) -> None:
        """Close the connections; a later call opens them again."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        async with self._locking:
            locker, self._locker = self._locker, None
            self._held.clear()
            if locker is not None:
                await locker.close()
        async with self._opening:
            pool, self._pool = self._pool, None
            if pool is not None:
                await pool.close()

    # -- the Store protocol --------------------------------------------------------------

    async def homes(self) -> list[str]:
        async with self._conn("list homes") as conn:
            cur = await conn.execute("SELECT id FROM pricepool_homes ORDER BY id")
            return [name for (name,) in await cur.fetchall()]

    async def load(self, home_id: str) -> Snapshot | None:
        async with self._conn(f"read home {home_id!r}") as conn, conn.transaction():
            # REPEATABLE READ: one consistent view while others write.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            found = await (
                await conn.execute(
                    "SELECT key, time_zone, currency, nickname, revision FROM pricepool_homes "
                    "WHERE id = %s",
                    (home_id,),
                )
            ).fetchone()
            if found is None:
                self._seen.pop(home_id, None)
                return None
            key, time_zone, currency, nickname, revision = found
            home = HomeInfo(home_id, time_zone, currency, nickname)
            seen = _Seen(revision)
            snapshot = await self._read(conn, key, home, seen, None)
        if snapshot is not None:
            seen.coverage = [c.seconds for c in snapshot.coverage]
            seen.pending = [(*p.span.seconds, p.retry_at.astimezone(UTC)) for p in snapshot.pending]
        self._seen[home_id] = seen
        return snapshot

    async def save(self, snapshot: Snapshot) -> Snapshot | None:
        """Merge ``snapshot`` into the database; what others saved that it lacks, or None."""
        home = snapshot.home
        async with self._conn(f"save home {home.id!r}") as conn, conn.transaction():
            # The row lock makes saves of one home take turns; revisions are sequential.
            key, revision = await _one(
                conn,
                "INSERT INTO pricepool_homes (id, time_zone, currency, nickname, revision) "
                "VALUES (%s, %s, %s, %s, 1) ON CONFLICT (id) DO UPDATE SET "
                "time_zone = excluded.time_zone, currency = excluded.currency, "
                "nickname = excluded.nickname, revision = pricepool_homes.revision + 1 "
                "RETURNING key, revision",
                (home.id, home.time_zone, home.currency, home.nickname),
            )
            seen = self._seen.get(home.id)
            fresh = _Seen(revision)
            if seen is not None and seen.revision < revision:
                fresh.groups.update(seen.groups)
            # Coverage grows by what this writer learned, never by what it still holds
            # and gc removed meanwhile: spans it had seen stored, and no new fetch's span.
            adds = [s.seconds for s in snapshot.coverage]
            if seen is not None:
                known = union_edges(seen.coverage)
                adds = [e for a, b in adds for e in _subtract(a, b, known)]
            adds += [g.span.seconds for g in snapshot.groups if _natural(g) not in fresh.groups]
            wrote = await _write_groups(conn, key, revision, snapshot, fresh)
            spans = await _merge_spans(conn, key, snapshot, adds)
            fresh.coverage, fresh.pending = spans.coverage, spans.pending
            # Others' word: what the database held that this store had not seen there and
            # the snapshot lacks (not what this pool itself let go of, by retention).
            known = union_edges([*(seen.coverage if seen else []), *spans.ours])
            theirs = [e for a, b in spans.stored for e in _subtract(a, b, known)]
            told = {*(seen.pending if seen else []), *spans.ours_pending}
            waits = [p for p in spans.pending if p in spans.stored_pending and p not in told]
            since = seen.revision if seen is not None and seen.revision < revision else 0
            rows = None
            if since < revision - 1:
                rows = await self._read(conn, key, home, fresh, (since, revision))
            delta = None
            if theirs or waits or (rows is not None and rows.intervals):
                delta = Snapshot(
                    home,
                    groups=rows.groups if rows else (),
                    intervals=rows.intervals if rows else (),
                    group_ids=rows.group_ids if rows else (),
                    coverage=[Span.from_seconds(a, b) for a, b in theirs],
                    pending=[Pending(Span.from_seconds(a, b), at) for a, b, at in waits],
                )
            if wrote or spans.changed:
                note = f"saved {self._tag} {home.id}"
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, note))
        self._seen[home.id] = fresh
        return delta

    async def evict(self, home_id: str, groups: Sequence[Group]) -> int:
        """Remove the fetches ``groups`` name (by fetch time and span, not id) and the
        spans only they answered; how many intervals went. Saves never remove: this is
        ``gc``'s way, safe beside other writers (the home's row lock makes them wait)."""
        if not groups:
            return 0
        async with self._conn(f"evict from home {home_id!r}") as conn, conn.transaction():
            found = await (
                await conn.execute(
                    "SELECT key FROM pricepool_homes WHERE id = %s FOR UPDATE", (home_id,)
                )
            ).fetchone()
            if found is None:
                return 0
            (key,) = found
            dropped = 0
            lost: list[Edge] = []
            for group in groups:
                fetched, a, b = _natural(group)
                gone = await (
                    await conn.execute(
                        "DELETE FROM pricepool_groups WHERE home = %s AND fetched_at = %s "
                        "AND span_start = %s AND span_end = %s RETURNING id",
                        (key, fetched, a, b),
                    )
                ).fetchone()
                if gone is None:
                    continue
                cur = await conn.execute(
                    "DELETE FROM pricepool_intervals WHERE home = %s AND group_id = %s",
                    (key, gone[0]),
                )
                dropped += max(cur.rowcount, 0)
                kept = await (
                    await conn.execute(
                        "SELECT start, start + length_s FROM pricepool_intervals "
                        "WHERE home = %s AND start >= %s AND start < %s ORDER BY start",
                        (key, a, b),
                    )
                ).fetchall()
                lost.extend(_subtract(a, b, union_edges(kept)))
            if lost:
                holes = union_edges(lost)
                stored = await (
                    await conn.execute(
                        "SELECT span_start, span_end FROM pricepool_coverage WHERE home = %s "
                        "ORDER BY span_start",
                        (key,),
                    )
                ).fetchall()
                left = [e for a, b in stored for e in _subtract(int(a), int(b), holes)]
                await conn.execute("DELETE FROM pricepool_coverage WHERE home = %s", (key,))
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO pricepool_coverage (home, span_start, span_end) "
                        "VALUES (%s, %s, %s)",
                        [(key, a, b) for a, b in left],
                    )
        return dropped

    async def _read(
        self,
        conn: AsyncConnection[Any],
        key: int,
        home: HomeInfo,
        seen: _Seen,
        revisions: tuple[int, int] | None,
    ) -> Snapshot | None:
        where = "home = %s"
        params: tuple[Any, ...] = (key,)
        if revisions is not None:
            where += " AND rev > %s AND rev < %s"
            params += revisions
        cur = await conn.execute(
            "SELECT start, length_s, total, energy, tax, level, currency, group_id "
            f"FROM pricepool_intervals WHERE {where} ORDER BY start",
            params,
        )
        tz = home.tz
        intervals: list[PriceInterval] = []
        group_ids: list[int] = []
        try:
            async for *values, gid in cur:
                intervals.append(interval(values, tz))
                group_ids.append(gid)
        except BAD_VALUE as err:
            raise StorageError(
                f"home {home.id!r} in PostgreSQL database {self.dsn} holds a bad value: "
                f"{type(err).__name__}: {err}"
            ) from err
        groups = await _groups(conn, key, set(group_ids))
        for group in groups:
            seen.groups[_natural(group)] = group.id
        if revisions is not None:
            return Snapshot(home, groups=groups, intervals=intervals, group_ids=group_ids)
        coverage = [
            Span.from_seconds(a, b)
            for a, b in await (
                await conn.execute(
                    "SELECT span_start, span_end FROM pricepool_coverage WHERE home = %s "
                    "ORDER BY span_start",
                    (key,),
                )
            ).fetchall()
        ]
        pending = [
            Pending(Span.from_seconds(a, b), at)
            for a, b, at in await (
                await conn.execute(
                    "SELECT span_start, span_end, retry_at FROM pricepool_pending "
                    "WHERE home = %s ORDER BY span_start",
                    (key,),
                )
            ).fetchall()
        ]
        return Snapshot(
            home,
            groups=groups,
            intervals=intervals,
            group_ids=group_ids,
            coverage=coverage,
            pending=pending,
        )

    # -- claims: one fetch per span across processes -------------------------------------

    @contextlib.asynccontextmanager
    async def claim(self, home_id: str, span: Span) -> AsyncIterator[Snapshot | None]:
        """Hold the right to fetch ``span`` of ``home_id`` for all processes on this database.

        Yields what the database holds in ``span`` (a Snapshot whose coverage is the part
        of ``span`` some process answered), or None when it holds nothing there. Unless
        that covers all of ``span``, the claim is held: the caller fetches the rest and
        saves before leaving, while other claims on an overlapping span (in any process)
        wait for it, woken by NOTIFY or looking again every 0.25 s. The locks of a process
        live on one connection of their own, so a process that dies loses them with it and
        a waiter takes over, and a fetch under way holds no connection of the pool. When
        the database cannot be reached the claim yields None at once (fetching twice beats
        not answering), said once in the log.
        """
        from psycopg import Error
        from psycopg_pool import PoolTimeout

        a, b = span.seconds
        keys = _keys(home_id, a, b)
        while True:
            try:
                known = await self._known(home_id, a, b)
                if known is not None and _covers(known, a, b):
                    break
                taken = await self._lock(keys)
                if taken is not None:
                    # Someone may have saved the span just before the locks were ours.
                    known = await self._known(home_id, a, b)
            except (StorageError, PoolTimeout, Error, OSError) as err:
                self._down(err)
                yield None
                return
            if taken is not None:
                self._up()
                try:
                    yield known
                finally:
                    await self._unlock(keys, taken, home_id)
                return
            await self._wait()
        self._up()
        yield known

    async def _known(self, home_id: str, a: int, b: int) -> Snapshot | None:
        async with self._conn(f"read home {home_id!r}") as conn, conn.transaction():
            known = await self._span(conn, home_id, a, b)
        seen = self._seen.get(home_id)
        if known is not None and seen is not None:
            # The pool takes these groups with their fetch times: saving them again is
            # not new.
            for group in known.groups:
                seen.groups[_natural(group)] = group.id
        return known

    async def _lock(self, keys: list[tuple[int, int]]) -> AsyncConnection[Any] | None:
        """Take every lock of ``keys`` on the lock connection, or none; the connection that
        holds them, or None when another claim (here or elsewhere) holds one."""
        from psycopg import AsyncConnection

        async with self._locking:
            if any(k in self._held for k in keys):
                return None
            conn = self._locker
            if conn is None or conn.closed:
                conn = self._locker = await AsyncConnection.connect(
                    self.dsn.value, autocommit=True, connect_timeout=_whole(_CLAIM_WAIT)
                )
            taken: list[tuple[int, int]] = []
            try:
                for one in keys:
                    got = await _one(conn, "SELECT pg_try_advisory_lock(%s, %s)", one)
                    if not got[0]:
                        break
                    taken.append(one)
            except BaseException:
                # The locks taken so far go with the connection.
                await conn.close()
                raise
            if len(taken) < len(keys):
                for one in reversed(taken):
                    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", one)
                return None
            self._held.update(keys)
            return conn

    async def _unlock(
        self, keys: list[tuple[int, int]], conn: AsyncConnection[Any], home_id: str
    ) -> None:
        from psycopg import Error

        async with self._locking:
            self._held.difference_update(keys)
            if conn is not self._locker or conn.closed:
                return  # the locks went with that connection
            try:
                for one in reversed(keys):
                    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", one)
                note = f"free {self._tag} {home_id}"
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, note))
            except (Error, OSError):
                await conn.close()

    async def _span(
        self, conn: AsyncConnection[Any], home_id: str, a: int, b: int
    ) -> Snapshot | None:
        """What the database holds in ``[a, b)``: the answered parts and their intervals."""
        found = await (
            await conn.execute(
                "SELECT key, time_zone, currency, nickname FROM pricepool_homes WHERE id = %s",
                (home_id,),
            )
        ).fetchone()
        if found is None:
            return None
        key, time_zone, currency, nickname = found
        parts = [
            (max(int(lo), a), min(int(hi), b))
            for lo, hi in await (
                await conn.execute(
                    "SELECT span_start, span_end FROM pricepool_coverage WHERE home = %s "
                    "AND span_start < %s AND span_end > %s ORDER BY span_start",
                    (key, b, a),
                )
            ).fetchall()
        ]
        if not parts:
            return None
        home = HomeInfo(home_id, time_zone, currency, nickname)
        cur = await conn.execute(
            "SELECT start, length_s, total, energy, tax, level, currency, group_id "
            "FROM pricepool_intervals WHERE home = %s AND start >= %s AND start < %s "
            "ORDER BY start",
            (key, parts[0][0], parts[-1][1]),
        )
        intervals: list[PriceInterval] = []
        group_ids: list[int] = []
        try:
            async for *values, gid in cur:
                if any(lo <= values[0] < hi for lo, hi in parts):
                    intervals.append(interval(values, home.tz))
                    group_ids.append(gid)
        except BAD_VALUE:
            return None
        groups = await _groups(conn, key, set(group_ids))
        return Snapshot(
            home,
            groups=groups,
            intervals=intervals,
            group_ids=group_ids,
            coverage=[Span.from_seconds(lo, hi) for lo, hi in parts],
        )

    async def _wait(self) -> None:
        """Until another process frees a claim or saves, or a short while (a holder that
        died sends nothing)."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        news = self._news
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(news.wait(), _POLL)

    def watch(self, home_id: str, told: Callable[[], None]) -> Callable[[], None]:
        """Call ``told`` whenever another process saves something new for ``home_id``
        (and after the connection to the server came back: news may have been missed).
        Returns what stops it. Needs a running event loop."""
        self._watchers.setdefault(home_id, []).append(told)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())

        def stop() -> None:
            kept = self._watchers.get(home_id, [])
            if told in kept:
                kept.remove(told)

        return stop

    def _tell(self, home_id: str | None) -> None:
        for key, watchers in list(self._watchers.items()):
            if home_id is None or key == home_id:
                for told in list(watchers):
                    told()

    async def _listen(self) -> None:
        """Wake waiters and tell watchers; while anyone watches, reconnect when the
        connection is lost."""
        from psycopg import AsyncConnection, Error

        # Saves made before the first LISTEN went unheard too.
        lost = True
        while True:
            try:
                conn = await AsyncConnection.connect(
                    self.dsn.value, autocommit=True, connect_timeout=_whole(_CLAIM_WAIT)
                )
            except (Error, OSError):
                if not any(self._watchers.values()):
                    return
                lost = True
                await asyncio.sleep(_RELISTEN)
                continue
            try:
                await conn.execute(f"LISTEN {CHANNEL}")
                if lost:
                    self._tell(None)
                async for note in conn.notifies():
                    # Wake every waiter; each then looks at the database for itself.
                    news, self._news = self._news, asyncio.Event()
                    news.set()
                    kind, tag, home_id = [*note.payload.split(" ", 2), "", ""][:3]
                    if kind == "saved" and tag != self._tag:
                        self._tell(home_id)
            except (Error, OSError):
                lost = True
            finally:
                await conn.close()
            if not any(self._watchers.values()):
                return
            await asyncio.sleep(_RELISTEN)

    def _up(self) -> None:
        self.reachable = True
        if self._down_said:
            self._down_said = False
            log.info("PostgreSQL database %s is reachable again", self.dsn)

    def _down(self, err: BaseException) -> None:
        self.reachable = False
        if not self._down_said:
            self._down_said = True
            log.warning(
                "PostgreSQL database %s unreachable, answering from memory and reconnecting: %s",
                self.dsn,
                self.dsn.scrub(str(err)),
            )


async def _one(conn: AsyncConnection[Any], query: str, params: Sequence[Any]) -> tuple[Any, ...]:
    found = await (await conn.execute(query, params)).fetchone()
    assert found is not None
    return tuple(found)


def _covers(known: Snapshot, a: int, b: int) -> bool:
    return any(s.seconds[0] <= a and s.seconds[1] >= b for s in known.coverage)


def _whole(seconds: float) -> int:
    # libpq takes whole seconds and treats 1 as 2.
    return max(2, math.ceil(seconds))


def _keys(home_id: str, a: int, b: int) -> list[tuple[int, int]]:
    """The advisory lock keys of ``[a, b)`` for ``home_id``, in the one order all take them."""
    home = zlib.crc32(home_id.encode()) - 2**31
    first, last = a // _BUCKET, (max(b, a + 1) - 1) // _BUCKET
    return [(home, week - 2**31 if week >= 2**31 else week) for week in range(first, last + 1)]


async def _groups(conn: AsyncConnection[Any], key: int, ids: set[int]) -> list[Group]:
    if not ids:
        return []
    cur = await conn.execute(
        "SELECT id, fetched_at, span_start, span_end FROM pricepool_groups "
        "WHERE home = %s AND id = ANY(%s) ORDER BY id",
        (key, sorted(ids)),
    )
    return [
        Group(gid, at.astimezone(UTC), Span.from_seconds(a, b))
        for gid, at, a, b in await cur.fetchall()
    ]


async def _write_groups(
    conn: AsyncConnection[Any], key: int, revision: int, snapshot: Snapshot, seen: _Seen
) -> bool:
    """Write the groups of ``snapshot`` the database does not hold yet; True if any.

    A group replaces what older fetches left in its span, except where a newer fetch
    (anyone's) answered: there the newer values stay.
    """
    new = [g for g in snapshot.groups if _natural(g) not in seen.groups]
    for group in sorted(new, key=lambda g: g.fetched_at):
        natural = _natural(group)
        fetched, a, b = natural
        (gid,) = await _one(
            conn,
            "INSERT INTO pricepool_groups (home, fetched_at, span_start, span_end) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (home, fetched_at, span_start, span_end) "
            "DO UPDATE SET fetched_at = excluded.fetched_at RETURNING id",
            (key, fetched, a, b),
        )
        seen.groups[natural] = gid
        newer = await (
            await conn.execute(
                "SELECT span_start, span_end FROM pricepool_groups WHERE home = %s "
                "AND span_start < %s AND span_end > %s AND fetched_at > %s",
                (key, b, a, fetched),
            )
        ).fetchall()
        members = snapshot.members(group.id)
        for lo, hi in _subtract(a, b, union_edges(newer)):
            await conn.execute(
                "DELETE FROM pricepool_intervals WHERE home = %s AND start >= %s AND start < %s",
                (key, lo, hi),
            )
            rows = [
                (key, *row(item), gid, fetched, revision)
                for item in members
                if lo <= item.start.timestamp() < hi
            ]
            if rows:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO pricepool_intervals (home, start, length_s, total, energy, "
                        "tax, level, currency, group_id, fetched_at, rev) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
    return bool(new)


def union_edges(spans: Iterable[Sequence[int]]) -> list[Edge]:
    return [s.seconds for s in union(Span.from_seconds(a, b) for a, b in spans)]


def _subtract(start: int, end: int, holes: Sequence[Edge]) -> list[Edge]:
    out: list[Edge] = []
    cursor = start
    for lo, hi in holes:
        if hi <= cursor:
            continue
        if lo >= end:
            break
        if lo > cursor:
            out.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return out


@dataclass(slots=True)
class _Spans:
    """Coverage and pending of a home: as stored before a save, in the snapshot, and merged."""

    stored: list[Edge]
    stored_pending: list[tuple[int, int, datetime]]
    ours: list[Edge]
    ours_pending: list[tuple[int, int, datetime]]
    coverage: list[Edge]
    pending: list[tuple[int, int, datetime]]
    changed: bool


async def _merge_spans(
    conn: AsyncConnection[Any], key: int, snapshot: Snapshot, adds: Sequence[Edge]
) -> _Spans:
    """Coverage as the union with ``adds``, pending by latest word, written when changed."""
    stored = [
        (int(a), int(b))
        for a, b in await (
            await conn.execute(
                "SELECT span_start, span_end FROM pricepool_coverage WHERE home = %s", (key,)
            )
        ).fetchall()
    ]
    ours = [s.seconds for s in snapshot.coverage]
    merged = union_edges([*stored, *adds])
    if merged != sorted(stored):
        await conn.execute("DELETE FROM pricepool_coverage WHERE home = %s", (key,))
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO pricepool_coverage (home, span_start, span_end) VALUES (%s, %s, %s)",
                [(key, a, b) for a, b in merged],
            )
    stored_pending = [
        (int(a), int(b), at.astimezone(UTC))
        for a, b, at in await (
            await conn.execute(
                "SELECT span_start, span_end, retry_at FROM pricepool_pending WHERE home = %s",
                (key,),
            )
        ).fetchall()
    ]
    ours_pending = [(*p.span.seconds, p.retry_at.astimezone(UTC)) for p in snapshot.pending]
    pending = _pending(stored_pending + ours_pending, merged)
    if pending != sorted(stored_pending):
        await conn.execute("DELETE FROM pricepool_pending WHERE home = %s", (key,))
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO pricepool_pending (home, span_start, span_end, retry_at) "
                "VALUES (%s, %s, %s, %s)",
                [(key, *p) for p in pending],
            )
    return _Spans(
        stored=sorted(stored),
        stored_pending=sorted(stored_pending),
        ours=union_edges(ours),
        ours_pending=_pending(ours_pending, union_edges(ours)),
        coverage=merged,
        pending=pending,
        changed=merged != sorted(stored) or pending != sorted(stored_pending),
    )


def _pending(
    items: Sequence[tuple[int, int, datetime]], covered: Sequence[Edge]
) -> list[tuple[int, int, datetime]]:
    """Pending spans outside ``covered``; where two overlap the later re-check time wins
    (it is the newer word: a re-check time only moves forward)."""
    edges = sorted({e for a, b, _ in items for e in (a, b)})
    out: list[tuple[int, int, datetime]] = []
    for lo, hi in itertools.pairwise(edges):
        dues = [at for a, b, at in items if a <= lo and b >= hi]
        if not dues:
            continue
        due = max(dues)
        for x, y in _subtract(lo, hi, covered):
            if out and out[-1][1] == x and out[-1][2] == due:
                out[-1] = (out[-1][0], y, due)
            else:
                out.append((x, y, due))
    return out
