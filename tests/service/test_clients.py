"""pyTibber, unmodified, reads the whole service (its hub, store and pools) as it reads Tibber."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .rig import NOW, TOKEN, service

tibber = pytest.importorskip("tibber")

DST = datetime(2025, 10, 26, 11, 0, tzinfo=NOW.tzinfo)


async def _read(
    endpoint: str, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    # pyTibber posts to the module constant; the service is where a user points it.
    monkeypatch.setattr(tibber, "API_ENDPOINT", endpoint)
    connection = tibber.Tibber(access_token=TOKEN, websession=http, user_agent="tests")
    await connection.update_info()
    seen: list[dict[str, Any]] = [
        {"user": connection.user_id, "name": connection.name, "ids": connection.get_home_ids()}
    ]
    for home in connection.get_homes():
        await home.update_info_and_price_info()
        seen.append(
            {
                "id": home.home_id,
                "prices": home.price_total,
                "info": home.info,
                "currency": home.currency,
                "unit": home.price_unit,
                "name": home.name,
                "address": home.address1,
                "country": home.country,
                "active": home.has_active_subscription,
                "realtime": home.has_real_time_consumption,
            }
        )
    return seen


@pytest.mark.parametrize("now", [NOW, NOW - timedelta(hours=3), DST])
async def test_pytibber_reads_the_service_as_it_reads_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    store = tmp_path / "service.sqlite"
    async with service(store, now=now) as rig:
        direct = await _read(rig.sim.endpoint, rig.http, monkeypatch)
        served = await _read(rig.url + "/v1-beta/gql", rig.http, monkeypatch)
        assert served == direct
        sizes = {len(home["prices"]) for home in served[1:]}
        assert sizes == ({100} if now is DST else {96} if now < NOW else {192})
        # Ten more clients polling cost the upstream nothing more.
        sent = rig.sim.requests
        for _ in range(10):
            assert await _read(rig.url + "/v1-beta/gql", rig.http, monkeypatch) == served
        assert rig.sim.requests == sent
    if now is NOW:
        async with service(store, now=now) as rig:
            again = await _read(rig.url + "/v1-beta/gql", rig.http, monkeypatch)
            assert rig.sim.requests <= len(served) - 1  # at most each home's metadata
        assert again == served
