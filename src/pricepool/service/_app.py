"""The aiohttp application of ``pricepool serve``: routes, the API key, health, and a clean stop."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from . import _events, _gql, _metrics, _rest
from ._hub import Hub
from ._rest import MAX_BODY

__all__ = ["MAX_BODY", "KeyRequired", "loopback", "make_app", "serve"]

log = logging.getLogger("pricepool.service")
access = logging.getLogger("pricepool.access")


_OPEN: Final = frozenset({"/healthz"})
# What systemd, docker, timeout and a closed terminal send: each stops the service cleanly.
_STOPS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_KEY: Final = web.AppKey("api_key", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class KeyRequired(ValueError):
    """Binding beyond loopback without an API key."""


def loopback(host: str) -> bool:
    """Whether ``host`` reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With an API key, every route but /healthz needs ``Authorization: Bearer <key>``."""
    key = request.app.get(_KEY)
    if key and request.path not in _OPEN:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        # Constant time: the comparison must not tell how much of a guess was right.
        good = scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), key.encode()
        )
        if not good:
            response = _rest.problem(401, "this service needs Authorization: Bearer <api key>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="pricepool"'
            return response
    return await handler(request)


@web.middleware
async def _logged(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One structured access line per answer, and its count and time in the metrics; the
    query string may hold nothing secret but is left out all the same (only the route
    and what came of it)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as err:
        status = err.status
        raise
    finally:
        took = time.perf_counter() - started
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        _metrics.seen(request.app, name, request.method, status, took)
        access.info(
            "%s %s %d %.1fms",
            request.method,
            name,
            status,
            took * 1000,
            extra={
                "method": request.method,
                "route": name,
                "status": status,
                "seconds": took,
                "remote": request.remote,
            },
        )


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "up"})


def make_app(
    hub: Hub, *, endpoint: str, api_key: str | None = None, watch: bool = False
) -> web.Application:
    """The service's application over ``hub``; ``api_key`` guards every route but /healthz;
    ``watch`` fetches tomorrow at publication time and announces it on ``/events`` (what
    ``pricepool serve`` does; off for an application that only answers)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_logged, _guard, _rest.refusals])
    if api_key:
        app[_KEY] = api_key

    async def readyz(_request: web.Request) -> web.Response:
        ok, why = await hub.ready()
        return web.json_response(
            {"status": "ready" if ok else "not ready", "reason": why}, status=200 if ok else 503
        )

    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", readyz)
    _rest.add_routes(app, hub, endpoint)
    _gql.add_routes(app, hub)
    _metrics.add_routes(app, hub)
    _events.add_routes(app, hub, watch=watch)
    return app


async def serve(
    app: web.Application,
    hub: Hub,
    *,
    host: str,
    port: int,
    grace: float = 10.0,
    started: Callable[[str], None] | None = None,
) -> None:
    """Answer on ``host:port`` until SIGTERM, SIGINT or SIGHUP; then stop accepting, let
    answers under way finish (up to ``grace`` seconds), flush every store, and return."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in _STOPS:
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = ", ".join(f"http://{_hostport(a)}" for a in runner.addresses)
        log.info("pricepool serve answering on %s", bound)
        if started is not None:
            started(bound)
        await stop.wait()
        log.info("stopping: finishing answers under way, then saving")
    finally:
        for signum in _STOPS:
            loop.remove_signal_handler(signum)
        try:
            await runner.cleanup()
        finally:
            await hub.close()


def _hostport(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address)
