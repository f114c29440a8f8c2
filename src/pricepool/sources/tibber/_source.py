"""``TibberSource``: which query answers which part of a span, and what the answer covers."""

from __future__ import annotations

import asyncio
import math
import random
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiohttp

from ...clock import Clock, day_ceil, day_floor, day_start, local_midnight, system_clock
from ...errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from ...model import HomeInfo, PriceInterval, Span, zone
from ..base import FetchResult
from . import _queries
from ._limiter import Limiter, RequestLimiter
from ._transport import Transport
from ._transport import user_agent as agent
from .wire import (
    EDGE,
    HOURLY,
    PAGE_MAX,
    QUARTER_HOURLY,
    QUARTER_HOURS_FROM,
    Nodes,
    Page,
    cursor,
    items,
    lengths,
    obj,
    page,
    resolution,
    slot_length,
    slots,
    start_of,
)

__all__ = ["ENDPOINT", "SourceStatus", "TibberSource"]

ENDPOINT = "https://api.tibber.com/v1-beta/gql"

# How a run of range pages ended: "done" answers the whole part, "cut" only up to the data.
_Ending = Literal["done", "cut"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What a ``TibberSource`` can tell a metrics page, read without a request.

    ``requests_left`` may go now under the limiter's ``limit`` per ``window`` seconds;
    ``banned_until`` is when the API's ban ends, ``down_until`` when an endpoint marked
    down is asked again (None: not banned / not down); ``requests`` were sent so far,
    ``outcomes`` counts them by what came of them; ``answered_at``: the last usable answer.
    """

    requests_left: int
    limit: int
    window: float
    banned_until: datetime | None
    down_until: datetime | None
    requests: int
    outcomes: Mapping[str, int] = field(default_factory=dict)
    answered_at: datetime | None = None


@dataclass
class _Answer:
    """What one fetch has heard so far, across all its requests."""

    nodes: Nodes = field(default_factory=Nodes)
    time_zone: str | None = None

    def heard(self, home: dict[str, Any]) -> None:
        tz = home.get("timeZone")
        if isinstance(tz, str) and tz:
            self.time_zone = tz

    def join(self, other: _Answer) -> None:
        """Take in what another request heard (``other`` is left as it is)."""
        self.nodes.join(other.nodes)
        self.time_zone = other.time_zone or self.time_zone


@dataclass(frozen=True, slots=True)
class _Recent:
    """The recent-window request's outcome, shared by every fetch that waited for it."""

    answered: Span | None
    pending: Span | None
    heard: _Answer


@dataclass(slots=True)
class _Flight:
    """A recent-window request under way and how many fetches wait for it."""

    task: asyncio.Task[_Recent]
    waiters: int = 0


_FlightKey = tuple[str, str, datetime]


class TibberSource:
    """Prices from Tibber's GraphQL API, as a ``PriceSource``.

    The span from the day before yesterday (home-local) onward costs one request, which
    concurrent fetches share; older spans are paged from ``priceInfoRange``, a page as
    large as the schema allows. Answers cover whole local days.

    Every pool sharing a source shares its ``limiter`` (at most ``max_requests`` per
    rolling ``per_seconds``; pass one of your own, e.g. shared by replicas, as
    ``limiter``) and its ban: after a 429 nothing is sent for Retry-After seconds, else
    ``ban`` seconds. A call takes at most ``retry_budget + timeout`` seconds, waits
    included; after one gave up on an unreachable API, calls fail at once for ``down_for``
    seconds.
    """

    def __init__(
        self,
        token: str,
        *,
        endpoint: str | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        user_agent: str | None = None,
        retry_budget: float = 30.0,
        max_requests: int = 100,
        per_seconds: float = 300.0,
        max_in_flight: int = 2,
        limiter: RequestLimiter | None = None,
        ban: float = 600.0,
        down_for: float = 30.0,
        timeout: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise AuthenticationError("no Tibber token given")
        # A token read from a file or an environment variable often ends in a line break.
        token = token.strip()
        if any(unicodedata.category(c) == "Cc" for c in token):
            # Never name the token: it is a secret, and an echo of it is how it leaks.
            raise AuthenticationError("the Tibber token contains a line break or control character")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be positive and finite, got {timeout}")
        if not (retry_budget >= 0 and math.isfinite(retry_budget)):
            raise ValueError(f"retry_budget must be finite and not negative, got {retry_budget}")
        for name, value in (("ban", ban), ("down_for", down_for)):
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be finite and not negative, got {value}")
        self._clock = clock or system_clock
        if limiter is None:
            limiter = Limiter(max_requests, per_seconds, monotonic=monotonic, sleep=sleep)
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self._http = Transport(
            token,
            endpoint or ENDPOINT,
            session=session,
            agent=agent(user_agent),
            timeout=timeout,
            retry_budget=retry_budget,
            ban=ban,
            down_for=down_for,
            limiter=limiter,
            max_in_flight=max_in_flight,
            clock=self._clock,
            monotonic=monotonic,
            sleep=sleep,
            rng=rng or random.Random(),
        )
        self._homes: list[HomeInfo] | None = None
        self._homes_lock = asyncio.Lock()
        self._flights: dict[_FlightKey, _Flight] = {}

    def __repr__(self) -> str:
        return f"TibberSource(endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        return self._http.endpoint

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._http.requests

    @property
    def limiter(self) -> RequestLimiter:
        """The limiter every request of this source passes."""
        return self._http.limiter

    @property
    def status(self) -> SourceStatus:
        """The limiter's room, the ban and the down mark now; asks nothing of the API."""
        http = self._http
        return SourceStatus(
            requests_left=http.limiter.left(),
            limit=http.limiter.max_requests,
            window=http.limiter.per_seconds,
            banned_until=http.banned_until,
            down_until=http.down_until,
            requests=http.requests,
            outcomes=dict(http.outcomes),
            answered_at=http.answered_at,
        )

    async def close(self) -> None:
        """Close the HTTP session if this source opened it."""
        await self._http.close()

    async def __aenter__(self) -> TibberSource:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    @contextmanager
    def _named(self) -> Iterator[None]:
        """Every error this source raises names its endpoint."""
        try:
            yield
        except SourceError as err:
            if err.endpoint is None:
                err.endpoint = self.endpoint
            raise

    # -- homes ------------------------------------------------------------------------------

    async def homes(self) -> list[HomeInfo]:
        """The account's homes, asked once and then kept."""
        with self._named():
            async with self._homes_lock:
                if self._homes is None:
                    data = await self._http.query(_queries.HOMES, {}, "PricepoolHomes")
                    viewer = obj(data.get("viewer"), "viewer")
                    found = items(viewer.get("homes") if viewer else None, "viewer.homes")
                    if found is None:
                        raise InvalidResponseError("the answer has no viewer.homes")
                    self._homes = [_home(h) for h in found]
                return list(self._homes)

    async def home(self, home_id: str) -> HomeInfo:
        """The home with ``home_id``; UnknownHomeError when the account has none."""
        with self._named():
            for home in await self.homes():
                if home.id == home_id:
                    return home
            raise UnknownHomeError(f"the Tibber account has no home {home_id!r}")

    async def details(self) -> dict[str, Any]:
        """The account and its homes as Tibber describes them (no prices), in one request.

        The answer's ``viewer`` object as sent (owner, address, metering point, features,
        subscriptions...); asked anew on every call, through the limiter.
        """
        with self._named():
            data = await self._http.query(_queries.DETAILS, {}, "PricepoolDetails")
            viewer = obj(data.get("viewer"), "viewer")
            if viewer is None or items(viewer.get("homes"), "viewer.homes") is None:
                raise InvalidResponseError("the answer has no viewer.homes")
            return viewer

    # -- prices -----------------------------------------------------------------------------

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        """Every interval in whole local days around ``span``, as far as Tibber has them.

        Older days than the day before yesterday are paged from ``priceInfoRange``; from
        there through tomorrow one request answers. Days after tomorrow are not answered;
        an unpublished tomorrow comes back as ``pending`` with no ``retry_at``.
        """
        with self._named():
            tz = home.tz
            now = self._clock()
            # All instants here are UTC: aware datetimes sharing a zone compare as wall clocks, and
            # across zones a time in the autumn night's repeated hour never compares equal.
            recent, today, tomorrow, horizon = (
                day_start(now, tz, n).astimezone(UTC) for n in (-2, 0, 1, 2)
            )
            if span.start >= horizon:
                return FetchResult([], None)
            heard = _Answer()
            start = day_floor(span.start, tz)
            if start < recent:
                part_end = min(recent, day_ceil(span.end, tz))
                try:
                    ending = await self._range(home, start, part_end, None, heard)
                except (SourceUnavailableError, RateLimitedError, InvalidResponseError) as err:
                    # A ban or an outage after some pages: those pages are kept.
                    reach = _reach(start, part_end, "cut", heard, tz)
                    if reach is None:
                        raise
                    return replace(self._result(home, heard, Span(start, reach), None), error=err)
                reach = _reach(start, part_end, ending, heard, tz)
                if reach is None:
                    return self._result(home, heard, None, None)
                if reach < recent or span.end <= recent:
                    # Asking for the recent days after a gap would not extend a contiguous answer.
                    return self._result(home, heard, Span(start, reach), None)
            else:
                start = recent
            shared = await self._recent_once(home, recent, today, tomorrow, horizon)
            heard.join(shared.heard)
            answered = shared.answered
            if start < recent:
                # History answered [start, recent): only a recent answer from there extends it.
                if answered is not None and answered.start == recent:
                    answered = Span(start, answered.end)
                else:
                    answered = Span(start, recent)
            return self._result(home, heard, answered, shared.pending)

    async def _recent_once(
        self,
        home: HomeInfo,
        recent: datetime,
        today: datetime,
        tomorrow: datetime,
        horizon: datetime,
    ) -> _Recent:
        """The recent-window answer, from one request shared by concurrent fetches.

        Each fetch waits through a shield, so a cancelled one leaves the request to the
        others; when the last one gives up, the request is cancelled. Nothing is kept once
        the request ends, so a failure reaches every waiter and the next fetch asks again.
        """
        key = (home.id, home.time_zone, recent)
        flight = self._flights.get(key)
        if flight is None or flight.task.done():
            task = asyncio.ensure_future(self._recent(home, recent, today, tomorrow, horizon))
            flight = self._flights[key] = _Flight(task)
            task.add_done_callback(lambda _: self._land(key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # Every fetch gave up: stop the request, and let the next fetch start anew.
                self._land(key, flight)
                flight.task.cancel()

    def _land(self, key: _FlightKey, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def _recent(
        self,
        home: HomeInfo,
        recent: datetime,
        today: datetime,
        tomorrow: datetime,
        horizon: datetime,
    ) -> _Recent:
        """One request for [recent, horizon): what its answer covers, and what is pending.

        The answer starts at ``recent``, or at ``today`` when the range part came back
        empty or null: Tibber has today, so the days before it cannot be known to be empty.
        A day whose quarter-hours are missing is taken from the hourly prices that came
        along; a day with neither is pending (today included), asked again as usual.
        """
        tz = home.tz
        heard = _Answer()
        data = await self._http.query(
            _queries.RECENT,
            {
                "homeId": home.id,
                "first": slots(recent, today, tz) + EDGE,
                "after": cursor(recent, tz),
            },
            "PricepoolRecent",
        )
        found = _viewer_home(data, home.id)
        heard.heard(found)
        tz = _zone(home, heard)
        sub = obj(found.get("currentSubscription"), "currentSubscription") or {}
        info = obj(sub.get("priceInfo"), "priceInfo") or {}
        hourly = obj(sub.get("hourly"), "hourly priceInfo") or {}
        first = page(sub.get("priceInfoRange"))
        begin = recent
        if first is not None and first.nodes:
            ending = await self._range(home, recent, today, first, heard)
            reach = _reach(recent, today, ending, heard, tz)
            if reach != today:
                answered = Span(recent, reach) if reach is not None else None
                return _Recent(answered, None, heard)
        else:
            # An empty page here is not "nothing exists": that holds only before the home's
            # data begins, and today says the data has begun. A null range says nothing.
            # Answer from today on, if at all.
            begin = today
        listed: set[datetime] = set()
        later = False
        for day in ("today", "tomorrow"):
            nodes = items(info.get(day), f"priceInfo.{day}") or items(
                hourly.get(day), f"hourly priceInfo.{day}"
            )
            later = bool(nodes) if day == "tomorrow" else later
            listed.update(heard.nodes.add(nodes or []))
        # today and tomorrow are plain lists: only what joins on without a gap is answered.
        reach = today
        for start, length in lengths(heard.nodes.starts(), tz):
            if start not in listed or start < reach:
                continue
            if start > reach or reach >= horizon:
                break
            reach = start + length
        reach = min(reach, horizon)
        answered = Span(begin, reach) if reach > begin else None
        if reach == today:
            # Neither resolution has today (an outage): not known yet, not unanswered.
            return _Recent(answered, Span(today, horizon), heard)
        if reach == tomorrow and not later:
            return _Recent(answered, Span(tomorrow, horizon), heard)
        return _Recent(answered, None, heard)

    async def _range(
        self,
        home: HomeInfo,
        start: datetime,
        end: datetime,
        first: Page | None,
        heard: _Answer,
    ) -> _Ending | None:
        """Page ``priceInfoRange`` from ``start`` until ``end`` is reached.

        "done": [start, end) is answered (data reached it, or none exists there);
        "cut": answered only as far as the data goes; None: Tibber sent no range at all.
        Each page starts where the last one's newest node ends, by a cursor of our own, so
        neither the server's cursors nor an inclusive ``after`` can skip or repeat a slot;
        a node repeated anyway is dropped, and a page that adds nothing ends the walk.
        Days before the 15-minute switch are asked HOURLY (pages of a month, not a week).
        """
        tz = _zone(home, heard)
        switch = local_midnight(QUARTER_HOURS_FROM, tz).astimezone(UTC)
        at = start
        got = False
        while True:
            # The recent request's page comes in quarter-hours (hourly days in it as they
            # are); a page asked HOURLY ends at the switch, after which its hours are not
            # the market's slots.
            kind = resolution(at.astimezone(tz).date()) if first is None else QUARTER_HOURLY
            stop = min(end, switch) if kind == HOURLY else end
            if first is None:
                data = await self._http.query(
                    _queries.HISTORY,
                    {
                        "homeId": home.id,
                        "resolution": kind,
                        "first": min(PAGE_MAX[kind], slots(at, stop, tz) + EDGE),
                        "after": cursor(at, tz),
                    },
                    "PricepoolHistory",
                )
                found = _viewer_home(data, home.id)
                heard.heard(found)
                sub = obj(found.get("currentSubscription"), "currentSubscription") or {}
                current = page(sub.get("priceInfoRange"))
            else:
                current, first = first, None
            if current is None:
                return "cut" if got else None
            if not current.nodes:
                # An empty first page of a history request: nothing exists after start, e.g.
                # before the home's data (the recent request never passes an empty page).
                return "cut" if got else "done"
            # Only [at, stop): a node across the cursor, or one of the next resolution
            # past the switch, would skew the slot lengths of its day.
            starts = [start_of(n) for n in current.nodes]
            inside = [n for n, s in zip(current.nodes, starts, strict=True) if at <= s < stop]
            fresh = heard.nodes.add(inside, "priceInfoRange node")
            if not fresh:
                if max(starts) >= stop:
                    # Nothing in [at, stop): the data goes on only after it (it begins
                    # later, or has a hole there).
                    got, at = True, stop
                    if at >= end:
                        return "done"
                    continue
                if current.has_next:
                    raise InvalidResponseError(
                        f"{self.endpoint}: a priceInfoRange page after "
                        f"{at.astimezone(tz).isoformat()} repeats what came before it; "
                        "paging stopped",
                        endpoint=self.endpoint,
                    )
                return "cut" if got else "done"
            got = True
            newest = max(fresh)
            at = newest + slot_length(newest.astimezone(tz).date())
            if at >= end:
                return "done"
            if not current.has_next:
                return "cut"

    def _result(
        self, home: HomeInfo, heard: _Answer, answered: Span | None, pending: Span | None
    ) -> FetchResult:
        fresh = _fresh(home, heard)
        if fresh is not None and self._homes is not None:
            self._homes = [fresh if h.id == fresh.id else h for h in self._homes]
        tz = (fresh or home).tz
        kept: list[PriceInterval] = []
        if answered is not None:
            kept = heard.nodes.intervals(
                tz, heard.nodes.currency or home.currency, (answered.start, answered.end)
            )
        return FetchResult(kept, answered, pending, None, fresh)


def _zone(home: HomeInfo, heard: _Answer) -> ZoneInfo:
    """The home's zone as last heard (an answer may name a new one)."""
    if heard.time_zone and heard.time_zone != home.time_zone:
        try:
            return zone(heard.time_zone)
        except ValueError:
            return home.tz  # refused with a clear error by _fresh
    return home.tz


def _reach(
    start: datetime, end: datetime, ending: _Ending | None, heard: _Answer, tz: ZoneInfo
) -> datetime | None:
    """Where the range answer for [start, end) ends; None when nothing was answered."""
    if ending == "done":
        return end
    if ending is None:
        return None
    inside = [(s, n) for s, n in lengths(heard.nodes.starts(), tz) if start <= s < end]
    if not inside:
        return None
    last, length = inside[-1]
    return min(last + length, end)


def _viewer_home(data: dict[str, Any], home_id: str) -> dict[str, Any]:
    viewer = obj(data.get("viewer"), "viewer")
    if viewer is None:
        raise InvalidResponseError("the answer has no viewer")
    found = obj(viewer.get("home"), "viewer.home")
    if found is None:
        raise UnknownHomeError(f"the Tibber account has no home {home_id!r}")
    return found


def _home(value: Any) -> HomeInfo:
    found = obj(value, "home")
    if found is None:
        raise InvalidResponseError("viewer.homes holds a null home")
    sub = obj(found.get("currentSubscription"), "currentSubscription") or {}
    info = obj(sub.get("priceInfo"), "priceInfo") or {}
    current = obj(info.get("current"), "priceInfo.current") or {}
    currency = current.get("currency")
    nickname = found.get("appNickname")
    try:
        return HomeInfo(
            str(found.get("id") or ""),
            str(found.get("timeZone") or ""),
            currency if isinstance(currency, str) else None,
            nickname if isinstance(nickname, str) else None,
        )
    except ValueError as err:
        raise InvalidResponseError(f"unusable home in viewer.homes: {err}") from err


def _fresh(home: HomeInfo, heard: _Answer) -> HomeInfo | None:
    """``home`` updated by what the answer said, or None when nothing changed."""
    tz = heard.time_zone or home.time_zone
    currency = heard.nodes.currency or home.currency
    if tz == home.time_zone and currency == home.currency:
        return None
    try:
        zone(tz)
    except ValueError as err:
        raise InvalidResponseError(f"home {home.id!r} has an unusable time zone: {err}") from err
    return HomeInfo(home.id, tz, currency, home.nickname)
