"""One JSON document per home, in Home Assistant's versioned envelope.

``<folder>/pricepool.<home id>.json`` (the id percent-encoded, so distinct ids never share
a file) holds::

    {"version": 1, "minor_version": 2, "key": "pricepool.<home id>",
     "data": {"home": {"id", "time_zone", "currency", "nickname"},
              "revision": n,
              "groups": [{"id", "fetched_at", "span": [start, end], "rev",
                          "rows": [[start_s, length_s, total, energy, tax, level], ...]}],
              "coverage": [[start, end], ...], "coverage_revs": [rev, ...],
              "pending": [[start, end, retry_at], ...]}}

Instants outside rows are ISO 8601 in UTC; a row's start is POSIX seconds, and a row gets a
seventh element, its currency, only where that differs from the home's. Group ids are the
store's own; ``rev`` is the revision of the save that wrote a group or a span.

A save holds ``pricepool.<home id>.json.lock`` (``flock``), reads the document, merges
(``_merge``), writes a temporary file beside the target, fsyncs it, renames it over the
target and fsyncs the folder, so a crash leaves either the old document or the new one and
no writer's save is lost. A file that is not one of this store's documents is refused and
never changed; one that is ours but damaged is renamed aside (``.corrupt.<UTC time>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import glob
import itertools
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, unquote

from ..errors import StorageError
from ..model import HomeInfo, PriceInterval, Span
from ._codec import BAD_VALUE, cause, interval, row, set_aside
from ._merge import Book, Known
from .base import Group, NotAStoreError, Pending, Snapshot

__all__ = ["MINOR_VERSION", "VERSION", "JsonFileStore"]

VERSION = 1
MINOR_VERSION = 2

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[tuple[int, int], tuple[tuple[int, int], Migration]] = {
    # 1.2 adds revisions ("revision", each group's "rev", "coverage_revs"); absent is 0.
    (1, 1): ((1, 2), lambda data: data),
}
"""From a (major, minor) version to the next one and the function that gets the data there."""

_PREFIX = "pricepool."
_SUFFIX = ".json"
_STALE_SECONDS = 60
# A year of quarter-hours is ~2 MiB; a file far larger is not one of ours.
_LARGEST = 256 * 2**20
# json.JSONDecodeError and UnicodeDecodeError are ValueErrors; a missing key or a short list
# is a KeyError or IndexError.
_UNDECODABLE = (*BAD_VALUE, KeyError, IndexError)
_R = TypeVar("_R")


class JsonFileStore:
    """Snapshots as JSON documents in ``folder``, one per home, shared by any number of
    processes.

    A save takes the home's lock file (``pricepool.<id>.json.lock``, ``flock``), reads the
    document, merges the snapshot in (see ``_merge``) and renames the new document over
    it. Reads take no lock: a rename is atomic. With ``create=False`` a missing folder
    raises StorageError and nothing is ever created, moved or changed (for read-only
    commands); otherwise the folder is created (0700) on the first save.
    """

    def __init__(self, folder: str | os.PathLike[str], *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.create = create
        self._known: dict[str, Known] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Also held in the worker thread: a cancelled save's thread runs on after the asyncio
        # lock is released, and an older document must not land after a newer one.
        self._mutex = threading.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"JsonFileStore({str(self.folder)!r})"

    def path(self, home_id: str) -> Path:
        """The file holding ``home_id``."""
        return self.folder / f"{_PREFIX}{quote(home_id, safe='')}{_SUFFIX}"

    async def load(self, home_id: str) -> Snapshot | None:
        async with self._lock(home_id):
            return await asyncio.to_thread(self._locked, self._load, home_id)

    async def save(self, snapshot: Snapshot) -> Snapshot | None:
        async with self._lock(snapshot.home.id):
            return await asyncio.to_thread(self._locked, self._save, snapshot)

    async def evict(self, home_id: str, groups: Sequence[Group]) -> int:
        async with self._lock(home_id):
            return await asyncio.to_thread(self._locked, self._evict, home_id, list(groups))

    async def homes(self) -> list[str]:
        return await asyncio.to_thread(self._homes)

    async def close(self) -> None:
        """Nothing to release: files are open only while read or written."""

    def _locked(self, call: Callable[..., _R], *args: Any) -> _R:
        with self._mutex:
            return call(*args)

    def _lock(self, home_id: str) -> asyncio.Lock:
        return self._locks.setdefault(home_id, asyncio.Lock())

    def _check_folder(self) -> bool:
        """True when the folder exists; StorageError when it is something else."""
        try:
            info = self.folder.stat()
        except FileNotFoundError:
            if not self.create:
                raise StorageError(f"{self.folder} does not exist") from None
            return False
        except NotADirectoryError:
            raise NotAStoreError(
                f"{self.folder} cannot be a store folder: a part of its path is a file",
                path=self.folder,
            ) from None
        except OSError as err:
            raise StorageError(f"cannot open {self.folder}: {cause(err)}") from err
        if not stat.S_ISDIR(info.st_mode):
            raise NotAStoreError(
                f"{self.folder} is a file, not a folder; a JSON store is a folder of files",
                path=self.folder,
            )
        return True

    def _homes(self) -> list[str]:
        if not self._check_folder():
            return []
        try:
            names = os.listdir(self.folder)
        except OSError as err:
            raise StorageError(f"cannot list {self.folder}: {cause(err)}") from err
        return sorted(
            unquote(name[len(_PREFIX) : -len(_SUFFIX)])
            for name in names
            if name.startswith(_PREFIX)
            and name.endswith(_SUFFIX)
            and len(name) > len(_PREFIX) + len(_SUFFIX)
        )

    def _load(self, home_id: str) -> Snapshot | None:
        if not self._check_folder():
            return None
        book = self._read(home_id, locked=False)
        if book is None:
            self._known[home_id] = Known(0)
            return None
        self._known[home_id] = book.known()
        return book.snapshot()

    def _read(self, home_id: str, *, locked: bool) -> Book | None:
        """The stored book of ``home_id``; None when there is none (or it was set aside)."""
        path = self.path(home_id)
        if self.create:
            _sweep(path)
        try:
            size = path.stat().st_size
            if size > _LARGEST:
                raise NotAStoreError(
                    f"{path} is not a pricepool store: {size / 2**20:.0f} MiB is more than "
                    f"any store holds (at most {_LARGEST // 2**20} MiB)",
                    path=path,
                )
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise NotAStoreError(f"{path} is a folder, not a pricepool store", path=path) from None
        except PermissionError as err:
            raise StorageError(f"cannot read {path}: permission denied ({cause(err)})") from err
        except OSError as err:
            raise StorageError(f"cannot read {path}: {cause(err)}") from err
        key = f"{_PREFIX}{home_id}"
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as err:
            # Only a file that starts as this store writes its files is ours to move.
            why = "not valid JSON" if isinstance(err, ValueError) else "nested too deeply"
            if not _looks_ours(raw):
                raise NotAStoreError(
                    f"{path} is not a pricepool store ({why})", path=path
                ) from None
            return self._damaged(path, why, locked=locked, home_id=home_id)
        if not _envelope(document):
            raise NotAStoreError(
                f"{path} is not a pricepool store (no pricepool envelope)", path=path
            )
        try:
            data, version = _open_envelope(document, path, key)
            book = decode(data, home_id)
        except (*_UNDECODABLE, RecursionError) as err:
            return self._damaged(
                path, f"{type(err).__name__}: {err}", locked=locked, home_id=home_id
            )
        book.version = version
        return book

    def _damaged(self, path: Path, why: str, *, locked: bool, home_id: str) -> Book | None:
        """A store file of ours that cannot be read: moved aside when we may write."""
        if not self.create:
            raise StorageError(f"{path} is damaged ({why}); not changed")
        if not locked:
            # Set aside only under the lock, after reading again: a writer may have just
            # replaced it with a good document.
            with self._flock(home_id):
                return self._read(home_id, locked=True)
        try:
            set_aside(path, why)
        except OSError as failed:
            raise StorageError(
                f"{path} is damaged ({why}) and could not be moved aside: {cause(failed)}"
            ) from failed
        return None

    @contextlib.contextmanager
    def _flock(self, home_id: str) -> Iterator[None]:
        """The home's lock file, held exclusively: one writer per home at a time."""
        path = self.path(home_id)
        lock = path.with_name(path.name + ".lock")
        try:
            if not self._check_folder():
                _makedirs(self.folder)
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            raise StorageError(f"cannot save {path}: {_write_cause(err, self.folder)}") from err
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)

    def _save(self, snapshot: Snapshot) -> Snapshot | None:
        home_id = snapshot.home.id
        path = self.path(home_id)
        if not self.create:
            raise StorageError(f"{self.folder} was opened read-only; not saving {path}")
        with self._flock(home_id):
            book = self._read(home_id, locked=True)
            fresh = book is None
            if book is None:
                book = Book(snapshot.home)
            if book.version > (VERSION, MINOR_VERSION):
                raise StorageError(
                    f"{path} was written by a newer pricepool (version {book.version[0]}."
                    f"{book.version[1]}; this one writes {VERSION}.{MINOR_VERSION}); refusing "
                    "to overwrite it"
                )
            delta, known, changed = book.save(snapshot, self._known.get(home_id, Known()))
            # A home saved for the first time is stored even empty, as by SQLite.
            if changed or fresh:
                self._write(path, book)
        self._known[home_id] = known
        return delta

    def _evict(self, home_id: str, groups: list[Group]) -> int:
        path = self.path(home_id)
        if not self.create:
            raise StorageError(f"{self.folder} was opened read-only; not changing {path}")
        with self._flock(home_id):
            book = self._read(home_id, locked=True)
            if book is None:
                return 0
            held = len(book.groups)
            dropped = book.evict(groups)
            # A fetch without intervals goes too, and the span it answered with it.
            if dropped or len(book.groups) != held:
                self._write(path, book)
        return dropped

    def _write(self, path: Path, book: Book) -> None:
        text = json.dumps(encode(book), separators=(",", ":"), allow_nan=False).encode()
        try:
            # mkstemp creates the file 0600, so the document is never readable by others.
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temp, path)
            except BaseException:
                # Also on cancellation or KeyboardInterrupt: no stray temporaries.
                Path(temp).unlink(missing_ok=True)
                raise
            _sync_folder(self.folder)
        except OSError as err:
            raise StorageError(f"cannot save {path}: {_write_cause(err, self.folder)}") from err


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


