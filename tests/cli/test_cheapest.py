"""``pricepool cheapest``: windows and slots."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .helpers import (
    AFTER,
    BERLIN_HOME,
    EARLY,
    NOT_YET,
    OSLO,
    OSLO_HOME,
    TOMORROW,
    Served,
    run,
    same_instant,
    truth,
)


def test_cheapest_window_matches_brute_force(served: Served, store: str) -> None:
    result = run(
        "cheapest",
        "--duration",
        "3h",
        "--within",
        "tomorrow",
        "--home",
        "Fjellstua",
        "-f",
        "json",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    nodes = truth(served, OSLO_HOME.id, TOMORROW, AFTER)
    means = [sum(n["total"] for n in nodes[i : i + 12]) / 12 for i in range(len(nodes) - 11)]
    best = min(range(len(means)), key=lambda i: (means[i], i))
    assert found["duration_minutes"] == 180
    assert same_instant(found["window"]["start"], nodes[best]["startsAt"])
    assert found["window"]["average"] == round(means[best], 4)
    table = run(
        "cheapest",
        "-d",
        "3h",
        "-w",
        "tomorrow",
        "--home",
        "Fjellstua",
        endpoint=served.endpoint,
        store=store,
    )
    assert table.exit_code == 0, table.output
    assert "Cheapest 3h" in table.stdout


def test_cheapest_slots(served: Served, store: str) -> None:
    result = run(
        "cheapest",
        "--slots",
        "4",
        "--within",
        "today",
        "--home",
        "Altbau",
        "-f",
        "json",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime(2026, 11, 26, tzinfo=berlin)
    nodes = sorted(
        truth(served, BERLIN_HOME.id, day, day + timedelta(days=1)), key=lambda n: n["total"]
    )[:4]
    assert sorted(s["total"] for s in found["slots"]) == pytest.approx(
        sorted(n["total"] for n in nodes)
    )
    # The exact mean of the API's prices, rounded half up (0.24855 is 0.2486).
    exact = sum(Decimal(str(n["total"])) for n in nodes) / 4
    assert found["average"] == float(exact.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def test_cheapest_rejects_a_bad_duration(served: Served, store: str) -> None:
    result = run(
        "cheapest", "-d", "soon", "--home", "Altbau", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2
    assert "--duration" in result.stderr


def test_cheapest_tomorrow_before_13_says_when_prices_come(early: Served, store: str) -> None:
    line = ("cheapest", "--home", "Fjellstua", "-d", "3h", "-w", "tomorrow")
    result = run(*line, endpoint=early.endpoint, store=store, now=EARLY)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: no 3h window yet: {NOT_YET}\n"
    slots = run(
        "cheapest", "--home", "Fjellstua", "-n", "4", "-w", "tomorrow", endpoint=early.endpoint,
        store=store, now=EARLY,
    )  # fmt: skip
    assert slots.exit_code == 1, slots.output
    assert slots.stderr == f"error: no intervals to choose from yet: {NOT_YET}\n"
    longer = run(
        "cheapest", "--home", "Fjellstua", "-d", "20h", endpoint=early.endpoint, store=store,
        now=EARLY,
    )  # fmt: skip
    assert longer.exit_code == 1, longer.output
    assert longer.stderr == f"error: no 20h window yet: {NOT_YET}; prices known up to Fri 00:00\n"


def test_cheapest_upcoming_before_13_searches_what_is_out(early: Served, store: str) -> None:
    line = ("cheapest", "--home", "Fjellstua", "-d", "2h", "-f", "json")
    result = run(*line, endpoint=early.endpoint, store=store, now=EARLY)
    assert result.exit_code == 0, result.output
    assert result.stderr == NOT_YET + "; searched up to Fri 00:00\n"
    document = json.loads(result.stdout)
    assert document["unpublished"]["message"] == NOT_YET
    window = document["window"]
    assert datetime.fromisoformat(window["start"]) >= EARLY
    assert datetime.fromisoformat(window["end"]) <= TOMORROW


def test_cheapest_json_says_why_nothing_was_chosen(early: Served, store: str) -> None:
    for extra, empty in ((["-d", "3h"], {"window": None}), (["-n", "4"], {"slots": []})):
        line = ("cheapest", "--home", "Fjellstua", "-w", "tomorrow", "-f", "json", *extra)
        result = run(*line, endpoint=early.endpoint, store=store, now=EARLY)
        assert result.exit_code == 1, result.output
        document = json.loads(result.stdout)
        assert document["error"] in result.stderr
        assert document["unpublished"]["message"] == NOT_YET
        for key, value in empty.items():
            assert document[key] == value


def test_cheapest_with_the_api_down_is_an_api_error(
    served: Served, closed_endpoint: str, store: str
) -> None:
    assert (
        run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=store).exit_code == 0
    )
    # Two days cached, the rest of the month not: 8 days cannot fit because the API is down.
    result = run(
        "cheapest",
        "-d",
        "8d",
        "-w",
        "2026-11-01..2026-11-27",
        "--home",
        "Fjellstua",
        endpoint=closed_endpoint,
        store=store,
    )
    assert result.exit_code == 1, result.output
    assert "cannot reach" in result.stderr


def test_a_window_into_the_next_day_names_its_end_day(served: Served, store: str) -> None:
    result = run(
        "cheapest",
        "-d",
        "24h",
        "-w",
        "yesterday..today",
        "--home",
        "Fjellstua",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    assert "– 00:00" not in result.stdout


def test_a_windows_average_is_rounded_as_every_average(served: Served, store: str) -> None:
    for length in ("1h", "3h", "5h"):
        result = run(
            "cheapest",
            "-d",
            length,
            "-w",
            "today",
            "--home",
            "Fjellstua",
            "-f",
            "json",
            endpoint=served.endpoint,
            store=store,
        )
        window = json.loads(result.stdout)["window"]
        lo, hi = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        nodes = truth(served, OSLO_HOME.id, lo, hi)
        exact = sum(Decimal(str(n["total"])) for n in nodes) / len(nodes)
        assert window["average"] == float(exact.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def test_slots_in_the_repeated_hour_are_marked(serve: Any, store: str) -> None:
    night = datetime(2026, 10, 25, 12, 0, tzinfo=OSLO)
    served = serve(now=night)
    result = run(
        "cheapest",
        "--slots",
        "100",
        "-w",
        "2026-10-25",
        "--home",
        "Fjellstua",
        endpoint=served.endpoint,
        store=store,
        now=night,
    )
    assert result.exit_code == 0, result.output
    rows = [row for row in result.stdout.splitlines() if "2026-10-25 02:" in row]
    assert len(rows) == 8
    assert len({row.split()[2] for row in rows}) == 8  # no two rows read alike
    assert "summer time ended" in result.stdout


def test_a_window_across_the_clock_change_shows_both_offsets(served: Served, store: str) -> None:
    """4 hours from 01:00 to 04:00 on the autumn night: without offsets it reads as 3."""
    result = run(
        "cheapest", "--home", "Fjellstua", "-d", "4h", "-w", "2026-10-25T01:00..2026-10-25T04:00",
        endpoint=served.endpoint, store=store,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Sun 2026-10-25 01:00 (UTC+02:00) – 04:00 (UTC+01:00)" in " ".join(result.stdout.split())


def test_a_window_that_has_passed_says_so(served: Served, store: str) -> None:
    result = run(
        "cheapest", "--home", "Fjellstua", "-d", "2h", "-w", "yesterday",
        endpoint=served.endpoint, store=store,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "that window has passed; --within upcoming searches from now on" in result.stderr
    upcoming = run("cheapest", "--home", "Fjellstua", endpoint=served.endpoint, store=store)
    assert "has passed" not in upcoming.stderr
