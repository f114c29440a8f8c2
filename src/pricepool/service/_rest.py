"""The service's REST/JSON routes under ``/v1``: the CLI's documents, evcc's and Home Assistant's
shapes, with strong ETags for what can no longer change.

Every document is built by the same functions as ``pricepool prices -f json`` and ``pricepool
cheapest -f json``, so a range asked here and there reads the same, byte for byte.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from .._cli.output import hourly_intervals
from .._cli.publication import Unpublished, missing, unpublished
from .._cli.schemas import (
    VERSION,
    cheapest_base,
    currency_of,
    dumps,
    home_dict,
    interval_dict,
    iso,
    prices_json,
    span_dict,
    window_dict,
)
from .._cli.session import describe
from .._cli.when import an_hour_before, midnight, parse_duration, parse_when, parse_within
from ..answer import Answer, Cause
from ..cheapest import cheapest_slots, cheapest_window
from ..errors import (
    AuthenticationError,
    InvalidRangeError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from ..model import HomeInfo, PriceInterval
from ..pool import IntervalPool
from ._hub import Hub

__all__ = ["HUB", "add_routes", "problem"]

HUB: Final = web.AppKey("hub", Hub)
ENDPOINT: Final = web.AppKey("endpoint", str)

MAX_BODY: Final = 64 * 1024
"""Request bodies larger than this are refused with 413."""

# Published day-ahead prices never change: a day's answer may be kept this long.
_FOREVER = 86_400 * 30
_JSON = "application/json"


class Refused(Exception):
    """A request the service answers with an HTTP error and a JSON body naming the cause."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        parameter: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.retry_after = retry_after


