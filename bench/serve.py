"""The service: cached answers per second on one core, against a bare aiohttp handler.

A child process (one core: one event loop) runs the simulator, a warmed ``pricepool serve``
application and a baseline application whose handler returns a precomputed body of the same
size. This process drives both over loopback with 100 keep-alive clients, in turns, and
reports the service's rate as a share of the baseline's, and its latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from .common import Config, Row, judge

CLIENTS = 100
_ROOT = Path(__file__).resolve().parent.parent
GQL = (
    "{ viewer { homes { currentSubscription { priceInfo(resolution: QUARTER_HOURLY) {"
    " current { startsAt total } today { startsAt total energy tax level }"
    " tomorrow { startsAt total energy tax level } } } } } }"
)
# After 13:00: today and tomorrow are both published, so both are cached once warmed.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=ZoneInfo("Europe/Oslo"))


async def run(cfg: Config) -> list[Row]:
    seconds = cfg.pick(4.0, 1.0)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.serve", "--child", stdout=asyncio.subprocess.PIPE, cwd=_ROOT
    )
    try:
        assert child.stdout is not None
        ports = json.loads(await child.stdout.readline())
        rows: list[Row] = []
        for name, method, path, body in (
            ("rest", "GET", f"/v1/homes/{ports['home']}/prices?from=today&to=today", None),
            ("gql", "POST", "/v1-beta/gql", {"query": GQL}),
        ):
            base = f"http://127.0.0.1:{ports['service']}"
            bare = f"http://127.0.0.1:{ports['baseline']}"
            size = await _size(base + path, method, body)
            ours, lat = await _load(base + path, method, body, seconds)
            theirs, _ = await _load(f"{bare}/{name}", method, body, seconds)
            ratio = ours / theirs
            what = "cached one-day REST prices" if name == "rest" else "GraphQL today+tomorrow"
            rows.append(
                Row(
                    f"serve.{name}.rate",
                    f"{what}: answers per second, {CLIENTS} keep-alive clients",
                    ours,
                    "1/s",
                    note=f"{size:,} B bodies; bare aiohttp handler, same body: {theirs:,.0f}/s",
                )
            )
            rows.append(
                Row(
                    f"serve.{name}.ratio",
                    f"{what}: rate as a share of the bare handler's",
                    ratio,
                    "×",
                    "≥ 0.5",
                    "ok" if ratio >= 0.5 else "under",
                )
            )
            for q in ("p50", "p99"):
                figure = _quantile(lat, 0.5 if q == "p50" else 0.99) * 1e3
                rows.append(
                    Row(
                        f"serve.{name}.{q}",
                        f"{what}: {q} latency",
                        figure,
                        "ms",
                        "≤ 50",
                        judge(figure, 50),
                    )
                )
        return rows
    finally:
        child.terminate()
        await child.wait()


async def _size(url: str, method: str, body: object) -> int:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as response:
        data = await response.read()
        if response.status != 200 or b'"errors"' in data:
            raise RuntimeError(f"{url}: HTTP {response.status}: {data[:200]!r}")
        return len(data)


async def _load(url: str, method: str, body: object, seconds: float) -> tuple[float, list[float]]:
    """Answers per second and each answer's latency, ``CLIENTS`` at once on kept connections."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload else {}
    async with aiohttp.ClientSession(connector=connector) as http:
        stop = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with http.request(method, url, data=payload, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"{url}: HTTP {answer.status}")
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        took = time.perf_counter() - began
    return len(latencies) / took, latencies


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _child() -> None:
    """The servers: simulator, service (warmed) and the baseline, on one event loop."""
    from aiohttp import web

    from pricepool import ManualClock
    from pricepool.service import Hub, make_app
    from pricepool.simulator import DEFAULT_HOMES, Simulator
    from pricepool.sources.tibber import TibberSource

    clock = ManualClock(NOW)
    home = DEFAULT_HOMES[0].id
    async with (
        Simulator(clock=clock, homes=DEFAULT_HOMES[:1]) as sim,
        TibberSource("bench", endpoint=sim.endpoint, clock=clock) as source,
    ):
        hub = Hub(source, clock=clock)
        app = make_app(hub, endpoint=sim.endpoint)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        bodies: dict[str, bytes] = {}
        async with aiohttp.ClientSession() as http:
            path = f"/v1/homes/{home}/prices?from=today&to=today"
            async with http.get(f"http://127.0.0.1:{port}{path}") as answer:
                bodies["rest"] = await answer.read()
            gql = f"http://127.0.0.1:{port}/v1-beta/gql"
            async with http.post(gql, json={"query": GQL}) as answer:
                bodies["gql"] = await answer.read()

        async def bare(request: web.Request) -> web.Response:
            await request.read()
            name = request.match_info["name"]
            return web.Response(body=bodies[name], content_type="application/json")

        baseline = web.Application()
        baseline.router.add_route("*", "/{name}", bare)
        other = web.AppRunner(baseline, access_log=None)
        await other.setup()
        bare_site = web.TCPSite(other, "127.0.0.1", 0)
        await bare_site.start()
        ports = {"service": port, "baseline": other.addresses[0][1], "home": home}
        print(json.dumps(ports), flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    import contextlib
    import logging

    logging.basicConfig(level=logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_child())
