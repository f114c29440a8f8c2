"""Any pool state saved and loaded is the same state, with either store."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from pricepool.storage import sqlite_store
from pricepool.storage.base import Snapshot, Store
from pricepool.storage.json_store import JsonFileStore
from pricepool.storage.sqlite_store import SqliteStore

from .storage_model import Model, assert_same, fetch, history, home, pending, play

FETCHED = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def stores(folder: Path) -> list[tuple[Store, type]]:
    return [
        (JsonFileStore(folder / "json"), JsonFileStore),
        (SqliteStore(folder / "db"), SqliteStore),
    ]


def reopen(store: Store) -> Store:
    if isinstance(store, JsonFileStore):
        return JsonFileStore(store.folder)
    assert isinstance(store, SqliteStore)
    return SqliteStore(store.path)


async def roundtrip(store: Store, snapshot: Snapshot) -> Snapshot | None:
    await store.save(snapshot)
    fresh = reopen(store)
    try:
        return await fresh.load(snapshot.home.id)
    finally:
        await fresh.close()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_snapshot_survives_a_save_and_load(data: st.DataObject) -> None:
    info, base = data.draw(home())
    model = Model(info)
    for span, intervals in data.draw(st.lists(fetch(info.tz, base), max_size=5)):
        model.fetch(span, intervals, FETCHED + timedelta(seconds=len(model.groups)))
    model.pending = data.draw(st.lists(pending(base), max_size=3))
    snapshot = model.snapshot()

    async def run(folder: Path) -> None:
        for store, _ in stores(folder):
            assert_same(await roundtrip(store, snapshot), snapshot)
            await store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))


@settings(max_examples=60, deadline=None)
@given(history())
def test_a_sequence_of_saves_loads_as_the_last_one(
    case: tuple[Model, list[tuple[str, object]]],
) -> None:
    """Groups added, replaced and evicted between saves: SqliteStore's diffs equal the state."""
    model, steps = case

    async def run(folder: Path) -> None:
        kept = stores(folder)
        rewrites = mock.patch.object(sqlite_store, "_rewrite", wraps=sqlite_store._rewrite)
        with rewrites as rewrite:
            for index, step in enumerate(steps):
                play(model, step, FETCHED + timedelta(minutes=index))
                snapshot = model.snapshot()
                for store, _ in kept:
                    assert_same(await roundtrip(store, snapshot), snapshot)
            # Only the first save of the home is written whole; later ones are diffs.
            assert rewrite.call_count == 1
        for store, _ in kept:
            await store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))
