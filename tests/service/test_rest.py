"""The REST routes under /v1: the CLI's documents, evcc's and Home Assistant's shapes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pricepool import SqliteStore
from pricepool.service._hub import match
from pricepool.simulator import DEFAULT_HOMES
from pricepool.storage.base import Snapshot

from .rig import BERLIN, NOW, OSLO, TOKEN, Answer, Rig, cli, service

DST = datetime(2025, 10, 26, 11, 0, tzinfo=UTC)  # 12:00 on Oslo's 25-hour day
EARLY = NOW - timedelta(hours=3)  # 11:00 in Oslo: tomorrow is not out yet

RANGES = [
    # (now, from, to): None leaves the parameter to its default.
    (NOW, "2025-11-24", "2025-11-26"),
    (NOW, "2025-09-30T20:00", "2025-10-01T04:00"),  # hourly history into quarter-hours
    (DST, "2025-10-26", "2025-10-26"),
    (EARLY, None, None),
    (EARLY, "2025-11-25T09:00", "2025-11-26"),
    (NOW, "now", None),  # from the interval in force
]


@pytest.mark.parametrize(("now", "start", "end"), RANGES)
async def test_prices_equal_the_cli_byte_for_byte(
    tmp_path: Path, now: datetime, start: str | None, end: str | None
) -> None:
    async with service(tmp_path / "service.sqlite", now=now) as rig:
        base = ["--now", now.isoformat(), "--token", TOKEN, "--endpoint", rig.sim.endpoint]
        ranged = (["--from", start] if start else []) + (["--to", end] if end else [])
        params = ({"from": start} if start else {}) | ({"to": end} if end else {})

        async def printed(hourly: bool) -> bytes:
            args = [*base, "prices", "--home", "Fjellstua", *ranged, "-f", "json"]
            args += ["--store", str(tmp_path / f"cli-{hourly}.sqlite")]
            code, out, err = await cli(tmp_path, *args, *(["--hourly"] if hourly else []))
            assert code == 0, err.decode()
            return out

        quarter, hourly = await asyncio.gather(printed(False), printed(True))
        by_quarter = await rig.get(f"/v1/homes/{OSLO}/prices", **params)
        by_hour = await rig.get("/v1/homes/fjellstua/prices", resolution="hour", **params)
        assert by_quarter.status == by_hour.status == 200
        assert by_quarter.body == quarter
        assert by_hour.body == hourly
        document = by_quarter.json()
        assert "hourly" not in document
        assert by_hour.json()["hourly"] is True
        if now is DST:
            assert len(document["intervals"]) == 100
            assert len(by_hour.json()["intervals"]) == 25
        if now is EARLY and end != "2025-11-25T09:00":
            assert document["unpublished"]["from"] == "2025-11-26T00:00:00+01:00"


BAD = [
    ("prices", {"from": "soon"}, "from"),
    ("prices", {"to": "2025-13-01"}, "to"),
    ("prices", {"resolution": "minute"}, "resolution"),
    ("prices", {"from": "2025-11-26", "to": "2025-11-25T12:00"}, "to"),
    ("cheapest", {"duration": "banana"}, "duration"),
    ("cheapest", {"duration": "0h"}, "duration"),
    ("cheapest", {"slots": "0"}, "slots"),
    ("cheapest", {"slots": "four"}, "slots"),
    ("cheapest", {"window": "whenever"}, "window"),
    ("cheapest", {"window": "today", "from": "now"}, "window"),
    ("cheapest", {"from": "soon"}, "from"),
    ("cheapest", {"from": "now", "to": "soon"}, "to"),
    ("rates", {"from": "soon"}, "from"),
    ("rates", {"to": "soon"}, "to"),
    # A typo must not pass for the default.
    ("prices", {"frm": "today"}, "frm"),
    ("rates", {"resolution": "hour"}, "resolution"),
    ("current", {"from": "today"}, "from"),
    ("coverage", {"home": "x"}, "home"),
    ("cheapest", {"duration": "3h", "slots": "2"}, "duration"),
    ("cheapest", {"duration": "25h", "window": "today"}, "duration"),
    ("prices", {"from": "2019-01-01", "to": "2024-06-01"}, "to"),
]


@pytest.mark.parametrize(("route", "params", "name"), BAD)
async def test_bad_parameters_are_400_naming_the_parameter(
    route: str, params: dict[str, str], name: str
) -> None:
    async with service() as rig:
        answer = await rig.get(f"/v1/homes/Fjellstua/{route}", **params)
        assert answer.status == 400, answer.body
        assert answer.headers["Content-Type"].startswith("application/json")
        error = answer.json()["error"]
        assert error["status"] == 400
        assert error["parameter"] == name
        assert error["message"].startswith(name)
        assert rig.sim.requests <= 1  # at most the home list; never a price for nonsense


async def test_five_years_are_answered_though_whole_pages_would_be_longer() -> None:
    """The CLI answers this range; widening it to the API's pages must not refuse it."""
    async with service() as rig:
        answer = await rig.get(
            "/v1/homes/Fjellstua/prices", **{"from": "2019-01-01", "to": "2024-01-01"}
        )
        assert answer.status == 200, answer.body
        # The simulated history begins 2021-01-01: three years of hours.
        assert len(answer.json()["intervals"]) == 26_304


