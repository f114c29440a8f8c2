"""Crash test: a pool saving in a loop is SIGKILLed at random moments; no save is lost.

For each store, a child process (``storage_crash_child``) fetches random days and prints
each one after the save holding it completed. The parent kills it 30 times, and after each
kill a fresh store must load, hold every day ever printed with the source's prices, and
count those days as covered. The stores run side by side to keep this under 20 s.
"""

from __future__ import annotations

import asyncio
import random
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest

from pricepool import JsonFileStore, SqliteStore, Store
from pricepool.clock import local_midnight
from pricepool.model import zone

from .fakes import day_intervals
from .storage_crash_child import ZONE, home

ROOT = Path(__file__).resolve().parent.parent
KILLS = 30
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def check(store: Store, name: str, saved: set[date]) -> int:
    """Fails unless ``store`` holds every day in ``saved`` for home ``name``; its size."""
    snapshot = asyncio.run(store.load(name))
    if not saved:
        return 0 if snapshot is None else len(snapshot.intervals)
    assert snapshot is not None, "a completed save was lost: the store is empty"
    tz = zone(ZONE)
    # Keyed by POSIX seconds: datetimes sharing a zone compare as wall clocks, and the
    # autumn night has two 02:00s.
    held = {i.start.timestamp(): i for i in snapshot.intervals}
    for day in sorted(saved):
        for want in day_intervals(name, day, tz):
            assert held.get(want.start.timestamp()) == want, f"{day}: {want} lost"
        start = local_midnight(day, tz)
        end = local_midnight(day + timedelta(days=1), tz)
        assert any(s.start <= start and end <= s.end for s in snapshot.coverage), day
    return len(snapshot.intervals)


def spawn(kind: str, path: Path, seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage_crash_child", kind, str(path), str(seed)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Unbuffered: readline must not read ahead of what communicate() collects later.
        bufsize=0,
    )


def torture(kind: str, folder: Path, seed: int) -> tuple[int, int]:
    """Kill the child ``KILLS`` times; the number of days saved and intervals held."""
    rng = random.Random(seed)
    path = folder / ("pool.db" if kind == "sqlite" else "json")
    saved: dict[str, set[date]] = {}
    held = 0
    spare = spawn(kind, path, 0)
    for attempt in range(KILLS):
        # Each child works on home(attempt), cycling through a few homes.
        child, spare = spare, spawn(kind, path, attempt + 1)
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(b"go\n")
        first = b""
        if rng.random() < 0.8:
            # Most kills land while the child fetches and saves; waiting for it to open
            # keeps that true on a busy machine.
            ready, _, _ = select.select([child.stdout], [], [], 20)
            assert ready, "the child did not open its pool within 20 s"
            first = child.stdout.readline()
            time.sleep(rng.uniform(0.01, 0.25))
        else:
            # The others land anywhere: while it loads the store, or already saves.
            time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
        assert child.returncode == -signal.SIGKILL, err.decode()
        # Only whole lines count: a day is saved once its line was printed.
        lines = (first + out).decode().split("\n")[:-1]
        days = saved.setdefault(home(attempt), set())
        days.update(date.fromisoformat(line) for line in lines if line != "open")
        store = JsonFileStore(path) if kind == "json" else SqliteStore(path)
        held = check(store, home(attempt), days)
        asyncio.run(store.close())
    spare.kill()
    spare.communicate()
    return sum(map(len, saved.values())), held


def test_no_completed_save_is_lost_when_killed(tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:
        runs = {
            kind: pool.submit(torture, kind, tmp_path, seed)
            for seed, kind in enumerate(["json", "sqlite"])
        }
        results = {kind: run.result() for kind, run in runs.items()}
    for kind, (days, intervals) in results.items():
        # The test means something only if the children got to save a good deal.
        assert days >= KILLS // 2, (kind, days)
        assert intervals > 0, kind
