"""Many homes in one SQLite database, written as diffs.

Schema (version 1, in ``PRAGMA user_version``); instants are POSIX seconds::

    homes(key INTEGER PRIMARY KEY, id TEXT UNIQUE, time_zone, currency, nickname, revision)
    groups(home, id, fetched_at, span_start, span_end)             PRIMARY KEY (home, id)
    intervals(home, start, length_s, total, energy, tax, level, currency, group_id)
                                                                    PRIMARY KEY (home, start)
    coverage(home, span_start, span_end)
    pending(home, span_start, span_end, retry_at)

``home`` columns hold ``homes.key``. NaN energy and tax are NULL. Each save is one
``BEGIN IMMEDIATE`` transaction in WAL mode, so a crash leaves the last committed save and a
second process waits (``busy_timeout``) instead of failing.

What a save writes: the store remembers per home the groups it last wrote, how many
intervals each held, and the home's ``revision``. Groups gone from the snapshot are
deleted, groups holding a different number are rewritten, the span of each new group is
rewritten from the snapshot; coverage and pending (a few rows) are replaced. When the
revision shows another writer, or the store has not seen the home, the home is rewritten
whole. Saving one new day into a year is therefore O(day), not O(year).

A file that is not a database is renamed aside whole (``<db>.corrupt.<UTC time>``). A home
holding a value that cannot be read back (seconds beyond the calendar, an unknown zone, a
level that does not exist) costs only that home: its rows move into a new database of this
schema at ``<db>.corrupt.<UTC time>``, it loads as None and the pool starts it empty; the
other homes are not touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from ..errors import StorageError
from ..model import HomeInfo, PriceInterval, Span
from ._codec import BAD_VALUE, aside, cause, instant, interval, log, row, set_aside, stamp, union
from .base import Group, Pending, Snapshot

__all__ = ["SCHEMA", "SqliteStore"]

_V1 = (
    """CREATE TABLE homes (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        time_zone TEXT NOT NULL,
        currency TEXT,
        nickname TEXT,
        revision INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE groups (
        home INTEGER NOT NULL,
        id INTEGER NOT NULL,
        fetched_at NUMERIC NOT NULL,
        span_start NUMERIC NOT NULL,
        span_end NUMERIC NOT NULL,
        PRIMARY KEY (home, id)) WITHOUT ROWID""",
    """CREATE TABLE intervals (
        home INTEGER NOT NULL,
        start INTEGER NOT NULL,
        length_s INTEGER NOT NULL,
        total REAL NOT NULL,
        energy REAL,
        tax REAL,
        level TEXT,
        currency TEXT,
        group_id INTEGER NOT NULL,
        PRIMARY KEY (home, start)) WITHOUT ROWID""",
    """CREATE TABLE coverage (
        home INTEGER NOT NULL,
        span_start NUMERIC NOT NULL,
        span_end NUMERIC NOT NULL)""",
    "CREATE INDEX coverage_home ON coverage (home)",
    """CREATE TABLE pending (
        home INTEGER NOT NULL,
        span_start NUMERIC NOT NULL,
        span_end NUMERIC NOT NULL,
        retry_at NUMERIC NOT NULL)""",
    "CREATE INDEX pending_home ON pending (home)",
)


def _run(statements: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    def migrate(db: sqlite3.Connection) -> None:
        for statement in statements:
            db.execute(statement)

    return migrate


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_run(_V1)]
"""``MIGRATIONS[v]`` takes a database from schema ``v`` to ``v + 1``, inside a transaction."""

SCHEMA = len(MIGRATIONS)

_R = TypeVar("_R")

_BUSY_SECONDS = 10.0
_COMPANIONS = ("-wal", "-shm", "-journal")
# Every table and the column naming the home: what a home's rows are.
_TABLES = (
    ("homes", "key"),
    ("groups", "home"),
    ("intervals", "home"),
    ("coverage", "home"),
    ("pending", "home"),
)


@dataclass(frozen=True, slots=True)
class _Written:
    """What this store last wrote (or read) for a home: its revision, and each group with
    the number of intervals it held."""

    revision: int
    groups: dict[Group, int]

    @classmethod
    def of(cls, revision: int, snapshot: Snapshot) -> _Written:
        return cls(revision, _counts(snapshot))


class SqliteStore:
    """Snapshots of many homes in the SQLite database at ``path``.

    The connection opens on first use and is used from worker threads one call at a time.
    ``close`` releases it; a later call opens it again.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        # Also held in the worker thread: a cancelled call's thread runs on after the
        # asyncio lock is released, and must not share the connection with the next one.
        self._mutex = threading.Lock()
        self._written: dict[str, _Written] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def load(self, home_id: str) -> Snapshot | None:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._load, home_id)

    async def save(self, snapshot: Snapshot) -> None:
        async with self._lock:
            await asyncio.to_thread(self._locked, self._save, snapshot)

    async def homes(self) -> list[str]:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._homes)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._locked, self._close)

    def _locked(self, call: Callable[..., _R], *args: Any) -> _R:
        with self._mutex:
            return call(*args)

    def _close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            db.close()

    # -- opening ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = self._open()
            except sqlite3.Error as err:
                raise StorageError(f"cannot open {self.path}: {cause(err)}") from err
            except OSError as err:
                raise StorageError(f"cannot open {self.path}: {cause(err)}") from err
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            # Created here so that the database (and its -wal, which copies the mode) is 0600.
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        db = self._connection()
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            if "not a database" not in str(err):
                db.close()
                raise
            # Moved before close: closing would delete a -wal it could not read.
            set_aside(self.path, str(err), _COMPANIONS)
            db.close()
            db = self._connection()
            version = 0
        try:
            if version > SCHEMA:
                # Checked before anything (even the journal mode) is written to the file.
                raise StorageError(
                    f"{self.path} has schema version {version}, newer than this pricepool's "
                    f"{SCHEMA}; refusing to read or change it"
                )
            db.execute("PRAGMA journal_mode=WAL")
            # FULL syncs the WAL on every commit: a completed save survives a power cut too.
            db.execute("PRAGMA synchronous=FULL")
            if version < SCHEMA:
                self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _connection(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's.
        return sqlite3.connect(
            self.path, timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )

    def _migrate(self, db: sqlite3.Connection) -> None:
        with _transaction(db):
            # Read again under the write lock: another process may have migrated meanwhile.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA:
                raise StorageError(
                    f"{self.path} has schema version {version}, newer than this pricepool's "
                    f"{SCHEMA}; refusing to read or change it"
                )
            for step in MIGRATIONS[version:]:
                step(db)
            db.execute(f"PRAGMA user_version = {SCHEMA}")

    # -- operations (worker thread) ----------------------------------------------------------

    def _homes(self) -> list[str]:
        db = self._connect()
        try:
            return [name for (name,) in db.execute("SELECT id FROM homes ORDER BY id")]
        except sqlite3.Error as err:
            raise StorageError(f"cannot read {self.path}: {cause(err)}") from err

    def _load(self, home_id: str) -> Snapshot | None:
        db = self._connect()
        try:
            # One read transaction: a consistent view while another process writes.
            with _transaction(db, "BEGIN"):
                found = _read(db, home_id)
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot read home {home_id!r} from {self.path}: {cause(err)}"
            ) from err
        except BAD_VALUE as err:
            found = self._set_aside(db, home_id, f"{type(err).__name__}: {err}")
        if found is None:
            self._written.pop(home_id, None)
            return None
        snapshot, revision = found
        self._written[home_id] = _Written.of(revision, snapshot)
        return snapshot

    def _set_aside(
        self, db: sqlite3.Connection, home_id: str, why: str
    ) -> tuple[Snapshot, int] | None:
        """Move the rows of a home that holds a bad value into a database of their own.

        The other homes stay; this one starts empty, as a corrupt JSON file would. The
        rows land in ``<db>.corrupt.<UTC time>`` (this schema, that home only) for
        inspection. Under the write lock the home is read again: a writer may have
        replaced it meanwhile, and then it is simply loaded.
        """
        target = aside(self.path)
        exported = False
        try:
            with _transaction(db):
                try:
                    return _read(db, home_id)
                except BAD_VALUE:
                    pass
                (key,) = db.execute("SELECT key FROM homes WHERE id = ?", (home_id,)).fetchone()
                _export(db, key, target)
                exported = True
                for table, column in _TABLES:
                    db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
        except (sqlite3.Error, OSError) as err:
            if exported:
                # The rows stay where they were: a copy beside them would only mislead.
                target.unlink(missing_ok=True)
            raise StorageError(
                f"home {home_id!r} in {self.path} holds a bad value ({why}) and could not be "
                f"set aside: {cause(err)}"
            ) from err
        log.error(
            "home %r in %s holds a bad value (%s); moved its rows to %s and starting it empty",
            home_id,
            self.path,
            why,
            target,
        )
        return None

    def _save(self, snapshot: Snapshot) -> None:
        db = self._connect()
        home = snapshot.home
        try:
            with _transaction(db):
                key, revision = self._home_row(db, home)
                written = self._written.get(home.id)
                if written is None or written.revision != revision:
                    # New to us, or another writer was here since: the diff would be wrong.
                    _rewrite(db, key, snapshot)
                elif not _diff(db, key, snapshot, written.groups):
                    log.warning(
                        "home %r in %s: diff left a different interval count; rewrote it whole",
                        home.id,
                        self.path,
                    )
                    _rewrite(db, key, snapshot)
                _replace_coverage(db, key, snapshot)
                revision += 1
                db.execute("UPDATE homes SET revision = ? WHERE key = ?", (revision, key))
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot save home {home.id!r} to {self.path}: {cause(err)}"
            ) from err
        self._written[home.id] = _Written.of(revision, snapshot)

    @staticmethod
    def _home_row(db: sqlite3.Connection, home: HomeInfo) -> tuple[int, int]:
        key, revision = db.execute(
            "INSERT INTO homes (id, time_zone, currency, nickname) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone, "
            "currency = excluded.currency, nickname = excluded.nickname "
            "RETURNING key, revision",
            (home.id, home.time_zone, home.currency, home.nickname),
        ).fetchone()
        return int(key), int(revision)


