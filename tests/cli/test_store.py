"""``--store``: files that are not stores, read-only commands, warnings from the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pricepool.storage.sqlite_store import APPLICATION_ID

from .helpers import Served, run


def test_a_file_that_is_not_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for line in (("cache", "stats"), ("cache", "export"), ("prices", "--home", "x")):
        result = run(*line, store=str(notes))
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: ")
        assert notes.read_text() == "my notes\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_read_only_cache_commands_create_nothing(tmp_path: Path) -> None:
    store = tmp_path / "none.sqlite"
    for line in (("cache", "stats"), ("cache", "coverage"), ("cache", "export")):
        assert run(*line, store=str(store)).exit_code == 2
    folder = tmp_path / "nofolder/"
    assert run("cache", "stats", store=f"{folder}/").exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_damaged_store_moved_aside_is_said_without_verbose(
    served: Served, tmp_path: Path
) -> None:
    # An SQLite header naming pricepool (its application id) and garbage: recognisably
    # a pricepool store, and damaged. Without the id it would be refused, not moved.
    store = tmp_path / "prices.sqlite"
    head = bytearray(b"SQLite format 3\x00" + b"\x07" * 4000)
    head[68:72] = APPLICATION_ID.to_bytes(4, "big")
    store.write_bytes(bytes(head))
    result = run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=str(store))
    warnings = [row for row in result.stderr.splitlines() if row.startswith("warning: ")]
    assert len(warnings) == 1, result.stderr
    moved = [p for p in tmp_path.iterdir() if ".corrupt." in p.name]
    assert str(store) in warnings[0]
    assert str(moved[0]) in warnings[0]


def test_read_only_cache_commands_change_nothing(served: Served, tmp_path: Path) -> None:
    for store in (tmp_path / "s.sqlite", tmp_path / "folder"):
        text = f"{store}/" if store.suffix == "" else str(store)
        line = ("prices", "--home", "Fjellstua", "-f", "csv")
        assert run(*line, endpoint=served.endpoint, store=text).exit_code == 0
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        for command in (("stats",), ("coverage",), ("export",), ("gc", "--dry-run")):
            assert run("cache", *command, store=text).exit_code == 0
        after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        assert after == before


def test_every_file_that_is_not_a_store_exits_2_and_is_left_alone(tmp_path: Path) -> None:
    """A foreign SQLite database and a 0-byte file are wrong paths as much as a text file."""
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (text)")
    db.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    for store in (foreign, empty, tmp_path / "foreign.db" / "under.sqlite"):
        for line in (("cache", "stats"), ("cache", "gc"), ("prices", "--home", "x")):
            result = run(*line, store=str(store))
            assert result.exit_code == 2, (store, line, result.output)
            assert result.stderr.startswith("error: ")
            assert str(store) in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_read_only_cache_commands_leave_a_damaged_store_where_it_is(tmp_path: Path) -> None:
    """stats, coverage and export name the damage; only a writing command moves it aside."""
    database = tmp_path / "prices.sqlite"
    head = bytearray(b"SQLite format 3\x00" + b"\x07" * 4000)
    head[68:72] = APPLICATION_ID.to_bytes(4, "big")
    database.write_bytes(bytes(head))
    folder = tmp_path / "json"
    folder.mkdir()
    home = "pricepool.68e6938b-91a6-4199-a0d4-f24c22be87bb"
    (folder / f"{home}.json").write_text(
        f'{{"version":1,"minor_version":2,"key":"{home}","data":'
        + "[" * 100_000
        + "]" * 100_000
        + "}"
    )
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for store in (str(database), f"{folder}/"):
        for command in ("stats", "coverage", "export"):
            result = run("cache", command, store=store)
            assert result.exit_code == 1, (store, command, result.output)
            assert result.stderr.startswith("error: ")
            assert "damaged" in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_store_it_cannot_write_still_shows_prices_and_says_so_once(
    served: Served, tmp_path: Path
) -> None:
    """A store this pricepool may read but not write (here: written by a newer minor
    version): the prices are shown, one warning names the file, and the file stays."""
    folder = tmp_path / "json"
    line = ("prices", "--home", "Fjellstua", "-f", "csv")
    assert run(*line, endpoint=served.endpoint, store=f"{folder}/").exit_code == 0
    (stored,) = folder.glob("*.json")
    document = json.loads(stored.read_text())
    document["minor_version"] += 1
    stored.write_text(json.dumps(document))
    before = stored.read_bytes()
    earlier = ("--from", "2026-11-20", "--to", "2026-11-20")
    result = run(*line, *earlier, endpoint=served.endpoint, store=f"{folder}/")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1 + 24 * 4
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("warning: ")
    assert str(stored) in result.stderr
    assert stored.read_bytes() == before
