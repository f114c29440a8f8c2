"""Save and load of a year with each store, and saving one new day into a year."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import random
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from pricepool import IntervalPool, ManualClock, PostgresStore, Snapshot, SqliteStore, Store

from .common import (
    HOME,
    NOW,
    TODAY,
    BenchSource,
    Config,
    Row,
    at,
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
        rows.append(await beside_another(name, partial(make, kind), year, grown, repeat))
    rows.extend(await side_by_side(cfg, year, grown))
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


_ROOT = Path(__file__).resolve().parent.parent


async def beside_another(
    name: str, make: Callable[[Path], Store], year: Snapshot, grown: Snapshot, repeat: int
) -> Row:
    """Save one new day into a year while another process holds the same store open and
    has saved a day of its own since: the save takes that day in (issue 9's merge)."""
    best = float("inf")
    root = _ROOT
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="pricepool-bench-") as tmp:
            folder = Path(tmp)
            store = make(folder)
            await store.save(year)
            other = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                f"from bench.stores import hold; hold({name!r}, {tmp!r})",
                cwd=root,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert other.stdin is not None
            assert other.stdout is not None
            try:
                if await other.stdout.readline() != b"saved\n":
                    raise RuntimeError(f"{name}: the other process did not save its day")
                started = clock()
                await store.save(grown)
                best = min(best, clock() - started)
            finally:
                other.stdin.close()
                await other.wait()
            await store.close()
            loaded = await make(folder).load(HOME.id)
            if loaded is None or len(loaded.intervals) != len(grown.intervals) + 96:
                raise RuntimeError(f"{name}: a save beside another process lost a day")
    return Row(
        f"stores.{name}.save_day_shared",
        f"{name}: save one new day into a year, another process holding the store",
        best * 1e3,
        "ms",
        note="the other process saved a day of its own first",
    )


