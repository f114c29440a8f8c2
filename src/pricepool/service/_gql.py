"""Tibber's GraphQL API at ``POST /v1-beta/gql``, answered from the pools.

The schema is the one SDL file the simulator serves (``wire.sdl()``). Prices come from the
home's pool (``pool.query``), so any number of clients cost the upstream what one costs;
everything else about the account comes from ``Meta`` (one request, kept a day). Answers
follow the simulator's conventions: a cursor is base64 of a node's ``startsAt``; ``after``
and ``before`` exclude the instant they name; ``priceInfoRange`` ends at local midnight of
the home's today; ``first``/``last`` are capped at the schema's page sizes; HOURLY nodes of
quarter-hourly days average the hour's four quarters (energy and tax rounded to 4 places).

A part the upstream could not give comes back as what is cached plus an error whose
``extensions.code`` says why (TOO_MANY_REQUESTS with ``retryAfter`` seconds, or
SERVICE_UNAVAILABLE, ...). Documents deeper than ``MAX_DEPTH`` or with more than
``MAX_FIELDS`` fields are refused with HTTP 400.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    parse,
    validate,
)

from ..answer import Answer, Cause
from ..clock import Clock, local_midnight
from ..errors import (
    AuthenticationError,
    PricePoolError,
    RateLimitedError,
    SourceError,
    UnknownHomeError,
)
from ..model import HomeInfo, PriceInterval
from ..sources.tibber.wire import (
    HOURLY,
    PAGE_MAX,
    QUARTER_HOURLY,
    QUARTER_HOURS_FROM,
    decode_cursor,
    encode_cursor,
    node_of,
    sdl,
)
from ._meta import Meta

if TYPE_CHECKING:
    from ..pool import IntervalPool

__all__ = ["MAX_DEPTH", "MAX_FIELDS", "PATH", "WEBSOCKET_URL", "Hub", "add_routes"]

PATH: Final = "/v1-beta/gql"
WEBSOCKET_URL: Final = "wss://websocket-api.tibber.com/v1-beta/gql/subscriptions"
"""Tibber's own live-data endpoint: the service relays no subscriptions, Tibber serves them."""
_KEPT: Final = 512
MAX_DEPTH: Final = 10
MAX_FIELDS: Final = 100
_META_KEY: Final = web.AppKey("pricepool.gql.meta", Meta)
_HUB_KEY: Final = web.AppKey("pricepool.gql.hub", object)


class _Source(Protocol):
    async def details(self) -> dict[str, Any]: ...


class Hub(Protocol):
    """What the GraphQL face needs of the service's hub."""

    @property
    def source(self) -> Any: ...

    @property
    def clock(self) -> Clock: ...

    async def pool(self, ref: str) -> IntervalPool: ...

    def revision(self) -> tuple[object, ...]: ...

    def steady_until(self, now: datetime) -> float: ...


# -- limits ----------------------------------------------------------------------------------


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _measure(document: DocumentNode) -> tuple[int, int]:
    """Depth and field count of ``document`` with fragments expanded (counted, not copied).

    Runs before validation (the limits guard its cost too): a spread met again inside
    itself counts nothing, and validation refuses the cycle.
    """
    fragments = _fragments(document)
    memo: dict[str, tuple[int, int]] = {}

    def walk(selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                d, f = walk(selection.selection_set)
                depth, fields = max(depth, d + 1), fields + f + 1
            elif isinstance(selection, InlineFragmentNode):
                d, f = walk(selection.selection_set)
                depth, fields = max(depth, d), fields + f
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in memo:
                    memo[name] = (0, 0)  # a cycle ends here
                    found = fragments.get(name)
                    memo[name] = walk(found.selection_set) if found else (0, 0)
                d, f = memo[name]
                depth, fields = max(depth, d), fields + f
        return depth, fields

    depth = fields = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            d, f = walk(definition.selection_set)
            depth, fields = max(depth, d), max(fields, f)
    return depth, fields


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parsed:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...] = ()


