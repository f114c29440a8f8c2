"""TibberSource's HTTP side against tiny loopback servers: error mapping, retries, limits."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pricepool import HomeInfo, ManualClock, Span
from pricepool.errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from pricepool.sources.tibber import TibberSource

TOKEN = "tok-5ecret-9f8e7d6c5b4a"
HOME = HomeInfo("home-1", "Europe/Oslo", "NOK", "Cabin")
NOW = datetime(2025, 11, 10, 9, 0, tzinfo=UTC)
HOMES_BODY = {
    "data": {
        "viewer": {
            "homes": [
                {
                    "id": "home-1",
                    "timeZone": "Europe/Oslo",
                    "appNickname": "Cabin",
                    "currentSubscription": {"priceInfo": {"current": {"currency": "NOK"}}},
                },
                {
                    "id": "home-2",
                    "timeZone": "Europe/Stockholm",
                    "appNickname": None,
                    "currentSubscription": None,
                },
            ]
        }
    }
}
OLD = Span(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Time:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Canned:
    """A loopback server answering each POST with the next canned reply (the last repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.seen: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(await request.json())
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return await reply(request)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1-beta/gql"))


def body(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status, headers=headers)

    return reply


def raw(text: str, status: int = 200, kind: str = "application/json") -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        return web.Response(text=text, status=status, content_type=kind)

    return reply


def slow(seconds: float) -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response(HOMES_BODY)

    return reply


def gql_error(code: str | None, message: str = "no", **ext: Any) -> Reply:
    extensions = None if code is None else {"code": code, **ext}
    return body({"data": None, "errors": [{"message": message, "extensions": extensions}]})


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Canned]]]:
    servers: list[TestServer] = []

    async def start(*replies: Reply) -> Canned:
        canned = Canned(*replies)
        app = web.Application()
        app.router.add_post("/v1-beta/gql", canned.handle)
        canned.server = TestServer(app, host="127.0.0.1")
        await canned.server.start_server()
        servers.append(canned.server)
        return canned

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def clock() -> Time:
    return Time()


def source(url: str, time: Time, **kwargs: Any) -> TibberSource:
    return TibberSource(
        TOKEN,
        endpoint=url,
        clock=ManualClock(NOW),
        sleep=time.sleep,
        monotonic=time.monotonic,
        **kwargs,
    )


