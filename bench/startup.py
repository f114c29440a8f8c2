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


def _wall(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of the command, from exec to exit."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pricepool.cli", *args], capture_output=True, env=env, check=False
    )
    return time.perf_counter() - started


def _imports(args: list[str], env: dict[str, str]) -> float:
    """Seconds the run's imports took, as ``python -X importtime`` reports them (which
    slows them a little: a separate run from the wall time)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pricepool.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    # Top-level imports (no spaces before the name) sum to the whole import time.
    found = re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| (\S)", done.stderr, re.M)
    return sum(int(m.group(1)) for m in found) / 1e6


async def run(cfg: Config) -> list[Row]:
    # Best of several: the figure is what the machine can do, not its neighbours' load.
    runs = cfg.pick(11, 5)
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
            wall = min(_wall(args, env) for _ in range(runs))
            imports = min(_imports(args, env) for _ in range(runs))
            rows.append(
                Row(
                    f"startup.{name.replace(' ', '_').strip('-')}",
                    f"pricepool {name}: wall time",
                    round(wall * 1000, 1),
                    "ms",
                    f"≤ {BUDGET * 1000:.0f} ms",
                    judge(wall, BUDGET),
                    f"best of {runs}; imports {imports * 1000:.0f} ms (-X importtime)",
                )
            )
    return rows