def _write_cause(err: OSError, folder: Path) -> str:
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"the store is read-only ({cause(err)}); changes are kept in memory only"
    return cause(err)


def _looks_ours(raw: bytes) -> bool:
    """Whether ``raw`` begins as this store writes its documents (the envelope's head)."""
    head = raw[:200]
    return head.startswith(b'{"version":') and b'"key":"pricepool.' in head


def _envelope(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and "version" in document
        and isinstance(document.get("key"), str)
        and document["key"].startswith(_PREFIX)
    )


def _sweep(path: Path) -> None:
    """Remove temporaries a killed writer left beside ``path``.

    Only those a minute old: a younger one may belong to a writer in another process.
    """
    cutoff = time.time() - _STALE_SECONDS
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            # Best effort: a leftover costs disk space, never correctness.
            if temp.stat().st_mtime < cutoff:
                temp.unlink()


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _open_envelope(
    document: dict[str, Any], path: Path, key: str
) -> tuple[dict[str, Any], tuple[int, int]]:
    """The migrated ``data`` of an envelope and the version it was written in;
    StorageError for a newer major or an unknown version."""
    major, minor = document["version"], document.get("minor_version", 1)
    if isinstance(major, bool) or isinstance(minor, bool):
        raise TypeError(f"version {major!r}.{minor!r} is not a pair of integers")
    if not isinstance(major, int) or not isinstance(minor, int):
        raise TypeError(f"version {major!r}.{minor!r} is not a pair of integers")
    if major > VERSION:
        raise StorageError(
            f"{path} was written by a newer pricepool (version {major}.{minor}; this one reads "
            f"up to {VERSION}.x); refusing to read or overwrite it"
        )
    if document.get("key") != key:
        raise ValueError(f"key {document.get('key')!r} is not {key!r}")
    written = (major, minor)
    data = document["data"]
    # A newer minor version of our major only adds: it reads as is (and is not rewritten).
    while (major, minor) < (VERSION, MINOR_VERSION):
        step = MIGRATIONS.get((major, minor))
        if step is None:
            raise StorageError(
                f"{path} has version {major}.{minor}, which this pricepool cannot migrate "
                f"(it reads {VERSION}.{MINOR_VERSION})"
            )
        (major, minor), migrate = step
        data = migrate(data)
    if not isinstance(data, dict):
        raise TypeError(f"data must be an object, got {type(data).__name__}")
    return data, written


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 instant, got {value!r}")
    found = datetime.fromisoformat(value)
    if found.tzinfo is None:
        raise ValueError(f"instant without an offset: {value!r}")
    return found


