"""Many homes in one SQLite database, shared by any number of processes.

Schema (version 2, in ``PRAGMA user_version``; ``application_id`` marks the file as
pricepool's); instants are POSIX seconds::

    homes(key INTEGER PRIMARY KEY, id TEXT UNIQUE, time_zone, currency, nickname, revision)
    groups(home, id, fetched_at, span_start, span_end, rev)         PRIMARY KEY (home, id)
    intervals(home, start, length_s, total, energy, tax, level, currency, group_id)
                                                                    PRIMARY KEY (home, start)
    coverage(home, span_start, span_end, rev)
    pending(home, span_start, span_end, retry_at)

``home`` columns hold ``homes.key``; group ids are the store's own (pools number theirs
themselves); ``rev`` is the home's revision when the row was written. NaN energy and tax are
NULL. Each save is one ``BEGIN IMMEDIATE`` transaction in WAL mode, so a crash leaves the
last committed save and a second process waits (``busy_timeout``) instead of failing.

A save merges (``_merge`` states the rules): it writes only the fetches and spans the
writer learned since it last read or wrote, painted over what is stored (the newer fetch
wins), so saving one new day into a year is O(day). When the home's revision shows no
other writer, it returns None without reading anything else.

A new database is built beside its path and linked into place whole (0600), so a file of
this store is never half made. An existing file is opened only when it is pricepool's
(SQLite header, and ``application_id`` or the tables of schema 1); any other file is
refused and never changed. Only a pricepool database that turns out damaged is renamed
aside (``<db>.corrupt.<UTC time>``). A home holding a value that cannot be read back costs
only that home: its rows move into a new database of this schema beside the store.
With ``create=False`` (read-only commands) nothing is created, migrated, moved or changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import os
import sqlite3
import stat
import tempfile
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Self, TypeVar

from ..errors import StorageError
from ..model import HomeInfo, PriceInterval, Span
from ..spans import Edge, subtract, union
from ._codec import BAD_VALUE, aside, cause, check, instant, interval, log, row, set_aside, stamp
from ._codec import union as span_union
from ._merge import (
    Ident,
    Known,
    ident,
    kept,
    learned,
    merge_pending,
    painted,
    pending_edges,
    spans,
)
from .base import Group, NotAStoreError, Pending, Snapshot

__all__ = ["APPLICATION_ID", "SCHEMA", "SqliteStore"]

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

APPLICATION_ID: Final = 0x70706F6C
"""SQLite's application id of a pricepool store ("ppol"), also in a damaged file's header."""
_V2 = (
    "ALTER TABLE groups ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE coverage ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX groups_rev ON groups (home, rev)",
    f"PRAGMA application_id = {APPLICATION_ID}",
)


def _run(statements: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    def migrate(db: sqlite3.Connection) -> None:
        for statement in statements:
            db.execute(statement)

    return migrate


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_run(_V1), _run(_V2)]
"""``MIGRATIONS[v]`` takes a database from schema ``v`` to ``v + 1``, inside a transaction."""

SCHEMA = len(MIGRATIONS)

_R = TypeVar("_R")

_BUSY_SECONDS = 30.0
_HEADER = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm", "-journal")
_TABLES_V1 = frozenset({"homes", "groups", "intervals", "coverage", "pending"})
# Every table and the column naming the home: what a home's rows are.
_TABLES = (
    ("homes", "key"),
    ("groups", "home"),
    ("intervals", "home"),
    ("coverage", "home"),
    ("pending", "home"),
)


class SqliteStore:
    """Snapshots of many homes in the SQLite database at ``path``.

    Nothing is created until the first save; with ``create=False`` a missing database
    raises StorageError and the store never writes. The connection opens on first use and
    is used from worker threads one call at a time. ``close`` releases it; a later call
    opens it again.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        self.create = create
        self._db: sqlite3.Connection | None = None
        # Why this process cannot write the database, once it knows (read-only file).
        self._readonly: str | None = None
        self._version = SCHEMA
        self._lock = asyncio.Lock()
        # Also held in the worker thread: a cancelled call's thread runs on after the
        # asyncio lock is released, and must not share the connection with the next one.
        self._mutex = threading.Lock()
        self._known: dict[str, Known] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def load(self, home_id: str) -> Snapshot | None:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._load, home_id)

    async def save(self, snapshot: Snapshot) -> Snapshot | None:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._save, snapshot)

    async def evict(self, home_id: str, groups: Sequence[Group]) -> int:
        async with self._lock:
            return await asyncio.to_thread(self._locked, self._evict, home_id, list(groups))

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

    def _connect(self, *, write: bool) -> sqlite3.Connection | None:
        """The open database; None when there is none and ``write`` is False."""
        if self._db is None:
            try:
                self._db = self._open(write=write)
            except sqlite3.Error as err:
                raise StorageError(f"cannot open {self.path}: {cause(err)}") from err
            except OSError as err:
                raise StorageError(f"cannot open {self.path}: {_os_cause(err)}") from err
        if write and self._db is not None:
            if not self.create:
                raise StorageError(f"{self.path} was opened read-only; not changing it")
            if self._readonly is not None:
                raise StorageError(
                    f"cannot save to {self.path}: the store is read-only ({self._readonly}); "
                    "changes are kept in memory only"
                )
            if self._version < SCHEMA:
                raise StorageError(
                    f"{self.path} has schema version {self._version}, older than this "
                    f"pricepool's {SCHEMA}, and cannot be upgraded read-only"
                )
        return self._db

    def _target(self) -> Path | None:
        """Where the database file is (through a symlink); None when it does not exist.

        StorageError for anything at the path that is not a database file of ours.
        """
        path = self.path
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise NotAStoreError(
                f"{path} cannot be a store: a part of its folder path is a file", path=path
            ) from None
        if stat.S_ISDIR(info.st_mode):
            raise NotAStoreError(
                f"{path} is a folder; give the path of a database file, such as "
                f"{path / 'pricepool.db'}",
                path=path,
            )
        if not stat.S_ISREG(info.st_mode):
            raise NotAStoreError(
                f"{path} is not a regular file, so not a pricepool store", path=path
            )
        if info.st_size == 0:
            raise NotAStoreError(
                f"{path} is not a pricepool store: it is empty (0 bytes); not changed", path=path
            )
        try:
            with open(path, "rb") as file:
                head = file.read(100)
        except PermissionError as err:
            raise StorageError(f"cannot read {path}: permission denied ({cause(err)})") from err
        if not head.startswith(_HEADER):
            raise NotAStoreError(
                f"{path} is not a pricepool store (not an SQLite database); not changed",
                path=path,
            )
        return path

    def _open(self, *, write: bool) -> sqlite3.Connection | None:
        path = self._target()
        if path is None:
            if not self.create:
                raise StorageError(f"{self.path} does not exist")
            if not write:
                return None
            self._build()
            path = self.path
        self._readonly = _unwritable(path)
        # Read-write even when asked not to change anything (``create`` false), when we may:
        # only such a connection, the last to close, removes the -wal and -shm it opened.
        db = self._connection(readonly=self._readonly is not None)
        try:
            ours, damaged = self._recognise(db, path)
            if damaged is not None:
                if not ours:
                    raise NotAStoreError(
                        f"{path} is not a pricepool store ({damaged}); not changed", path=path
                    )
                if not (self.create and self._readonly is None):
                    raise StorageError(
                        f"{path} is a damaged pricepool store ({damaged}); not changed"
                    )
                # Moved before close: closing would delete a -wal it could not read.
                set_aside(path, damaged, _COMPANIONS)
                db.close()
                self._build()
                db = self._connection(readonly=False)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA:
                # Checked before anything (even the journal mode) is written to the file.
                raise StorageError(
                    f"{path} has schema version {version}, newer than this pricepool's "
                    f"{SCHEMA}; refusing to read or change it"
                )
            self._version = version
            if self.create and self._readonly is None:
                db.execute("PRAGMA journal_mode=WAL")
                # FULL syncs the WAL on every commit: a completed save survives a power cut.
                db.execute("PRAGMA synchronous=FULL")
                if version < SCHEMA:
                    self._migrate(db)
                    self._version = SCHEMA
        except BaseException:
            db.close()
            raise
        return db

    def _recognise(self, db: sqlite3.Connection, path: Path) -> tuple[bool, str | None]:
        """Whether the file is pricepool's, and why it is damaged (None when it is fine)."""
        try:
            app = db.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            ours = app == APPLICATION_ID or (app == 0 and tables >= _TABLES_V1)
            if not ours:
                raise NotAStoreError(
                    f"{path} is not a pricepool store (an SQLite database of something "
                    "else); not changed",
                    path=path,
                )
            check = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as err:
            with open(path, "rb") as file:
                head = file.read(100)
            # The header names the application even when the pages are damaged.
            return int.from_bytes(head[68:72], "big") == APPLICATION_ID, cause(err)
        return True, None if check == "ok" else str(check)

    def _build(self) -> None:
        """Create the database whole beside its path and link it into place (0600).

        Another process creating it at the same moment wins; this one then opens theirs.
        """
        target = Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path
        _makedirs(target.parent)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent)
        os.close(handle)
        try:
            db = sqlite3.connect(temp, isolation_level=None)
            try:
                with _transaction(db):
                    for step in MIGRATIONS:
                        step(db)
                    db.execute(f"PRAGMA user_version = {SCHEMA}")
                db.execute("PRAGMA journal_mode=WAL")
            finally:
                db.close()
            with contextlib.suppress(FileExistsError):
                os.link(temp, target)
        finally:
            for suffix in ("", *_COMPANIONS):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp + suffix)

    def _connection(self, *, readonly: bool) -> sqlite3.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's.
        uri = self.path.absolute().as_uri()
        if not readonly:
            return sqlite3.connect(
                f"{uri}?mode=rw",
                uri=True,
                timeout=_BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        try:
            db = sqlite3.connect(
                f"{uri}?mode=ro",
                uri=True,
                timeout=_BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            db.execute("PRAGMA user_version").fetchone()
            return db
        except sqlite3.OperationalError:
            # A WAL database in a folder we cannot write has no -shm to share: read it as
            # it is on disk, which nobody can be changing without writing that folder.
            return sqlite3.connect(
                f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
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
        db = self._connect(write=False)
        if db is None:
            return []
        try:
            return [name for (name,) in db.execute("SELECT id FROM homes ORDER BY id")]
        except sqlite3.Error as err:
            raise StorageError(f"cannot read {self.path}: {cause(err)}") from err

    def _load(self, home_id: str) -> Snapshot | None:
        db = self._connect(write=False)
        if db is None:
            self._known[home_id] = Known(0)
            return None
        try:
            # One read transaction: a consistent view while another process writes.
            with _transaction(db, "BEGIN"):
                found = _read(db, home_id)
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot read home {home_id!r} from {self.path}: {cause(err)}"
            ) from err
        except BAD_VALUE as err:
            why = f"{type(err).__name__}: {err}"
            if not self.create or self._readonly is not None:
                raise StorageError(
                    f"home {home_id!r} in {self.path} holds a bad value ({why}); not changed"
                ) from err
            found = self._set_aside(db, home_id, why)
        if found is None:
            self._known[home_id] = Known(0)
            return None
        snapshot, revision = found
        self._known[home_id] = Known.of(revision, snapshot)
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
        log.warning(
            "home %r in %s holds a bad value (%s); moved its rows to %s and starting it empty",
            home_id,
            self.path,
            why,
            target,
        )
        return None

    def _save(self, snapshot: Snapshot) -> Snapshot | None:
        db = self._connect(write=True)
        assert db is not None
        home = snapshot.home
        known = self._known.get(home.id, Known())
        try:
            with _transaction(db):
                key, revision = _home_row(db, home)
                before = db.total_changes
                others = known.revision != revision
                rev = revision + 1
                stored = _groups(db, key)
                new, answered, shrunk = learned(snapshot, known)
                for group in new:
                    if ident(group) not in stored:
                        _paint(db, key, group, snapshot.members(group.id), rev, stored)
                for group in shrunk:
                    entry = stored.get(ident(group))
                    if entry is not None:
                        _trim(db, key, entry[0], group.span.seconds, kept(snapshot, group), stored)
                cover = _add_coverage(db, key, answered, rev)
                _merge_pending(db, key, snapshot, cover)
                delta = _since(db, key, known.revision, snapshot) if others else None
                if db.total_changes == before:
                    # Nothing new: other writers need not look for a delta.
                    rev = revision
                else:
                    db.execute("UPDATE homes SET revision = ? WHERE key = ?", (rev, key))
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot save home {home.id!r} to {self.path}: {_sql_cause(err)}"
            ) from err
        self._known[home.id] = known.after(rev, snapshot, stored, cover)
        return delta

    def _evict(self, home_id: str, groups: list[Group]) -> int:
        db = self._connect(write=True)
        assert db is not None
        try:
            with _transaction(db):
                found = db.execute("SELECT key FROM homes WHERE id = ?", (home_id,)).fetchone()
                if found is None:
                    return 0
                (key,) = found
                stored = _groups(db, key)
                dropped = 0
                for group in groups:
                    entry = stored.pop(ident(group), None)
                    if entry is not None:
                        dropped += _drop(db, key, entry[0], group.span.seconds)
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot evict from home {home_id!r} in {self.path}: {_sql_cause(err)}"
            ) from err
        return dropped


