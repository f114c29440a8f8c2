"""``pricepool serve`` as a real process: signals, restarts, the refusal to start."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from pricepool import SqliteStore
from pricepool.simulator import DEFAULT_HOMES

from ..cli.helpers import Served
from .rig import NOW, TOKEN, child_env, running


@pytest.fixture
def upstream() -> Iterator[Served]:
    served = Served(now=NOW, token=TOKEN)
    yield served
    served.close()


QUESTIONS = [
    f"/v1/homes/{home.nickname}/prices?from=2025-11-{day}&to=2025-11-26"
    for home in DEFAULT_HOMES
    for day in (10, 20, 24)
] + ["/v1/homes", "/v1/homes/Altbau/rates", "/v1/homes/Sjöboden/current"]


async def _ask(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with http.get(url) as response:
        return response.status, await response.read()


async def test_sigterm_finishes_answers_saves_and_a_restart_asks_nothing(
    tmp_path: Path, upstream: Served
) -> None:
    store = tmp_path / "service.sqlite"
    upstream.sim.faults.latency = 0.3  # the answers are still under way at SIGTERM
    async with (
        running(tmp_path, upstream.endpoint, "--store", str(store)) as served,
        aiohttp.ClientSession() as http,
    ):
        asked = [asyncio.ensure_future(_ask(http, served.url + q)) for q in QUESTIONS]
        # The simulator counts in its own thread; nothing there to await.
        while upstream.sim.requests < 2:  # noqa: ASYNC110 - the home list, then prices
            await asyncio.sleep(0.01)
        # A price needs the home list and its own requests: none can be answered yet.
        assert not any(f.done() for f in asked[:9])
        code, _, err = await served.stop()
        first = await asyncio.gather(*asked)
    assert code == 0, err.decode()
    assert [status for status, _ in first] == [200] * len(QUESTIONS), first
    fetched = upstream.sim.requests

    saved = SqliteStore(store)
    try:
        for home in DEFAULT_HOMES:
            snapshot = await saved.load(home.id)
            assert snapshot is not None
            assert len(snapshot.intervals) >= 17 * 96  # the 10th to the end of the 26th
    finally:
        await saved.close()

    upstream.sim.faults.latency = 0
    async with (
        running(tmp_path, upstream.endpoint, "--store", str(store)) as again,
        aiohttp.ClientSession() as http,
    ):
        second = await asyncio.gather(*(_ask(http, again.url + q) for q in QUESTIONS))
        code, _, err = await again.stop(signal.SIGINT)
    assert code == 0, err.decode()
    assert second == first
    assert upstream.sim.requests == fetched


async def test_beyond_loopback_without_a_key_it_refuses_to_start(tmp_path: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pricepool.cli",
        "serve",
        "--host",
        "0.0.0.0",
        "--token",
        TOKEN,
        "--endpoint",
        "http://127.0.0.1:9/v1-beta/gql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(tmp_path),
    )
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 2
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert "--api-key" in lines[0]
    assert "0.0.0.0" in lines[0]
    assert TOKEN not in lines[0]


@pytest.mark.parametrize("verbose", [False, True])
async def test_each_answer_is_one_access_line(
    tmp_path: Path, upstream: Served, verbose: bool
) -> None:
    args = ["-v"] if verbose else []
    async with (
        running(tmp_path, upstream.endpoint, *args) as served,
        aiohttp.ClientSession() as http,
    ):
        assert (await _ask(http, served.url + "/v1/homes"))[0] == 200
        assert (await _ask(http, served.url + "/v1/homes/Nowhere/rates"))[0] == 404
        code, _, err = await served.stop()
    assert code == 0
    lines = err.decode().splitlines()
    assert len([line for line in lines if "GET /v1/homes 200" in line]) == 1, lines
    assert len([line for line in lines if "GET /v1/homes/{home}/rates 404" in line]) == 1
    assert any("DEBUG" in line for line in lines) is verbose


@pytest.mark.parametrize("given", ["option", "environment", "config"])
async def test_a_key_from_the_option_the_environment_or_config_guards_every_route(
    tmp_path: Path, upstream: Served, given: str
) -> None:
    key = "kitchen-key-81"
    args: list[str] = []
    if given == "option":
        args = ["--api-key", key]
    elif given == "config":
        folder = tmp_path / "config" / "pricepool"
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(f'api_key = "{key}"\n')
    env = {"PRICEPOOL_API_KEY": key} if given == "environment" else {}
    async with (
        running(tmp_path, upstream.endpoint, *args, env=env) as served,
        aiohttp.ClientSession() as http,
    ):
        for path in ("/readyz", "/v1/homes", "/v1/homes/Altbau/current"):
            assert (await _ask(http, served.url + path))[0] == 401
            async with http.get(
                served.url + path, headers={"Authorization": f"Bearer {key}"}
            ) as answer:
                assert answer.status == 200, path
        assert (await _ask(http, served.url + "/healthz"))[0] == 200
        code, out, err = await served.stop()
    assert code == 0
    assert key.encode() not in out + err


async def test_sighup_stops_as_cleanly(tmp_path: Path, upstream: Served) -> None:
    # A closed terminal or a supervisor's reload sends SIGHUP: saved first, exit 0.
    store = tmp_path / "service.sqlite"
    async with (
        running(tmp_path, upstream.endpoint, "--store", str(store)) as served,
        aiohttp.ClientSession() as http,
    ):
        status, _ = await _ask(http, served.url + QUESTIONS[0])
        assert status == 200
        code, _, err = await served.stop(signal.SIGHUP)
    assert code == 0, err.decode()
    saved = SqliteStore(store)
    try:
        assert await saved.homes()
    finally:
        await saved.close()
