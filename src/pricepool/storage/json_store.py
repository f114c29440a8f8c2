"""One JSON document per home, in Home Assistant's versioned envelope.

``<folder>/pricepool.<home id>.json`` (the id percent-encoded, so distinct ids never share
a file) holds::

    {"version": 1, "minor_version": 1, "key": "pricepool.<home id>",
     "data": {"home": {"id", "time_zone", "currency", "nickname"},
              "groups": [{"id", "fetched_at", "span": [start, end],
                          "rows": [[start_s, length_s, total, energy, tax, level], ...]}],
              "coverage": [[start, end], ...],
              "pending": [[start, end, retry_at], ...]}}

Instants outside rows are ISO 8601 in UTC; a row's start is POSIX seconds, and a row gets a
seventh element, its currency, only where that differs from the home's. A save writes a
temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
folder, so a crash leaves either the old document or the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote, unquote

from ..errors import StorageError
from ..model import HomeInfo, PriceInterval, Span
from ._codec import BAD_VALUE, cause, interval, row, set_aside
from .base import Group, Pending, Snapshot

__all__ = ["MINOR_VERSION", "VERSION", "JsonFileStore"]

VERSION = 1
MINOR_VERSION = 1

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[tuple[int, int], tuple[tuple[int, int], Migration]] = {}
"""From a (major, minor) version to the next one and the function that gets the data there.

