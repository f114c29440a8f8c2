"""The REST routes under /v1: the CLI's documents, evcc's and Home Assistant's shapes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .rig import NOW, OSLO, TOKEN, cli, service

DST = datetime(2025, 10, 26, 11, 0, tzinfo=UTC)  # 12:00 on Oslo's 25-hour day
EARLY = NOW - timedelta(hours=3)  # 11:00 in Oslo: tomorrow is not out yet

RANGES = [
    # (now, from, to): None leaves the parameter to its default.
    (NOW, "2025-11-24", "2025-11-26"),
    (NOW, "2025-09-30T20:00", "2025-10-01T04:00"),  # hourly history into quarter-hours
    (DST, "2025-10-26", "2025-10-26"),
    (EARLY, None, None),
    (EARLY, "2025-11-25T09:00", "2025-11-26"),
]


@pytest.mark.parametrize(("now", "start", "end"), RANGES)
async def test_prices_equal_the_cli_byte_for_byte(
    tmp_path: Path, now: datetime, start: str | None, end: str | None
) -> None:
    async with service(tmp_path / "service.sqlite", now=now) as rig:
        base = ["--now", now.isoformat(), "--token", TOKEN, "--endpoint", rig.sim.endpoint]
        ranged = (["--from", start] if start else []) + (["--to", end] if end else [])
        params = ({"from": start} if start else {}) | ({"to": end} if end else {})

        async def printed(hourly: bool) -> bytes:
            args = [*base, "prices", "--home", "Fjellstua", *ranged, "-f", "json"]
            args += ["--store", str(tmp_path / f"cli-{hourly}.sqlite")]
            code, out, err = await cli(tmp_path, *args, *(["--hourly"] if hourly else []))
            assert code == 0, err.decode()
            return out

        quarter, hourly = await asyncio.gather(printed(False), printed(True))
        by_quarter = await rig.get(f"/v1/homes/{OSLO}/prices", **params)
        by_hour = await rig.get("/v1/homes/fjellstua/prices", resolution="hour", **params)
        assert by_quarter.status == by_hour.status == 200
        assert by_quarter.body == quarter
        assert by_hour.body == hourly
        document = by_quarter.json()
        assert "hourly" not in document
        assert by_hour.json()["hourly"] is True
        if now is DST:
            assert len(document["intervals"]) == 100
            assert len(by_hour.json()["intervals"]) == 25
        if now is EARLY and end != "2025-11-25T09:00":
            assert document["unpublished"]["from"] == "2025-11-26T00:00:00+01:00"
