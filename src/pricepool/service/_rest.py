"""The service's REST/JSON routes under ``/v1``: the CLI's documents, evcc's and Home Assistant's
shapes, with strong ETags for what can no longer change.

Every document is built by the same functions as ``pricepool prices -f json`` and ``pricepool
cheapest -f json``, so a range asked here and there reads the same, byte for byte.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web

from .._cli.output import hourly_intervals
from .._cli.session import describe
from .._cli.when import an_hour_before, midnight, parse_duration, parse_when, parse_within
from ..answer import Answer, Cause
from ..cheapest import cheapest_slots, cheapest_window
from ..documents import (
    VERSION,
    Unpublished,
    cheapest_base,
    currency_of,
    dumps,
    home_dict,
    interval_dict,
    iso,
    prices_json,
    shortfall,
    span_dict,
    window_dict,
)
from ..errors import (
    AuthenticationError,
    InvalidRangeError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from ..model import HomeInfo, PriceInterval, Span
from ..pool import MAX_RANGE, IntervalPool
from ..sources.tibber.wire import QUARTER_HOURS_FROM
from ._hub import Hub

__all__ = ["HUB", "add_routes", "problem"]

HUB: Final = web.AppKey("hub", Hub)
ENDPOINT: Final = web.AppKey("endpoint", str)

MAX_BODY: Final = 64 * 1024
"""Request bodies larger than this are refused with 413."""

# Published day-ahead prices never change: a day's answer may be kept this long.
_FOREVER = 86_400 * 30
_QUARTER = 900
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


@dataclass(frozen=True, slots=True)
class Rendered:
    """An answer's body and tag, kept while the pool and the clock leave it as it is."""

    body: bytes
    tag: str
    fresh_until: float | None = None
    """Until when (POSIX seconds) a client may keep it without asking; None: revalidate."""
    revision: tuple[int, int, int, bool] | None = None
    until: float = 0.0


def _rendered(text: str, fresh_until: float | None = None) -> Rendered:
    body = text if text.endswith("\n") else text + "\n"
    raw = body.encode()
    tag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    return Rendered(raw, tag, fresh_until)


def _send(request: web.Request, kept: Rendered, now: datetime) -> web.Response:
    """``kept`` with its strong ETag and the freshness left at ``now`` (a kept answer's
    max-age counts down); 304 when the client holds it already."""
    left = None if kept.fresh_until is None else int(kept.fresh_until - now.timestamp())
    cache = f"public, max-age={left}" if left is not None and left > 0 else "no-cache"
    headers = {"ETag": kept.tag, "Cache-Control": cache}
    held = request.headers.get("If-None-Match")
    if held is not None:
        # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
        given = {t.strip().removeprefix("W/") for t in held.split(",")}
        if kept.tag in given or held.strip() == "*":
            return web.Response(status=304, headers=headers)
    return web.Response(body=kept.body, content_type=_JSON, charset="utf-8", headers=headers)


def _answer(request: web.Request, text: str, now: datetime) -> web.Response:
    """``text`` as JSON with a strong ETag, to be revalidated; 304 when the client holds it."""
    return _send(request, _rendered(text), now)


class Rendering:
    """Answers already rendered, by request URL, each valid while its pool's revision holds
    and until the next quarter-hour (``today``, ``now`` and the interval in force move
    only there) or the pool's next steady change, whichever comes first.

    Rendering a day as indented JSON costs milliseconds; Home Assistant and evcc ask the
    same URL every 30 s, so most answers are a dictionary lookup.
    """

    def __init__(self, size: int = 2048) -> None:
        self._kept: OrderedDict[str, Rendered] = OrderedDict()
        self._size = size

    def get(self, url: str, pool: IntervalPool, now: datetime) -> Rendered | None:
        kept = self._kept.get(url)
        if kept is None:
            return None
        if kept.revision != pool.revision or now.timestamp() >= kept.until:
            del self._kept[url]
            return None
        self._kept.move_to_end(url)
        return kept

    def put(self, url: str, pool: IntervalPool, now: datetime, done: Rendered) -> Rendered:
        stamp = now.timestamp()
        quarter = (math.floor(stamp / _QUARTER) + 1) * _QUARTER
        until = min(quarter, pool.steady_until(now))
        if until <= stamp:
            return done
        kept = Rendered(done.body, done.tag, done.fresh_until, pool.revision, until)
        self._kept[url] = kept
        self._kept.move_to_end(url)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return kept