def _formatted(error: GraphQLError, code: str, **extensions: Any) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(error.formatted)
    shaped["extensions"] = {"code": code, **(shaped.get("extensions") or {}), **extensions}
    return shaped


@lru_cache(maxsize=512)
def _parse(query: str) -> _Parsed:
    """Parse, validate and measure once per distinct text: clients repeat a handful."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as err:
        return _Parsed(None, (_formatted(err, "GRAPHQL_PARSE_FAILED"),))
    depth, fields = _measure(document)
    if depth > MAX_DEPTH:
        error = GraphQLError(f"the query is {depth} levels deep; at most {MAX_DEPTH} are served")
        return _Parsed(None, (_formatted(error, "GRAPHQL_VALIDATION_FAILED"),))
    if fields > MAX_FIELDS:
        error = GraphQLError(f"the query asks for {fields} fields; at most {MAX_FIELDS} are served")
        return _Parsed(None, (_formatted(error, "GRAPHQL_VALIDATION_FAILED"),))
    problems = validate(SCHEMA, document)
    if problems:
        return _Parsed(None, tuple(_formatted(e, "GRAPHQL_VALIDATION_FAILED") for e in problems))
    return _Parsed(document)


@dataclass(frozen=True, slots=True)
class _Request:
    query: str
    variables: dict[str, Any] | None
    operation: str | None


def _read(content_type: str, body: bytes) -> _Request:
    """The GraphQL request in a JSON, form-encoded (pyTibber's older releases) or
    application/graphql body; ValueError naming what is wrong."""
    raw: Any
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs

        form = parse_qs(body.decode("utf-8", "replace"))
        raw = {key: values[-1] for key, values in form.items()}
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
    return _Request(query, variables or None, operation)


# -- errors ----------------------------------------------------------------------------------


def _code(error: BaseException) -> str:
    if isinstance(error, RateLimitedError):
        return "TOO_MANY_REQUESTS"
    if isinstance(error, UnknownHomeError):
        return "NOT_FOUND"
    if isinstance(error, AuthenticationError):
        return "UPSTREAM_UNAUTHENTICATED"
    return "SERVICE_UNAVAILABLE"


def _retry_after(error: SourceError, retry_at: datetime | None, now: datetime) -> int | None:
    """Seconds until the pool asks again (its word is current; the error's may be old)."""
    if retry_at is not None:
        return max(1, math.ceil((retry_at - now).total_seconds()))
    if error.retry_after is not None:
        return max(1, math.ceil(error.retry_after))
    return None


def _upstream(error: SourceError, now: datetime, retry_at: datetime | None = None) -> GraphQLError:
    """An upstream failure as a GraphQL error: the code and, when known, ``retryAfter``.

    The message is the error's own words (which never hold the token).
    """
    extensions: dict[str, Any] = {"code": _code(error)}
    wait = _retry_after(error, retry_at, now)
    if wait is not None:
        extensions["retryAfter"] = wait
    return GraphQLError(f"upstream: {error}", extensions=extensions)


# -- resolvers -------------------------------------------------------------------------------


@dataclass
class _Context:
    hub: Hub
    meta: Meta
    now: datetime
    late: list[GraphQLError] = field(default_factory=list)
    """Errors of fields that still got (partial) data, added to the answer after execution."""


Info = GraphQLResolveInfo[_Context]


def _ctx(info: Info) -> _Context:
    context: _Context = info.context
    return context


async def _viewer_meta(info: Info) -> dict[str, Any]:
    ctx = _ctx(info)
    try:
        return await ctx.meta.viewer()
    except SourceError as err:
        raise _upstream(err, ctx.now) from err


async def _viewer(_root: Any, info: Info) -> dict[str, Any]:
    viewer = await _viewer_meta(info)
    return {**viewer, "websocketSubscriptionUrl": WEBSOCKET_URL}


def _home_view(home: Mapping[str, Any]) -> dict[str, Any]:
    """A home of the metadata, its subscriptions marked with the home for the price fields."""
    view = dict(home)
    current = home.get("currentSubscription")
    view["currentSubscription"] = (
        {**current, "_home": home.get("id")} if isinstance(current, dict) else None
    )
    view["subscriptions"] = [
        {**sub, "_home": home.get("id")} if isinstance(sub, dict) else sub
        for sub in home.get("subscriptions") or []
    ]
    return view


async def _homes(viewer: dict[str, Any], _info: Info) -> list[dict[str, Any]]:
    return [_home_view(h) for h in viewer.get("homes") or [] if isinstance(h, dict)]


async def _home(viewer: dict[str, Any], _info: Info, id: str) -> dict[str, Any]:
    for home in viewer.get("homes") or []:
        if isinstance(home, dict) and home.get("id") == id:
            return _home_view(home)
    raise GraphQLError(f"Could not find home with id {id!r}", extensions={"code": "NOT_FOUND"})


async def _pool_of(sub: Mapping[str, Any], info: Info) -> IntervalPool:
    ctx = _ctx(info)
    try:
        return await ctx.hub.pool(str(sub["_home"]))
    except SourceError as err:
        raise _upstream(err, ctx.now) from err


async def _info_of(pool: IntervalPool, info: Info) -> HomeInfo:
    """The pool's home (its zone and currency); an upstream failure becomes a coded error."""
    try:
        return await pool.resolve_home()
    except SourceError as err:
        raise _upstream(err, _ctx(info).now) from err


async def _query(pool: IntervalPool, start: datetime, end: datetime, info: Info) -> Answer:
    """The pool's answer; a failed part becomes an error beside the data, not instead of it."""
    ctx = _ctx(info)
    try:
        answer = await pool.query(start, end)
    except SourceError as err:
        raise _upstream(err, ctx.now) from err
    except PricePoolError as err:
        raise GraphQLError(str(err), extensions={"code": "INTERNAL_SERVER_ERROR"}) from err
    for gap in answer.missing:
        if gap.cause is Cause.FAILED and gap.error is not None:
            error = _upstream(gap.error, ctx.now, gap.retry_at)
            path = info.path.as_list()
            # One error per field says it; more reads of the field would repeat the cause.
            if all(late.path != path for late in ctx.late):
                ctx.late.append(GraphQLError(error.message, path=path, extensions=error.extensions))
            break
    return answer


def _hours(day: list[PriceInterval], average: float | None) -> list[dict[str, Any]]:
    """A quarter-hourly day as hours: groups of four from local midnight, as Tibber does."""
    out = []
    for i in range(0, len(day), 4):
        group = day[i : i + 4]
        energy = round(sum(q.energy for q in group) / len(group), 4)
        tax = round(sum(q.tax for q in group) / len(group), 4)
        total = round(energy + tax, 4)
        node = node_of(group[0])
        node.update(energy=energy, tax=tax, total=total)
        node["level"] = _level(total, average) if average is not None else _mode(group)
        out.append(node)
    return out


# Tibber's documented thresholds, as a share of the trailing three-day average price.
_THRESHOLDS: Final = ((0.60, "VERY_CHEAP"), (0.90, "CHEAP"))


def _level(total: float, average: float) -> str:
    if average <= 1e-9:
        return "VERY_CHEAP" if total < average else "NORMAL"
    ratio = total / average
    for limit, name in _THRESHOLDS:
        if ratio <= limit:
            return name
    if ratio < 1.15:
        return "NORMAL"
    return "EXPENSIVE" if ratio < 1.40 else "VERY_EXPENSIVE"


def _mode(group: Sequence[PriceInterval]) -> str | None:
    levels = [q.level.value for q in group if q.level is not None]
    return max(set(levels), key=levels.count) if levels else None


def _by_day(intervals: Sequence[PriceInterval], tz: Any) -> dict[date, list[PriceInterval]]:
    days: dict[date, list[PriceInterval]] = {}
    for item in intervals:
        days.setdefault(item.start.astimezone(tz).date(), []).append(item)
    return days


def _trailing(days: Mapping[date, list[PriceInterval]], day: date) -> float | None:
    """The mean of the daily mean totals of ``day`` and the two before, when all are held."""
    means = []
    for back in range(3):
        held = days.get(day - timedelta(days=back))
        if not held:
            return None
        means.append(sum(i.total for i in held) / len(held))
    return sum(means) / 3


def _nodes(
    intervals: Sequence[PriceInterval],
    resolution: str,
    home: HomeInfo,
    context: Sequence[PriceInterval] = (),
) -> list[dict[str, Any]]:
    """Price nodes at ``resolution``; ``context`` holds the days before (for hourly levels)."""
    if resolution == QUARTER_HOURLY:
        return [node_of(i) for i in intervals]
    tz = home.tz
    days = _by_day([*context, *intervals], tz)
    out: list[dict[str, Any]] = []
    for day, held in _by_day(intervals, tz).items():
        if day < QUARTER_HOURS_FROM or any(i.length >= timedelta(hours=1) for i in held):
            out.extend(node_of(i) for i in held)
        else:
            out.extend(_hours(held, _trailing(days, day)))
    return out


async def _price_info(sub: dict[str, Any], info: Info, resolution: str = HOURLY) -> dict[str, Any]:
    pool = await _pool_of(sub, info)
    home = await _info_of(pool, info)
    now = _ctx(info).now
    tz = home.tz
    today = now.astimezone(tz).date()
    begin = local_midnight(today, tz)
    # Two days before today ride along for hourly levels; the pool holds them (recent window).
    early = local_midnight(today - timedelta(days=2), tz) if resolution == HOURLY else begin
    answer = await _query(pool, early, local_midnight(today + timedelta(days=2), tz), info)
    before = [i for i in answer.intervals if i.start.timestamp() < begin.timestamp()]
    held = [i for i in answer.intervals if i.start >= begin]
    nodes = _nodes(held, resolution, home, before)
    mid = local_midnight(today + timedelta(days=1), tz)
    today_nodes = [n for n in nodes if datetime.fromisoformat(n["startsAt"]) < mid]
    current = None
    for node in today_nodes:
        if datetime.fromisoformat(node["startsAt"]) <= now:
            current = node
    return {
        "current": current,
        "today": today_nodes,
        "tomorrow": nodes[len(today_nodes) :],
    }


def _bound(cursor: str | None, name: str, home: HomeInfo) -> datetime | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, home.tz)
    except ValueError as err:
        raise GraphQLError(f"{name}: {err}", extensions={"code": "BAD_USER_INPUT"}) from err


def _count(value: int | None, name: str) -> int | None:
    if value is not None and value < 0:
        raise GraphQLError(
            f"{name} must not be negative, got {value}", extensions={"code": "BAD_USER_INPUT"}
        )
    return value


_REACH: Final = timedelta(days=5 * 365 - 2)
"""How far back a page without ``after`` may look: the pool answers ranges up to five years."""


def _step(resolution: str) -> timedelta:
    return timedelta(minutes=15) if resolution == QUARTER_HOURLY else timedelta(hours=1)


async def _price_info_range(
    sub: dict[str, Any],
    info: Info,
    resolution: str,
    first: int | None = None,
    last: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    pool = await _pool_of(sub, info)
    home = await _info_of(pool, info)
    tz = home.tz
    first, last = _count(first, "first"), _count(last, "last")
    after_at, before_at = _bound(after, "after", home), _bound(before, "before", home)
    now = _ctx(info).now
    # History ends at local midnight of today: it never overlaps priceInfo.today.
    hi = local_midnight(now.astimezone(tz).date(), tz).astimezone(UTC)
    if before_at is not None:
        hi = min(hi, datetime.fromtimestamp(math.ceil(before_at.timestamp()), UTC))
    lo = hi - _REACH
    if after_at is not None:
        lo = max(lo, datetime.fromtimestamp(math.floor(after_at.timestamp()) + 1, UTC))
    limit = PAGE_MAX[resolution]
    walk = _Walk(pool, home, resolution, info)
    if first is not None:
        take = first if last is not None else min(first, limit)
        ahead = await walk.forward(lo, hi, take + 1)
        has_next = len(ahead) > take
        page = ahead[:take]
        if last is not None:
            page = page[len(page) - min(last, limit) :] if last else []
        start = _at(page[0]) if page else hi
        has_previous = bool(await walk.backward(lo, start, 1))
    else:
        want = limit if last is None else min(last, limit)
        behind = await walk.backward(lo, hi, want + 1)
        has_previous = len(behind) > want
        page = behind[len(behind) - want :] if want else []
        if page:
            has_next = bool(await walk.forward(_at(page[-1]) + timedelta(seconds=1), hi, 1))
        else:
            # Nothing before hi within reach: nothing after lo either, unless none was asked.
            has_next = not want and bool(await walk.backward(lo, hi, 1))
    return _connection(home, resolution, page, has_previous, has_next)


def _at(node: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(node["startsAt"]).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _Walk:
    """Reads nodes from the pool in growing windows, so a page asks only for what it shows."""

    pool: IntervalPool
    home: HomeInfo
    resolution: str
    info: Info

    async def forward(self, lo: datetime, hi: datetime, n: int) -> list[dict[str, Any]]:
        """The first ``n`` nodes starting in ``[lo, hi)``."""
        found: list[dict[str, Any]] = []
        at = lo
        span = max(_step(self.resolution) * n, timedelta(days=1))
        while at < hi and len(found) < n:
            end = min(hi, at + span)
            chunk = await self.read(at, end)
            found.extend(chunk)
            at = end
            # Before the data begins windows double, so finding its start takes few reads.
            span = span * 2 if not chunk else max(_step(self.resolution) * n, timedelta(days=1))
        return found[:n]

    async def backward(self, lo: datetime, hi: datetime, n: int) -> list[dict[str, Any]]:
        """The last ``n`` nodes starting in ``[lo, hi)``, oldest first."""
        found: list[dict[str, Any]] = []
        at = hi
        while at > lo and len(found) < n:
            # Whole days and one more: pages of nearby sizes read the same span, which
            # concurrent clients then share as one upstream call.
            days = math.ceil(_step(self.resolution) * (n - len(found)) / timedelta(days=1)) + 1
            start = max(lo, at - timedelta(days=days))
            chunk = await self.read(start, at)
            if not chunk:
                break  # nothing there: before the home's history (or a failure, reported)
            found[:0] = chunk
            at = start
        return found[len(found) - n :] if len(found) > n else found

    async def read(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Nodes starting in ``[start, end)`` at the walk's resolution."""
        tz = self.home.tz
        first_day = start.astimezone(tz).date()
        early = local_midnight(first_day, tz)
        if self.resolution == HOURLY:
            # Whole days (hours group from midnight), and two before for hourly levels.
            early = local_midnight(first_day - timedelta(days=2), tz)
        late = local_midnight(end.astimezone(tz).date() + timedelta(days=1), tz)
        answer = await _query(self.pool, early, late, self.info)
        begin = local_midnight(first_day, tz)
        held = [i for i in answer.intervals if i.start >= begin]
        context = [i for i in answer.intervals if i.start.timestamp() < begin.timestamp()]
        nodes = _nodes(held, self.resolution, self.home, context)
        return [n for n in nodes if start <= _at(n) < end]


def _connection(
    home: HomeInfo,
    resolution: str,
    nodes: list[dict[str, Any]],
    has_previous: bool,
    has_next: bool,
) -> dict[str, Any]:
    edges = [
        {"cursor": encode_cursor(datetime.fromisoformat(n["startsAt"])), "node": n} for n in nodes
    ]
    energies = [n["energy"] for n in nodes if n["energy"] is not None]
    totals = [n["total"] for n in nodes]
    return {
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "resolution": resolution,
            "currency": home.currency or (nodes[0]["currency"] if nodes else None),
            "count": len(nodes),
            "minEnergy": min(energies, default=None),
            "minTotal": min(totals, default=None),
            "maxEnergy": max(energies, default=None),
            "maxTotal": max(totals, default=None),
        },
        "edges": edges,
        "nodes": nodes,
    }


def _build() -> GraphQLSchema:
    # Its own schema object: wire.schema() is shared and must stay without resolvers.
    schema = build_schema(sdl())
    resolvers = {
        ("Query", "viewer"): _viewer,
        ("Viewer", "homes"): _homes,
        ("Viewer", "home"): _home,
        ("Subscription", "priceInfo"): _price_info,
        ("Subscription", "priceInfoRange"): _price_info_range,
    }
    for (type_name, field_name), resolve in resolvers.items():
        owner = schema.get_type(type_name)
        assert isinstance(owner, GraphQLObjectType)
        owner.fields[field_name].resolve = resolve
    return schema


SCHEMA: Final = _build()


# -- HTTP ------------------------------------------------------------------------------------


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )


def _errors(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def add_routes(app: web.Application, hub: Hub) -> None:
    """Serve Tibber's GraphQL API at ``PATH`` from ``hub``'s pools and source."""
    meta = Meta(hub.source.details, clock=hub.clock, path=getattr(hub, "meta_path", None))
    app[_META_KEY] = meta
    app[_HUB_KEY] = hub

    # Answers by (query, variables, operation): clients poll the same query, and executing
    # one over two days of quarter-hours costs milliseconds. Kept while no pool changed
    # and until the next quarter-hour or a pool's next steady change.
    kept: OrderedDict[tuple[str, str, str | None], tuple[object, float, bytes]] = OrderedDict()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            asked = _read(request.content_type, body)
        except (ValueError, UnicodeDecodeError) as err:
            return _json(_errors(f"Bad request: {err}", "BAD_REQUEST"), status=400)
        key = (asked.query, json.dumps(asked.variables, sort_keys=True), asked.operation)
        now = hub.clock()
        state = (hub.revision(), meta.fetched_at)
        hit = kept.get(key)
        if hit is not None and hit[0] == state and now.timestamp() < hit[1]:
            kept.move_to_end(key)
            return web.Response(body=hit[2], content_type="application/json")
        parsed = _parse(asked.query)
        if parsed.document is None:
            return _json({"errors": list(parsed.errors)}, status=400)
        context = _Context(hub, meta, hub.clock())
        result = execute(
            SCHEMA,
            parsed.document,
            context_value=context,
            variable_values=asked.variables,
            operation_name=asked.operation,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        payload = _payload(result, context)
        raw = json.dumps(payload).encode()
        if "errors" not in payload:
            stamp = context.now.timestamp()
            until = min((math.floor(stamp / 900) + 1) * 900, hub.steady_until(context.now))
            if until > stamp:
                kept[key] = ((hub.revision(), meta.fetched_at), until, raw)
                kept.move_to_end(key)
                while len(kept) > _KEPT:
                    kept.popitem(last=False)
        return web.Response(body=raw, content_type="application/json")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="pricepool: POST Tibber GraphQL queries here\n")

    app.router.add_post(PATH, handle)
    app.router.add_get(PATH, health)


def _payload(result: ExecutionResult, context: _Context) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": result.data}
    errors = [*(result.errors or []), *context.late]
    if errors:
        payload["errors"] = [
            _formatted(
                error,
                (error.extensions or {}).get("code")
                or ("BAD_USER_INPUT" if error.original_error is None else "INTERNAL_SERVER_ERROR"),
            )
            for error in errors
        ]
    return payload


def meta_of(app: web.Application) -> Meta:
    """The metadata ``add_routes`` keeps for ``app`` (for metrics and tests)."""
    return app[_META_KEY]