def _read(db: sqlite3.Connection, home_id: str) -> tuple[Snapshot, int] | None:
    """The home's snapshot and revision, None when absent; one of ``BAD_VALUE`` if bad."""
    found = db.execute(
        "SELECT key, time_zone, currency, nickname, revision FROM homes WHERE id = ?",
        (home_id,),
    ).fetchone()
    if found is None:
        return None
    key, time_zone, currency, nickname, revision = found
    home = HomeInfo(home_id, time_zone, currency, nickname)
    tz = home.tz
    groups = [
        Group(gid, instant(at), Span(instant(a), instant(b)))
        for gid, at, a, b in db.execute(
            "SELECT id, fetched_at, span_start, span_end FROM groups WHERE home = ? ORDER BY id",
            (key,),
        )
    ]
    intervals: list[PriceInterval] = []
    group_ids: list[int] = []
    for *values, gid in db.execute(
        "SELECT start, length_s, total, energy, tax, level, currency, group_id "
        "FROM intervals WHERE home = ? ORDER BY start",
        (key,),
    ):
        intervals.append(interval(values, tz))
        group_ids.append(gid)
    coverage = [
        Span(instant(a), instant(b))
        for a, b in db.execute(
            "SELECT span_start, span_end FROM coverage WHERE home = ? ORDER BY rowid", (key,)
        )
    ]
    pending = [
        Pending(Span(instant(a), instant(b)), instant(at))
        for a, b, at in db.execute(
            "SELECT span_start, span_end, retry_at FROM pending WHERE home = ? ORDER BY rowid",
            (key,),
        )
    ]
    snapshot = Snapshot(
        home,
        groups=groups,
        intervals=intervals,
        group_ids=group_ids,
        coverage=coverage,
        pending=pending,
    )
    return snapshot, revision


