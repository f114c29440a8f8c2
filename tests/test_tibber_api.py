"""TibberSource against the API as it really answers (issue 10), through the simulator.

Bans in text/plain, the client-side limit, bounded calls, an endpoint marked down, the
quarter-hourly outage, a null priceInfoRange, cursors and page caps, token errors, and the
facts each error carries. Time is the injected clock; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from graphql import parse, validate

from pricepool import HomeInfo, IntervalPool, ManualClock, Span
from pricepool.clock import local_midnight
from pricepool.errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    Reason,
    SourceUnavailableError,
    UnknownHomeError,
)
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.simulator._schema import SCHEMA
from pricepool.sources.tibber import TibberSource, _queries, wire
from pricepool.sources.tibber._limiter import Limiter, RequestLimiter

OSLO = ZoneInfo("Europe/Oslo")
SIM_HOME = DEFAULT_HOMES[0]
HOME = HomeInfo(SIM_HOME.id, SIM_HOME.time_zone, SIM_HOME.currency, SIM_HOME.nickname)
TODAY = date(2025, 11, 10)


def oslo(day: date, hour: int = 0) -> datetime:
    return local_midnight(day, OSLO) + timedelta(hours=hour)


def days(first: date, count: int) -> Span:
    return Span(oslo(first), oslo(first + timedelta(days=count)))


class Time:
    """Monotonic time that moves only when the source sleeps or the test says so; it moves
    the simulator's clock along, so rate windows and bans pass."""

    def __init__(self, clock: ManualClock) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.clock = clock

    def monotonic(self) -> float:
        return self.now

    def pass_(self, seconds: float) -> None:
        self.now += seconds
        self.clock.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.pass_(seconds)
        await asyncio.sleep(0)


class Rig:
    def __init__(self, sim: Simulator, clock: ManualClock) -> None:
        self.sim = sim
        self.clock = clock
        self.time = Time(clock)

    def source(self, **kwargs: Any) -> TibberSource:
        return TibberSource(
            "sim-token",
            endpoint=self.sim.endpoint,
            clock=self.clock,
            sleep=self.time.sleep,
            monotonic=self.time.monotonic,
            **kwargs,
        )

    def statuses(self) -> list[int]:
        return [r.status for r in self.sim.log]


@asynccontextmanager
async def rig(now: datetime | None = None, **kwargs: Any) -> AsyncIterator[Rig]:
    clock = ManualClock(now or oslo(TODAY, 14))
    async with Simulator(clock=clock, **kwargs) as sim:
        yield Rig(sim, clock)


# -- bans --------------------------------------------------------------------------------------


async def test_a_ban_stops_every_pool_sharing_the_source_until_it_ends() -> None:
    async with rig(rate_limit=3, ban=600) as r:
        source = r.source(retry_budget=30)
        one = IntervalPool(HOME.id, source, clock=r.clock)
        two = IntervalPool(HOME.id, source, clock=r.clock)
        async with source:
            await source.homes()
            await one.get_intervals(oslo(date(2025, 3, 1)), oslo(date(2025, 3, 2)))
            await two.get_intervals(oslo(date(2025, 3, 5)), oslo(date(2025, 3, 6)))
            with pytest.raises(RateLimitedError) as caught:
                await one.get_intervals(oslo(date(2025, 4, 1)), oslo(date(2025, 4, 2)))
            # Tibber's ban: text/plain, no Retry-After; ten minutes, never retried.
            assert r.statuses() == [200, 200, 200, 429]
            banned = caught.value
            assert (banned.banned, banned.status, banned.retry_after) == (True, 429, 600)
            assert source.status.banned_until == r.clock() + timedelta(seconds=600)
            r.time.pass_(300)
            with pytest.raises(RateLimitedError):
                await two.get_intervals(oslo(date(2025, 5, 1)), oslo(date(2025, 5, 2)))
            with pytest.raises(RateLimitedError):
                await source.fetch(HOME, days(date(2025, 6, 1), 1))
            # Nothing reached the API during the ban, so it was not extended.
            assert r.statuses() == [200, 200, 200, 429]
            assert r.time.sleeps == []
            r.time.pass_(300)
            result = await source.fetch(HOME, days(date(2025, 6, 1), 1))
            assert result.answered == days(date(2025, 6, 1), 1)
            assert r.statuses()[-1] == 200
            await one.close()
            await two.close()


