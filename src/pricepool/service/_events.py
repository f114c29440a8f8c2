"""Push instead of poll: the service fetches tomorrow at publication time and tells
subscribers of ``GET /v1/homes/{home}/events`` (Server-Sent Events) what came of it.

Per home a watch sleeps (on the hub's clock and sleep) until tomorrow's publication instant
plus a few seconds of jitter, asks its pool for tomorrow, and announces ``prices`` when the
day is there or ``unpublished`` when it is late; a late day is asked again at the pool's
re-check time, so the upstream sees at most one request per re-check. A subscriber that
connects later gets the latest announcement at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from ..answer import Cause
from ..clock import local_midnight
from ..errors import SourceError, UnknownHomeError
from ..model import HomeInfo
from ..numbers import average
from ._hub import Hub
from ._rest import problem

__all__ = ["Events", "add_routes"]

log = logging.getLogger("pricepool.service")

_JITTER = 5.0
_HEARTBEAT = 15.0
# A subscriber that reads nothing for this many announcements is let go.
_BACKLOG = 64


@dataclass(slots=True)
class _Said:
    """One announcement: its kind, id and one-line JSON data."""

    kind: str
    id: int
    data: dict[str, Any]

    def encoded(self) -> bytes:
        text = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"event: {self.kind}\nid: {self.id}\ndata: {text}\n\n".encode()


@dataclass(slots=True)
class _Home:
    latest: _Said | None = None
    listeners: set[asyncio.Queue[_Said | None]] = field(default_factory=set)
    told: tuple[str, date] | None = None


class Events:
    """The watches and the subscribers of one application."""

    def __init__(self, hub: Hub, *, rng: random.Random | None = None) -> None:
        self.hub = hub
        self._rng = rng or random.Random()
        self._homes: dict[str, _Home] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._count = 0
        self.closing = False

    def _home(self, home_id: str) -> _Home:
        return self._homes.setdefault(home_id, _Home())

    # -- watches --------------------------------------------------------------------------

    async def start(self) -> None:
        """A watch per home of the account (the home list asked in the background)."""
        self._tasks.append(asyncio.create_task(self._begin(), name="pricepool-events"))

    async def _begin(self) -> None:
        while True:
            try:
                homes = await self.hub.homes()
                break
            except SourceError as err:
                log.warning("no home list yet, so no publication watch: %s", err)
                await self.hub.sleep(self.hub.recheck.total_seconds())
        for home in homes:
            jitter = self._rng.uniform(0, _JITTER)
            task = asyncio.create_task(self._watch(home, jitter), name=f"watch {home.id}")
            self._tasks.append(task)

    async def stop(self) -> None:
        """Stop the watches and end every stream (a stop must not wait for subscribers)."""
        self.closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for state in self._homes.values():
            for queue in state.listeners:
                queue.put_nowait(None)

    async def _watch(self, home: HomeInfo, jitter: float) -> None:
        hub = self.hub
        while True:
            try:
                wait = await self._step(home, jitter)
            except asyncio.CancelledError:
                raise
            except SourceError as err:
                log.warning("publication watch of home %s: %s", home.id, err)
                wait = hub.recheck.total_seconds()
            except Exception:
                # A bug must not end the watch for good: said in the log, tried again later.
                log.exception("publication watch of home %s failed", home.id)
                wait = hub.recheck.total_seconds()
            await hub.sleep(max(1.0, wait))

    async def _step(self, home: HomeInfo, jitter: float) -> float:
        """Ask for tomorrow when it is due; the seconds until the next look."""
        hub = self.hub
        tz = home.tz
        now = hub.clock()
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        due = hub.publication.expected(tomorrow, tz) + timedelta(seconds=jitter)
        if now < due:
            return (due - now).total_seconds()
        pool = await hub.pool(home.id)
        lo, hi = local_midnight(tomorrow, tz), local_midnight(tomorrow + timedelta(days=1), tz)
        answer = await pool.query(lo, hi)
        now = hub.clock()
        if not answer.missing:
            self._prices(home, tomorrow, answer.intervals, lo, hi)
            after = hub.publication.expected(tomorrow + timedelta(days=1), tz)
            return (after + timedelta(seconds=jitter) - now).total_seconds()
        gap = answer.missing[0]
        if gap.cause is Cause.UNPUBLISHED:
            self._late(home, tomorrow, gap.expected_at, gap.retry_at)
        elif gap.error is not None:
            log.warning("tomorrow's prices of home %s: %s", home.id, gap.error)
        retry = gap.retry_at or now + hub.recheck
        return (retry - now).total_seconds()

    def _prices(
        self, home: HomeInfo, day: date, items: list[Any], lo: datetime, hi: datetime
    ) -> None:
        state = self._home(home.id)
        if state.told == ("prices", day):
            return
        totals = [i.total for i in items]
        self._say(
            home.id,
            "prices",
            {
                "home": home.id,
                "day": day.isoformat(),
                "from": lo.isoformat(timespec="seconds"),
                "to": hi.isoformat(timespec="seconds"),
                "intervals": len(items),
                "currency": home.currency,
                "min": min(totals) if totals else None,
                "max": max(totals) if totals else None,
                "average": average(items),
            },
        )
        state.told = ("prices", day)

    def _late(
        self, home: HomeInfo, day: date, expected: datetime | None, retry: datetime | None
    ) -> None:
        state = self._home(home.id)
        if state.told == ("unpublished", day):
            return
        self._say(
            home.id,
            "unpublished",
            {
                "home": home.id,
                "day": day.isoformat(),
                "expected_at": expected.isoformat(timespec="seconds") if expected else None,
                "retry_at": retry.isoformat(timespec="seconds") if retry else None,
            },
        )
        state.told = ("unpublished", day)

    def _say(self, home_id: str, kind: str, data: dict[str, Any]) -> None:
        # Milliseconds of the clock, always rising: ids stay increasing across restarts,
        # so a client's Last-Event-ID from before one is not mistaken for a newer one.
        self._count = max(self._count + 1, int(self.hub.clock().timestamp() * 1000))
        said = _Said(kind, self._count, data)
        state = self._home(home_id)
        state.latest = said
        for queue in list(state.listeners):
            if queue.qsize() >= _BACKLOG:
                state.listeners.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(said)
        log.info("event %s for home %s: %s", kind, home_id, data.get("day"))

    # -- subscribers ------------------------------------------------------------------------

    async def stream(self, home_id: str, heard: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of one subscriber's stream: the latest announcement (unless ``heard``,
        its Last-Event-ID, says it has it), then each new one, with a comment line when
        nothing was said for a while."""
        state = self._home(home_id)
        queue: asyncio.Queue[_Said | None] = asyncio.Queue()
        state.listeners.add(queue)
        try:
            yield b"retry: 10000\n: pricepool events\n\n"
            latest = state.latest
            if latest is not None and (heard is None or latest.id > heard):
                yield latest.encoded()
            while not self.closing:
                try:
                    said = await asyncio.wait_for(queue.get(), _HEARTBEAT)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if said is None:
                    return
                yield said.encoded()
        finally:
            state.listeners.discard(queue)


