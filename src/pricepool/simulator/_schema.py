"""The subset of Tibber's GraphQL schema that price clients use, with its resolvers.

Semantics chosen where Tibber does not document them (see also the package docstring):

* ``priceInfoRange`` is history: it ends at local midnight of the home's today, so it
  never overlaps ``priceInfo.today``/``tomorrow`` (clients such as Home Assistant's
  tibber_prices join ``priceInfoRange(last: 192)`` with ``today + tomorrow``).
* Cursors are base64 of an ISO timestamp; a node's cursor is its ``startsAt`` (or, with
  ``cursors="end"``, the instant after it). ``after: c`` selects nodes whose cursor is
  strictly after the instant in ``c`` (at or after it with ``inclusive_after``), ``before:
  c`` strictly before (at or before): with end cursors, the node across ``c`` is in.
  ``first: n`` keeps the first n of those, ``last: n`` the last n (both: first, then
  last). Without either, the newest page is returned. A page holds at most the schema's
  cap (672 quarter-hours, 744 hours) or ``page_limit``.
* ``priceInfo(resolution:)`` defaults to HOURLY, as Tibber's does; ``priceInfoRange``
  requires its ``resolution``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any, Final

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, build_schema

from ..clock import local_midnight
from ..model import zone
from ..sources.tibber.wire import (
    PAGE_MAX,
    QUARTER_HOURLY,
    decode_cursor,
    encode_cursor,
    sdl,
    slot_length,
)
from ._faults import Faults
from ._homes import SimHome
from ._prices import (
    backward,
    day_nodes,
    forward,
    history_start,
    holding,
    published_through,
    unit,
)

__all__ = ["SCHEMA", "Context"]

SDL: Final = sdl()


@dataclass(frozen=True)
class Context:
    """What one request's resolvers may know: the account, the time and the switches."""

    homes: Mapping[str, SimHome]
    now: datetime
    faults: Faults
    page_limit: int | None
    cursors: str
    inclusive_after: bool
    publish_hour: int
    publish_delay: timedelta
    websocket_url: str


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _ctx(info: GraphQLResolveInfo[Context]) -> Context:
    return info.context


@lru_cache(maxsize=64)
def _home_view(home: SimHome) -> dict[str, Any]:
    owner = {
        "id": f"owner-{home.id}",
        "firstName": "Sim",
        "lastName": home.nickname,
        "middleName": None,
        "name": f"Sim {home.nickname}",
        "isCompany": False,
        "organizationNo": None,
        "language": {"NOK": "nb-NO", "SEK": "sv-SE"}.get(home.currency, "de-DE"),
        "contactInfo": {"email": "sim@pricepool.invalid", "mobile": None},
        "address": None,
    }
    address = {
        "address1": home.address1,
        "address2": None,
        "address3": None,
        "city": home.city,
        "postalCode": home.postal_code,
        "country": home.country,
        "latitude": home.latitude,
        "longitude": home.longitude,
    }
    return {
        "_home": home,
        "id": home.id,
        "timeZone": home.time_zone,
        "appNickname": home.nickname,
        "appAvatar": "FLOORHOUSE1",
        "size": 120,
        "type": "HOUSE",
        "numberOfResidents": 3,
        "primaryHeatingSource": "AIR2AIR_HEATPUMP",
        "hasVentilationSystem": False,
        "mainFuseSize": 25,
        "address": address,
        "owner": owner,
        "meteringPointData": {
            "consumptionEan": f"7070575000{int(unit(home.id, 'ean') * 10**8):08d}",
            "gridCompany": "Sim Grid",
            "gridAreaCode": home.price_area,
            "priceAreaCode": home.price_area,
            "productionEan": None,
            "energyTaxType": "normal",
            "vatType": "normal",
            "estimatedAnnualConsumption": 16000,
        },
        "features": {"realTimeConsumptionEnabled": False},
        "_subscription": {
            "_home": home,
            "id": f"sub-{home.id}",
            "subscriber": owner,
            "validFrom": local_midnight(home.history_start, zone(home.time_zone)).isoformat(),
            "validTo": None,
            "status": "running",
            "statusReason": None,
        },
    }