def _os_cause(err: OSError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied ({cause(err)})"
    if err.errno == errno.ENOTDIR:
        return f"a part of its folder path is a file ({cause(err)})"
    return cause(err)


def _sql_cause(err: sqlite3.Error) -> str:
    if getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY or "readonly" in str(err):
        return f"the store is read-only ({cause(err)}); changes are kept in memory only"
    return cause(err)


def _unwritable(path: Path) -> str | None:
    """Why this process cannot write the database at ``path`` (None when it can)."""
    folder = path.resolve().parent
    for where in (path, folder):
        if not os.access(where, os.W_OK):
            try:
                # access() gives no reason; opening for writing gives the OS's words.
                if where.is_dir():
                    with tempfile.TemporaryFile(dir=where):
                        pass
                else:
                    os.close(os.open(where, os.O_WRONLY))
            except OSError as err:
                return f"{where}: {cause(err)}"
            return f"{where} is not writable"
    return None


def _makedirs(folder: Path) -> None:
    """Create ``folder`` and missing parents, owner-only (0700)."""
    missing: list[Path] = []
    at = folder
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for part in reversed(missing):
        with contextlib.suppress(FileExistsError):
            part.mkdir(mode=0o700)


def _home_row(db: sqlite3.Connection, home: HomeInfo) -> tuple[int, int]:
    key, revision = db.execute(
        "INSERT INTO homes (id, time_zone, currency, nickname) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone, "
        "currency = excluded.currency, nickname = excluded.nickname "
        "RETURNING key, revision",
        (home.id, home.time_zone, home.currency, home.nickname),
    ).fetchone()
    return int(key), int(revision)


Stored = dict[Ident, tuple[int, float, Edge]]
"""The home's stored groups by identity: store id, fetch time, span."""


def _ident(at: float, a: float, b: float) -> Ident:
    return (float(at), math.floor(a), math.ceil(b))


def _groups(db: sqlite3.Connection, key: int) -> Stored:
    stored: Stored = {}
    for gid, at, a, b in db.execute(
        "SELECT id, fetched_at, span_start, span_end FROM groups WHERE home = ?", (key,)
    ):
        found = _ident(at, a, b)
        stored[found] = (gid, float(at), (found[1], found[2]))
    return stored


_INSERT = (
    "INSERT OR IGNORE INTO intervals "
    "(home, start, length_s, total, energy, tax, level, currency, group_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _paint(
    db: sqlite3.Connection,
    key: int,
    group: Group,
    members: Sequence[PriceInterval],
    rev: int,
    stored: Stored,
) -> None:
    """Write one fetch over its span: older fetches' intervals there go, newer ones stay."""
    at = float(stamp(group.fetched_at))
    span = group.span.seconds
    a, b = span
    near = [v for v in stored.values() if v[2][0] < b and a < v[2][1]]
    older = [gid for gid, when, _ in near if when < at]
    for gid in older:
        db.execute(
            "DELETE FROM intervals WHERE home = ? AND group_id = ? AND start >= ? AND start < ?",
            (key, gid, a, b),
        )
    own = painted(span, [e for _, when, e in near if when > at])
    gid = max((v[0] for v in stored.values()), default=0) + 1
    starts = [int(m.start.timestamp()) for m in members]
    for lo, hi in own:
        i = bisect_left(starts, lo)
        j = bisect_left(starts, hi, i)
        db.executemany(_INSERT, ((key, *row(members[k]), gid) for k in range(i, j)))
    if own:
        # Kept even without intervals: an empty answer still wins over older fetches
        # that another writer saves later.
        db.execute(
            "INSERT INTO groups (home, id, fetched_at, span_start, span_end, rev) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                gid,
                stamp(group.fetched_at),
                stamp(group.span.start),
                stamp(group.span.end),
                rev,
            ),
        )
        stored[ident(group)] = (gid, at, span)
    _drop_spent(db, key, older, stored)