def _known(request: web.Request, *names: str) -> None:
    """400 for a query parameter the route does not take: a typo must not pass for the
    default. Names starting with ``_`` (cache busters) are let through."""
    for name in request.query:
        if name not in names and not name.startswith("_"):
            takes = ", ".join(names) if names else "no parameters"
            raise Refused(
                400, f"{name}: not a parameter of this route (it takes {takes})", parameter=name
            )


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
        self.rendering = Rendering()

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
        if hi.timestamp() - lo.timestamp() > MAX_RANGE:
            message = f"to: the range from {iso(lo)} to {iso(hi)} is longer than 5 years"
            raise Refused(400, message, parameter="to")
        try:
            tz = (pool.home or await pool.resolve_home()).tz
            a, b = _pages(lo, hi, self.now(), tz)
            if b.timestamp() - a.timestamp() > MAX_RANGE:
                a, b = lo, hi  # widening to whole pages must not refuse what was asked
            answer = await pool.query(a, b)
            if (a, b) != (lo, hi):
                answer = _within(answer, lo, hi)
        except InvalidRangeError as err:
            raise Refused(400, str(err), parameter="to") from None
        except SourceError as err:
            raise _failure(None, err, self.now()) from None
        error = _failed(answer)
        if error is not None and isinstance(error, AuthenticationError | UnknownHomeError):
            raise _failure(answer, error, self.now())
        return answer, error

    def kept(self, request: web.Request, pool: IntervalPool) -> web.Response | None:
        """The answer rendered before for this URL, when still true."""
        now = self.now()
        kept = self.rendering.get(str(request.rel_url), pool, now)
        return _send(request, kept, now) if kept is not None else None

    def done(
        self,
        request: web.Request,
        pool: IntervalPool,
        text: str,
        *,
        fresh_until: float | None = None,
        keep: bool = True,
    ) -> web.Response:
        """``text`` sent, and kept for the next asker unless it names a failure (whose
        words change with time)."""
        now = self.now()
        rendered = _rendered(text, fresh_until)
        if keep:
            rendered = self.rendering.put(str(request.rel_url), pool, now, rendered)
        return _send(request, rendered, now)

    # -- routes -----------------------------------------------------------------------------

    async def homes(self, request: web.Request) -> web.Response:
        _known(request)
        try:
            homes = await self.hub.homes()
        except SourceError as err:
            raise _failure(None, err, self.now()) from None
        text = dumps({"version": VERSION, "homes": [home_dict(h) for h in homes]})
        return _answer(request, text, self.now())

    async def prices(self, request: web.Request) -> web.Response:
        _known(request, "from", "to", "resolution")
        pool, info = await self.pool(request)
        hit = self.kept(request, pool)
        if hit is not None:
            return hit
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
        lacking, later = shortfall(answer, lo, hi, now, pool.publication)
        note = describe(error, self.endpoint) if error is not None else None
        rows = hourly_intervals(items, tz) if hourly else items
        text = prices_json(
            info, lo, hi, rows, note, later.as_dict() if later else None, lacking, hourly=hourly
        )
        settled = error is None and later is None and not lacking and not in_force
        fresh: float | None = None
        if settled:
            # A word such as "today" names another range after midnight: fresh until then.
            moving = _moves(start, now, tz) or end is None or _moves(end, now, tz, end=True)
            fresh = _next_midnight(now, tz).timestamp() if moving else now.timestamp() + _FOREVER
        return self.done(request, pool, text, fresh_until=fresh, keep=error is None)

    async def cheapest(self, request: web.Request) -> web.Response:
        _known(request, "duration", "slots", "window", "from", "to")
        pool, info = await self.pool(request)
        hit = self.kept(request, pool)
        if hit is not None:
            return hit
        tz, now = info.tz, self.now()
        text = _param(request, "duration") or "3h"
        try:
            length = parse_duration(text)
        except ValueError as err:
            raise Refused(400, f"duration: {err}", parameter="duration") from None
        slots_text = _param(request, "slots")
        if slots_text is not None and _param(request, "duration") is not None:
            message = "duration: give duration (one window) or slots (N intervals), not both"
            raise Refused(400, message, parameter="duration")
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
        if slots is None and length.total_seconds() > hi.timestamp() - lo.timestamp():
            message = f"duration: {text} is longer than the window ({iso(lo)} to {iso(hi)})"
            raise Refused(400, message, parameter="duration")
        answer, error = await self.query(pool, an_hour_before(lo), hi)
        items = answer.intervals
        info = pool.home or info
        if error is not None and not items:
            raise _failure(answer, error, now)
        lacking, later = shortfall(answer, lo, hi, now, pool.publication)
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
                return self.done(request, pool, dumps(body), keep=error is None)
            from ..numbers import average, rounded

            rows = [interval_dict(i, tz) for i in picked]
            body = {**base, "slots": rows, "average": rounded(average(picked))}
            return self.done(request, pool, dumps(body), keep=error is None)
        minutes = length // timedelta(minutes=1)
        window = cheapest_window(items, length, lo=lo, hi=hi)
        if window is None:
            why = _why_not(f"{text} window", later, error, lacking)
            body = {**base, "duration_minutes": minutes, "window": None, "error": why}
            return self.done(request, pool, dumps(body), keep=error is None)
        from ..numbers import over

        first, last = window.start.astimezone(tz), window.end.astimezone(tz)
        mean = over(items, first, last)
        assert mean is not None
        found = window_dict(first, last, mean)
        body = {**base, "duration_minutes": minutes, "window": found}
        return self.done(request, pool, dumps(body), keep=error is None)

    async def coverage(self, request: web.Request) -> web.Response:
        _known(request)
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
        return _answer(request, dumps(body), self.now())

    async def rates(self, request: web.Request) -> web.Response:
        """evcc's tariff shape ``{"rates": [{"start", "end", "value"}]}`` (value: the total);
        evcc's custom forecast takes the list out with ``jq: .rates | tostring``."""
        _known(request, "from", "to")
        pool, info = await self.pool(request)
        hit = self.kept(request, pool)
        if hit is not None:
            return hit
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
            if i.end.timestamp() > lo.timestamp()
        ]
        return self.done(request, pool, dumps({"rates": rates}), keep=error is None)

    async def current(self, request: web.Request) -> web.Response:
        """Home Assistant's ``rest`` sensor shape: a scalar ``price`` (the state) and the
        days as arrays (attributes)."""
        _known(request)
        pool, info = await self.pool(request)
        hit = self.kept(request, pool)
        if hit is not None:
            return hit
        tz, now = info.tz, self.now()
        today = now.astimezone(tz).date()
        lo, mid = midnight(today, tz), midnight(today + timedelta(days=1), tz)
        hi = midnight(today + timedelta(days=2), tz)
        answer, error = await self.query(pool, lo, hi)
        items = answer.intervals
        if error is not None and not items:
            raise _failure(answer, error, now)
        at, split = now.timestamp(), mid.timestamp()
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
            "today": day(lambda i: i.start.timestamp() < split),
            "tomorrow": day(lambda i: i.start.timestamp() >= split),
        }
        # Revalidated by ETag: a kept max-age would outlive the interval in force.
        return self.done(request, pool, dumps(body), keep=error is None)