async def test_a_ban_in_the_middle_of_a_back_fill_keeps_the_pages_before_it() -> None:
    """Pages of 672 quarter-hours: the ban comes with the fourth request; the three pages
    already answered are kept, the request still fails with the ban, and after it only
    the rest is asked for."""
    async with rig(rate_limit=4, ban=600) as r:
        source = r.source(retry_budget=30)
        async with source, IntervalPool(HOME.id, source, clock=r.clock) as pool:
            await source.homes()
            span = (oslo(date(2025, 10, 6)), oslo(date(2025, 11, 3)))  # four Monday weeks
            with pytest.raises(RateLimitedError):
                await pool.get_intervals(*span)
            assert r.statuses() == [200, 200, 200, 200, 429]
            answer = await pool.query(*span)
            assert len(answer.intervals) == 3 * 672  # three full pages
            assert [(g.span.start, g.span.end) for g in answer.missing] == [
                (answer.intervals[-1].end, span[1])
            ]
            assert answer.missing[0].error is not None
            assert answer.missing[0].error.banned
            r.time.pass_(601)
            r.clock.set(r.clock() + timedelta(seconds=601))
            got = await pool.get_intervals(*span)
            assert [i.to_node() for i in got] == r.sim.truth(HOME.id, *span)
            later = [v for v in (e.variables for e in r.sim.log[5:]) if v]
            # Whole local days around the gap (2025-10-26 again): two pages, not all five.
            assert len(later) == 2


async def test_requests_in_a_ban_extend_it_at_the_simulator() -> None:
    async with rig(rate_limit=1, ban=600) as r:
        careless = r.source(retry_budget=0, ban=1)  # a client that bans itself for 1 s only
        async with careless as source:
            await source.homes()
            for _ in range(3):
                with pytest.raises(RateLimitedError):
                    await source.fetch(HOME, days(date(2025, 3, 1), 1))
                r.time.pass_(120)
        assert r.statuses() == [200, 429, 429, 429]
        assert r.sim.banned_until() == r.clock() - timedelta(seconds=120) + timedelta(seconds=600)


async def test_an_html_notice_is_not_a_ban() -> None:
    async with rig() as r:
        r.sim.faults.status = 200
        r.sim.faults.non_graphql = True
        async with r.source() as source:
            with pytest.raises(InvalidResponseError):
                await source.homes()  # an HTML notice is not a ban


# -- the client-side limit -----------------------------------------------------------------


async def test_the_own_limit_never_sends_beyond_the_window_and_never_waits_past_the_budget() -> (
    None
):
    async with rig(rate_limit=1000, page_limit=24) as r:
        async with r.source(max_requests=5, per_seconds=300, retry_budget=30) as source:
            # 10 pages of a day: five go, and the answer stops there, saying why.
            cut = await source.fetch(HOME, days(date(2025, 3, 1), 10))
            assert r.sim.requests == 5
            assert cut.answered == days(date(2025, 3, 1), 5)
            err = cut.error
            assert isinstance(err, RateLimitedError)
            assert err.own
            assert err.retry_after == pytest.approx(300)
            assert err.clear_after == pytest.approx(300)
            assert r.time.sleeps == []
            assert source.status.requests_left == 0
            # With a budget that covers the wait, the next call waits for room, then goes.
            r.time.pass_(290)
            await source.fetch(HOME, days(date(2025, 3, 1), 1))
        assert r.time.sleeps == [pytest.approx(10)]
        assert r.sim.requests == 6


async def test_a_wait_inside_the_budget_sleeps_until_room() -> None:
    async with rig(page_limit=24) as r:
        async with r.source(max_requests=2, per_seconds=60, retry_budget=60) as source:
            result = await source.fetch(HOME, days(date(2025, 3, 1), 3))
        assert result.answered == days(date(2025, 3, 1), 3)
        assert r.time.sleeps == [60.0]
        sent = [x.at for x in r.sim.log]
        for i in range(len(sent) - 2):
            assert sent[i + 2] - sent[i] >= timedelta(seconds=60)


class Shared:
    """A limiter two sources share, as replicas would through a database."""

    def __init__(self) -> None:
        self.inner = Limiter(100, 300, monotonic=time.monotonic, sleep=asyncio.sleep)
        self.max_requests = 100
        self.per_seconds = 300.0
        self.bans: list[tuple[float, str]] = []

    def slot(self, patience: float) -> AbstractAsyncContextManager[None]:
        return self.inner.slot(patience)

    async def ban(self, retry_after: float, reason: str) -> None:
        self.bans.append((retry_after, reason))
        await self.inner.ban(retry_after, reason)

    def left(self) -> int:
        return self.inner.left()