async def test_a_cache_buster_is_not_an_unknown_parameter() -> None:
    async with service() as rig:
        answer = await rig.get("/v1/homes/Fjellstua/current", _="1764900000000")
        assert answer.status == 200, answer.body


@pytest.mark.parametrize("route", ["prices", "cheapest", "coverage", "rates", "current"])
async def test_an_unknown_home_is_404(route: str) -> None:
    async with service() as rig:
        answer = await rig.get(f"/v1/homes/Vestlandet/{route}")
        assert answer.status == 404
        error = answer.json()["error"]
        assert error["parameter"] == "home"
        assert "Vestlandet" in error["message"]


async def test_a_home_is_named_by_id_nickname_or_the_start_of_its_id() -> None:
    async with service() as rig:
        bodies = set()
        for ref in (OSLO, "Fjellstua", "FJELLSTUA", OSLO[:8]):
            answer = await rig.get(f"/v1/homes/{ref}/prices", **{"from": "2025-11-24"})
            assert answer.status == 200
            bodies.add(answer.body)
        assert len(bodies) == 1
        homes = (await rig.get("/v1/homes")).json()["homes"]
        # Ordered by id, whether the store or the source told the list.
        assert [h["id"] for h in homes] == sorted(h.id for h in DEFAULT_HOMES)
        assert (await rig.get("/v1/homes/Sjöboden/current")).json()["currency"] == "SEK"


async def test_cheapest_from_alone_runs_to_the_end_of_tomorrow() -> None:
    async with service() as rig:
        answer = await rig.get("/v1/homes/Fjellstua/cheapest", duration="2h", **{"from": "18:00"})
        assert answer.status == 400  # a bare clock time is not a time the CLI accepts
        answer = await rig.get(
            "/v1/homes/Fjellstua/cheapest", duration="2h", **{"from": "2025-11-25T18:00"}
        )
        assert answer.status == 200, answer.body
        found = answer.json()
        assert found["from"] == "2025-11-25T18:00:00+01:00"
        assert found["to"] == "2025-11-27T00:00:00+01:00"
        assert found["window"]["start"] >= "2025-11-25T18:00:00+01:00"
        until = await rig.get("/v1/homes/Fjellstua/cheapest", slots="3", to="2025-11-25")
        assert until.status == 200, until.body
        assert until.json()["to"] == "2025-11-26T00:00:00+01:00"
        assert len(until.json()["slots"]) == 3


def _max_age(answer: Answer) -> int:
    for part in answer.headers["Cache-Control"].split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age":
            return int(value)
    return 0


async def test_settled_past_days_carry_a_strong_etag_and_a_long_life() -> None:
    async with service() as rig:
        path = "/v1/homes/Fjellstua/prices"
        past = {"from": "2025-11-20", "to": "2025-11-21"}
        first = await rig.get(path, **past)
        assert first.status == 200
        tag = first.headers["ETag"]
        assert tag.startswith('"')
        assert tag.endswith('"')
        assert _max_age(first) >= 86_400
        assert "public" in first.headers["Cache-Control"]
        sent = rig.sim.requests
        held = await rig.get(path, headers={"If-None-Match": tag}, **past)
        assert held.status == 304
        assert held.body == b""
        assert held.headers["ETag"] == tag
        # A cache revalidating with a list, or a weak form of the tag, still matches.
        for given in (f'"other", {tag}', f"W/{tag}"):
            assert (await rig.get(path, headers={"If-None-Match": given}, **past)).status == 304
        assert (await rig.get(path, headers={"If-None-Match": '"other"'}, **past)).body == (
            first.body
        )
        assert rig.sim.requests == sent
        # Another range is another document with another tag.
        other = await rig.get(path, **{"from": "2025-11-19", "to": "2025-11-21"})
        assert other.headers["ETag"] != tag


