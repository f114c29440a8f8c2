"""Startup of the ``pricepool`` command: wall time of a fresh process, and the import time
``python -X importtime`` reports for the modules it loads (best of several runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import Config, Row, judge

BUDGET = 0.25  # seconds, issue 14


def _once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one run, and the seconds its imports took (-X importtime)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pricepool.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    # Top-level imports (no leading spaces before the name) sum to the whole import time.
    total = sum(
        int(m.group(1))
        for m in re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| (\S)", done.stderr, re.M)
    )
    return wall, total / 1e6


async def run(cfg: Config) -> list[Row]:
    runs = cfg.pick(7, 3)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "XDG_CONFIG_HOME": folder, "XDG_DATA_HOME": folder}
        store = Path(folder) / "store.sqlite"
        import sqlite3

        sqlite3.connect(store).close()  # an empty file would be refused; any SQLite works
        lines = {
            "--help": ["--help"],
            "--version": ["--version"],
            "cache stats": ["cache", "stats", "--store", str(store)],
        }
        for name, args in lines.items():
            best = min(_once(args, env) for _ in range(runs))
            rows.append(
                Row(
                    f"startup.{name.replace(' ', '_').strip('-')}",
                    f"pricepool {name}: wall time",
                    round(best[0] * 1000, 1),
                    "ms",
                    f"≤ {BUDGET * 1000:.0f} ms",
                    judge(best[0], BUDGET),
                    f"imports {best[1] * 1000:.0f} ms",
                )
            )
    return rows