def _trim(
    db: sqlite3.Connection, key: int, gid: int, span: Edge, keep: set[int], stored: Stored
) -> None:
    """Drop the stored intervals of ``gid`` in ``span`` whose starts are not ``keep``."""
    gone = [
        (key, start)
        for (start,) in db.execute(
            "SELECT start FROM intervals WHERE home = ? AND group_id = ? AND start >= ? "
            "AND start < ?",
            (key, gid, *span),
        )
        if start not in keep
    ]
    db.executemany("DELETE FROM intervals WHERE home = ? AND start = ?", gone)
    _drop_spent(db, key, [gid], stored)


def _drop_spent(db: sqlite3.Connection, key: int, gids: Sequence[int], stored: Stored) -> None:
    """Forget the fetches among ``gids`` that hold no interval and whose whole span a
    newer fetch answered: nothing older can be painted under them any more."""
    by_id = {entry[0]: (name, entry) for name, entry in stored.items()}
    for gid in gids:
        if gid not in by_id:
            continue
        name, (_, at, span) = by_id[gid]
        if painted(span, [e for _, when, e in stored.values() if when > at]):
            continue
        found = db.execute(
            "SELECT 1 FROM intervals WHERE home = ? AND group_id = ? LIMIT 1", (key, gid)
        ).fetchone()
        if found is None:
            db.execute("DELETE FROM groups WHERE home = ? AND id = ?", (key, gid))
            del stored[name]