def _viewer(_root: Any, info: GraphQLResolveInfo[Context]) -> dict[str, Any]:
    ctx = _ctx(info)
    return {
        "login": "sim@pricepool.invalid",
        "userId": "5b0a8f2e-3c1d-4e6f-9a7b-1c2d3e4f5a6b",
        "name": "Pricepool Simulator",
        "accountType": ["tibber", "customer"],
        "websocketSubscriptionUrl": ctx.websocket_url,
    }


def _homes(_viewer: Any, info: GraphQLResolveInfo[Context]) -> list[dict[str, Any]]:
    return [_home_view(home) for home in _ctx(info).homes.values()]


def _home(_viewer: Any, info: GraphQLResolveInfo[Context], id: str) -> dict[str, Any]:
    home = _ctx(info).homes.get(id)
    if home is None:
        raise _error(f"Could not find home with id {id!r}", "NOT_FOUND")
    return _home_view(home)


def _current_subscription(home: dict[str, Any], info: GraphQLResolveInfo[Context]) -> Any:
    return None if _ctx(info).faults.null_subscription else home["_subscription"]


def _subscriptions(home: dict[str, Any], _info: GraphQLResolveInfo[Context]) -> list[Any]:
    return [home["_subscription"]]


def _price_info(
    sub: dict[str, Any], info: GraphQLResolveInfo[Context], resolution: str = "HOURLY"
) -> dict[str, Any]:
    ctx = _ctx(info)
    if ctx.faults.empty_today or (ctx.faults.quarter_outage and resolution == QUARTER_HOURLY):
        return {"current": None, "today": [], "tomorrow": []}
    home: SimHome = sub["_home"]
    today = ctx.now.astimezone(zone(home.time_zone)).date()
    tomorrow = today + timedelta(days=1)
    found = day_nodes(home, today, resolution)
    published = published_through(home, ctx.now, ctx.publish_hour, ctx.publish_delay)
    return {
        "current": holding(found, int(ctx.now.timestamp())),
        "today": found.nodes,
        "tomorrow": day_nodes(home, tomorrow, resolution).nodes if published >= tomorrow else [],
    }


def _bound(cursor: str | None, home: SimHome, name: str) -> datetime | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, zone(home.time_zone))
    except ValueError as err:
        raise _error(f"{name}: {err}", "BAD_USER_INPUT") from err


def _count(value: int | None, name: str) -> int | None:
    if value is not None and value < 0:
        raise _error(f"{name} must not be negative, got {value}", "BAD_USER_INPUT")
    return value


