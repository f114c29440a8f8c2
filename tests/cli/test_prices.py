"""``pricepool prices``: tables, JSON, CSV, back-fill and prices not published yet."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .helpers import (
    AFTER,
    BERLIN_HOME,
    EARLY,
    NOT_YET,
    NOW,
    OSLO,
    OSLO_HOME,
    TODAY,
    TOMORROW,
    Served,
    run,
    same_instant,
    truth,
)


def test_prices_json_is_the_simulators_truth(served: Served, store: str) -> None:
    result = run(
        "prices", "--home", "Fjellstua", "--format", "json", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["home"] == {
        "id": OSLO_HOME.id,
        "nickname": "Fjellstua",
        "time_zone": "Europe/Oslo",
        "currency": "NOK",
    }
    assert document["currency"] == "NOK"
    assert document["source_error"] is None
    assert document["unpublished"] is None
    assert datetime.fromisoformat(document["from"]) == TODAY
    assert datetime.fromisoformat(document["to"]) == AFTER
    expected = truth(served, OSLO_HOME.id, TODAY, AFTER)
    got = document["intervals"]
    assert len(got) == len(expected) == 192
    for item, node in zip(got, expected, strict=True):
        assert same_instant(item["start"], node["startsAt"])
        assert item["start"].endswith("+01:00")
        assert datetime.fromisoformat(item["end"]) - datetime.fromisoformat(
            item["start"]
        ) == timedelta(minutes=15)
        assert item["total"] == pytest.approx(node["total"])
        assert item["energy"] == pytest.approx(node["energy"])
        assert item["tax"] == pytest.approx(node["tax"])
        assert item["level"] == node["level"]


def test_prices_csv_is_the_simulators_truth(served: Served, store: str) -> None:
    result = run(
        "prices",
        "--home",
        "Altbau",
        "--from",
        "tomorrow",
        "--to",
        "tomorrow",
        "-f",
        "csv",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["start", "end", "total", "energy", "tax", "level", "currency"]
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime(2026, 11, 27, tzinfo=berlin)
    expected = truth(served, BERLIN_HOME.id, day, day + timedelta(days=1))
    assert len(rows) - 1 == len(expected) == 96
    for row, node in zip(rows[1:], expected, strict=True):
        assert same_instant(row[0], node["startsAt"])
        assert float(row[2]) == pytest.approx(node["total"])
        assert row[5] == node["level"]
        assert row[6] == "EUR"


def test_prices_table_and_chart(served: Served, store: str) -> None:
    result = run("prices", "--home", "Sjöboden", "--chart", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    assert "Thu 2026-11-26 00:00" in result.stdout
    assert "average" in result.stdout
    assert "Fri 27" in result.stdout  # a tick of the chart
    hourly = run("prices", "--home", "Sjöboden", "--hourly", endpoint=served.endpoint, store=store)
    assert hourly.exit_code == 0, hourly.output
    assert "23:00" in hourly.stdout


def test_prices_back_fill_month_by_month_then_from_the_store(served: Served, store: str) -> None:
    args = (
        "prices",
        "--home",
        OSLO_HOME.id,
        "--from",
        "2025-09-15",
        "--to",
        "2025-11-14",
        "-f",
        "csv",
    )
    result = run(*args, endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    start = datetime(2025, 9, 15, tzinfo=OSLO)
    end = datetime(2025, 11, 15, tzinfo=OSLO)
    hourly = truth(served, OSLO_HOME.id, start, datetime(2025, 10, 1, tzinfo=OSLO))
    expected = [n for n in truth(served, OSLO_HOME.id, start, end) if n["startsAt"] >= "2025-10-01"]
    # Hourly before 2025-10-01, quarter-hourly from it: both in one answer.
    assert len(rows) == 16 * 24 + len(expected)
    assert len(hourly) >= 16 * 24
    lengths = {datetime.fromisoformat(r[1]) - datetime.fromisoformat(r[0]) for r in rows}
    assert lengths == {timedelta(hours=1), timedelta(minutes=15)}
    before = served.sim.requests
    again = run(*args, endpoint=served.endpoint, store=store)
    assert again.exit_code == 0, again.output
    assert again.stdout == result.stdout
    assert served.sim.requests == before  # all from the store


def test_prices_of_tomorrow_before_13_say_when_they_come(early: Served, store: str) -> None:
    for fmt in ("table", "csv"):
        line = ("prices", "--home", "Fjellstua", "--from", "tomorrow", "--to", "tomorrow")
        result = run(*line, "-f", fmt, endpoint=early.endpoint, store=store, now=EARLY)
        assert result.exit_code == 0, result.output
        assert result.stderr == NOT_YET + "\n"
        if fmt == "csv":
            assert result.stdout == "start,end,total,energy,tax,level,currency\n"
        else:
            assert "no prices known" in result.stdout
    quiet = run(
        "prices", "--home", "Fjellstua", "--from", "tomorrow", "--to", "tomorrow", "-f", "csv",
        "-q", endpoint=early.endpoint, store=store, now=EARLY,
    )  # fmt: skip
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""


def test_prices_json_carries_the_unpublished_part(early: Served, store: str) -> None:
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "-f",
        "json",
        endpoint=early.endpoint,
        store=store,
        now=EARLY,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == NOT_YET + "; showing up to Fri 00:00\n"
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert len(document["intervals"]) == 96
    assert datetime.fromisoformat(document["to"]) == AFTER
    later = document["unpublished"]
    assert datetime.fromisoformat(later["from"]) == TOMORROW
    assert datetime.fromisoformat(later["to"]) == AFTER
    assert datetime.fromisoformat(later["expected_at"]) == TODAY.replace(hour=13)
    assert later["retry_at"] is None
    assert later["message"] == NOT_YET


def test_prices_name_the_first_unpublished_day_of_a_longer_range(early: Served, store: str) -> None:
    line = ("prices", "--home", "Fjellstua", "-f", "csv")
    days = run(*line, "--to", "2026-11-29", endpoint=early.endpoint, store=store, now=EARLY)
    assert days.exit_code == 0, days.output
    assert days.stderr == (
        "prices from tomorrow on are not published yet (tomorrow's expected after 13:00 "
        "Europe/Oslo); showing up to Fri 00:00\n"
    )
    sat = run(
        *line, "--from", "2026-11-28", "--to", "2026-11-28", endpoint=early.endpoint, store=store,
        now=EARLY,
    )  # fmt: skip
    assert sat.stderr == (
        "Saturday's prices are not published yet (expected after tomorrow 13:00 Europe/Oslo)\n"
    )


def test_late_prices_say_when_the_pool_asks_again(serve: Callable[..., Served], store: str) -> None:
    late = serve(publish_delay=timedelta(hours=3))
    result = run("prices", "--home", "Fjellstua", "-f", "json", endpoint=late.endpoint, store=store)
    assert result.exit_code == 0, result.output
    message = (
        "tomorrow's prices are late (expected at 13:00 Europe/Oslo); pricepool asks again "
        "after 14:15"
    )
    assert result.stderr == message + "; showing up to Fri 00:00\n"
    later = json.loads(result.stdout)["unpublished"]
    assert later["message"] == message
    assert later["retry_at"] == "2026-11-26T14:15:00+01:00"


def test_quiet_keeps_warnings_but_drops_remarks(
    served: Served, closed_endpoint: str, store: str
) -> None:
    assert (
        run(
            "prices", "--home", "Fjellstua", "-f", "csv", endpoint=served.endpoint, store=store
        ).exit_code
        == 0
    )
    result = run(
        "prices",
        "--home",
        OSLO_HOME.id,
        "--from",
        "2026-10-01",
        "-f",
        "csv",
        "-q",
        endpoint=closed_endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "warning: prices from 2026-10-01 until 2026-11-24 are missing: cannot reach"
    )
    assert len(result.stdout.splitlines()) == 1 + 4 * 96


def test_a_rate_limit_during_a_back_fill_names_what_is_missing(
    serve: Callable[..., Served], store: str
) -> None:
    # 20 requests: the homes, then January to April (5 pages of 672 each); May is refused.
    served = serve(rate_limit=20)
    line = ("prices", "--home", "Fjellstua", "--from", "2026-01-01", "-f", "json")
    result = run(*line, endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    why = f"rate limited by {served.endpoint}; the next request can go in 5 min"
    assert result.stderr == (
        f"warning: prices from 2026-05-01 until 2026-11-28 are missing: {why}\n"
    )
    document = json.loads(result.stdout)
    assert document["source_error"] == why
    assert document["missing"] == [
        {"from": "2026-05-01T00:00:00+02:00", "to": "2026-11-28T00:00:00+01:00"}
    ]
    # Oldest first, and no month tried after the refusal.
    assert [r.status for r in served.sim.log].count(429) == 1
    assert document["intervals"][0]["start"] == "2026-01-01T00:00:00+01:00"
    assert document["intervals"][-1]["end"] == "2026-05-01T00:00:00+02:00"


def test_a_complete_answer_has_nothing_missing(served: Served, store: str) -> None:
    result = run("prices", "--home", "Altbau", "-f", "json", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["missing"] == []


def test_hourly_table_has_its_currency_and_a_legend_on_the_dst_night(
    served: Served, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    line = ("prices", "--home", "Fjellstua", "--hourly")
    result = run(*line, endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].strip() == "Fjellstua · hourly averages · NOK/kWh"
    assert "*" not in result.stdout
    night = run(*line, "--from", "2026-10-25", "--to", "2026-10-25", endpoint=served.endpoint,
                store=store)  # fmt: skip
    assert night.exit_code == 0, night.output
    assert "02:00*" in night.stdout
    assert "* the second time this hour came, when clocks went back" in night.stdout
    week = run(*line, "--from", "2026-11-20", endpoint=served.endpoint, store=store)
    assert week.exit_code == 0, week.output
    # The range shown is the one with prices (to Fri 27), not the one asked for.
    assert "Fjellstua · Fri 2026-11-20 – Fri 2026-11-27 · NOK/kWh" in week.stdout


def test_a_date_beyond_the_calendar_is_a_usage_error(served: Served, store: str) -> None:
    result = run(
        "prices", "--from", "9999-12-31", "--home", "Altbau", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert "internal error" not in result.stderr


def test_hourly_csv_holds_hours_and_json_refuses_a_chart(served: Served, store: str) -> None:
    line = ("prices", "--home", "Fjellstua", "--from", "today", "--to", "today")
    result = run(*line, "-f", "csv", "--hourly", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 24
    quarters = truth(served, OSLO_HOME.id, TODAY, TODAY + timedelta(hours=1))
    exact = sum(Decimal(str(n["total"])) for n in quarters) / len(quarters)
    assert float(rows[0]["total"]) == float(exact.quantize(Decimal("0.0001"), ROUND_HALF_UP))
    chart = run(*line, "-f", "json", "--chart", endpoint=served.endpoint, store=store)
    assert chart.exit_code == 2
    assert "--chart" in chart.stderr


def test_hourly_averages_are_the_exact_means_of_the_quarters(served: Served, store: str) -> None:
    line = ("prices", "--home", "Fjellstua", "--from", "2026-11-01", "--to", "2026-11-30")
    hourly = run(*line, "-f", "json", "--hourly", endpoint=served.endpoint, store=store)
    quarters = run(*line, "-f", "csv", endpoint=served.endpoint, store=store)
    hours: dict[str, list[Decimal]] = {}
    for row in csv.DictReader(io.StringIO(quarters.stdout)):
        hours.setdefault(row["start"][:13], []).append(Decimal(row["total"]))
    found = json.loads(hourly.stdout)["intervals"]
    assert len(found) == len(hours) == 27 * 24  # published up to the 27th
    for item in found:
        values = hours[item["start"][:13]]
        mean = (sum(values) / len(values)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert item["total"] == float(mean), item


def test_from_now_starts_with_the_interval_in_force(served: Served, store: str) -> None:
    at = datetime(2026, 11, 26, 14, 7, tzinfo=OSLO)
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "now",
        "-f",
        "json",
        endpoint=served.endpoint,
        store=store,
        now=at,
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["intervals"][0]
    assert datetime.fromisoformat(first["start"]) == datetime(2026, 11, 26, 14, 0, tzinfo=OSLO)


def test_a_long_table_says_once_how_to_get_csv(served: Served, store: str) -> None:
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-10",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("--format csv") == 1
    assert result.stdout.count("\n│ ") == 960


def test_a_narrow_table_keeps_whole_prices(served: Served, store: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert all(len(row) <= 60 for row in result.stdout.splitlines()[1:])


def test_the_repeated_hour_is_marked(serve: Any, store: str) -> None:
    night = datetime(2026, 10, 25, 12, 0, tzinfo=OSLO)
    served = serve(now=night)
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-10-25",
        "--to",
        "2026-10-25",
        endpoint=served.endpoint,
        store=store,
        now=night,
    )
    assert result.exit_code == 0, result.output
    assert "02:00*" in result.stdout
    assert "summer time ended" in result.stdout


def test_a_table_piped_to_head_exits_0(served: Served, store: str, tmp_path: Path) -> None:
    line = [
        sys.executable,
        "-m",
        "pricepool.cli",
        "--now",
        NOW.isoformat(),
        "--token",
        "t",
        "--endpoint",
        served.endpoint,
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-11-01",
        "--store",
        store,
    ]
    shell = " ".join(f"'{a}'" for a in line) + ' | head -n 3; echo "${PIPESTATUS[0]}"'
    done = subprocess.run(
        ["bash", "-c", shell],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert done.stdout.splitlines()[-1] == "0", done.stderr
    assert "error" not in done.stderr


def test_now_in_the_repeated_hour_is_the_interval_in_force(serve: Any, store: str) -> None:
    # 02:20 the second time (UTC+1) on the autumn night.
    at = datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=OSLO)
    served = serve(now=at)
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "now",
        "-f",
        "json",
        endpoint=served.endpoint,
        store=store,
        now=at,
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["intervals"][0]
    assert first["start"] == "2026-10-25T02:15:00+01:00"


def test_days_the_api_answers_without_are_named_in_a_warning(
    serve: Callable[..., Served], store: str
) -> None:
    """Tibber's history came back null beside full today and tomorrow: the two days before
    are missing, and the user is told so, with why (not a silent shorter table)."""
    served = serve()
    served.sim.faults.null_range = True
    before = TODAY - timedelta(days=2)
    result = run(
        "prices", "--home", "Fjellstua", "--from", f"{before:%Y-%m-%d}", "--to", "tomorrow",
        "--format", "json", endpoint=served.endpoint, store=store,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["intervals"]) == 192
    assert [datetime.fromisoformat(m["from"]) for m in document["missing"]] == [before]
    assert "answered without them" in document["source_error"]
    warning = (
        f"warning: prices from {before:%Y-%m-%d} until {TODAY:%Y-%m-%d} are missing: "
        f"{served.endpoint} answered without them"
    )
    assert warning in " ".join(result.stderr.split())