async def test_what_can_still_change_is_not_kept_long() -> None:
    async with service(now=EARLY) as rig:
        path = "/v1/homes/Fjellstua/prices"
        cases = [
            {},  # today and tomorrow, tomorrow not out yet
            {"from": "now"},
            {"from": "2025-11-26", "to": "2025-11-26"},  # tomorrow alone
        ]
        for params in cases:
            answer = await rig.get(path, **params)
            assert answer.status == 200
            assert _max_age(answer) == 0, params
        early = await rig.get(path)
        rig.clock.set(NOW)  # tomorrow is out
        later = await rig.get(path, headers={"If-None-Match": early.headers["ETag"]})
        assert later.status == 200
        assert later.headers["ETag"] != early.headers["ETag"]
        assert len(later.json()["intervals"]) == 192


async def test_relative_words_are_not_kept_past_the_day_they_name() -> None:
    # "today" names another day tomorrow: a cache keeping the answer for a month would
    # serve yesterday's prices as today's.
    async with service() as rig:
        path = "/v1/homes/Fjellstua/prices"
        for params in ({}, {"from": "today"}, {"from": "yesterday", "to": "yesterday"}):
            answer = await rig.get(path, **params)
            assert answer.status == 200
            midnight = datetime(2025, 11, 25, 23, 0, tzinfo=UTC)
            assert _max_age(answer) <= (midnight - NOW).total_seconds(), params
        fixed = await rig.get(path, **{"from": "2025-11-24", "to": "2025-11-25T00:00+01:00"})
        assert _max_age(fixed) >= 86_400


