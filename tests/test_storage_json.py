"""JsonFileStore: the envelope, atomic writes, corrupt and newer files, failed saves."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pricepool import HomeInfo, PriceInterval, Span, StorageError
from pricepool.storage import json_store
from pricepool.storage.base import Group, Pending, Snapshot
from pricepool.storage.json_store import JsonFileStore

from .storage_model import assert_same, set_aside


def files(folder: Path) -> list[str]:
    """The files in ``folder`` but the homes' lock files, which stay for good."""
    return sorted(name for name in os.listdir(folder) if not name.endswith(".lock"))


OSLO = "Europe/Oslo"
START = datetime(2025, 10, 25, 22, tzinfo=UTC)  # the night the clocks go back


def day(home_id: str = "home-1", count: int = 100, total: float = 1.0) -> Snapshot:
    home = HomeInfo(home_id, OSLO, "NOK", "Cabin")
    tz = home.tz
    step = timedelta(minutes=15)
    intervals = [
        PriceInterval(
            (START + step * k).astimezone(tz),
            START + step * (k + 1),
            total + k,
            None if k % 3 else 0.5,
            0.25,
            "CHEAP" if k % 2 else None,
            "EUR" if k == 7 else "NOK",
        )
        for k in range(count)
    ]
    span = Span(START, START + step * count)
    return Snapshot(
        home,
        groups=[Group(1, START + timedelta(seconds=total, microseconds=17), span)],
        intervals=intervals,
        group_ids=[1] * count,
        coverage=[span],
        pending=[Pending(Span(span.end, span.end + timedelta(days=1)), span.end)],
    )


