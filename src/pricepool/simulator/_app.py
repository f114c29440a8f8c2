"""The HTTP face of the simulator: Tibber's endpoint, its refusals and injected faults."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs

from aiohttp import web
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
    parse,
    validate,
)

from ..clock import Clock, local_midnight, system_clock
from ..model import zone
from ..publication import PUBLISH_AT
from ._faults import Faults, SimRequest
from ._homes import DEFAULT_HOMES, SimHome
from ._prices import QUARTER_HOURLY, forward, published_through
from ._schema import SCHEMA, Context

log = logging.getLogger("pricepool.simulator")

__all__ = ["BAN_NOTICE", "CURSORS", "PATH", "TOKEN_ERRORS", "Simulator", "serve"]

PATH: Final = "/v1-beta/gql"
CURSORS: Final = ("start", "end")
BAN_NOTICE: Final = (
    "Too many requests. Your IP is now temporarily banned for calling API for a few minutes."
)
_ANSWERS_KEPT: Final = 256
_TRACKED: Final = frozenset({"homes", "priceInfo", "priceInfoRange"})
_BLOCKED_NOTICE: Final = (
    "<!DOCTYPE html><html><head><title>Request blocked</title></head><body>"
    "<h1>Access denied</h1><p>Requests from this user agent are blocked. "
    "Please identify your application in the User-Agent header.</p></body></html>"
)


@dataclass(frozen=True, slots=True)
class _Query:
    query: str
    variables: dict[str, Any] | None
    operation: str | None


@dataclass(frozen=True, slots=True)
class _Parsed:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]
    fields: frozenset[str]


def _tracked_fields(document: DocumentNode) -> frozenset[str]:
    found: set[str] = set()
    pending: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in _TRACKED:
                    found.add(selection.name.value)
                if selection.selection_set is not None:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
    return frozenset(found)


def _formatted(error: GraphQLError, code: str) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = shaped.get("extensions") or {}
    shaped["extensions"] = {"code": code, **extensions}
    return shaped


@lru_cache(maxsize=512)
def _parse(query: str) -> _Parsed:
    """Parse and validate once per distinct query text: clients repeat a handful."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as err:
        return _Parsed(None, (_formatted(err, "GRAPHQL_PARSE_FAILED"),), frozenset())
    fields = _tracked_fields(document)
    problems = validate(SCHEMA, document)
    if problems:
        errors = tuple(_formatted(err, "GRAPHQL_VALIDATION_FAILED") for err in problems)
        return _Parsed(None, errors, fields)
    return _Parsed(document, (), fields)


def _read_query(content_type: str, body: bytes) -> _Query:
    """The GraphQL request in a JSON, form-encoded (pyTibber) or application/graphql body."""
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", "replace"))
        raw: dict[str, Any] = {key: values[-1] for key, values in form.items()}
        if isinstance(raw.get("variables"), str) and raw["variables"]:
            raw["variables"] = json.loads(raw["variables"])
    elif content_type == "application/graphql":
        raw = {"query": body.decode("utf-8", "replace")}
    else:
        raw = json.loads(body)
    if not isinstance(raw, dict):
        raise ValueError("the body must be a JSON object")
    query, variables, operation = raw.get("query"), raw.get("variables"), raw.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("the body has no query")
    if variables is not None and not isinstance(variables, dict):
        raise ValueError("variables must be an object")
    if operation is not None and not isinstance(operation, str):
        raise ValueError("operationName must be a string")
    return _Query(query, variables or None, operation)


def _errors(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


_TOKEN_ERRORS: Final = {
    "jws": "Context creation failed: Invalid Compact JWS",
    "exp": 'Context creation failed: "exp" claim timestamp check failed',
}
TOKEN_ERRORS: Final = tuple(_TOKEN_ERRORS)


def _token_error(kind: str) -> dict[str, Any]:
    """A token refused by Tibber's JWT layer: no UNAUTHENTICATED code, only the words."""
    message = _TOKEN_ERRORS.get(kind, f"Context creation failed: {kind}")
    return {"data": None, **_errors(message, "INTERNAL_SERVER_ERROR")}


_STATUS_CODES: Final = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    429: "TOO_MANY_REQUESTS",
}