def _coverage(db: sqlite3.Connection, key: int) -> list[tuple[int, int, int]]:
    return [
        (math.floor(a), math.ceil(b), rev)
        for a, b, rev in db.execute(
            "SELECT span_start, span_end, rev FROM coverage WHERE home = ?", (key,)
        )
    ]


def _add_coverage(
    db: sqlite3.Connection, key: int, answered: Sequence[Edge], rev: int
) -> list[Edge]:
    """Store the parts of ``answered`` not stored yet; the home's coverage after."""
    cover = union((a, b) for a, b, _ in _coverage(db, key))
    added = [e for a, b in answered for e in subtract(a, b, cover)]
    db.executemany(
        "INSERT INTO coverage (home, span_start, span_end, rev) VALUES (?, ?, ?, ?)",
        [(key, a, b, rev) for a, b in added],
    )
    return union([*cover, *added])


def _merge_pending(
    db: sqlite3.Connection, key: int, snapshot: Snapshot, cover: Sequence[Edge]
) -> None:
    stored = [
        (math.floor(a), math.ceil(b), float(t))
        for a, b, t in db.execute(
            "SELECT span_start, span_end, retry_at FROM pending WHERE home = ?", (key,)
        )
    ]
    merged = merge_pending(stored, pending_edges(snapshot.pending), cover)
    if merged != sorted(stored):
        db.execute("DELETE FROM pending WHERE home = ?", (key,))
        db.executemany(
            "INSERT INTO pending (home, span_start, span_end, retry_at) VALUES (?, ?, ?, ?)",
            [(key, a, b, t) for a, b, t in merged],
        )


