"""Save and load of a year with each store, and saving one new day into a year."""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from pricepool import Snapshot, Store

from .common import (
    HOME,
    TODAY,
    BenchSource,
    Config,
    Row,
    clock,
    edges,
    fill,
    midnight,
    pool_for,
    span_data,
)


def _in_file(kind: type[Any], folder: Path) -> Store:
    return cast(Store, kind(folder / "pricepool.db"))


def _in_folder(kind: type[Any], folder: Path) -> Store:
    return cast(Store, kind(folder))


# name → (module, class, how to make one in a fresh folder)
STORES: dict[str, tuple[str, str, Callable[[type[Any], Path], Store]]] = {
    "SqliteStore": ("pricepool.storage.sqlite_store", "SqliteStore", _in_file),
    "JsonFileStore": ("pricepool.storage.json_store", "JsonFileStore", _in_folder),
}


async def run(cfg: Config) -> list[Row]:
    repeat = cfg.pick(5, 2)
    year, grown = await _snapshots()
    rows: list[Row] = []
    for name, (module, attr, make) in STORES.items():
        try:
            kind = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            rows.append(Row(f"stores.{name}", f"{name}: not available", None, "", verdict="n/a"))
            continue
        rows.extend(await _measure(name, partial(make, kind), year, grown, repeat))
    return rows


async def _snapshots() -> tuple[Snapshot, Snapshot]:
    """A year kept by daily fetches, and the same with one more day fetched."""
    first_day = TODAY - timedelta(days=365)
    data = span_data(midnight(first_day), midnight(TODAY + timedelta(days=1)))
    pool = pool_for(BenchSource(data))
    await fill(pool, edges(first_day, 365))
    year = pool.snapshot()
    await fill(pool, edges(TODAY, 1))
    return year, pool.snapshot()


async def _measure(
    name: str, make: Callable[[Path], Store], year: Snapshot, grown: Snapshot, repeat: int
) -> list[Row]:
    count = len(year.intervals)
    save = load = add = float("inf")
    size = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="pricepool-bench-") as tmp:
            folder = Path(tmp)
            store = make(folder)
            started = clock()
            await store.save(year)
            save = min(save, clock() - started)
            await store.close()
            size = _disk(folder)

            # A new store object on the same files: what a restart pays.
            store = make(folder)
            started = clock()
            loaded = await store.load(HOME.id)
            load = min(load, clock() - started)
            if loaded is None or len(loaded.intervals) != count:
                raise RuntimeError(f"{name} did not load the year it saved")

            # The autosave after a day's fetch: the store has seen the year already.
            started = clock()
            await store.save(grown)
            add = min(add, clock() - started)
            await store.close()
    return [
        Row(
            f"stores.{name}.save_year",
            f"{name}: save a year ({count:,} intervals, {len(year.groups)} groups)",
            save * 1e3,
            "ms",
            note=f"{size / 1e6:.1f} MB on disk, fsync included",
        ),
        Row(
            f"stores.{name}.load_year",
            f"{name}: load a year (new store object)",
            load * 1e3,
            "ms",
        ),
        Row(
            f"stores.{name}.save_day",
            f"{name}: save one new day into a store holding a year",
            add * 1e3,
            "ms",
        ),
    ]


def _disk(folder: Path) -> int:
    """Bytes in the files under ``folder`` (a database with its WAL, or the JSON files)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