def problem(
    status: int, message: str, *, parameter: str | None = None, retry_after: int | None = None
) -> web.Response:
    """An error answer: ``{"error": {"status", "message", "parameter"?}}``."""
    body: dict[str, Any] = {"status": status, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        body["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return web.Response(
        text=dumps({"error": body}) + "\n", status=status, content_type=_JSON, headers=headers
    )


def _answer(request: web.Request, text: str, *, max_age: int | None) -> web.Response:
    """``text`` as JSON with a strong ETag; 304 when the client holds it already."""
    body = text if text.endswith("\n") else text + "\n"
    raw = body.encode()
    tag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    cache = f"public, max-age={max_age}" if max_age else "no-cache"
    headers = {"ETag": tag, "Cache-Control": cache}
    held = request.headers.get("If-None-Match", "")
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    given = {t.strip().removeprefix("W/") for t in held.split(",")}
    if tag in given or held.strip() == "*":
        return web.Response(status=304, headers=headers)
    return web.Response(body=raw, content_type=_JSON, charset="utf-8", headers=headers)


def _param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _when(name: str, text: str, **kwargs: Any) -> datetime:
    try:
        return parse_when(text, **kwargs)
    except ValueError as err:
        raise Refused(400, f"{name}: {err}", parameter=name) from None
    except OverflowError:
        message = f"{name}: {text} is beyond the last date there is"
        raise Refused(400, message, parameter=name) from None


def _seconds_until(instant: datetime | None, now: datetime) -> int | None:
    if instant is None:
        return None
    return max(1, math.ceil((instant - now).total_seconds()))


def _failure(answer: Answer | None, err: SourceError | None, now: datetime) -> Refused:
    """The HTTP error for an upstream failure with nothing cached: 503 when it will pass
    (a ban, an outage) with Retry-After, 502 when the upstream answered wrongly."""
    retry_at = None
    if answer is not None:
        for gap in answer.missing:
            if gap.cause is Cause.FAILED:
                err, retry_at = gap.error, gap.retry_at
                break
    assert err is not None
    after = _seconds_until(retry_at, now)
    if after is None and err.retry_after is not None:
        after = max(1, math.ceil(err.retry_after))
    message = str(err)
    if isinstance(err, RateLimitedError | SourceUnavailableError):
        return Refused(503, f"the price API is unavailable: {message}", retry_after=after)
    if isinstance(err, AuthenticationError):
        return Refused(502, "the price API refused the service's token")
    return Refused(502, f"the price API failed: {message}", retry_after=after)


def _failed(answer: Answer) -> SourceError | None:
    for gap in answer.missing:
        if gap.cause is Cause.FAILED and gap.error is not None:
            return gap.error
    return None


class Routes:
    """The handlers, bound to one hub."""

    def __init__(self, hub: Hub, endpoint: str) -> None:
        self.hub = hub
        self.endpoint = endpoint

    def now(self) -> datetime:
        return self.hub.clock()

    async def pool(self, request: web.Request) -> tuple[IntervalPool, HomeInfo]:
        ref = request.match_info["home"]
        try:
            pool = await self.hub.pool(ref)
            return pool, await pool.resolve_home()
        except UnknownHomeError:
            raise Refused(404, f"the account has no home {ref!r}", parameter="home") from None
        except SourceError as err:
            raise _failure(None, err, self.now()) from None

    async def query(
        self, pool: IntervalPool, lo: datetime, hi: datetime
    ) -> tuple[Answer, SourceError | None]:
        try:
            answer = await pool.query(lo, hi)
        except InvalidRangeError as err:
            raise Refused(400, str(err), parameter="to") from None
        except SourceError as err:
            raise _failure(None, err, self.now()) from None
        error = _failed(answer)
        if error is not None and isinstance(error, AuthenticationError | UnknownHomeError):
            raise _failure(answer, error, self.now())
        return answer, error

    # -- routes -----------------------------------------------------------------------------

    async def homes(self, request: web.Request) -> web.Response:
        try:
            homes = await self.hub.homes()
        except SourceError as err:
            raise _failure(None, err, self.now()) from None
        text = dumps({"version": VERSION, "homes": [home_dict(h) for h in homes]})
        return _answer(request, text, max_age=None)

    async def prices(self, request: web.Request) -> web.Response:
        pool, info = await self.pool(request)
        tz, now = info.tz, self.now()
        start = _param(request, "from") or "today"
        end = _param(request, "to")
        resolution = _param(request, "resolution") or "quarter-hour"
        if resolution not in ("quarter-hour", "hour"):
            raise Refused(400, "resolution: give quarter-hour or hour", parameter="resolution")
        hourly = resolution == "hour"
        lo = _when("from", start, now=now, tz=tz)
        hi = _when("to", end, now=now, tz=tz, end=True) if end else _default_end(lo, now, tz)
        if hi <= lo:
            raise Refused(400, f"to ({iso(hi)}) must be after from ({iso(lo)})", parameter="to")
        in_force = start.lower() == "now"
        answer, error = await self.query(pool, an_hour_before(lo) if in_force else lo, hi)
        items = answer.intervals
        if in_force:
            at = lo.timestamp()
            current = next(
                (i for i in items if i.start.timestamp() <= at < i.end.timestamp()), None
            )
            lo = current.start.astimezone(tz) if current is not None else lo
            items = [i for i in items if i.end.timestamp() > lo.timestamp()]
        info = pool.home or info
        if error is not None and not items:
            raise _failure(answer, error, now)
        lacking = missing(pool, lo, hi)
        later = unpublished(pool, lo, hi, now)
        note = describe(error, self.endpoint) if error is not None else None
        rows = hourly_intervals(items, tz) if hourly else items
        text = prices_json(
            info, lo, hi, rows, note, later.as_dict() if later else None, lacking, hourly=hourly
        )
        settled = error is None and later is None and not lacking and not in_force
        age: int | None = None
        if settled:
            # A word such as "today" names another range after midnight: kept until then.
            moving = _moves(start, now, tz) or end is None or _moves(end, now, tz, end=True)
            age = _seconds_until(_next_midnight(now, tz), now) if moving else _FOREVER
        return _answer(request, text, max_age=age)

    async def cheapest(self, request: web.Request) -> web.Response:
        pool, info = await self.pool(request)
        tz, now = info.tz, self.now()
        text = _param(request, "duration") or "3h"
        try:
            length = parse_duration(text)
        except ValueError as err:
            raise Refused(400, f"duration: {err}", parameter="duration") from None
        slots_text = _param(request, "slots")
        slots: int | None = None
        if slots_text is not None:
            try:
                slots = int(slots_text)
            except ValueError:
                slots = 0
            if slots < 1:
                raise Refused(400, "slots: give a whole number of at least 1", parameter="slots")
        window_text = _param(request, "window")
        start, end = _param(request, "from"), _param(request, "to")
        if window_text is not None and (start or end):
            raise Refused(400, "window: give window or from/to, not both", parameter="window")
        if start or end:
            # Each parsed on its own, so an error names the one that is wrong; a missing
            # end is the end of tomorrow, a missing start now (as ``upcoming``).
            lo = _when("from", start, now=now, tz=tz) if start else now.astimezone(tz)
            hi = _when("to", end, now=now, tz=tz, end=True) if end else _default_end(lo, now, tz)
            if hi <= lo:
                message = f"to ({iso(hi)}) must be after from ({iso(lo)})"
                raise Refused(400, message, parameter="to")
        else:
            try:
                lo, hi = parse_within(window_text or "upcoming", now=now, tz=tz)
            except (ValueError, OverflowError) as err:
                raise Refused(400, f"window: {err}", parameter="window") from None
        answer, error = await self.query(pool, an_hour_before(lo), hi)
        items = answer.intervals
        info = pool.home or info
        if error is not None and not items:
            raise _failure(answer, error, now)
        lacking = missing(pool, lo, hi)
        later = unpublished(pool, lo, hi, now)
        currency = currency_of(info, items)
        base = cheapest_base(
            info,
            currency,
            lo,
            hi,
            describe(error, self.endpoint) if error is not None else None,
            lacking,
            later.as_dict() if later else None,
        )
        if slots is not None:
            picked = cheapest_slots(items, slots, lo=lo, hi=hi)
            if not picked:
                why = _why_not("intervals to choose from", later, error, lacking)
                body = {**base, "slots": [], "average": None, "error": why}
                return _answer(request, dumps(body), max_age=None)
            from .._cli.numbers import average, rounded

            rows = [interval_dict(i, tz) for i in picked]
            body = {**base, "slots": rows, "average": rounded(average(picked))}
            return _answer(request, dumps(body), max_age=None)
        minutes = length // timedelta(minutes=1)
        window = cheapest_window(items, length, lo=lo, hi=hi)
        if window is None:
            why = _why_not(f"{text} window", later, error, lacking)
            body = {**base, "duration_minutes": minutes, "window": None, "error": why}
            return _answer(request, dumps(body), max_age=None)
        from .._cli.numbers import over

        first, last = window.start.astimezone(tz), window.end.astimezone(tz)
        mean = over(items, first, last)
        assert mean is not None
        found = window_dict(first, last, mean)
        body = {**base, "duration_minutes": minutes, "window": found}
        return _answer(request, dumps(body), max_age=None)

    async def coverage(self, request: web.Request) -> web.Response:
        pool, info = await self.pool(request)
        tz = info.tz
        answered, pending = pool.coverage()
        body = {
            "version": VERSION,
            "home": home_dict(pool.home or info),
            "covered": [span_dict(s, tz) for s in answered],
            "pending": [
                {**span_dict(p.span, tz), "retry_at": iso(p.retry_at.astimezone(tz))}
                for p in pending
            ],
            "published_until": _iso(pool.published_until(), info),
        }
        return _answer(request, dumps(body), max_age=None)

    async def rates(self, request: web.Request) -> web.Response:
        """evcc's custom tariff forecast: a JSON list of ``{"start", "end", "value"}`` (value:
        the total), which evcc unmarshals as it is (an object around it would need a jq)."""
        pool, info = await self.pool(request)
        tz, now = info.tz, self.now()
        start, end = _param(request, "from"), _param(request, "to")
        lo = _when("from", start, now=now, tz=tz) if start else now
        hi = _when("to", end, now=now, tz=tz, end=True) if end else _default_end(lo, now, tz)
        if hi <= lo:
            raise Refused(400, f"to ({iso(hi)}) must be after from ({iso(lo)})", parameter="to")
        answer, error = await self.query(pool, an_hour_before(lo), hi)
        if error is not None and not answer.intervals:
            raise _failure(answer, error, now)
        rates = [
            {"start": _utc(i.start), "end": _utc(i.end), "value": i.total}
            for i in answer.intervals
            if i.end > lo
        ]
        return _answer(request, dumps(rates), max_age=None)

    async def current(self, request: web.Request) -> web.Response:
        """Home Assistant's ``rest`` sensor shape: a scalar ``price`` (the state) and the
        days as arrays (attributes)."""
        pool, info = await self.pool(request)
        tz, now = info.tz, self.now()
        today = now.astimezone(tz).date()
        lo, mid = midnight(today, tz), midnight(today + timedelta(days=1), tz)
        hi = midnight(today + timedelta(days=2), tz)
        answer, error = await self.query(pool, lo, hi)
        items = answer.intervals
        if error is not None and not items:
            raise _failure(answer, error, now)
        at = now.timestamp()
        here = next((i for i in items if i.start.timestamp() <= at < i.end.timestamp()), None)
        currency = currency_of(pool.home or info, items)

        def day(selected: Callable[[PriceInterval], bool]) -> list[dict[str, Any]]:
            return [interval_dict(i, tz) for i in items if selected(i)]

        body = {
            "price": here.total if here else None,
            "level": here.level.value if here and here.level else None,
            "start": iso(here.start.astimezone(tz)) if here else None,
            "end": iso(here.end.astimezone(tz)) if here else None,
            "currency": currency,
            "home": home_dict(pool.home or info),
            "today": day(lambda i: i.start < mid),
            "tomorrow": day(lambda i: i.start >= mid),
        }
        # Fresh until the interval in force ends (Home Assistant polls every 30 s).
        age = _seconds_until(here.end, now) if here else None
        return _answer(request, dumps(body), max_age=None if age is None else min(age, 900))


def _why_not(
    what: str, later: Unpublished | None, error: SourceError | None, lacking: list[Any]
) -> str:
    if later is not None:
        return f"no {what} yet: {later.message}"
    if error is not None and lacking:
        return str(error)
    return f"no {what}: no prices known in the range"


def _utc(instant: datetime) -> str:
    """RFC 3339 in UTC, as evcc writes its own rates."""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _moves(text: str, now: datetime, tz: Any, *, end: bool = False) -> bool:
    """Whether ``text`` names another instant tomorrow (today, now, ...) than today."""
    later = now + timedelta(days=1)
    return parse_when(text, now=now, tz=tz, end=end) != parse_when(text, now=later, tz=tz, end=end)


def _next_midnight(now: datetime, tz: Any) -> datetime:
    return midnight(now.astimezone(tz).date() + timedelta(days=1), tz)


def _iso(instant: datetime | None, info: HomeInfo) -> str | None:
    return iso(instant.astimezone(info.tz)) if instant is not None else None


def _default_end(lo: datetime, now: datetime, tz: Any) -> datetime:
    """The end of tomorrow, or of ``lo``'s day when that is later (as ``prices``)."""
    try:
        after = midnight(now.astimezone(tz).date() + timedelta(days=2), tz)
        return after if lo < after else midnight(lo.date() + timedelta(days=1), tz)
    except OverflowError:
        raise Refused(400, "from: beyond the last date there is; give to", parameter="to") from None


@web.middleware
async def refusals(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """A :class:`Refused` as its JSON error answer; so too the web layer's own refusals
    (no such route, wrong method, a body too large), which it would answer in plain text."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Refused as err:
        return problem(
            err.status, err.message, parameter=err.parameter, retry_after=err.retry_after
        )
    except web.HTTPException as err:
        if err.status < 400:
            raise
        answer = problem(err.status, _said(err, request))
        for name in ("Allow", "WWW-Authenticate"):
            if name in err.headers:
                answer.headers[name] = err.headers[name]
        return answer


def _said(err: web.HTTPException, request: web.Request) -> str:
    if isinstance(err, web.HTTPRequestEntityTooLarge):
        return f"the request body is over {MAX_BODY // 1024} KiB"
    if isinstance(err, web.HTTPNotFound):
        return f"no route {request.path}; the routes are under /v1 and /v1-beta/gql"
    if isinstance(err, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(err.allowed_methods))
        return f"{request.method} is not answered at {request.path}; use {allowed}"
    return err.reason


def add_routes(app: web.Application, hub: Hub, endpoint: str) -> None:
    """The ``/v1`` routes of ``hub``'s pools."""
    routes = Routes(hub, endpoint)
    app[HUB] = hub
    app[ENDPOINT] = endpoint
    app.router.add_get("/v1/homes", routes.homes)
    app.router.add_get("/v1/homes/{home}/prices", routes.prices)
    app.router.add_get("/v1/homes/{home}/cheapest", routes.cheapest)
    app.router.add_get("/v1/homes/{home}/coverage", routes.coverage)
    app.router.add_get("/v1/homes/{home}/rates", routes.rates)
    app.router.add_get("/v1/homes/{home}/current", routes.current)