def _since(db: sqlite3.Connection, key: int, revision: int, snapshot: Snapshot) -> Snapshot | None:
    """What writes after ``revision`` stored that ``snapshot`` lacks."""
    mine = {ident(g) for g in snapshot.groups}
    fresh = [
        gid
        for gid, at, a, b in db.execute(
            "SELECT id, fetched_at, span_start, span_end FROM groups WHERE home = ? AND rev > ?",
            (key, revision),
        )
        if _ident(at, a, b) not in mine
    ]
    have = union(s.seconds for s in snapshot.coverage)
    gained = union(
        e for a, b, _ in _coverage(db, key) if _ > revision for e in subtract(a, b, have)
    )
    if not fresh and not gained:
        return None
    rows: dict[int, tuple[Any, ...]] = {}
    select = "SELECT start, length_s, total, energy, tax, level, currency, group_id FROM intervals "
    for gid in fresh:
        for found in db.execute(select + "WHERE home = ? AND group_id = ?", (key, gid)):
            rows[found[0]] = found
    for a, b in gained:
        for found in db.execute(
            select + "WHERE home = ? AND start >= ? AND start < ?", (key, a, b)
        ):
            rows[found[0]] = found
    tz = snapshot.home.tz
    order = sorted(rows)
    gids = sorted({rows[s][7] for s in order})
    groups = []
    for gid in gids:
        at, a, b = db.execute(
            "SELECT fetched_at, span_start, span_end FROM groups WHERE home = ? AND id = ?",
            (key, gid),
        ).fetchone()
        groups.append(Group(gid, instant(at), Span(instant(a), instant(b))))
    pending = [
        Pending(Span(instant(a), instant(b)), instant(t))
        for a, b, t in db.execute(
            "SELECT span_start, span_end, retry_at FROM pending WHERE home = ?", (key,)
        )
    ]
    return Snapshot(
        snapshot.home,
        groups=groups,
        intervals=[interval(rows[s][:7], tz) for s in order],
        group_ids=[rows[s][7] for s in order],
        coverage=spans(gained),
        pending=pending,
    )