Empty while 1.1 is the only layout; the next layout registers its step from (1, 1) here.
"""

_PREFIX = "pricepool."
_SUFFIX = ".json"
_STALE_SECONDS = 60
# json.JSONDecodeError and UnicodeDecodeError are ValueErrors; a missing key or a short list
# is a KeyError or IndexError.
_UNDECODABLE = (*BAD_VALUE, KeyError, IndexError)
_R = TypeVar("_R")


class JsonFileStore:
    """Snapshots as JSON documents in ``folder``, one per home.

    ``save`` builds the document in the caller's thread (from the immutable snapshot) and
    writes it in a worker thread; saves of one home are written in call order.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        # Homes whose file we have read or written: it is ours to replace.
        self._known: set[str] = set()
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
            return await asyncio.to_thread(self._locked, self._read, home_id)

    async def save(self, snapshot: Snapshot) -> None:
        document = encode(snapshot)
        async with self._lock(snapshot.home.id):
            await asyncio.to_thread(self._locked, self._write, snapshot.home.id, document)

    async def homes(self) -> list[str]:
        return await asyncio.to_thread(self._homes)

    async def close(self) -> None:
        """Nothing to release: files are open only while read or written."""

    def _locked(self, call: Callable[..., _R], *args: Any) -> _R:
        with self._mutex:
            return call(*args)

    def _lock(self, home_id: str) -> asyncio.Lock:
        return self._locks.setdefault(home_id, asyncio.Lock())

    def _homes(self) -> list[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except OSError as err:
            raise StorageError(f"cannot list {self.folder}: {cause(err)}") from err
        return sorted(
            unquote(name[len(_PREFIX) : -len(_SUFFIX)])
            for name in names
            if name.startswith(_PREFIX)
            and name.endswith(_SUFFIX)
            and len(name) > len(_PREFIX) + len(_SUFFIX)
        )

    def _read(self, home_id: str) -> Snapshot | None:
        path = self.path(home_id)
        if home_id not in self._known:
            _sweep(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self._known.add(home_id)
            return None
        except OSError as err:
            raise StorageError(f"cannot read {path}: {cause(err)}") from err
        try:
            document = json.loads(raw)
            data = _open_envelope(document, path, f"{_PREFIX}{home_id}")
            snapshot = decode(data, home_id)
        except _UNDECODABLE as err:
            why = f"{type(err).__name__}: {err}"
            try:
                set_aside(path, why)
            except OSError as failed:
                raise StorageError(
                    f"{path} is unreadable ({why}) and could not be moved aside: {cause(failed)}"
                ) from failed
            snapshot = None
        self._known.add(home_id)
        return snapshot

    def _write(self, home_id: str, document: dict[str, Any]) -> None:
        path = self.path(home_id)
        if home_id not in self._known:
            # Never replace a file we have not looked at: it may be from a newer version
            # (refused, raises) or corrupt (set aside for inspection).
            self._read(home_id)
        text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
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
            raise StorageError(f"cannot save {path}: {cause(err)}") from err
        self._known.add(home_id)


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


def _open_envelope(document: Any, path: Path, key: str) -> dict[str, Any]:
    """The migrated ``data`` of an envelope; StorageError for a newer or unknown version."""
    if not isinstance(document, dict):
        raise TypeError(f"expected an object, got {type(document).__name__}")
    major, minor = document["version"], document.get("minor_version", 1)
    if not isinstance(major, int) or not isinstance(minor, int):
        raise TypeError(f"version {major!r}.{minor!r} is not a pair of integers")
    if major > VERSION:
        raise StorageError(
            f"{path} was written by a newer pricepool (version {major}.{minor}; this one reads "
            f"up to {VERSION}.x); refusing to read or overwrite it"
        )
    if document.get("key") != key:
        raise ValueError(f"key {document.get('key')!r} is not {key!r}")
    data = document["data"]
    # A newer minor version of our major only adds: it reads as is.
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
    return data


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


def encode(snapshot: Snapshot) -> dict[str, Any]:
    """The envelope holding ``snapshot``. O(n)."""
    home = snapshot.home
    rows: dict[int, list[list[Any]]] = {group.id: [] for group in snapshot.groups}
    for item, group_id in zip(snapshot.intervals, snapshot.group_ids, strict=True):
        found = rows.get(group_id)
        if found is None:
            raise StorageError(
                f"snapshot of home {home.id!r} has an interval at {item.start.isoformat()} "
                f"in group {group_id}, which is not among its groups"
            )
        values = list(row(item))
        if values[-1] == home.currency:
            values.pop()
        found.append(values)
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
            "groups": [
                {
                    "id": group.id,
                    "fetched_at": _iso(group.fetched_at),
                    "span": [_iso(group.span.start), _iso(group.span.end)],
                    "rows": rows[group.id],
                }
                for group in snapshot.groups
            ],
            "coverage": [[_iso(span.start), _iso(span.end)] for span in snapshot.coverage],
            "pending": [
                [_iso(p.span.start), _iso(p.span.end), _iso(p.retry_at)] for p in snapshot.pending
            ],
        },
    }


def decode(data: dict[str, Any], home_id: str) -> Snapshot:
    """The snapshot in ``data``; one of ``_UNDECODABLE`` when it is malformed."""
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
    held: list[tuple[int, PriceInterval, int]] = []
    for entry in data["groups"]:
        group_id = entry["id"]
        if isinstance(group_id, bool) or not isinstance(group_id, int):
            raise TypeError(f"group id must be an integer, got {group_id!r}")
        groups.append(Group(group_id, _instant(entry["fetched_at"]), _span(entry["span"])))
        for values in entry["rows"]:
            if len(values) == 6:
                values = [*values, home.currency]
            item = interval(values, tz)
            held.append((values[0], item, group_id))
    held.sort(key=lambda entry: entry[0])
    for before, after in itertools.pairwise(held):
        if before[0] == after[0]:
            raise ValueError(f"two intervals start at {after[1].start.isoformat()}")
    return Snapshot(
        home,
        groups=groups,
        intervals=[entry[1] for entry in held],
        group_ids=[entry[2] for entry in held],
        coverage=[_span(span) for span in data["coverage"]],
        pending=[
            Pending(Span(_instant(start), _instant(end)), _instant(retry_at))
            for start, end, retry_at in data["pending"]
        ],
    )