async def test_an_injected_limiter_shares_a_ban_between_sources() -> None:
    shared = Shared()
    assert isinstance(shared, RequestLimiter)
    async with rig(rate_limit=1, ban=600) as r:
        first = r.source(limiter=shared, retry_budget=0)
        second = r.source(limiter=shared, retry_budget=0)
        async with first, second:
            await first.homes()
            with pytest.raises(RateLimitedError):
                await first.fetch(HOME, days(date(2025, 3, 1), 1))
            with pytest.raises(RateLimitedError) as caught:
                await second.homes()
        assert second.requests == 0
        assert caught.value.banned
        assert [b[0] for b in shared.bans] == [600]
        assert first.limiter is shared
        assert second.status.requests_left == 98


# -- bounded calls and an endpoint marked down ---------------------------------------------


async def test_calls_are_bounded_from_the_moment_they_are_made_and_fail_fast_when_down() -> None:
    # Real time: the API hangs for real. Two places in flight, twelve calls.
    async with rig() as r:
        r.sim.faults.hang = True
        source = TibberSource(
            "sim-token", endpoint=r.sim.endpoint, clock=r.clock, timeout=0.3, retry_budget=0.3
        )
        async with source:
            months = [days(date(2024, m, 1), 1) for m in range(1, 13)]
            outcomes = await asyncio.gather(
                *(source.fetch(HOME, m) for m in months), return_exceptions=True
            )
        assert all(isinstance(o, SourceUnavailableError) for o in outcomes)
        # Only the two in flight reached the hanging API; the others failed at once.
        assert r.sim.requests == 2
        for err in outcomes:
            assert isinstance(err, SourceUnavailableError)
            assert err.elapsed is not None
            assert err.elapsed < 0.3 + 0.3 + 0.25  # budget + timeout, and room for a slow machine
        assert {o.reason for o in outcomes if isinstance(o, SourceUnavailableError)} == {
            Reason.TIMEOUT
        }


async def test_an_endpoint_that_gave_up_is_down_then_asked_again() -> None:
    async with rig() as r:
        r.sim.faults.status = 503
        async with r.source(retry_budget=0, down_for=45) as source:
            with pytest.raises(SourceUnavailableError) as first:
                await source.homes()
            assert first.value.status == 503
            assert source.status.down_until == r.clock() + timedelta(seconds=45)
            r.sim.faults.status = None
            with pytest.raises(SourceUnavailableError) as fast:
                await source.homes()
            assert r.sim.requests == 1
            assert fast.value.status == 503
            assert fast.value.retry_after == pytest.approx(45)
            r.time.pass_(45)
            assert len(await source.homes()) == len(DEFAULT_HOMES)
            assert source.status.down_until is None


# -- outages and nulls ---------------------------------------------------------------------


async def test_a_quarter_hourly_outage_falls_back_to_hourly_in_the_same_request() -> None:
    async with rig() as r:  # 14:00: tomorrow is out
        r.sim.faults.quarter_outage = True
        async with r.source() as source:
            result = await source.fetch(HOME, days(TODAY, 2))
            assert source.requests == 1
        assert result.answered == Span(oslo(TODAY - timedelta(days=2)), oslo(TODAY, 48))
        assert result.pending is None
        fallback = [i for i in result.intervals if i.start >= oslo(TODAY)]
        assert len(fallback) == 48
        assert {i.length for i in fallback} == {timedelta(hours=1)}
        truth = r.sim.truth(HOME.id, oslo(TODAY), oslo(TODAY, 48), "HOURLY")
        assert [i.to_node() for i in fallback] == truth


async def test_with_neither_resolution_today_is_pending_not_unanswered() -> None:
    async with rig() as r:
        r.sim.faults.empty_today = True
        async with r.source() as source:
            result = await source.fetch(HOME, days(TODAY, 1))
        assert result.pending == days(TODAY, 2)
        assert result.retry_at is None