def _pages(lo: datetime, hi: datetime, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[lo, hi)`` with its history widened to whole pages of the API: calendar months of
    hours (744 per page) before the quarter-hours, Monday-to-Monday weeks of quarter-hours
    (672) since. A page costs one request however little of it is asked, and clients (and
    replicas) asking different days of one page then ask for the same span, which one
    fetch answers for all. Yesterday, today and tomorrow are asked as they are."""
    recent = midnight(now.astimezone(tz).date() - timedelta(days=1), tz)
    if lo >= recent:
        return lo, hi
    first = lo.astimezone(tz).date()
    start = midnight(_page_start(first), tz)
    end = hi
    if hi <= recent:
        last = (hi - timedelta(seconds=1)).astimezone(tz).date()
        page = _page_start(last)
        after = _page_start(page + timedelta(days=32 if page < QUARTER_HOURS_FROM else 7))
        end = min(midnight(after, tz), recent)
    return min(start, lo), max(end, hi)


def _page_start(day: date) -> date:
    if day < QUARTER_HOURS_FROM:
        return day.replace(day=1)
    return max(day - timedelta(days=day.weekday()), QUARTER_HOURS_FROM)


def _within(answer: Answer, lo: datetime, hi: datetime) -> Answer:
    """``answer`` cut to ``[lo, hi)``: its intervals starting there, its gaps clipped."""
    a, b = lo.timestamp(), hi.timestamp()
    items = [i for i in answer.intervals if a <= i.start.timestamp() < b]
    gaps = []
    for gap in answer.missing:
        g_lo, g_hi = max(gap.span.start.timestamp(), a), min(gap.span.end.timestamp(), b)
        if g_hi > g_lo:
            gaps.append(replace(gap, span=Span.from_seconds(int(g_lo), math.ceil(g_hi))))
    return replace(answer, intervals=items, missing=tuple(gaps))


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
