"""The account's metadata is asked of Tibber once and kept, across restarts too."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pricepool.clock import ManualClock
from pricepool.service._meta import Meta

VIEWER = {"name": "Ola", "homes": [{"id": "h1", "address": {"address1": "Storgata 1"}}]}


class _Tibber:
    def __init__(self) -> None:
        self.asked = 0

    async def details(self) -> dict[str, Any]:
        self.asked += 1
        return VIEWER


async def test_a_restart_reads_the_kept_metadata(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 5, 12, tzinfo=UTC))
    tibber, path = _Tibber(), tmp_path / "store.sqlite.meta.json"
    first = Meta(tibber.details, clock=clock, path=path)
    assert await first.home("h1") == VIEWER["homes"][0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the owner's address is in it
    again = Meta(tibber.details, clock=clock, path=path)
    assert await again.viewer() == VIEWER
    assert tibber.asked == 1
    # Kept for a day, then asked again.
    clock.advance(timedelta(days=1))
    await again.viewer()
    assert tibber.asked == 2


async def test_a_damaged_file_is_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "meta.json"
    path.write_text("{not json")
    tibber = _Tibber()
    meta = Meta(tibber.details, clock=ManualClock(datetime(2026, 12, 5, tzinfo=UTC)), path=path)
    assert await meta.viewer() == VIEWER
    assert tibber.asked == 1
    assert "ignoring the kept account metadata" in caplog.text