def _price_info_range(
    sub: dict[str, Any],
    info: GraphQLResolveInfo[Context],
    resolution: str,
    first: int | None = None,
    last: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> dict[str, Any] | None:
    ctx = _ctx(info)
    if ctx.faults.null_range:
        return None
    home: SimHome = sub["_home"]
    first = _count(first, "first")
    last = _count(last, "last")
    after_at = _bound(after, home, "after")
    before_at = _bound(before, home, "before")

    # Integer bounds [lo, hi): node starts are whole seconds, so "strictly after x" is
    # "at or after floor(x) + 1" and "strictly before y" is "before ceil(y)"; inclusive,
    # "at or after ceil(x)" and "before floor(y) + 1".
    today = ctx.now.astimezone(zone(home.time_zone)).date()
    hi = int(local_midnight(today, zone(home.time_zone)).timestamp())
    inclusive = ctx.inclusive_after
    if before_at is not None:
        edge = before_at.timestamp()
        hi = min(hi, int(edge // 1) + 1 if inclusive else -int(-edge // 1))
    lo = history_start(home)
    if after_at is not None:
        edge = after_at.timestamp()
        lo = max(lo, -int(-edge // 1) if inclusive else int(edge // 1) + 1)
    if ctx.cursors == "end":
        # Cursors compare as cursors: a node whose cursor (its end) passes the bound is
        # in, though it starts before it; at most the one node across each bound.
        if after_at is not None:
            across = next(backward(home, resolution, lo - 3600, lo), None)
            if across is not None and _after(_end_of(across, resolution), after_at, inclusive):
                lo = _start([across], lo)
        if before_at is not None:
            newest = next(backward(home, resolution, lo, hi), None)
            if newest is not None and not _after(before_at, _end_of(newest, resolution), inclusive):
                hi = _start([newest], hi)

    limit = PAGE_MAX[resolution]
    if ctx.page_limit is not None:
        limit = min(limit, ctx.page_limit)
    nodes: list[dict[str, Any]]
    if first is not None:
        # Walk no further than the page can hold: a huge ``first`` must not compute years.
        take = first if last is not None else min(first, limit)
        # One node past the page tells whether there is a next page.
        ahead = list(islice(forward(home, resolution, lo, hi), take + 1))
        has_next = len(ahead) > take
        nodes = ahead[:take]
        if last is not None:
            nodes = nodes[len(nodes) - min(last, limit) :] if last else []
        has_previous = _exists(backward(home, resolution, lo, _start(nodes, hi)))
    else:
        want = limit if last is None else min(last, limit)
        behind = list(islice(backward(home, resolution, lo, hi), want + 1))
        has_previous = len(behind) > want
        nodes = behind[:want][::-1]
        has_next = _exists(forward(home, resolution, _end(nodes, lo), hi))
    return _connection(home, resolution, nodes, has_previous, has_next, ctx.cursors)


def _end_of(node: dict[str, Any], resolution: str) -> datetime:
    start = datetime.fromisoformat(node["startsAt"])
    step = slot_length(start.date()) if resolution == QUARTER_HOURLY else timedelta(hours=1)
    return start.astimezone(UTC) + step


def _after(a: datetime, b: datetime, inclusive: bool) -> bool:
    """``a`` is after ``b`` (or equal, when ``inclusive``)."""
    return a >= b if inclusive else a > b


def _exists(nodes: Iterator[dict[str, Any]]) -> bool:
    return next(nodes, None) is not None


def _start(nodes: list[dict[str, Any]], default: int) -> int:
    if not nodes:
        return default
    return int(datetime.fromisoformat(nodes[0]["startsAt"]).timestamp())


def _end(nodes: list[dict[str, Any]], default: int) -> int:
    if not nodes:
        return default
    return int(datetime.fromisoformat(nodes[-1]["startsAt"]).timestamp()) + 1


def _edge_cursor(node: dict[str, Any], resolution: str, names: str) -> str:
    """The node's start, or with ``names == "end"`` the instant after it."""
    start = datetime.fromisoformat(node["startsAt"])
    if names == "end":
        start = _end_of(node, resolution).astimezone(start.tzinfo)
    return encode_cursor(start)


def _connection(
    home: SimHome,
    resolution: str,
    nodes: list[dict[str, Any]],
    has_previous: bool,
    has_next: bool,
    names: str,
) -> dict[str, Any]:
    edges = [{"cursor": _edge_cursor(node, resolution, names), "node": node} for node in nodes]
    energies = [node["energy"] for node in nodes]
    totals = [node["total"] for node in nodes]
    return {
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "resolution": resolution,
            "currency": home.currency,
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
    schema = build_schema(SDL)
    resolvers = {
        ("Query", "viewer"): _viewer,
        ("Viewer", "homes"): _homes,
        ("Viewer", "home"): _home,
        ("Home", "currentSubscription"): _current_subscription,
        ("Home", "subscriptions"): _subscriptions,
        ("Subscription", "priceInfo"): _price_info,
        ("Subscription", "priceInfoRange"): _price_info_range,
    }
    for (type_name, field_name), resolve in resolvers.items():
        owner = schema.get_type(type_name)
        assert isinstance(owner, GraphQLObjectType)
        owner.fields[field_name].resolve = resolve
    return schema


SCHEMA: Final = _build()