async def test_a_null_price_info_range_keeps_today_and_tomorrow() -> None:
    async with rig() as r:
        r.sim.faults.null_range = True
        async with r.source() as source:
            result = await source.fetch(HOME, days(TODAY, 2))
        assert result.answered == days(TODAY, 2)
        assert len(result.intervals) == 192
        truth = r.sim.truth(HOME.id, oslo(TODAY), oslo(TODAY, 48))
        assert [i.to_node() for i in result.intervals] == truth


# -- paging --------------------------------------------------------------------------------


@pytest.mark.parametrize("cursors", ["start", "end"])
@pytest.mark.parametrize("inclusive", [False, True])
@pytest.mark.parametrize("cap", [None, 100])
async def test_history_over_the_switch_is_whole_for_every_cursor_convention(
    cursors: str, inclusive: bool, cap: int | None
) -> None:
    async with rig(cursors=cursors, inclusive_after=inclusive, page_limit=cap) as r:
        span = Span(oslo(date(2025, 9, 20)), oslo(date(2025, 11, 5)))
        async with r.source() as source:
            result = await source.fetch(HOME, span)
        assert result.answered == span
        truth = r.sim.truth(HOME.id, span.start, span.end)
        assert [i.to_node() for i in result.intervals] == truth
        hourly = 11 * 24  # 2025-09-20 .. 09-30
        quarters = 35 * 96 + 4  # 2025-10-01 .. 11-04, one 25-hour day
        pages = [r.variables for r in r.sim.log if r.variables]
        asked = [(p["resolution"], p["first"]) for p in pages]
        # A page asks one node more than it needs; with end cursors the node across the
        # cursor comes first, so a full page brings one slot less.
        across = 1 if cursors == "end" else 0
        if cap is None:
            assert asked[0] == ("HOURLY", hourly + wire.EDGE)
            want, left = [], quarters
            while left > 0:
                want.append(min(672, left + wire.EDGE))
                left -= min(672 - across, left)
            assert [f for _, f in asked[1:]] == want
        else:
            per = cap - across
            assert len(asked) == math.ceil(hourly / per) + math.ceil(quarters / per)
        for kind, first in asked:
            assert first <= wire.PAGE_MAX[kind]


# -- token errors --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jws", "exp"])
async def test_jwt_errors_are_authentication_errors(kind: str) -> None:
    async with rig() as r:
        r.sim.faults.token_error = kind
        async with r.source() as source:
            with pytest.raises(AuthenticationError) as caught:
                await source.homes()
            assert source.requests == 1
        assert caught.value.status == 200


# -- status and the wire format ------------------------------------------------------------


async def test_status_reads_the_limiter_without_a_request() -> None:
    async with rig() as r:
        async with r.source(max_requests=10, per_seconds=60) as source:
            await source.homes()
            status = source.status
        assert (status.requests_left, status.limit, status.window) == (9, 10, 60)
        assert (status.banned_until, status.down_until, status.requests) == (None, None, 1)
        assert r.sim.requests == 1


def test_every_query_the_source_sends_is_valid_against_the_sdl() -> None:
    schema = wire.schema()
    for document in (_queries.HOMES, _queries.HISTORY, _queries.RECENT):
        assert validate(schema, parse(document)) == []
    # The simulator serves the very same schema text.
    assert SCHEMA.type_map.keys() == schema.type_map.keys()
    assert "type Query" in wire.sdl()


async def test_each_node_is_parsed_once_per_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[object] = []
    real = wire.start_of

    def counting(node: Any) -> datetime:
        parsed.append(node)
        return real(node)

    monkeypatch.setattr(wire, "start_of", counting)
    async with rig() as r, r.source() as source:
        result = await source.fetch(HOME, days(TODAY - timedelta(days=5), 7))
    sent = len(r.sim.truth(HOME.id, oslo(TODAY - timedelta(days=5)), oslo(TODAY, 48)))
    assert len(result.intervals) == sent
    assert len(parsed) == sent


async def test_every_error_names_the_endpoint() -> None:
    async with rig() as r:
        async with r.source() as source:
            with pytest.raises(UnknownHomeError) as unknown:
                await source.home("no-such-home")
            r.sim.faults.malformed = True
            with pytest.raises(InvalidResponseError) as bad:
                await source.fetch(HOME, days(date(2025, 3, 1), 1))
        assert unknown.value.endpoint == bad.value.endpoint == r.sim.endpoint
        assert bad.value.status == 200