async def test_homes_are_read_once_and_kept(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with source(server.url, clock) as src:
        homes = await src.homes()
        assert homes == [HOME, HomeInfo("home-2", "Europe/Stockholm")]
        assert await src.home("home-2") == homes[1]
        with pytest.raises(UnknownHomeError, match="home-9"):
            await src.home("home-9")
        assert src.requests == 1


async def test_headers_name_pricepool_and_the_app(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with source(server.url, clock, user_agent="heatpump/2.1") as src:
        await src.homes()
    sent = server.headers[0]
    assert sent["Authorization"] == f"Bearer {TOKEN}"
    assert sent["User-Agent"].startswith("pricepool/")
    assert sent["User-Agent"].endswith(" heatpump/2.1")
    assert "variables" in server.seen[0]


async def test_queries_are_fixed_documents_with_variables(serve: Any, clock: Time) -> None:
    page = {"pageInfo": {"endCursor": None, "hasNextPage": False}, "edges": []}
    home = {"id": "home-1", "timeZone": "Europe/Oslo", "currentSubscription": {}}
    home["currentSubscription"] = {"priceInfoRange": page}
    server = await serve(body({"data": {"viewer": {"home": home}}}))
    async with source(server.url, clock) as src:
        await src.fetch(HOME, OLD)
    sent = server.seen[0]
    assert "home-1" not in sent["query"]
    assert sent["variables"]["homeId"] == "home-1"
    assert sent["variables"]["after"] not in sent["query"]


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_token_is_authentication_error_never_retried(
    serve: Any, clock: Time, status: int
) -> None:
    server = await serve(body({"errors": [{"message": "nope"}]}, status=status))
    async with source(server.url, clock) as src:
        with pytest.raises(AuthenticationError, match=f"HTTP {status}"):
            await src.homes()
        assert src.requests == 1
    assert clock.sleeps == []


async def test_unauthenticated_graphql_error_is_authentication_error(
    serve: Any, clock: Time
) -> None:
    server = await serve(gql_error("UNAUTHENTICATED", "Context creation failed: invalid token"))
    async with source(server.url, clock) as src:
        with pytest.raises(AuthenticationError, match="invalid token"):
            await src.homes()
        assert src.requests == 1


async def test_429_is_a_ban_never_retried_and_holds_every_request(serve: Any, clock: Time) -> None:
    server = await serve(
        body({"errors": [{"message": "slow"}]}, status=429, headers={"Retry-After": "7"}),
        body(HOMES_BODY),
    )
    async with source(server.url, clock, retry_budget=30) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
        assert src.requests == 1
        assert src.status.banned_until == NOW + timedelta(seconds=7)
        # The next call waits the ban out inside its budget, then goes.
        assert len(await src.homes()) == 2
        assert src.requests == 2
    err = caught.value
    assert (err.retry_after, err.banned, err.status, err.attempts) == (7.0, False, 429, 1)
    assert err.clear_after == 300
    assert err.endpoint == server.url
    assert clock.sleeps == [7.0]


async def test_429_without_retry_after_bans_for_ten_minutes(serve: Any, clock: Time) -> None:
    ban = raw(
        "Too many requests. Your IP is now temporarily banned for calling API for a few minutes.",
        429,
        "text/plain",
    )
    server = await serve(ban, body(HOMES_BODY))
    async with source(server.url, clock, retry_budget=30) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
        assert caught.value.retry_after == 600
        assert caught.value.banned
        # Inside the ban nothing goes out: the caller's budget is shorter than the ban.
        with pytest.raises(RateLimitedError) as again:
            await src.homes()
        assert src.requests == 1
        assert again.value.banned
        assert again.value.retry_after == pytest.approx(600)
        clock.now += 600
        assert len(await src.homes()) == 2
    assert clock.sleeps == []


async def test_the_ban_length_is_configurable(serve: Any, clock: Time) -> None:
    server = await serve(raw("Too many requests.", 429, "text/plain"))
    async with source(server.url, clock, ban=60) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
    assert caught.value.retry_after == 60


async def test_429_retry_after_from_extensions(serve: Any, clock: Time) -> None:
    limited = {"errors": [{"message": "slow", "extensions": {"retryAfter": 3}}]}
    server = await serve(body(limited, status=429), body(HOMES_BODY))
    async with source(server.url, clock) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
        await src.homes()
    assert caught.value.retry_after == 3
    assert clock.sleeps == [3.0]


async def test_rate_limit_in_a_200_graphql_error(serve: Any, clock: Time) -> None:
    server = await serve(gql_error("TOO_MANY_REQUESTS", "slow down", retryAfter=60))
    async with source(server.url, clock, retry_budget=30) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
    assert caught.value.retry_after == 60
    assert clock.sleeps == []


async def test_retry_after_beyond_the_budget_raises_at_once(serve: Any, clock: Time) -> None:
    server = await serve(body({}, status=429, headers={"Retry-After": "120"}))
    async with source(server.url, clock, retry_budget=30) as src:
        with pytest.raises(RateLimitedError, match="HTTP 429") as caught:
            await src.homes()
        assert src.requests == 1
    assert caught.value.retry_after == 120
    assert clock.sleeps == []


async def test_retry_after_as_http_date(serve: Any, clock: Time) -> None:
    when = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    server = await serve(body({}, status=429, headers={"Retry-After": when}))
    async with source(server.url, clock) as src:
        with pytest.raises(RateLimitedError) as caught:
            await src.homes()
    assert caught.value.retry_after == pytest.approx(90)


async def test_5xx_is_retried_with_jittered_backoff(serve: Any, clock: Time) -> None:
    server = await serve(raw("oops", 502, "text/plain"), raw("oops", 503), body(HOMES_BODY))
    async with source(server.url, clock) as src:
        await src.homes()
        assert src.requests == 3
    first, second = clock.sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


async def test_5xx_gives_up_when_the_budget_is_spent(serve: Any, clock: Time) -> None:
    server = await serve(raw("oops", 500, "text/plain"))
    async with source(server.url, clock, retry_budget=10) as src:
        with pytest.raises(SourceUnavailableError, match="HTTP 500") as caught:
            await src.homes()
        assert src.requests == len(clock.sleeps) + 1 > 2
    assert sum(clock.sleeps) <= 10
    err = caught.value
    assert (err.endpoint, err.status, err.attempts) == (server.url, 500, src.requests)
    # The time it took, as it was: the sleeps (the requests took no fake time).
    assert err.elapsed == pytest.approx(sum(clock.sleeps))
    assert f"gave up after {err.attempts} attempts in {err.elapsed:.1f} s" in str(err)


async def test_no_budget_means_no_retry(serve: Any, clock: Time) -> None:
    server = await serve(raw("oops", 500, "text/plain"))
    async with source(server.url, clock, retry_budget=0) as src:
        with pytest.raises(SourceUnavailableError):
            await src.homes()
        assert src.requests == 1


async def test_timeout_is_source_unavailable(serve: Any, clock: Time) -> None:
    server = await serve(slow(2.0))
    async with source(server.url, clock, timeout=0.1, retry_budget=0) as src:
        with pytest.raises(SourceUnavailableError, match=r"did not answer within 0\.1 s"):
            await src.homes()


async def test_timeout_then_success_is_retried(serve: Any, clock: Time) -> None:
    server = await serve(slow(2.0), body(HOMES_BODY))
    async with source(server.url, clock, timeout=0.2) as src:
        assert len(await src.homes()) == 2
        assert src.requests == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_source_unavailable(clock: Time) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1-beta/gql"
    async with source(url, clock, retry_budget=2) as src:
        with pytest.raises(SourceUnavailableError, match="cannot reach") as caught:
            await src.homes()
        assert src.requests > 1
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (raw('{"data": {"viewer": '), "malformed JSON"),
        (raw("<html>Blocked: user agent not allowed</html>", 200, "text/html"), "text/html"),
        (raw('{"hello": "world"}'), "not a GraphQL response"),
        (raw("[1, 2]"), "not a GraphQL response"),
        (gql_error(None, "boom"), "without extensions"),
        (gql_error("INTERNAL_SERVER_ERROR", "boom"), "INTERNAL_SERVER_ERROR"),
        (body({"data": None}), "without data"),
        (raw('{"data": {"viewer": {"homes": [{"id": "h", "x": NaN}]}}}'), "malformed JSON"),
        (body({"data": {"viewer": {"homes": [{"id": "h", "timeZone": "Mars/Base"}]}}}), "Mars"),
        (body({"data": {"viewer": None}}), "viewer.homes"),
        (body({"errors": [{"message": "bad", "extensions": {"code": "X"}}]}, 400), "HTTP 400"),
        (body({"data": {}}, 404), "unexpected status"),
    ],
)
async def test_untrustworthy_answers_are_invalid_and_not_retried(
    serve: Any, clock: Time, reply: Reply, match: str
) -> None:
    server = await serve(reply)
    async with source(server.url, clock) as src:
        with pytest.raises(InvalidResponseError, match=match):
            await src.homes()
        assert src.requests == 1
    assert clock.sleeps == []


