"""The service's guard: the API key, body and document limits, no CORS, and the Tibber token
in no byte the service writes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from pricepool.service import MAX_BODY

from ..cli.helpers import Served
from .rig import NOW, OSLO, TOKEN, Rig, running, service

KEY = "house-key-4f1d"

ROUTES = [
    ("GET", "/readyz"),
    ("GET", "/v1/homes"),
    ("GET", "/v1/homes/Fjellstua/prices"),
    ("GET", "/v1/homes/Fjellstua/cheapest"),
    ("GET", "/v1/homes/Fjellstua/coverage"),
    ("GET", "/v1/homes/Fjellstua/rates"),
    ("GET", "/v1/homes/Fjellstua/current"),
    ("GET", "/v1/homes/Fjellstua/events"),
    ("GET", "/metrics"),
    ("GET", "/no/such/route"),
    ("POST", "/v1-beta/gql"),
]
QUERY = {"query": "{ viewer { homes { id } } }"}


async def _send(rig: Rig, method: str, path: str, headers: dict[str, str]) -> int:
    if method == "POST":
        return (await rig.post(path, json=QUERY, headers=headers)).status
    # The events route streams: the status line is all this test needs.
    async with rig.http.get(rig.url + path, headers=headers) as response:
        return response.status


async def test_with_a_key_every_route_but_healthz_needs_it() -> None:
    async with service(api_key=KEY) as rig:
        refused = [
            {"Authorization": "x"},  # no key at all: replaced below
            {"Authorization": f"Bearer {KEY}x"},
            {"Authorization": f"Bearer {KEY[:-1]}"},
            {"Authorization": f"Basic {KEY}"},
            {"Authorization": "Bearer"},
            {"X-Api-Key": KEY, "Authorization": ""},
        ]
        for method, path in ROUTES:
            for headers in refused:
                status = await _send(rig, method, path, headers)
                assert status == 401, (method, path, headers)
            answer = await rig.get(path, headers={"Authorization": ""}) if method == "GET" else None
            if answer is not None and path != "/v1/homes/Fjellstua/events":
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
                assert answer.json()["error"]["status"] == 401
                assert KEY not in answer.body.decode()
        assert rig.sim.requests == 0  # nothing refused reached the upstream
        for method, path in ROUTES:
            if path in ("/no/such/route", "/v1/homes/Fjellstua/events"):
                continue  # no route; a stream that does not end (tests/service/test_events)
            status = await _send(rig, method, path, {"Authorization": f"bearer {KEY}"})
            assert status == 200, (method, path)
        async with rig.http.get(rig.url + "/healthz") as response:
            assert response.status == 200


async def test_without_a_key_on_loopback_every_route_answers() -> None:
    async with service() as rig:
        for method, path in ROUTES:
            if path in ("/no/such/route", "/v1/homes/Fjellstua/events"):
                continue
            assert await _send(rig, method, path, {}) == 200, path


async def test_bodies_over_64_kib_are_refused_with_413() -> None:
    async with service() as rig:
        padding = " " * (MAX_BODY + 1 - len(b'{"query": "{ viewer { login } }"}'))
        body = b'{"query": "{ viewer { login } }' + padding.encode() + b'"}'
        assert len(body) > MAX_BODY
        assert (await rig.post("/v1-beta/gql", data=body)).status == 413
        fits = b'{"query": "{ viewer { login } }' + padding[:-64].encode() + b'"}'
        assert len(fits) <= MAX_BODY
        assert (await rig.post("/v1-beta/gql", data=fits)).status == 200
        assert (await rig.post("/v1/homes", data=body)).status in (405, 413)
    async with service(api_key=KEY) as rig:
        refused = await rig.post("/v1-beta/gql", data=body, headers={"Authorization": ""})
        assert refused.status in (401, 413)


async def test_graphql_too_deep_or_too_wide_is_400() -> None:
    async with service() as rig:
        nested = "".join(f"x{i} {{ " for i in range(1, 11)) + "y" + " }" * 10
        deep = await rig.gql(f"{{ {nested} }}")
        assert deep.status == 400
        assert "11 levels deep" in deep.json()["errors"][0]["message"]
        aliases = " ".join(f"a{i}: login" for i in range(100))
        wide = await rig.gql(f"{{ viewer {{ {aliases} }} }}")
        assert wide.status == 400
        assert "101 fields" in wide.json()["errors"][0]["message"]
        assert rig.sim.requests == 0


async def test_no_cors_headers_by_default() -> None:
    async with service() as rig:
        origin = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
        answers = [
            await rig.get("/v1/homes", headers=origin),
            await rig.get("/v1/homes/Fjellstua/prices", headers=origin),
            await rig.post("/v1-beta/gql", json=QUERY, headers=origin),
        ]
        async with rig.http.options(rig.url + "/v1/homes", headers=origin) as preflight:
            answers_headers = [dict(a.headers) for a in answers] + [dict(preflight.headers)]
            assert preflight.status in (403, 404, 405)
        for headers in answers_headers:
            assert not [h for h in headers if h.lower().startswith("access-control-")]


# -- the token in no byte the service writes -------------------------------------------------

GQL = """
query ($id: ID!) { viewer { login websocketSubscriptionUrl home(id: $id) {
  appNickname owner { firstName } currentSubscription {
    priceInfo(resolution: QUARTER_HOURLY) { current { total } today { total } } } } } }