class Simulator:
    """Tibber's GraphQL price API on loopback, with a movable clock and injectable faults.

    ``token=None`` accepts any non-empty bearer token; otherwise a different token is
    refused like Tibber refuses one (HTTP 200 with an UNAUTHENTICATED error). A missing
    token gets HTTP 401. Each client IP may make ``rate_limit`` requests per ``rate_window``
    seconds of the simulator clock; more get HTTP 429 with ``Retry-After``, or, with
    ``ban`` seconds given, Tibber's ban: HTTP 429 in text/plain without Retry-After, and
    every request until ``ban`` seconds after the last one refused the same way.
    ``page_limit`` caps pages below the schema's caps (672 quarter-hours, 744 hours);
    ``cursors`` ("start" or "end") is what an edge's cursor names, ``inclusive_after``
    makes ``after``/``before`` include the instant they name (Tibber since 2025-01).
    """

    def __init__(
        self,
        *,
        homes: Sequence[SimHome] | None = None,
        clock: Clock | None = None,
        token: str | None = None,
        publish_hour: int = PUBLISH_AT.hour,
        publish_delay: timedelta = timedelta(0),
        rate_limit: int = 100,
        rate_window: float = 300.0,
        ban: float | None = None,
        page_limit: int | None = None,
        cursors: str = "start",
        inclusive_after: bool = False,
        seed: int = 0,
    ) -> None:
        chosen = tuple(DEFAULT_HOMES if homes is None else homes)
        if not chosen:
            raise ValueError("a simulator needs at least one home")
        if len({home.id for home in chosen}) != len(chosen):
            raise ValueError("home ids must be unique")
        if not 0 <= publish_hour <= 23:
            raise ValueError(f"publish_hour must be 0..23, got {publish_hour}")
        if rate_limit < 1 or rate_window <= 0:
            raise ValueError("rate_limit and rate_window must be positive")
        if page_limit is not None and page_limit < 1:
            raise ValueError(f"page_limit must be positive, got {page_limit}")
        if cursors not in CURSORS:
            raise ValueError(f"cursors must be one of {', '.join(CURSORS)}, got {cursors!r}")
        if ban is not None and not ban > 0:
            raise ValueError(f"ban must be positive seconds, got {ban}")
        if token is not None and not token:
            raise ValueError("token must be non-empty (or None to accept any)")
        self.homes: tuple[SimHome, ...] = chosen
        self._by_id = {home.id: home for home in chosen}
        self.clock: Clock = clock or system_clock
        self.token = token
        self.publish_hour = publish_hour
        self.publish_delay = publish_delay
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.page_limit = page_limit
        self.cursors = cursors
        self.inclusive_after = inclusive_after
        self.ban = ban
        self._banned: dict[str, datetime] = {}
        self.faults = Faults()
        self.requests = 0
        self.log: list[SimRequest] = []
        self._rng = random.Random(seed)
        self._windows: dict[str, deque[datetime]] = {}
        self._runner: web.AppRunner | None = None
        self._endpoint: str | None = None
        self._websocket_url = ""
        self._closing = asyncio.Event()
        self._answers: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self.app = web.Application()
        self.app.router.add_post(PATH, self._handle)
        self.app.router.add_get(PATH, self._health)
        self.app.router.add_get("/", self._health)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) and return the endpoint URL."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._closing = asyncio.Event()
        # A short shutdown timeout: hung requests are released by ``stop`` anyway.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self._endpoint = f"http://{shown}:{bound[1]}{PATH}"
        self._websocket_url = f"ws://{shown}:{bound[1]}{PATH}/subscriptions"
        return self._endpoint

    async def stop(self) -> None:
        """Stop serving; requests left hanging are released."""
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._endpoint = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT/v1-beta/gql`` once started."""
        if self._endpoint is None:
            raise RuntimeError("simulator not started")
        return self._endpoint

    # -- what tests look at --------------------------------------------------------------

    def reset_counters(self) -> None:
        """Forget the request count and log (rate-limit windows are kept)."""
        self.requests = 0
        self.log.clear()

    def _home(self, home_id: str) -> SimHome:
        try:
            return self._by_id[home_id]
        except KeyError:
            raise KeyError(f"unknown home id {home_id!r}") from None

    def truth(
        self, home_id: str, start: datetime, end: datetime, resolution: str = QUARTER_HOURLY
    ) -> list[dict[str, Any]]:
        """The Price nodes the API has starting in ``[start, end)``, published or not."""
        home = self._home(home_id)
        for name, value in (("start", start), ("end", end)):
            if value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware, got {value!r}")
        if resolution not in ("HOURLY", QUARTER_HOURLY):
            raise ValueError(f"unknown resolution {resolution!r}")
        lo = math.ceil(start.timestamp())
        hi = math.ceil(end.timestamp())
        return [dict(node) for node in forward(home, resolution, lo, hi)]

    def published_until(self, home_id: str) -> datetime:
        """End of the last home-local day whose prices are out at the clock's now."""
        home = self._home(home_id)
        last = published_through(home, self.clock(), self.publish_hour, self.publish_delay)
        return local_midnight(last + timedelta(days=1), zone(home.time_zone))

    # -- serving -------------------------------------------------------------------------

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="pricepool simulator: POST GraphQL queries here\n")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        at = self.clock()
        body = await request.read()
        query: _Query | None = None
        problem = ""
        try:
            query = _read_query(request.content_type, body)
        except (ValueError, UnicodeDecodeError) as err:
            problem = str(err) or "unreadable body"
        parsed = _parse(query.query) if query is not None else None
        fields = parsed.fields if parsed is not None else frozenset()
        variables = query.variables if query is not None else None

        faults = self.faults
        if faults.hang:
            self.log.append(SimRequest(at, 0, fields, variables))
            await self._closing.wait()
            return web.Response(status=503, text="simulator stopped")
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        response = self._answer(request, at, query, parsed, problem)
        self.log.append(SimRequest(at, response.status, fields, variables))
        name = (query.operation if query is not None else None) or "-"
        # What a user of ``pricepool simulator -v`` watches: each request and its answer.
        log.info("request %d %s %s: HTTP %d", self.requests, name, variables or {}, response.status)
        return response

    def _answer(
        self,
        request: web.Request,
        at: datetime,
        query: _Query | None,
        parsed: _Parsed | None,
        problem: str,
    ) -> web.Response:
        faults = self.faults
        client = request.remote or "unknown"
        if self._ban_holds(client, at):
            return web.Response(status=429, text=BAN_NOTICE, content_type="text/plain")
        wait = self._admit(client, at)
        if wait is not None and self.ban is not None:
            self._banned[client] = at + timedelta(seconds=self.ban)
            log.info("over the rate limit: %s banned for %g s", client, self.ban)
            return web.Response(status=429, text=BAN_NOTICE, content_type="text/plain")
        if wait is not None:
            return web.json_response(
                _errors(
                    "Too many requests. Your IP is temporarily blocked.",
                    "TOO_MANY_REQUESTS",
                    retryAfter=wait,
                ),
                status=429,
                headers={"Retry-After": str(wait)},
            )
        if faults.fail_next > 0:
            faults.fail_next -= 1
            return self._injected(faults.status or 503)
        if faults.status is not None and faults.status >= 400:
            return self._injected(faults.status)
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            return self._injected(503)
        if faults.malformed:
            truncated = '{"data": {"viewer": {"homes": [{"id": '
            return web.Response(status=200, text=truncated, content_type="application/json")
        if faults.non_graphql:
            return web.Response(status=200, text=_BLOCKED_NOTICE, content_type="text/html")

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return web.json_response(
                _errors("No valid access token in request", "UNAUTHENTICATED"),
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if faults.invalid_token or (self.token is not None and token != self.token):
            # Since 2025-01 Tibber answers a bad token with HTTP 200 and this error.
            return self._json(_errors("Context creation failed: invalid token", "UNAUTHENTICATED"))
        if faults.token_error is not None:
            return self._json(_token_error(faults.token_error))
        if faults.errors_without_extensions:
            error = {"message": "Internal server error", "path": ["viewer"], "extensions": None}
            return self._json({"data": None, "errors": [error]})

        if query is None or parsed is None:
            return self._json(_errors(f"Bad request: {problem}", "BAD_REQUEST"), status=400)
        if parsed.document is None:
            return self._json({"errors": list(parsed.errors)}, status=400)
        return self._respond(self._execute(at, query, parsed.document))

    def _json(self, payload: dict[str, Any], status: int = 200) -> web.Response:
        return self._respond(json.dumps(payload).encode(), status)

    def _respond(self, body: bytes, status: int = 200) -> web.Response:
        forced = self.faults.status
        if status == 200 and forced is not None and forced < 400:
            status = forced
        return web.Response(body=body, status=status, content_type="application/json")

    def _ban_holds(self, client: str, at: datetime) -> bool:
        """True while ``client`` is banned; a request in a ban extends it, as Tibber's do."""
        until = self._banned.get(client)
        if until is None or self.ban is None:
            return False
        if at >= until:
            del self._banned[client]
            return False
        self._banned[client] = at + timedelta(seconds=self.ban)
        return True

    def banned_until(self, client: str = "127.0.0.1") -> datetime | None:
        """When the ban of ``client`` ends (simulator clock), None when it is not banned."""
        until = self._banned.get(client)
        return until if until is not None and until > self.clock() else None

    def _admit(self, client: str, at: datetime) -> int | None:
        """Record a request of ``client``; seconds until a slot frees when over the limit."""
        window = self._windows.setdefault(client, deque())
        horizon = at - timedelta(seconds=self.rate_window)
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= self.rate_limit:
            return max(1, math.ceil((window[0] - horizon).total_seconds()))
        window.append(at)
        return None

    def _injected(self, status: int) -> web.Response:
        headers = {}
        if self.faults.retry_after is not None and status in (429, 503):
            headers["Retry-After"] = str(max(0, math.ceil(self.faults.retry_after)))
        if status >= 500:
            text = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
            return web.Response(status=status, text=text, content_type="text/html", headers=headers)
        code = _STATUS_CODES.get(status, f"HTTP_{status}")
        extensions = {}
        if status == 429 and self.faults.retry_after is not None:
            extensions["retryAfter"] = self.faults.retry_after
        return web.json_response(
            _errors(f"HTTP {status}", code, **extensions), status=status, headers=headers
        )

    def _execute(self, at: datetime, query: _Query, document: DocumentNode) -> bytes:
        """The answer's body, from the cache when nothing it depends on has changed."""
        # An answer depends on the time only through the quarter-hour holding it (every
        # zone's offset is a multiple of 15 minutes) and which days are published.
        key = (
            query.query,
            json.dumps(query.variables, sort_keys=True),
            query.operation,
            int(at.timestamp() // 900),
            tuple(
                published_through(home, at, self.publish_hour, self.publish_delay)
                for home in self.homes
            ),
            self.faults.empty_today,
            self.faults.null_subscription,
            self.faults.quarter_outage,
            self.faults.null_range,
            self.page_limit,
            self.cursors,
            self.inclusive_after,
            self._websocket_url,
        )
        body = self._answers.get(key)
        if body is not None:
            self._answers.move_to_end(key)
            return body
        body = json.dumps(self._run(at, query, document)).encode()
        self._answers[key] = body
        if len(self._answers) > _ANSWERS_KEPT:
            self._answers.popitem(last=False)
        return body

    def _run(self, at: datetime, query: _Query, document: DocumentNode) -> dict[str, Any]:
        context = Context(
            homes=self._by_id,
            now=at,
            faults=self.faults,
            page_limit=self.page_limit,
            cursors=self.cursors,
            inclusive_after=self.inclusive_after,
            publish_hour=self.publish_hour,
            publish_delay=self.publish_delay,
            websocket_url=self._websocket_url,
        )
        result = execute_sync(
            SCHEMA,
            document,
            context_value=context,
            variable_values=query.variables,
            operation_name=query.operation,
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [
                _formatted(
                    error,
                    "BAD_USER_INPUT" if error.original_error is None else "INTERNAL_SERVER_ERROR",
                )
                for error in result.errors
            ]
        return payload


async def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    token: str | None = None,
    homes: Sequence[SimHome] | None = None,
    clock: Clock | None = None,
    publish_hour: int = PUBLISH_AT.hour,
    publish_delay: timedelta = timedelta(0),
    rate_limit: int = 100,
    rate_window: float = 300.0,
    ban: float | None = None,
    page_limit: int | None = None,
    cursors: str = "start",
    inclusive_after: bool = False,
    faults: Faults | None = None,
    seed: int = 0,
) -> None:
    """Run a simulator on ``host:port`` until cancelled, printing its endpoint."""
    simulator = Simulator(
        homes=homes,
        clock=clock,
        token=token,
        publish_hour=publish_hour,
        publish_delay=publish_delay,
        rate_limit=rate_limit,
        rate_window=rate_window,
        ban=ban,
        page_limit=page_limit,
        cursors=cursors,
        inclusive_after=inclusive_after,
        seed=seed,
    )
    if faults is not None:
        simulator.faults = faults
    await simulator.start(host, port)
    try:
        print(f"pricepool simulator serving Tibber's API at {simulator.endpoint}", flush=True)
        for home in simulator.homes:
            print(f"  home {home.id}  {home.time_zone:<17} {home.currency}  {home.nickname}")
        accepted = "any bearer token" if token is None else "only the given token"
        print(f"accepting {accepted}; Ctrl-C stops it", flush=True)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
