"""Several real processes share one store, some killed with SIGKILL; nothing saved is lost.

Four processes (``shared_worker``) fetch random ranges within a year from a fake source and
save with a short delay; at random moments one is killed and a new one takes its place.
Each logs a range only after its save returned. Afterwards every logged range must be
covered in the store with the source's prices, and no process may have failed. The same
holds for the ``pricepool prices`` command run again and again beside a library process,
both against the simulator.

The run lasts ``PRICEPOOL_SHARED_SECONDS`` per store (default 20 s, what CI runs; set it to
60 for a longer soak).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pricepool import JsonFileStore, SqliteStore, Store
from pricepool.model import zone
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.simulator._prices import QUARTER_HOURLY
from pricepool.storage.base import Snapshot

from .fakes import FakeSource
from .shared_worker import HOME, NOW, ZONE

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("PRICEPOOL_SHARED_SECONDS", "20"))
WORKERS = 4
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def open_store(kind: str, path: Path) -> Store:
    return JsonFileStore(path) if kind == "json" else SqliteStore(path)


def spawn(kind: str, path: Path, seed: int, seconds: float, log: Path, *extra: str) -> Worker:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.shared_worker",
            kind,
            str(path),
            str(seed),
            str(seconds),
            str(log),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Worker(process, log)


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self.killed = False


def ranges(logs: list[Path]) -> list[tuple[datetime, datetime]]:
    """Every range a process logged as saved, once; a line cut short by SIGKILL does not count."""
    found: set[tuple[datetime, datetime]] = set()
    for log in logs:
        if log.exists():
            for line in log.read_text().split("\n")[:-1]:
                a, b = line.split()
                found.add((datetime.fromisoformat(a), datetime.fromisoformat(b)))
    return sorted(found)


def load(kind: str, path: Path, home: str = HOME) -> Snapshot:
    async def read() -> Snapshot | None:
        store = open_store(kind, path)
        try:
            return await store.load(home)
        finally:
            await store.close()

    snapshot = asyncio.run(read())
    assert snapshot is not None, "nothing was saved"
    return snapshot


def assert_held(snapshot: Snapshot, saved: list[tuple[datetime, datetime]], truth: object) -> None:
    """Every saved range is covered and holds exactly ``truth(a, b)`` as (start, total)."""
    held = {int(i.start.timestamp()): i for i in snapshot.intervals}
    starts = sorted(held)
    for a, b in saved:
        assert any(s.start <= a and b <= s.end for s in snapshot.coverage), f"{a}..{b} not covered"
        want = truth(a, b)  # type: ignore[operator]
        lo, hi = int(a.timestamp()), int(b.timestamp())
        got = [
            (k, held[k].total) for k in starts[bisect_left(starts, lo) : bisect_left(starts, hi)]
        ]
        assert got == want, f"{a}..{b}: {len(got)} intervals held, {len(want)} expected"


def run_workers(kind: str, path: Path, folder: Path, seed: int) -> tuple[list[Worker], int]:
    """Four workers for SECONDS, one killed now and then and replaced; all, and the kills."""
    rng = random.Random(seed)
    began = time.monotonic()
    count = 0

    def start(left: float) -> Worker:
        nonlocal count
        count += 1
        return spawn(kind, path, seed * 100 + count, left, folder / f"{kind}-{count}.log")

    live = [start(SECONDS) for _ in range(WORKERS)]
    done: list[Worker] = []
    kills = 0
    while (left := SECONDS - (time.monotonic() - began)) > 2:
        with contextlib.suppress(subprocess.TimeoutExpired):
            live[0].process.wait(timeout=rng.uniform(0.5, 2.5))
        victim = live.pop(rng.randrange(len(live)))
        if victim.process.poll() is None and rng.random() < 0.7:
            victim.process.send_signal(signal.SIGKILL)
            victim.killed = True
            kills += 1
            done.append(victim)
            live.append(start(left))
        else:
            live.append(victim)
    done.extend(live)
    for worker in done:
        worker.process.wait(timeout=SECONDS + 120)
    return done, kills


def assert_no_errors(workers: list[Worker]) -> None:
    for worker in workers:
        assert worker.process.stderr is not None
        err = worker.process.stderr.read().decode()
        worker.process.stderr.close()
        if worker.killed:
            assert worker.process.returncode == -signal.SIGKILL
        else:
            assert worker.process.returncode == 0, err
            assert err == "", err


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_four_processes_share_a_store_and_lose_no_save(kind: str, tmp_path: Path) -> None:
    path = tmp_path / ("pool.db" if kind == "sqlite" else "json")
    workers, kills = run_workers(kind, path, tmp_path, seed=7 if kind == "sqlite" else 8)
    assert_no_errors(workers)
    saved = ranges([w.log for w in workers])
    # Meaningful only if the processes got to save a good deal and some were killed.
    assert len(saved) >= 2 * WORKERS, len(saved)
    assert kills >= 1
    source = FakeSource(lambda: NOW, {HOME: ZONE})

    def truth(a: datetime, b: datetime) -> list[tuple[int, float]]:
        return [(int(i.start.timestamp()), i.total) for i in source.truth(HOME, a, b)]

    assert_held(load(kind, path), saved, truth)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A simulator serving from a thread of its own, so that processes can reach it while
    the test waits for them."""
    sim = Simulator(rate_limit=1_000_000)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sim.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(20)
    yield sim
    asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(20)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(20)
    loop.close()


@pytest.mark.parametrize("kind", ["sqlite", "json"])
def test_the_cli_beside_a_library_process_loses_no_save(
    kind: str, tmp_path: Path, simulator: Simulator
) -> None:
    home = DEFAULT_HOMES[0]  # the library worker's home with a simulator
    tz = zone(home.time_zone)
    path = tmp_path / ("pool.db" if kind == "sqlite" else "json")
    store_arg = str(path) if kind == "sqlite" else f"{path}/"
    endpoint = simulator.endpoint
    lib = spawn(kind, path, 3, SECONDS, tmp_path / "lib.log", endpoint)
    rng = random.Random(5)
    began = time.monotonic()
    cli_saved: list[tuple[datetime, datetime]] = []
    failures: list[str] = []
    today = datetime.now(tz).date()
    while time.monotonic() - began < SECONDS:
        days = rng.randint(1, 20)
        first = today - timedelta(days=365) + timedelta(days=rng.randrange(365 - days))
        last = first + timedelta(days=days - 1)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pricepool.cli",
                "prices",
                "--home",
                home.id,
                "--from",
                first.isoformat(),
                "--to",
                last.isoformat(),
                "--store",
                store_arg,
                "--endpoint",
                endpoint,
                "--token",
                "shared-token",
                "-f",
                "csv",
                "-q",
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or done.stderr:
            failures.append(done.stderr.decode())
            continue
        a = datetime.combine(first, datetime.min.time(), tz)
        b = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
        cli_saved.append((a, b))
    lib.process.wait(timeout=SECONDS + 120)
    assert_no_errors([lib])
    assert failures == []
    saved = ranges([lib.log]) + cli_saved
    assert cli_saved
    assert len(saved) > len(cli_saved)

    def truth(a: datetime, b: datetime) -> list[tuple[int, float]]:
        return [
            (int(datetime.fromisoformat(n["startsAt"]).timestamp()), n["total"])
            for n in simulator.truth(home.id, a, b, QUARTER_HOURLY)
        ]

    assert_held(load(kind, path, home.id), saved, truth)