def _drop(db: sqlite3.Connection, key: int, gid: int, span: Edge) -> int:
    """Remove the group ``gid`` and the part of its span only it answered."""
    a, b = span
    dropped = db.execute(
        "DELETE FROM intervals WHERE home = ? AND group_id = ?", (key, gid)
    ).rowcount
    db.execute("DELETE FROM groups WHERE home = ? AND id = ?", (key, gid))
    kept = [
        (start, start + length)
        for start, length in db.execute(
            "SELECT start, length_s FROM intervals WHERE home = ? AND start >= ? AND start < ?",
            (key, a, b),
        )
    ]
    lost = subtract(a, b, union(kept))
    if lost:
        rows = _coverage(db, key)
        db.execute("DELETE FROM coverage WHERE home = ?", (key,))
        db.executemany(
            "INSERT INTO coverage (home, span_start, span_end, rev) VALUES (?, ?, ?, ?)",
            [(key, lo, hi, rev) for s, e, rev in rows for lo, hi in subtract(s, e, lost)],
        )
    return int(dropped)


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
    coverage = span_union(
        Span(instant(a), instant(b))
        for a, b in db.execute("SELECT span_start, span_end FROM coverage WHERE home = ?", (key,))
    )
    pending = [
        Pending(Span(instant(a), instant(b)), instant(at))
        for a, b, at in db.execute(
            "SELECT span_start, span_end, retry_at FROM pending WHERE home = ? ORDER BY rowid",
            (key,),
        )
    ]
    # A fetch without intervals stays stored for later saves to paint around; a pool
    # holds none.
    live = set(group_ids)
    snapshot = Snapshot(
        home,
        groups=[g for g in groups if g.id in live],
        intervals=intervals,
        group_ids=group_ids,
        coverage=coverage,
        pending=pending,
    )
    check(snapshot)
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