def recent_body(today: list[Any] | None, tomorrow: list[Any] | None = None) -> dict[str, Any]:
    page = {"pageInfo": {"endCursor": None, "hasNextPage": False}, "edges": []}
    sub = {"priceInfo": {"today": today, "tomorrow": tomorrow}, "priceInfoRange": page}
    return {
        "data": {
            "viewer": {
                "home": {"id": "home-1", "timeZone": "Europe/Oslo", "currentSubscription": sub}
            }
        }
    }


@pytest.mark.parametrize(
    "node",
    [
        {"total": 1.0},
        {"startsAt": "yesterday", "total": 1.0},
        {"startsAt": "2025-11-10T00:00:00", "total": 1.0},
        {"startsAt": "2025-11-10T00:00:00+01:00"},
        {"startsAt": "2025-11-10T00:00:00+01:00", "total": "1.0"},
        {"startsAt": "2025-11-10T00:00:00+01:00", "total": 1e400},
        {"startsAt": "2025-11-10T00:00:00+01:00", "total": 1.0, "level": "FREE"},
    ],
)
async def test_bad_price_nodes_are_invalid(serve: Any, clock: Time, node: Any) -> None:
    server = await serve(body(recent_body([node])))
    span = Span(datetime(2025, 11, 10, tzinfo=UTC), datetime(2025, 11, 11, tzinfo=UTC))
    async with source(server.url, clock) as src:
        with pytest.raises(InvalidResponseError):
            await src.fetch(HOME, span)


async def test_unknown_home_in_a_price_query(serve: Any, clock: Time) -> None:
    server = await serve(body({"data": {"viewer": {"home": None}}}))
    async with source(server.url, clock) as src:
        with pytest.raises(UnknownHomeError, match="home-1"):
            await src.fetch(HOME, OLD)