"""


async def _session(rig: Rig, *, ban: bool) -> None:
    """Every kind of answer: documents, errors of every status, GraphQL errors, a ban, an
    upstream that refuses the token. ``ban`` needs the service on the rig's clock."""
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/homes",
        "/v1/homes/Fjellstua/prices?from=2025-11-20",
        "/v1/homes/Fjellstua/prices?resolution=hour",
        "/v1/homes/Fjellstua/cheapest?duration=2h",
        "/v1/homes/Fjellstua/cheapest?slots=4&window=tomorrow",
        "/v1/homes/Fjellstua/coverage",
        "/v1/homes/Fjellstua/rates",
        "/v1/homes/Fjellstua/current",
        "/v1/homes/Fjellstua/prices?from=soon",
        "/v1/homes/Nowhere/prices",
        "/nothing",
    ):
        await rig.get(path)
    await rig.gql(GQL, {"id": OSLO})
    await rig.gql("{ viewer { homes { consumption { nodes { cost } } } } }")
    await rig.gql('{ viewer { home(id: "nope") { id } } }')
    await rig.post("/v1-beta/gql", data=b"{not json")
    if ban:
        rig.sim.faults.status = 429
        rig.sim.faults.retry_after = 60
        await rig.get("/v1/homes/Fjellstua/prices?from=2025-07-01")
        await rig.gql(GQL, {"id": OSLO})
        await rig.get("/v1/homes/Fjellstua/prices?from=2025-06-01&to=2025-06-02")
        rig.sim.faults.status = None
        rig.clock.advance(timedelta(seconds=61))
    # The source stops asking with a token refused once: these come last.
    rig.sim.faults.invalid_token = True
    await rig.get("/v1/homes/Fjellstua/prices?from=2025-09-01")
    await rig.get("/v1/homes/Sjöboden/prices")
    await rig.gql(GQL, {"id": OSLO})
    rig.sim.faults.invalid_token = False
    rig.sim.faults.token_error = "jws"
    await rig.get("/v1/homes/Altbau/prices?from=2025-08-01")


async def test_the_token_is_in_no_answer_and_no_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with service() as rig:
        await _session(rig, ban=True)
        statuses = {int(part.split()[0]) for part in rig.seen[::3]}
    assert {200, 400, 404, 413, 502, 503} - statuses == {413}
    assert not [part for part in rig.seen if TOKEN.encode() in part]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in caplog.records)
    assert "pricepool.access" in logged
    assert TOKEN not in logged


@pytest.fixture
def upstream() -> Iterator[Served]:
    served = Served(now=NOW, token=TOKEN)
    yield served
    served.close()


async def test_the_token_is_in_nothing_a_verbose_process_writes(
    tmp_path: Path, upstream: Served
) -> None:
    seen: list[bytes] = []
    store = str(tmp_path / "s.sqlite")
    async with (
        running(tmp_path, upstream.endpoint, "-v", "--store", store) as served,
        aiohttp.ClientSession() as http,
    ):
        rig = Rig(upstream.sim, upstream.sim.clock, None, served.url, http)  # type: ignore[arg-type]
        await _session(rig, ban=False)
        seen = rig.seen
        code, out, err = await served.stop()
    assert code == 0, err.decode()
    assert b"pricepool.access" in err
    assert b"502" in err
    for part in (*seen, out, err):
        assert TOKEN.encode() not in part


async def test_refusals_of_the_web_layer_are_json_errors_too() -> None:
    async with service() as rig:
        too_big = await rig.post("/v1-beta/gql", data=b"x" * (MAX_BODY + 1))
        unknown = await rig.get("/v2/homes")
        wrong_method = await rig.post("/v1/homes", data=b"")
        for answer, status, said in (
            (too_big, 413, "64 KiB"),
            (unknown, 404, "/v2/homes"),
            (wrong_method, 405, "GET"),
        ):
            assert answer.status == status
            assert answer.headers["Content-Type"].startswith("application/json")
            error = answer.json()["error"]
            assert error["status"] == status
            assert said in error["message"]
        assert "GET" in wrong_method.headers["Allow"]