def _span(value: Any) -> Span:
    start, end = value
    return Span(_instant(start), _instant(end))


def _text(value: Any, name: str, *, optional: bool = False) -> Any:
    if (value is None and optional) or isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a string, got {value!r}")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return value


def encode(book: Book) -> dict[str, Any]:
    """The envelope holding ``book``. O(n)."""
    home = book.home
    rows: dict[int, list[list[Any]]] = {gid: [] for gid in book.groups}
    for start in sorted(book.rows):
        item, gid = book.rows[start]
        values = list(row(item))
        if values[-1] == home.currency:
            values.pop()
        rows[gid].append(values)
    return {
        "version": VERSION,
        "minor_version": MINOR_VERSION,
        "key": f"{_PREFIX}{home.id}",
        "data": {
            "home": {
                "id": home.id,
                "time_zone": home.time_zone,
                "currency": home.currency,
                "nickname": home.nickname,
            },
            "revision": book.revision,
            "groups": [
                {
                    "id": gid,
                    "fetched_at": _iso(group.fetched_at),
                    "span": [_iso(group.span.start), _iso(group.span.end)],
                    "rev": rev,
                    "rows": rows[gid],
                }
                for gid, (group, rev) in sorted(book.groups.items())
            ],
            "coverage": [[_iso(_at(a)), _iso(_at(b))] for a, b, _ in book.coverage],
            "coverage_revs": [rev for _, _, rev in book.coverage],
            "pending": [[_iso(_at(a)), _iso(_at(b)), _iso(_at(t))] for a, b, t in book.pending],
        },
    }


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def decode(data: dict[str, Any], home_id: str) -> Book:
    """The book in ``data``; one of ``_UNDECODABLE`` when it is malformed."""
    raw = data["home"]
    home = HomeInfo(
        _text(raw["id"], "home id"),
        _text(raw["time_zone"], "time_zone"),
        _text(raw.get("currency"), "currency", optional=True),
        _text(raw.get("nickname"), "nickname", optional=True),
    )
    if home.id != home_id:
        raise ValueError(f"holds home {home.id!r}, not {home_id!r}")
    tz = home.tz
    groups: list[Group] = []
    revs: dict[int, int] = {}
    held: list[tuple[int, PriceInterval, int]] = []
    for entry in data["groups"]:
        group_id = _int(entry["id"], "group id")
        if group_id in revs:
            raise ValueError(f"two groups have id {group_id}")
        group = Group(group_id, _instant(entry["fetched_at"]), _span(entry["span"]))
        groups.append(group)
        revs[group_id] = _int(entry.get("rev", 0), "group rev")
        a, b = group.span.seconds
        for values in entry["rows"]:
            if len(values) == 6:
                values = [*values, home.currency]
            item = interval(values, tz)
            if not a <= values[0] < b:
                raise ValueError(f"interval at {item.start.isoformat()} lies outside its group")
            held.append((values[0], item, group_id))
    held.sort(key=lambda entry: entry[0])
    for before, after in itertools.pairwise(held):
        if before[0] + int(before[1].length.total_seconds()) > after[0]:
            raise ValueError(
                f"intervals at {before[1].start.isoformat()} and {after[1].start.isoformat()} "
                "overlap"
            )
    coverage = [_span(span) for span in data["coverage"]]
    cover_revs = data.get("coverage_revs", [0] * len(coverage))
    if not isinstance(cover_revs, list) or len(cover_revs) != len(coverage):
        raise ValueError("coverage_revs does not match coverage")
    snapshot = Snapshot(
        home,
        groups=groups,
        intervals=[entry[1] for entry in held],
        group_ids=[entry[2] for entry in held],
        coverage=coverage,
        pending=[
            Pending(Span(_instant(start), _instant(end)), _instant(retry_at))
            for start, end, retry_at in data["pending"]
        ],
    )
    revision = _int(data.get("revision", 0), "revision")
    return Book.of(snapshot, revision, revs, [_int(r, "coverage rev") for r in cover_revs])