async def test_limiter_refuses_beyond_the_budget(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with source(server.url, clock, max_requests=2, per_seconds=60, retry_budget=5) as src:
        for _ in range(2):
            src._homes = None  # ask again: the limiter counts requests, not answers
            await src.homes()
        src._homes = None
        with pytest.raises(RateLimitedError, match="own limit of 2 requests per 60 s") as caught:
            await src.homes()
        assert src.requests == 2
    assert caught.value.retry_after == pytest.approx(60)


async def test_limiter_waits_within_the_budget(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with source(server.url, clock, max_requests=2, per_seconds=20, retry_budget=30) as src:
        for _ in range(3):
            src._homes = None
            await src.homes()
        assert src.requests == 3
    assert clock.sleeps == [pytest.approx(20)]


async def test_at_most_max_in_flight(serve: Any, clock: Time) -> None:
    busy = 0
    peak = 0

    async def reply(_: web.Request) -> web.StreamResponse:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.05)
        busy -= 1
        return web.json_response({"data": {"viewer": {"home": None}}})

    server = await serve(reply)
    async with source(server.url, clock, max_in_flight=2) as src:
        calls = [src.fetch(HOME, OLD) for _ in range(6)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert src.requests == 6
    assert all(isinstance(o, UnknownHomeError) for o in outcomes)
    assert peak == 2


async def test_a_callers_session_stays_open(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with aiohttp.ClientSession() as session:
        async with source(server.url, clock, session=session) as src:
            await src.homes()
        assert not session.closed
    own = source(server.url, clock)
    await own.homes()
    held = own._http._session
    await own.close()
    assert held is not None
    assert held.closed


async def test_the_token_never_shows(
    serve: Any, clock: Time, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"errors": [{"message": f"bad token {TOKEN}", "extensions": {"code": "X"}}]}
    server = await serve(
        body({}, 401),
        gql_error("UNAUTHENTICATED", f"token {TOKEN} expired"),
        raw("down", 500, "text/plain"),
        raw(f"<html>{TOKEN}</html>", 200, "text/html"),
        body(echo),
        gql_error(None, TOKEN),
        body({"data": None}),
        body({}, 429, {"Retry-After": "999"}),  # last: a ban holds every later request
    )
    errors: list[SourceError] = []
    async with source(server.url, clock, retry_budget=0, down_for=0) as src:
        for _ in range(8):
            with pytest.raises(SourceError) as caught:
                await src.homes()
            errors.append(caught.value)
        shown = [repr(src), str(src)]
    closed = f"http://127.0.0.1:{free_port()}/gql"
    async with source(closed, clock, retry_budget=1) as src:
        with pytest.raises(SourceUnavailableError) as caught:
            await src.homes()
        errors.append(caught.value)
    assert len({type(e) for e in errors}) == 4
    for error in errors:
        shown += [str(error), repr(error), str(error.__cause__), str(error.__context__)]
    shown.append(caplog.text)
    for text in shown:
        assert TOKEN not in text
    assert "<token>" in " ".join(shown)


@pytest.mark.parametrize(
    ("token", "short"),
    [
        ("5K9gT2xQ7rW1mZ4bN8vC3yH6jL0pD5sF2aE9uR7i", False),
        ("t", True),
    ],
)
async def test_redaction_hides_a_real_token_and_leaves_words_alone(
    serve: Any, clock: Time, token: str, short: bool
) -> None:
    """A real token never shows; a one-letter "token" does not mangle every word with a t."""
    server = await serve(gql_error(None, f"token {token} expired at the gate"))
    closed = f"http://127.0.0.1:{free_port()}/gql"
    texts = []
    for url in (server.url, closed):
        async with TibberSource(
            token, endpoint=url, sleep=clock.sleep, monotonic=clock.monotonic, retry_budget=0
        ) as src:
            with pytest.raises(SourceError) as caught:
                await src.homes()
            texts.append(str(caught.value))
    assert "token <token> expired at the gate" in texts[0]
    assert f"cannot reach {closed}" in texts[1]
    for text in texts:
        assert "<token><token>" not in text
        if not short:
            assert token not in text


def test_bad_settings_are_refused() -> None:
    with pytest.raises(AuthenticationError):
        TibberSource("")
    with pytest.raises(ValueError, match="max_requests"):
        TibberSource(TOKEN, max_requests=0)
    with pytest.raises(ValueError, match="timeout"):
        TibberSource(TOKEN, timeout=0)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1.0])
def test_a_retry_budget_or_timeout_must_be_finite(value: float) -> None:
    with pytest.raises(ValueError, match="retry_budget"):
        TibberSource(TOKEN, retry_budget=value)
    with pytest.raises(ValueError, match="timeout"):
        TibberSource(TOKEN, timeout=value)


async def test_a_token_read_from_a_file_loses_its_line_break(serve: Any, clock: Time) -> None:
    server = await serve(body(HOMES_BODY))
    async with TibberSource(
        f" {TOKEN}\r\n", endpoint=server.url, sleep=clock.sleep, monotonic=clock.monotonic
    ) as src:
        await src.homes()
    assert server.headers[0]["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "token",
    [f"{TOKEN}\nX-Other: 1", f"{TOKEN[:6]}\r{TOKEN[6:]}", f"{TOKEN}\x00", f"\t{TOKEN}\x7f"],
)
def test_a_token_with_a_control_character_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(AuthenticationError, match="line break or control character") as caught:
        TibberSource(token)
    assert TOKEN[:6] not in f"{caught.value!s} {caught.value!r}"


def test_a_blank_token_is_no_token() -> None:
    with pytest.raises(AuthenticationError, match="no Tibber token"):
        TibberSource(" \n")
