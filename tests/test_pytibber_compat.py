"""pyTibber, unmodified, reads homes and prices from the simulator: proof of the schema.

pyTibber has no endpoint argument; it posts to the module constant ``tibber.API_ENDPOINT``
(imported into the package namespace), which the tests point at the simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from pricepool.clock import ManualClock, local_midnight
from pricepool.model import zone
from pricepool.simulator import DEFAULT_HOMES, Simulator

tibber = pytest.importorskip("tibber")

# 14:00 in Oslo, Stockholm and Berlin: today's and tomorrow's prices are out.
NOW = datetime(2025, 11, 25, 13, 0, tzinfo=UTC)


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    async with Simulator(clock=ManualClock(NOW), token="pytibber-token") as simulator:
        monkeypatch.setattr(tibber, "API_ENDPOINT", simulator.endpoint)
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_pytibber_reads_homes(sim: Simulator, session: aiohttp.ClientSession) -> None:
    connection = tibber.Tibber(
        access_token="pytibber-token", websession=session, user_agent="pricepool-tests"
    )
    await connection.update_info()
    assert connection.name == "Pricepool Simulator"
    assert connection.user_id
    assert connection.get_home_ids(only_active=True) == [home.id for home in DEFAULT_HOMES]
    assert sim.log[-1].fields == frozenset({"homes"})


async def test_pytibber_reads_today_and_tomorrow(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    connection = tibber.Tibber(
        access_token="pytibber-token", websession=session, user_agent="pricepool-tests"
    )
    await connection.update_info()
    homes = connection.get_homes()
    assert len(homes) == len(DEFAULT_HOMES)
    for home, expected in zip(homes, DEFAULT_HOMES, strict=True):
        await home.update_info_and_price_info()
        tz = zone(expected.time_zone)
        start = local_midnight(NOW.astimezone(tz).date(), tz)
        end = local_midnight(start.date() + timedelta(days=2), tz)
        truth = sim.truth(expected.id, start, end)
        assert len(truth) == 192
        assert home.price_total == {node["startsAt"]: node["total"] for node in truth}
        assert home.currency == expected.currency
        assert home.price_unit == f"{expected.currency}/kWh"
        assert home.name == expected.nickname
        assert home.address1 == expected.address1
        assert home.country == expected.country
        assert home.has_active_subscription
        assert home.has_real_time_consumption is False
        assert home.has_production is False
    assert all(entry.status == 200 for entry in sim.log)


async def test_pytibber_sees_an_unpublished_tomorrow_as_empty(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    assert isinstance(sim.clock, ManualClock)
    sim.clock.set(NOW - timedelta(hours=2))  # 12:00 local
    connection = tibber.Tibber(
        access_token="pytibber-token", websession=session, user_agent="pricepool-tests"
    )
    await connection.update_info()
    home = connection.get_homes()[0]
    await home.update_info_and_price_info()
    assert len(home.price_total) == 96


async def test_pytibber_rejects_a_wrong_token(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    connection = tibber.Tibber(
        access_token="wrong", websession=session, user_agent="pricepool-tests"
    )
    with pytest.raises(tibber.InvalidLoginError):
        await connection.update_info()


async def test_pytibber_handles_a_null_subscription(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    connection = tibber.Tibber(
        access_token="pytibber-token", websession=session, user_agent="pricepool-tests"
    )
    await connection.update_info()
    home = connection.get_homes()[0]
    sim.faults.null_subscription = True
    await home.update_info_and_price_info()
    assert home.price_total == {}
    assert not home.has_active_subscription