async def test_save_writes_the_envelope_and_load_gives_the_snapshot_back(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    snapshot = day()
    await store.save(snapshot)
    document = json.loads(store.path("home-1").read_text())
    assert document["version"] == 1
    assert document["minor_version"] == 2
    assert document["key"] == "pricepool.home-1"
    assert document["data"]["home"]["time_zone"] == OSLO
    assert_same(await JsonFileStore(tmp_path).load("home-1"), snapshot)
    assert await store.homes() == ["home-1"]


async def test_the_file_is_private_and_no_temporary_is_left(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    await store.save(day(total=2.0))
    assert stat.S_IMODE(store.path("home-1").stat().st_mode) == 0o600
    assert files(tmp_path) == ["pricepool.home-1.json"]
    assert stat.S_IMODE(store.path("home-1").with_suffix(".json.lock").stat().st_mode) == 0o600


async def test_home_ids_are_escaped_and_listed_back(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    for name in ["../x", "a/b", "a_b"]:
        await store.save(day(name))
    assert set(files(tmp_path)) == {
        "pricepool.a%2Fb.json",
        "pricepool.a_b.json",
        "pricepool...%2Fx.json",
    }
    assert await store.homes() == ["../x", "a/b", "a_b"]


async def test_an_unknown_home_loads_as_none(tmp_path: Path) -> None:
    assert await JsonFileStore(tmp_path / "missing").load("home-1") is None
    assert await JsonFileStore(tmp_path / "missing").homes() == []


@pytest.mark.parametrize(
    "content",
    [
        # Truncated as only this store writes its head: ours, damaged.
        b'{"version":1,"minor_version":2,"key":"pricepool.home-1","data":{"home":{"id"',
        b'{"version": 1, "minor_version": 1, "key": "pricepool.home-1"}',
        b'{"version": 1, "minor_version": 1, "key": "pricepool.other", "data": {}}',
        b'{"version": 1, "minor_version": 1, "key": "pricepool.home-1", "data": {"home": 1}}',
    ],
)
async def test_a_corrupt_file_is_set_aside_logged_and_loads_as_none(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = JsonFileStore(tmp_path)
    path = store.path("home-1")
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, "pricepool.storage"):
        assert await store.load("home-1") is None
    [aside] = set_aside(tmp_path)
    assert aside.name.startswith("pricepool.home-1.json.corrupt.")
    assert aside.name.endswith("Z")
    assert aside.read_bytes() == content
    assert not path.exists()
    [record] = caplog.records
    assert str(path) in record.getMessage()
    assert str(aside) in record.getMessage()
    # The pool starts empty and its next save writes a fresh file beside the evidence.
    await store.save(day())
    assert_same(await JsonFileStore(tmp_path).load("home-1"), day())


async def test_a_bad_row_is_corrupt_too(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    document = json.loads(store.path("home-1").read_text())
    document["data"]["groups"][0]["rows"][3][2] = "cheap"
    store.path("home-1").write_text(json.dumps(document))
    assert await JsonFileStore(tmp_path).load("home-1") is None
    assert set_aside(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b"garbage",
        b'{"version": 1, "key": "notes"}',
        b"SQLite format 3\x00" + bytes(200),
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ],
    ids=["text", "bytes", "list", "garbage", "other-key", "sqlite", "deep-list", "deep-dict"],
)
async def test_a_file_that_is_not_ours_is_refused_and_never_changed(
    tmp_path: Path, content: bytes
) -> None:
    store = JsonFileStore(tmp_path)
    path = store.path("home-1")
    path.write_bytes(content)
    for attempt in (store.load("home-1"), store.save(day())):
        with pytest.raises(StorageError, match="is not a pricepool store") as caught:
            await attempt
        assert str(path) in str(caught.value)
    assert path.read_bytes() == content
    assert not set_aside(tmp_path)


def newer(path: Path, version: int = 2) -> bytes:
    content = json.dumps(
        {"version": version, "minor_version": 1, "key": "pricepool.home-1", "data": {"x": 1}}
    ).encode()
    path.write_bytes(content)
    return content


async def test_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    content = newer(store.path("home-1"))
    with pytest.raises(StorageError, match=r"newer pricepool \(version 2\.1"):
        await store.load("home-1")
    with pytest.raises(StorageError, match="newer"):
        await store.save(day())
    with pytest.raises(StorageError, match="newer"):
        await JsonFileStore(tmp_path).save(day())
    assert store.path("home-1").read_bytes() == content
    assert files(tmp_path) == ["pricepool.home-1.json"]


async def test_a_newer_minor_version_reads_as_is(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    document = json.loads(store.path("home-1").read_text())
    document["minor_version"] = 9
    document["data"]["added_later"] = True
    store.path("home-1").write_text(json.dumps(document))
    assert_same(await JsonFileStore(tmp_path).load("home-1"), day())


async def test_an_older_version_is_migrated_through_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    document = json.loads(store.path("home-1").read_text())
    data = document["data"]
    document.update(version=0, minor_version=3, data={"old": data})
    store.path("home-1").write_text(json.dumps(document))
    with pytest.raises(StorageError, match=r"version 0\.3, which this pricepool cannot migrate"):
        await JsonFileStore(tmp_path).load("home-1")
    monkeypatch.setitem(json_store.MIGRATIONS, (0, 3), ((1, 0), lambda d: d["old"]))
    monkeypatch.setitem(json_store.MIGRATIONS, (1, 0), ((1, 1), lambda d: d))
    # 1.1 to 1.2 is the table's own step: files of 1.1 read on.
    assert_same(await JsonFileStore(tmp_path).load("home-1"), day())


async def test_permission_denied_raises_naming_the_path_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod does not stop writes: make the rename fail instead.
    store = JsonFileStore(tmp_path)
    await store.save(day())
    before = store.path("home-1").read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StorageError) as caught:
        await store.save(day(total=9.0))
    assert str(store.path("home-1")) in str(caught.value)
    assert "Permission denied" in str(caught.value)
    assert store.path("home-1").read_bytes() == before
    assert files(tmp_path) == ["pricepool.home-1.json"]


async def test_disk_full_raises_and_leaves_no_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    before = store.path("home-1").read_bytes()
    real = os.fsync

    def full(handle: int) -> None:
        if stat.S_ISREG(os.fstat(handle).st_mode):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(handle)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match="No space left on device") as caught:
        await store.save(day(total=9.0))
    assert str(store.path("home-1")) in str(caught.value)
    assert store.path("home-1").read_bytes() == before
    assert files(tmp_path) == ["pricepool.home-1.json"]
    monkeypatch.setattr(os, "fsync", real)
    await store.save(day(total=9.0))  # the next save succeeds once there is room
    assert_same(await JsonFileStore(tmp_path).load("home-1"), day(total=9.0))


async def test_a_folder_that_cannot_exist_raises_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = JsonFileStore(blocker / "sub")
    with pytest.raises(StorageError, match=str(blocker / "sub")):
        await store.save(day())


async def test_an_unreadable_file_raises_rather_than_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())

    def refuse(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(StorageError, match=r"cannot read .*Permission denied"):
        await JsonFileStore(tmp_path).load("home-1")
    assert files(tmp_path) == ["pricepool.home-1.json"]


async def test_old_temporaries_of_a_killed_writer_are_swept_on_load(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    old = tmp_path / ".pricepool.home-1.json.abc123.tmp"
    young = tmp_path / ".pricepool.home-1.json.def456.tmp"
    other = tmp_path / ".pricepool.home-2.json.abc123.tmp"
    for temp in (old, young, other):
        temp.write_text("{half")
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))
    assert_same(await JsonFileStore(tmp_path).load("home-1"), day())
    assert files(tmp_path) == sorted([young.name, other.name, store.path("home-1").name])


@pytest.mark.parametrize("start", [10**20, 10**18, -(10**12), 1.5])
async def test_a_row_start_out_of_range_is_corrupt_too(tmp_path: Path, start: object) -> None:
    store = JsonFileStore(tmp_path)
    await store.save(day())
    document = json.loads(store.path("home-1").read_text())
    document["data"]["groups"][0]["rows"][3][0] = start
    store.path("home-1").write_text(json.dumps(document))
    assert await JsonFileStore(tmp_path).load("home-1") is None
    [aside] = set_aside(tmp_path)
    assert json.loads(aside.read_text()) == document