async def test_waiting_behind_a_slow_request_is_not_an_outage() -> None:
    async with rig() as r:
        r.sim.faults.latency = 0.05  # real seconds: the requests ahead take a while
        source = TibberSource(
            "sim-token", endpoint=r.sim.endpoint, clock=r.clock, retry_budget=0, max_in_flight=1
        )
        async with source:
            spans = [days(date(2024, m, 1), 1) for m in range(1, 5)]
            results = await asyncio.gather(*(source.fetch(HOME, s) for s in spans))
            assert [x.answered for x in results] == spans
            assert source.status.down_until is None


async def test_calls_refused_while_down_do_not_extend_it() -> None:
    async with rig() as r:
        r.sim.faults.status = 503
        async with r.source(retry_budget=0, down_for=45) as source:
            with pytest.raises(SourceUnavailableError):
                await source.homes()
            until = source.status.down_until
            for _ in range(3):
                r.time.pass_(10)
                with pytest.raises(SourceUnavailableError):
                    await source.homes()
            assert source.status.down_until == until
            assert r.sim.requests == 1


async def test_every_query_sent_with_its_variables_is_valid_against_the_sdl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from graphql import OperationDefinitionNode
    from graphql.execution.values import get_variable_values

    from pricepool.sources.tibber._transport import Transport

    sent: list[tuple[str, dict[str, Any]]] = []
    real = Transport.query

    async def recording(self: Transport, document: str, variables: Any, name: str) -> Any:
        sent.append((document, dict(variables)))
        return await real(self, document, variables, name)

    monkeypatch.setattr(Transport, "query", recording)
    async with rig() as r, r.source() as source:
        await source.homes()
        await source.fetch(HOME, Span(oslo(date(2025, 9, 1)), oslo(TODAY, 48)))
    schema = wire.schema()
    assert {d for d, _ in sent} == {_queries.HOMES, _queries.HISTORY, _queries.RECENT}
    for document, variables in sent:
        parsed = parse(document)
        assert validate(schema, parsed) == []
        operation = parsed.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
        assert not isinstance(coerced, list), coerced  # a list holds the errors


async def test_an_outage_of_both_resolutions_is_rechecked_at_the_normal_interval() -> None:
    async with rig() as r:
        r.sim.faults.empty_today = True
        source = r.source()
        pool = IntervalPool(HOME.id, source, clock=r.clock, recheck=timedelta(minutes=15))
        async with source:
            await source.homes()
            r.sim.reset_counters()
            for _ in range(3):
                found = await pool.get_intervals(oslo(TODAY), oslo(TODAY, 24), allow_partial=True)
                assert found == []
            assert r.sim.requests == 1
            r.sim.faults.empty_today = False
            r.time.pass_(15 * 60)
            found = await pool.get_intervals(oslo(TODAY), oslo(TODAY, 24))
            assert len(found) == 96
            assert r.sim.requests == 2
            await pool.close()


class Refusing(Shared):
    """A limiter whose window is full, saying so without marking the error its own."""

    def slot(self, patience: float) -> AbstractAsyncContextManager[None]:
        @asynccontextmanager
        async def refused() -> AsyncIterator[None]:
            raise RateLimitedError("the shared window is full", 40, clear_after=200)
            yield

        return refused()


async def test_a_limiters_refusal_is_never_taken_for_the_apis_ban() -> None:
    limiter = Refusing()
    async with rig() as r:
        async with r.source(limiter=limiter) as source:
            with pytest.raises(RateLimitedError) as caught:
                await source.homes()
            assert source.status.banned_until is None
        assert r.sim.requests == 0
        assert limiter.bans == []
        assert caught.value.own
        assert (caught.value.retry_after, caught.value.clear_after) == (40, 200)


async def test_the_recent_window_over_the_switch_is_one_whole_answer() -> None:
    """On 2025-10-02 the day before yesterday is hourly and yesterday quarter-hourly, both
    on the recent request's quarter-hour page: one request answers all four days (found
    in review: the page was cut at the switch, and today then failed on every re-check)."""
    today = date(2025, 10, 2)
    async with rig(now=oslo(today, 14)) as r, r.source() as source:
        span = days(today - timedelta(days=2), 4)
        result = await source.fetch(HOME, span)
        assert result.answered == span
        assert len(result.intervals) == 24 + 3 * 96
        assert [i.to_node() for i in result.intervals] == r.sim.truth(HOME.id, span.start, span.end)
        assert r.sim.requests == 1