def hold(name: str, folder: str) -> None:
    """The other process of ``beside_another``: load the store, save a day before the
    year, say so, and keep the store open until stdin closes."""

    async def go() -> None:
        module, attr, make = STORES[name]
        store = make(getattr(importlib.import_module(module), attr), Path(folder))
        first_day = TODAY - timedelta(days=365)
        before = first_day - timedelta(days=1)
        pool = pool_for(BenchSource(span_data(midnight(before), midnight(first_day))))
        await fill(pool, edges(before, 1))
        await store.load(HOME.id)
        await store.save(pool.snapshot())
        print("saved", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        await store.close()

    asyncio.run(go())


def _disk(folder: Path) -> int:
    """Bytes in the files under ``folder`` (a database with its WAL, or the JSON files)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- SQLite and PostgreSQL side by side -------------------------------------------------------
#
# The PostgreSQL column needs a server: PRICEPOOL_BENCH_POSTGRES (else the tests' variable
# PRICEPOOL_TEST_POSTGRES) names one; each run makes a database of its own and drops it.
# Without either the column is skipped (".ci/run" always sets the tests' variable).


_ROOT = Path(__file__).resolve().parent.parent


def postgres_server() -> str:
    return os.environ.get("PRICEPOOL_BENCH_POSTGRES") or os.environ.get(
        "PRICEPOOL_TEST_POSTGRES", ""
    )


async def side_by_side(cfg: Config, year: Snapshot, grown: Snapshot) -> list[Row]:
    """Load a year, save one new day into it, and read one day through a pool (cold:
    a new pool opens on the store; warm: the day again), for SQLite and PostgreSQL.
    Each repetition starts from a fresh store holding the year."""
    repeat = cfg.pick(5, 2)
    rows: list[Row] = []
    best: list[float] = [float("inf")] * 4
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="pricepool-bench-") as tmp:
            path = Path(tmp) / "pricepool.db"
            got = await _once(partial(SqliteStore, path), year, grown)
        best = [min(a, b) for a, b in zip(best, got, strict=True)]
    rows += _rows("sqlite", "SQLite", best)
    server = postgres_server()
    if not server:
        rows.append(
            Row(
                "stores.postgres",
                "PostgreSQL: no server (set PRICEPOOL_BENCH_POSTGRES)",
                None,
                "",
                verdict="n/a",
            )
        )
        return rows
    best = [float("inf")] * 4
    for _ in range(repeat):
        async with _database(server) as dsn:
            got = await _once(partial(PostgresStore, dsn), year, grown)
        best = [min(a, b) for a, b in zip(best, got, strict=True)]
    rows += _rows("postgres", "PostgreSQL", best)
    if cfg.quick:
        rows.append(Row("stores.replicas", "replicas: full run only", None, "", verdict="n/a"))
    else:
        rows += await replicas(server)
    return rows


async def replicas(server: str) -> list[Row]:
    """300 clients at once against the simulator: one process, then 3 replica processes
    on one PostgreSQL database (the tests' child process); upstream price requests and
    the p99 latency of an answer."""
    from pricepool.simulator import DEFAULT_HOMES, Simulator

    rng = random.Random(7)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    asked = []
    for _ in range(300):
        start = first + timedelta(days=rng.randrange(0, 300))
        end = start + timedelta(days=rng.randrange(1, 61))
        asked.append(f"{int(start.timestamp())}:{int(end.timestamp())}")
    home = DEFAULT_HOMES[0].id
    figures: dict[int, tuple[int, float]] = {}
    for count in (1, 3):
        sim = Simulator()
        await sim.start()
        try:
            async with _database(server) as dsn:
                parts = [asked[i::count] for i in range(count)]
                children = [
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "tests.postgres_child",
                        "pool",
                        dsn,
                        sim.endpoint,
                        home,
                        *part,
                        cwd=_ROOT,
                        stdout=asyncio.subprocess.PIPE,
                    )
                    for part in parts
                ]
                seconds: list[float] = []
                for child in children:
                    out, _ = await child.communicate()
                    if child.returncode != 0:
                        raise RuntimeError(f"a replica process failed ({child.returncode})")
                    lines = out.decode().splitlines()[:-1]
                    seconds += [json.loads(line)["seconds"] for line in lines]
            requests = len([r for r in sim.log if "priceInfoRange" in r.fields])
        finally:
            await sim.stop()
        seconds.sort()
        figures[count] = (requests, seconds[int(len(seconds) * 0.99) - 1])
    return [
        Row(
            f"stores.replicas.{count}.requests",
            f"300 clients at once, {count} process{'es' if count > 1 else ''}: upstream requests",
            float(requests),
            "requests",
        )
        for count, (requests, _) in figures.items()
    ] + [
        Row(
            f"stores.replicas.{count}.p99",
            f"300 clients at once, {count} process{'es' if count > 1 else ''}: p99 answer",
            p99 * 1e3,
            "ms",
            note="from a cold start: each answer waits for its fetch",
        )
        for count, (_, p99) in figures.items()
    ]


@contextlib.asynccontextmanager
async def _database(server: str) -> AsyncIterator[str]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"pricepool_bench_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        async with await psycopg.AsyncConnection.connect(server, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _once(make: Callable[[], Store], year: Snapshot, grown: Snapshot) -> list[float]:
    """Seconds to load the year, save a new day, read a day cold and warm."""
    day = edges(TODAY - timedelta(days=100), 1)
    store = make()
    await store.save(year)
    await store.close()

    store = make()
    started = clock()
    await store.load(HOME.id)
    load = clock() - started
    started = clock()
    await store.save(grown)
    add = clock() - started
    await store.close()

    store = make()
    source = BenchSource(span_data(day[0], day[1]))
    pool = IntervalPool(HOME.id, source, store=store, clock=ManualClock(NOW), save_delay=0)
    started = clock()
    await pool.open()
    await pool.get_intervals(at(day[0]), at(day[1]))
    cold = clock() - started
    started = clock()
    await pool.get_intervals(at(day[0]), at(day[1]))
    warm = clock() - started
    await pool.close()
    await store.close()
    if source.calls:
        raise RuntimeError(f"{store!r}: the pool asked the source for a day the store held")
    return [load, add, cold, warm]


def _rows(kind: str, label: str, best: list[float]) -> list[Row]:
    load, add, cold, warm = best
    return [
        Row(f"stores.{kind}.load_year", f"{label}: load a year", load * 1e3, "ms"),
        Row(f"stores.{kind}.save_day", f"{label}: save one new day into a year", add * 1e3, "ms"),
        Row(
            f"stores.{kind}.read_cold",
            f"{label}: one-day read through a new pool (cold)",
            cold * 1e3,
            "ms",
            note="opening the pool loads the home",
        ),
        Row(f"stores.{kind}.read_warm", f"{label}: the same day again (warm)", warm * 1e6, "us"),
    ]