def _go_time(text: str) -> datetime:
    """A time as Go's time.Time reads JSON: RFC 3339, with a zone (Z or an offset)."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_rates_are_what_evcc_reads_as_a_custom_forecast() -> None:
    # evcc's custom tariff unmarshals the forecast into api.Rates, a JSON list of
    # {"start", "end", "value"} (docs.evcc.io, tariffs: custom plugin; tariff/tariff.go):
    # the README's evcc.yaml takes it out of {"rates": [...]} with "jq: .rates | tostring".
    async with service() as rig:
        answer = await rig.get("/v1/homes/Altbau/rates")
        assert answer.status == 200
        body = json.loads(answer.body)
        assert list(body) == ["rates"]
        rates = body["rates"]
        assert isinstance(rates, list)
        assert all(set(rate) == {"start", "end", "value"} for rate in rates)
        starts = [_go_time(r["start"]) for r in rates]
        ends = [_go_time(r["end"]) for r in rates]
        # From the interval in force to the end of tomorrow in Berlin, without a gap.
        assert starts[0] <= NOW < ends[0]
        assert ends[-1] == datetime(2025, 11, 26, 23, 0, tzinfo=UTC)
        assert all(a == b for a, b in zip(ends, starts[1:], strict=False))
        assert all(e - s == timedelta(minutes=15) for s, e in zip(starts, ends, strict=True))
        truth = rig.sim.truth(BERLIN, starts[0], ends[-1])
        assert [r["value"] for r in rates] == [node["total"] for node in truth]
        assert all(isinstance(r["value"], float) for r in rates)
        ranged = await rig.get(
            "/v1/homes/Altbau/rates", **{"from": "2025-10-26", "to": "2025-10-26"}
        )
        assert len(json.loads(ranged.body)["rates"]) == 100


async def test_current_is_what_a_home_assistant_rest_sensor_reads() -> None:
    async with service(now=EARLY) as rig:
        answer = await rig.get("/v1/homes/Fjellstua/current")
        assert answer.status == 200
        sent = rig.sim.requests
        body = answer.json()
        assert isinstance(body, dict)  # json_attributes need an object
        # The state (value_template: "{{ value_json.price }}") is a scalar of <= 255 chars.
        assert isinstance(body["price"], float)
        assert len(str(body["price"])) <= 255
        for name in ("level", "start", "end", "currency"):
            assert isinstance(body[name], str)
            assert len(body[name]) <= 255
        start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
        assert start <= EARLY < end
        truth = rig.sim.truth(OSLO, start, end)
        assert body["price"] == truth[0]["total"]
        # Attributes: today's 96 quarter-hours; tomorrow is not out at 11:00.
        assert len(body["today"]) == 96
        assert body["tomorrow"] == []
        # Home Assistant polls every 30 s: each poll is answered from the cache.
        for _ in range(40):  # 20 minutes: into the next quarter-hour
            rig.clock.advance(timedelta(seconds=30))
            again = await rig.get("/v1/homes/Fjellstua/current")
            assert again.status == 200
        assert rig.sim.requests == sent
        assert again.json()["price"] != body["price"] or again.json()["start"] != body["start"]


async def test_a_ban_with_nothing_cached_is_503_with_retry_after(tmp_path: Path) -> None:
    async with service(tmp_path / "s.sqlite") as rig:
        rig.sim.faults.status = 429
        rig.sim.faults.retry_after = 120
        answer = await rig.get("/v1/homes/Fjellstua/prices")
        assert answer.status == 503
        after = int(answer.headers["Retry-After"])
        assert 0 < after <= 120
        error = answer.json()["error"]
        assert error["retry_after"] == after
        assert TOKEN not in answer.body.decode()
        # While the ban lasts, nobody's question reaches the upstream, every route says so.
        sent = rig.sim.requests
        for step in range(1, 5):
            rig.clock.advance(timedelta(seconds=20))
            for route in ("prices", "rates", "current", "cheapest"):
                again = await rig.get(f"/v1/homes/Fjellstua/{route}")
                assert again.status == 503, (route, again.body)
                assert int(again.headers["Retry-After"]) == after - 20 * step
        assert (await rig.get("/v1/homes")).status == 503
        assert rig.sim.requests == sent
        rig.sim.faults.status = None
        rig.clock.advance(timedelta(seconds=after - 80 + 1))
        assert (await rig.get("/v1/homes/Fjellstua/prices")).status == 200


async def test_a_ban_serves_what_is_cached_with_missing_filled() -> None:
    async with service() as rig:
        path = "/v1/homes/Fjellstua/prices"
        assert (await rig.get(path)).status == 200  # today and tomorrow cached
        rig.sim.faults.status = 429
        rig.sim.faults.retry_after = 120
        week = {"from": "2025-11-20", "to": "2025-11-26"}
        answer = await rig.get(path, **week)
        assert answer.status == 200
        document = answer.json()
        held = document["intervals"]
        # Today and tomorrow at least, and what was fetched with them; the rest is missing.
        assert len(held) >= 192
        assert held[-1]["end"] == "2025-11-27T00:00:00+01:00"
        assert document["missing"] == [
            {"from": "2025-11-20T00:00:00+01:00", "to": held[0]["start"]}
        ]
        assert document["source_error"]
        assert TOKEN not in answer.body.decode()
        assert "max-age" not in answer.headers["Cache-Control"]
        sent = rig.sim.requests
        for _ in range(5):
            rig.clock.advance(timedelta(seconds=20))
            assert (await rig.get(path, **week)).status == 200
        assert rig.sim.requests == sent
        rig.sim.faults.status = None
        rig.clock.advance(timedelta(seconds=21))
        healed = (await rig.get(path, **week)).json()
        assert healed["missing"] == []
        assert len(healed["intervals"]) == 7 * 96  # the 20th to the end of the 26th


PRICE_INFO = """
query ($id: ID!) { viewer { home(id: $id) { currentSubscription {
  priceInfo(resolution: QUARTER_HOURLY) { today { startsAt total } tomorrow { startsAt total } }
} } } }
"""


def _asks(rig: Rig, i: int) -> list[Awaitable[Answer]]:
    """Client ``i``'s questions: overlapping ranges within the 18th to the 26th."""
    first = 18 + i % 8
    asked = {"from": f"2025-11-{first:02d}", "to": f"2025-11-{min(first + i % 3, 26):02d}"}
    return [
        rig.get("/v1/homes/Fjellstua/prices", **asked),
        rig.get("/v1/homes/fjellstua/prices", resolution="hour", **asked),
        rig.get("/v1/homes/Fjellstua/current"),
        rig.get("/v1/homes/Fjellstua/rates", **{"from": asked["from"]}),
        rig.get("/v1/homes/Fjellstua/cheapest", slots="4", **asked),
    ]


