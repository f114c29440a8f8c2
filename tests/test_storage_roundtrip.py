"""Any pool state saved and loaded is the same state, with either store."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from pricepool.storage.base import Snapshot, Store
from pricepool.storage.json_store import JsonFileStore
from pricepool.storage.sqlite_store import SqliteStore

from .storage_model import (
    Model,
    assert_same,
    fetch,
    history,
    home,
    pending,
    play,
    pool_like,
    replay,
)

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
    model.pending = pool_like(data.draw(st.lists(pending(base), max_size=3)), model.coverage)
    snapshot = model.snapshot()

    async def run(folder: Path) -> None:
        for store, _ in stores(folder):
            assert_same(await roundtrip(store, snapshot), snapshot)
            await store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))


@settings(max_examples=40, deadline=None)
@given(history())
def test_a_sequence_of_saves_and_evictions_loads_as_the_state(
    case: tuple[Model, list[tuple[str, object]]],
) -> None:
    """Fetches replacing parts of older ones (empty answers too), saved after each step;
    evict removes a fetch from the store as the pool's retention does in memory."""
    model, steps = case

    async def run(folder: Path) -> None:
        kept = stores(folder)
        for index, step in enumerate(steps):
            kind, value = step
            if kind == "pending":
                continue  # pending spans merge rather than replace: test_storage_sharing
            if kind == "evict":
                # As a pool's retention and gc: only a fetch it holds intervals of.
                ids = model.holding()
                if not ids:
                    continue
                gid = ids[cast(int, value) % len(ids)]
                for store, _ in kept:
                    await store.evict(model.home.id, [model.groups[gid]])
                model.evict(gid)
            else:
                play(model, step, FETCHED + timedelta(minutes=index))
            snapshot = model.snapshot()
            for store, _ in kept:
                assert_same(await roundtrip(store, snapshot), snapshot)
        for store, _ in kept:
            await store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_writers_saving_in_any_order_leave_every_fetch_the_newest_wins(
    data: st.DataObject,
) -> None:
    """Several writers, each with its own store object, fetch and save in a random order;
    the store ends holding every fetch replayed in fetch-time order."""
    info, base = data.draw(home())
    count = data.draw(st.integers(2, 3))
    steps = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, count - 1),
                st.sampled_from(["fetch", "fetch", "save", "load"]),
                fetch(info.tz, base),
            ),
            min_size=1,
            max_size=10,
        )
    )

    async def run(folder: Path) -> None:
        for kind in (JsonFileStore, SqliteStore):
            # Fresh writers for each store: replaying the steps into the same models would
            # fetch again at older times than they already hold, which no pool does.
            writers = [Model(info) for _ in range(count)]
            target = folder / kind.__name__
            opened = [kind(target) for _ in writers]  # type: ignore[abstract]
            for index, (who, what, (span, intervals)) in enumerate(steps):
                if what == "fetch":
                    writers[who].fetch(span, intervals, FETCHED + timedelta(minutes=index))
                elif what == "load":
                    await opened[who].load(info.id)
                if writers[who].groups and what == "save":
                    await opened[who].save(writers[who].snapshot())
            for who, writer in enumerate(writers):
                if writer.groups:
                    await opened[who].save(writer.snapshot())
            want = replay(*writers)
            fresh = kind(target)  # type: ignore[abstract]
            found = await fresh.load(info.id)
            if any(w.groups for w in writers):
                assert_same(found, want.snapshot())
            else:
                assert found is None
            for store in (*opened, fresh):
                await store.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))