_KEY: Final = web.AppKey("events", Events)


def add_routes(
    app: web.Application, hub: Hub, *, watch: bool = True, rng: random.Random | None = None
) -> None:
    """``GET /v1/homes/{home}/events``; with ``watch``, the publication watches that feed it,
    started and stopped with ``app``."""
    events = Events(hub, rng=rng)
    app[_KEY] = events

    async def started(_app: web.Application) -> None:
        await events.start()

    async def stopping(_app: web.Application) -> None:
        await events.stop()

    async def handle(request: web.Request) -> web.StreamResponse:
        ref = request.match_info["home"]
        try:
            pool = await hub.pool(ref)
        except UnknownHomeError:
            return problem(404, f"the account has no home {ref!r}", parameter="home")
        except SourceError as err:
            return problem(503, f"the price API is unavailable: {err}")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                # Proxies (nginx) would otherwise hold events back in their buffers.
                "X-Accel-Buffering": "no",
            }
        )
        # EventSource sends the id of the last event it saw when it reconnects.
        told = request.headers.get("Last-Event-ID", "").strip()
        heard = int(told) if told.isdigit() else None
        await response.prepare(request)
        try:
            async for chunk in events.stream(pool.home_id, heard):
                await response.write(chunk)
        except ConnectionError:
            log.debug("a subscriber of home %s left", pool.home_id)
        return response

    if watch:
        app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    app.router.add_get("/v1/homes/{home}/events", handle)


def events_of(app: web.Application) -> Events:
    """The events ``add_routes`` keeps for ``app`` (for tests)."""
    return app[_KEY]
