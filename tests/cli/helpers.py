"""What the CLI tests share: the fixed instant, a simulator in a thread, ``run``."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner, Result

from pricepool import ManualClock
from pricepool.cli import app
from pricepool.simulator import DEFAULT_HOMES, Simulator

OSLO_HOME, STOCKHOLM_HOME, BERLIN_HOME = DEFAULT_HOMES
OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 11, 26, 14, 0, tzinfo=OSLO)
TODAY = datetime(2026, 11, 26, tzinfo=OSLO)
TOMORROW = TODAY + timedelta(days=1)
AFTER = TODAY + timedelta(days=2)
TOKEN = "t0ken-for-tests"


class Served:
    """A simulator serving from its own thread and event loop."""

    def __init__(self, now: datetime = NOW, **kwargs: Any) -> None:
        self.sim = Simulator(clock=ManualClock(now), **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = self._call(self.sim.start())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def close(self) -> None:
        self._call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


HELP_PAGES = [
    [],
    ["demo"],
    ["homes"],
    ["prices"],
    ["cheapest"],
    ["simulator"],
    ["cache"],
    ["cache", "stats"],
    ["cache", "coverage"],
    ["cache", "gc"],
    ["cache", "export"],
    ["cache", "import"],
    ["cache", "import-ha"],
]


def run(
    *args: str,
    endpoint: str | None = None,
    store: str | None = None,
    token: str | None = TOKEN,
    now: datetime = NOW,
) -> Result:
    """``pricepool`` with the API options before the command (each command takes only the
    options it uses; the root takes them all) and ``--store`` after it."""
    line = ["--now", now.isoformat(), "--retry-budget", "0"]
    if endpoint is not None:
        line += ["--endpoint", endpoint]
    if token is not None:
        line += ["--token", token]
    line += args
    if store is not None:
        line += ["--store", store]
    return CliRunner().invoke(app, line)


def truth(served: Served, home: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return served.sim.truth(home, start, end)


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b.replace("Z", "+00:00"))


EARLY = datetime(2026, 11, 26, 10, 0, tzinfo=OSLO)


NOT_YET = "tomorrow's prices are not published yet (expected after 13:00 Europe/Oslo)"