@pytest.mark.parametrize("graphql", [False, True])
async def test_fifty_clients_cost_the_upstream_what_the_widest_costs(graphql: bool) -> None:
    async with service() as one:
        widest = {"from": "2025-11-18", "to": "2025-11-26"}
        assert (await one.get("/v1/homes/Fjellstua/prices", **widest)).status == 200
        if graphql:
            assert (await one.gql(PRICE_INFO, {"id": OSLO})).status == 200
        alone = one.sim.requests
    async with service() as many:
        asks = [ask for i in range(50) for ask in _asks(many, i)]
        if graphql:
            asks += [many.gql(PRICE_INFO, {"id": OSLO}) for _ in range(50)]
        answers = await asyncio.gather(*asks)
        together = many.sim.requests
    assert all(a.status == 200 for a in answers), {a.status for a in answers}
    assert together == alone, (together, alone)


async def test_a_restart_answers_the_same_bytes_without_asking(tmp_path: Path) -> None:
    store = tmp_path / "service.sqlite"
    paths = ["/v1/homes", "/v1/homes/Altbau/prices", "/v1/homes/Sjöboden/coverage"]
    async with service(store) as rig:
        before = [await rig.get(path) for path in paths]
    async with service(store) as rig:
        after = [await rig.get(path) for path in paths]
        assert rig.sim.requests == 0
    assert [a.body for a in after] == [b.body for b in before]
    assert [a.headers["ETag"] for a in after] == [b.headers["ETag"] for b in before]


async def test_a_store_that_knows_some_homes_does_not_hide_the_others(tmp_path: Path) -> None:
    # A store the CLI filled for one home: the other homes are still the account's.
    async with service() as rig:
        berlin = match("Altbau", await rig.hub.homes())
    kept = SqliteStore(tmp_path / "cli.sqlite")
    await kept.save(Snapshot(berlin))
    await kept.close()
    async with service(tmp_path / "cli.sqlite") as rig:
        assert (await rig.get("/v1/homes/Altbau/coverage")).status == 200
        assert rig.sim.requests == 0
        assert (await rig.get("/v1/homes/Fjellstua/coverage")).status == 200
        assert (await rig.get("/v1/homes/Nowhere/coverage")).status == 404
        homes = (await rig.get("/v1/homes")).json()["homes"]
        assert len(homes) == 3
        assert rig.sim.requests == 1  # the home list, once


async def test_readyz_learns_the_home_list_itself() -> None:
    # A readiness probe gates all traffic: it must not wait for a client to ask first.
    async with service() as rig:
        rig.sim.faults.status = 503
        down = await rig.get("/readyz")
        assert down.status == 503
        assert "home list" in down.json()["reason"]
        assert (await rig.get("/healthz")).status == 200
        rig.sim.faults.status = None
        rig.clock.advance(timedelta(minutes=5))
        assert (await rig.get("/readyz")).status == 200
        sent = rig.sim.requests
        assert (await rig.get("/readyz")).json() == {"status": "ready", "reason": "ready"}
        assert rig.sim.requests == sent


async def test_tibbers_own_ban_is_waited_out_without_a_request() -> None:
    # Tibber's ban: 429 in plain text, no Retry-After, extended by every request during it.
    async with service(rate_limit=3, ban=600) as rig:
        for month in range(1, 10):  # ranges far apart: one request each, until banned
            if rig.sim.banned_until() is not None:
                break
            asked = {"from": f"2025-0{month}-01", "to": f"2025-0{month}-02"}
            await rig.get("/v1/homes/Fjellstua/prices", **asked)
        assert rig.sim.banned_until() is not None
        sent = rig.sim.requests
        answer = await rig.get(
            "/v1/homes/Fjellstua/prices", **{"from": "2025-10-01", "to": "2025-10-02"}
        )
        assert answer.status == 503
        wait = int(answer.headers["Retry-After"])
        assert 0 < wait <= 600
        for _ in range(5):
            rig.clock.advance(timedelta(seconds=wait // 6))
            assert (
                await rig.get(
                    "/v1/homes/Fjellstua/prices", **{"from": "2025-10-01", "to": "2025-10-02"}
                )
            ).status == 503
        assert rig.sim.requests == sent
        assert rig.sim.banned_until() is not None
        rig.clock.advance(timedelta(seconds=wait))
        healed = await rig.get(
            "/v1/homes/Fjellstua/prices", **{"from": "2025-10-01", "to": "2025-10-02"}
        )
        assert healed.status == 200
        assert len(healed.json()["intervals"]) == 192
