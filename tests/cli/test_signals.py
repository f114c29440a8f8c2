"""SIGINT, SIGTERM and SIGHUP: what was fetched is saved, the status says which signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .helpers import NOW, run


def _child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pricepool.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def test_sigterm_sighup_and_sigint_save_what_was_fetched(serve: Any, tmp_path: Path) -> None:
    served = serve(page_limit=96, rate_limit=1_000_000)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        store = tmp_path / f"{sig.name}.sqlite"
        child = _child(
            "--now",
            NOW.isoformat(),
            "--token",
            "t",
            "--endpoint",
            served.endpoint,
            "prices",
            "--home",
            "Fjellstua",
            "--from",
            "2024-01-01",
            "-f",
            "csv",
            "--store",
            str(store),
            "--retry-budget",
            "0",
            # Runs of one user share the API's 100 requests per 5 min; three back-fills
            # of 40 requests each would not fit in one budget.
            env={"XDG_DATA_HOME": str(tmp_path / sig.name)},
        )
        before = served.sim.requests
        deadline = time.monotonic() + 30
        while served.sim.requests < before + 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(sig)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 128 + sig, err
        assert f"stopped by {sig.name}" in err
        saved = json.loads(run("cache", "stats", "-f", "json", store=str(store)).stdout)
        assert saved["homes"][0]["intervals"] > 0


def test_the_simulator_stops_on_sigterm_with_its_status(tmp_path: Path) -> None:
    child = _child("simulator", "--port", "0")
    assert child.stdout is not None
    assert "serving" in child.stdout.readline()
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err