def _export(db: sqlite3.Connection, key: int, target: Path) -> None:
    """Copy the rows of the home ``key`` as they are into a new database at ``target``."""
    # O_EXCL: evidence is never written over; 0600 like the store itself.
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        out = sqlite3.connect(target, isolation_level=None)
        try:
            with _transaction(out):
                for step in MIGRATIONS:
                    step(out)
                out.execute(f"PRAGMA user_version = {SCHEMA}")
                for table, column in _TABLES:
                    rows = db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (key,))
                    found = rows.fetchall()
                    if found:
                        marks = ", ".join("?" * len(found[0]))
                        out.executemany(f"INSERT INTO {table} VALUES ({marks})", found)
        finally:
            out.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    db.execute(begin)
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_INSERT = (
    "INSERT INTO intervals (home, start, length_s, total, energy, tax, level, currency, group_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _insert_groups(db: sqlite3.Connection, key: int, groups: Sequence[Group]) -> None:
    db.executemany(
        "INSERT INTO groups (home, id, fetched_at, span_start, span_end) VALUES (?, ?, ?, ?, ?)",
        [(key, g.id, stamp(g.fetched_at), stamp(g.span.start), stamp(g.span.end)) for g in groups],
    )


def _insert(db: sqlite3.Connection, key: int, snapshot: Snapshot, lo: int, hi: int) -> None:
    items, ids = snapshot.intervals, snapshot.group_ids
    db.executemany(_INSERT, ((key, *row(items[i]), ids[i]) for i in range(lo, hi)))


def _rewrite(db: sqlite3.Connection, key: int, snapshot: Snapshot) -> None:
    db.execute("DELETE FROM intervals WHERE home = ?", (key,))
    db.execute("DELETE FROM groups WHERE home = ?", (key,))
    _insert_groups(db, key, snapshot.groups)
    _insert(db, key, snapshot, 0, len(snapshot.intervals))


def _start(item: PriceInterval) -> float:
    return item.start.timestamp()


def _counts(snapshot: Snapshot) -> dict[Group, int]:
    held = Counter(snapshot.group_ids)
    return {g: held[g.id] for g in snapshot.groups}


def _diff(db: sqlite3.Connection, key: int, snapshot: Snapshot, written: dict[Group, int]) -> bool:
    """Bring the home's rows from ``written`` to ``snapshot``; False if counts then disagree.

    Groups are compared whole (id, fetch time, span) with the number of intervals they
    hold. A group that is gone loses its rows; a group that holds a different number (a
    later fetch, even an empty one that made no group, took some) has its rows rewritten;
    each new group's span is rewritten from the snapshot. O(g + changed rows + log n).
    """
    now = _counts(snapshot)
    for group in written.keys() - now.keys():
        db.execute("DELETE FROM intervals WHERE home = ? AND group_id = ?", (key, group.id))
        db.execute("DELETE FROM groups WHERE home = ? AND id = ?", (key, group.id))
    for group in sorted(now.keys() & written.keys(), key=lambda g: g.id):
        if now[group] != written[group]:
            db.execute("DELETE FROM intervals WHERE home = ? AND group_id = ?", (key, group.id))
            # OR REPLACE: a row still held by another group in the database may move here.
            db.executemany(
                _INSERT.replace("INSERT", "INSERT OR REPLACE", 1),
                ((key, *row(item), group.id) for item in snapshot.members(group.id)),
            )
    new = sorted(now.keys() - written.keys(), key=lambda g: g.id)
    _insert_groups(db, key, new)
    items = snapshot.intervals
    for span in union(g.span for g in new):
        a, b = stamp(span.start), stamp(span.end)
        db.execute("DELETE FROM intervals WHERE home = ? AND start >= ? AND start < ?", (key, a, b))
        lo = bisect_left(items, a, key=_start)
        _insert(db, key, snapshot, lo, bisect_left(items, b, lo, key=_start))
    (count,) = db.execute("SELECT COUNT(*) FROM intervals WHERE home = ?", (key,)).fetchone()
    return bool(count == len(items))


def _replace_coverage(db: sqlite3.Connection, key: int, snapshot: Snapshot) -> None:
    db.execute("DELETE FROM coverage WHERE home = ?", (key,))
    db.execute("DELETE FROM pending WHERE home = ?", (key,))
    db.executemany(
        "INSERT INTO coverage (home, span_start, span_end) VALUES (?, ?, ?)",
        [(key, stamp(s.start), stamp(s.end)) for s in snapshot.coverage],
    )
    db.executemany(
        "INSERT INTO pending (home, span_start, span_end, retry_at) VALUES (?, ?, ?, ?)",
        [
            (key, stamp(p.span.start), stamp(p.span.end), stamp(p.retry_at))
            for p in snapshot.pending
        ],
    )
