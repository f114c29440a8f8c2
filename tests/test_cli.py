"""The ``pricepool`` command, run by typer's runner against a simulator on loopback.

The runner calls the command synchronously and the command runs its own event loop, so
the simulator serves from a thread with a loop of its own. Both share one fixed instant:
Thursday 2026-11-26 14:00 in Oslo, after tomorrow's prices are out.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from pricepool import ManualClock
from pricepool.cli import app
from pricepool.simulator import DEFAULT_HOMES, Simulator

OSLO_HOME, STOCKHOLM_HOME, BERLIN_HOME = DEFAULT_HOMES
OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 11, 26, 14, 0, tzinfo=OSLO)
TODAY = datetime(2026, 11, 26, tzinfo=OSLO)
TOMORROW = TODAY + timedelta(days=1)
AFTER = TODAY + timedelta(days=2)
TOKEN = "t0ken-for-tests"


class Served:
    """A simulator serving from its own thread and event loop."""

    def __init__(self, now: datetime = NOW, **kwargs: Any) -> None:
        self.sim = Simulator(clock=ManualClock(now), **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = self._call(self.sim.start())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def close(self) -> None:
        self._call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


HELP_PAGES = [
    [],
    ["demo"],
    ["homes"],
    ["prices"],
    ["cheapest"],
    ["simulator"],
    ["cache"],
    ["cache", "stats"],
    ["cache", "coverage"],
    ["cache", "gc"],
    ["cache", "export"],
    ["cache", "import-ha"],
]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, data folder or token leaks into a test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("TIBBER_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(**kwargs: Any) -> Served:
        started.append(Served(**kwargs))
        return started[-1]

    yield start
    for served in started:
        served.close()


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    return serve()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "pricepool.sqlite")


@pytest.fixture
def closed_endpoint() -> str:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1-beta/gql"


def run(
    *args: str,
    endpoint: str | None = None,
    store: str | None = None,
    token: str | None = TOKEN,
    now: datetime = NOW,
) -> Result:
    """``pricepool`` with the API options before the command (each command takes only the
    options it uses; the root takes them all) and ``--store`` after it."""
    line = ["--now", now.isoformat(), "--retry-budget", "0"]
    if endpoint is not None:
        line += ["--endpoint", endpoint]
    if token is not None:
        line += ["--token", token]
    line += args
    if store is not None:
        line += ["--store", store]
    return CliRunner().invoke(app, line)


def truth(served: Served, home: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return served.sim.truth(home, start, end)


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b.replace("Z", "+00:00"))


# -- demo and help -----------------------------------------------------------------------------


def test_demo_exits_0_and_shows_what_the_cache_saved() -> None:
    result = run("demo", token=None)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("Fjellstua", "Sjöboden", "Altbau", "today", "tomorrow", "Cheapest 3 hours"):
        assert expected in out
    assert "for 0 API requests" in out  # after the restart
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", HELP_PAGES)
def test_every_help_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "pricepool" in result.stdout


# -- homes -------------------------------------------------------------------------------------


def test_homes_lists_the_account(served: Served, store: str) -> None:
    result = run("homes", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    for home in DEFAULT_HOMES:
        assert home.id in result.stdout
        assert home.nickname in result.stdout
    listed = json.loads(run("homes", "-f", "json", endpoint=served.endpoint, store=store).stdout)
    assert [(h["id"], h["time_zone"], h["currency"]) for h in listed] == [
        (h.id, h.time_zone, h.currency) for h in DEFAULT_HOMES
    ]


def test_options_go_before_or_after_the_command(served: Served, store: str) -> None:
    line = ["--endpoint", served.endpoint, "--token", TOKEN, "--store", store]
    result = CliRunner().invoke(app, [*line, "homes", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert OSLO_HOME.id in result.stdout


# -- prices ------------------------------------------------------------------------------------


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


def test_prices_with_one_home_needs_no_home(serve: Callable[..., Served], store: str) -> None:
    served = serve(homes=[BERLIN_HOME])
    result = run("prices", "-f", "json", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["home"]["id"] == BERLIN_HOME.id


def test_prices_with_many_homes_asks_which(served: Served, store: str) -> None:
    result = run("prices", endpoint=served.endpoint, store=store)
    assert result.exit_code == 2
    assert "choose one with --home" in result.stderr
    assert "Fjellstua" in result.stderr


def test_bad_times_are_usage_errors(served: Served, store: str) -> None:
    result = run(
        "prices", "--home", "Altbau", "--from", "someday", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2
    assert "--from" in result.stderr
    result = run(
        "prices",
        "--home",
        "Altbau",
        "--from",
        "tomorrow",
        "--to",
        "today",
        endpoint=served.endpoint,
        store=store,
    )
    assert result.exit_code == 2
    # In the user's words: --to today is the end of today, which --from tomorrow starts at.
    assert result.stderr == "error: --to today ends as --from tomorrow starts: the range is empty\n"
    line = ("prices", "--home", "Altbau", "--from", "now", "--to", "2026-11-25")
    both = run(*line, endpoint=served.endpoint, store=store)
    assert both.exit_code == 2
    assert both.stderr == (
        "error: --to 2026-11-25 ends before --from now starts: the range is empty\n"
    )


# -- cheapest ----------------------------------------------------------------------------------


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
    assert found["average"] == round(sum(n["total"] for n in nodes) / 4, 4)


def test_cheapest_rejects_a_bad_duration(served: Served, store: str) -> None:
    result = run(
        "cheapest", "-d", "soon", "--home", "Altbau", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2
    assert "--duration" in result.stderr


# -- tokens and errors -------------------------------------------------------------------------


def test_a_refused_token_says_so_without_printing_it(
    serve: Callable[..., Served], store: str
) -> None:
    served = serve(token="the-right-one")
    secret = "s3cret-but-wrong"
    result = run("homes", endpoint=served.endpoint, store=store, token=secret)
    assert result.exit_code == 1
    assert "token was refused" in result.stderr
    assert secret not in result.output
    assert "Traceback" not in result.output
    verbose = run("homes", "-v", endpoint=served.endpoint, store=store, token=secret)
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr
    assert secret not in verbose.output
    ok = run("homes", endpoint=served.endpoint, store=store, token="the-right-one")
    assert ok.exit_code == 0, ok.output


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise TypeError("unsupported operand")

    monkeypatch.setattr("pricepool.cli.run_demo", broken)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error (TypeError: unsupported operand); run with -v for details\n"
    )
    verbose = CliRunner().invoke(app, ["demo", "-v"])
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.endswith(
        "error: internal error (TypeError: unsupported operand); run with -v for details\n"
    )


def test_the_missing_token_error_can_be_rebuilt_with_a_note() -> None:
    from pricepool._cli.session import MissingTokenError

    err = MissingTokenError()
    assert "--token" in str(err)
    assert str(type(err)("with a note")) == "with a note"


def test_usage_errors_need_no_private_typer_module(tmp_path: Path) -> None:
    """typer's bundled click is private: without it a usage error is still one line."""
    script = (
        "import importlib, sys\n"
        "import typer\n"
        "sys.modules['typer._click.exceptions'] = None\n"
        "sys.modules['click'] = None\n"
        "sys.modules['click.exceptions'] = None\n"
        "import pricepool._cli.usage as usage\n"
        "importlib.reload(usage)\n"
        "import pricepool.cli as cli\n"
        "importlib.reload(cli)\n"
        "sys.argv = ['pricepool', 'prices', '--bogus']\n"
        "cli.main()\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert child.returncode == 2, child.stderr
    assert child.stderr == "error: no such option --bogus; see pricepool prices --help\n"


def test_missing_token_explains_the_three_ways(served: Served, store: str) -> None:
    result = run("prices", "--home", "Altbau", endpoint=served.endpoint, store=store, token=None)
    assert result.exit_code == 2
    for way in ("--token", "TIBBER_TOKEN", "config.toml"):
        assert way in result.stderr


def test_token_from_environment_and_config_file(
    served: Served, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIBBER_TOKEN", TOKEN)
    assert run("homes", endpoint=served.endpoint, store=store, token=None).exit_code == 0
    monkeypatch.delenv("TIBBER_TOKEN")
    folder = tmp_path / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'token = "{TOKEN}"\nendpoint = "{served.endpoint}"\n')
    result = run("homes", store=store, token=None)
    assert result.exit_code == 0, result.output
    (folder / "config.toml").write_text("token = [")
    broken = run("homes", store=store, token=None)
    assert broken.exit_code == 2
    assert "cannot read" in broken.stderr


def test_rate_limit_says_when_to_retry(served: Served, store: str) -> None:
    served.sim.faults.status = 429
    served.sim.faults.retry_after = 120
    result = run("prices", "--home", "Altbau", endpoint=served.endpoint, store=store)
    assert result.exit_code == 1
    assert "rate limited" in result.stderr
    assert "the next request can go in 120 s, a whole back-fill in 5 min" in result.stderr


def test_unreachable_api_is_one_line_and_a_traceback_only_with_verbose(
    closed_endpoint: str, store: str
) -> None:
    result = run("prices", "--home", "Altbau", endpoint=closed_endpoint, store=store)
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    verbose = run("prices", "--home", "Altbau", "-v", endpoint=closed_endpoint, store=store)
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr


def test_unreachable_api_shows_what_the_cache_holds(
    served: Served, closed_endpoint: str, store: str
) -> None:
    first = run(
        "prices", "--home", "Fjellstua", "-f", "json", endpoint=served.endpoint, store=store
    )
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["intervals"]) == 192
    # From the first of the month: those days are not cached, and the API is gone.
    result = run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-11-01",
        "-f",
        "json",
        endpoint=closed_endpoint,
        store=store,
    )
    assert result.exit_code == 0, result.output
    # The warning names what is missing and why, in one line.
    assert result.stderr == (
        "warning: prices from 2026-11-01 until 2026-11-24 are missing: cannot reach "
        f"{closed_endpoint} (connection refused)\n"
    )
    document = json.loads(result.stdout)
    assert document["source_error"] == f"cannot reach {closed_endpoint} (connection refused)"
    assert document["missing"] == [
        {"from": "2026-11-01T00:00:00+01:00", "to": "2026-11-24T00:00:00+01:00"}
    ]
    # What the first run cached: the recent days it was answered with, today and tomorrow.
    cached = document["intervals"]
    assert cached[-192:] == json.loads(first.stdout)["intervals"]
    assert cached[0]["start"] == "2026-11-24T00:00:00+01:00"
    homes = run("homes", endpoint=closed_endpoint, store=store)
    assert homes.exit_code == 0, homes.output
    assert OSLO_HOME.id in homes.stdout
    assert "homes in the store" in homes.stderr


def test_an_unknown_home_is_a_usage_error(served: Served, store: str) -> None:
    result = run("prices", "--home", "Nowhere", endpoint=served.endpoint, store=store)
    assert result.exit_code == 2
    assert "no single home matches 'Nowhere'" in result.stderr


# -- prices not published yet ------------------------------------------------------------------

EARLY = datetime(2026, 11, 26, 10, 0, tzinfo=OSLO)
NOT_YET = "tomorrow's prices are not published yet (expected after 13:00 Europe/Oslo)"


@pytest.fixture
def early(serve: Callable[..., Served]) -> Served:
    """A simulator at 10:00, before tomorrow's prices are out."""
    return serve(now=EARLY)


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


# -- cache -------------------------------------------------------------------------------------


@pytest.fixture
def filled(served: Served, store: str) -> str:
    for home in ("Fjellstua", "Altbau"):
        result = run(
            "prices",
            "--home",
            home,
            "--from",
            "2026-11-01",
            "-f",
            "csv",
            endpoint=served.endpoint,
            store=store,
        )
        assert result.exit_code == 0, result.output
    return store


def test_cache_stats_and_coverage(filled: str) -> None:
    stats = run("cache", "stats", store=filled, token=None)
    assert stats.exit_code == 0, stats.output
    assert "2 homes" in stats.stdout
    assert OSLO_HOME.id in stats.stdout
    coverage = run("cache", "coverage", "--home", "Altbau", store=filled, token=None)
    assert coverage.exit_code == 0, coverage.output
    assert "answered  2026-11-01 00:00 – 2026-11-28 00:00" in coverage.stdout
    assert OSLO_HOME.id not in coverage.stdout


def test_cache_stats_json_has_full_ids(filled: str) -> None:
    result = run("cache", "stats", "-f", "json", store=filled, token=None)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["bytes"] > 0
    by_id = {h["id"]: h for h in document["homes"]}
    oslo = by_id[OSLO_HOME.id]
    assert oslo["nickname"] == "Fjellstua"
    assert oslo["interval_minutes"] == [15]
    assert oslo["intervals"] == 27 * 96  # 1 to 27 November
    assert oslo["pending_spans"] == 0


def test_tables_read_at_80_columns(
    filled: str, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    commands = [
        ("cache", "stats"),
        ("cache", "coverage"),
        ("cache", "gc", "--dry-run", "--max-intervals", "1000"),
        ("homes",),
        ("prices", "--home", "Fjellstua"),
        ("prices", "--home", "Fjellstua", "--hourly", "--from", "yesterday"),
        ("prices", "--home", "Fjellstua", "--hourly", "--from", "2026-11-20"),
        ("cheapest", "--home", "Fjellstua", "-n", "3"),
    ]
    for line in commands:
        result = run(*line, endpoint=served.endpoint, store=filled)
        assert result.exit_code == 0, (line, result.output)
        assert "…" not in result.stdout, (line, result.stdout)
        rows = result.stdout.splitlines()
        long = [row for row in rows if len(row.rstrip()) > 80 and filled not in row]
        assert not long, (line, long)


def test_cache_export_json_and_csv(filled: str, served: Served) -> None:
    exported = run("cache", "export", store=filled, token=None)
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert document["version"] == 1
    by_id = {h["id"]: h for h in document["homes"]}
    oslo = by_id[OSLO_HOME.id]
    expected = truth(served, OSLO_HOME.id, datetime(2026, 11, 1, tzinfo=OSLO), AFTER)
    assert [i["total"] for i in oslo["intervals"]] == pytest.approx([n["total"] for n in expected])
    assert oslo["coverage"] == [
        {"start": "2026-11-01T00:00:00+01:00", "end": "2026-11-28T00:00:00+01:00"}
    ]
    rows = list(
        csv.reader(
            io.StringIO(run("cache", "export", "-f", "csv", store=filled, token=None).stdout)
        )
    )
    assert rows[0] == ["home", "start", "end", "total", "energy", "tax", "level", "currency"]
    assert len(rows) - 1 == sum(len(h["intervals"]) for h in document["homes"])


def test_cache_gc_dry_run_names_what_would_go(filled: str) -> None:
    result = run("cache", "gc", "--dry-run", "--max-intervals", "1000", store=filled, token=None)
    assert result.exit_code == 0, result.output
    assert "would evict" in result.stdout
    before = run("cache", "export", store=filled, token=None).stdout
    assert run("cache", "export", store=filled, token=None).stdout == before


def test_cache_import_ha(served: Served, store: str, tmp_path: Path) -> None:
    nodes = truth(served, OSLO_HOME.id, TODAY - timedelta(days=2), TODAY)
    document = {
        "version": 1,
        "minor_version": 1,
        "key": "tibber_prices.interval_pool.01JTEST",
        "data": {
            "version": 1,
            "home_id": OSLO_HOME.id,
            "fetch_groups": [{"fetched_at": "2026-11-25T13:05:00+01:00", "intervals": nodes}],
        },
    }
    path = tmp_path / "tibber_prices.interval_pool.01JTEST"
    path.write_text(json.dumps(document))
    missing_zone = run("cache", "import-ha", str(path), store=store, token=None)
    assert missing_zone.exit_code == 2
    assert "--time-zone" in missing_zone.stderr
    result = run(
        "cache", "import-ha", str(path), "--time-zone", "Europe/Oslo", store=store, token=None
    )
    assert result.exit_code == 0, result.output
    assert f"imported {len(nodes)} intervals" in result.stdout
    again = run("cache", "import-ha", str(path), store=store, token=None)
    assert again.exit_code == 2
    assert "--replace" in again.stderr
    # The imported days are answered from the store: no price request reaches the API.
    before = [r for r in served.sim.log if "priceInfoRange" in r.fields or "priceInfo" in r.fields]
    shown = run(
        "prices",
        "--home",
        OSLO_HOME.id,
        "--from",
        "2026-11-24",
        "--to",
        "2026-11-25",
        "-f",
        "json",
        endpoint=served.endpoint,
        store=store,
    )
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["intervals"]) == len(nodes)
    after = [r for r in served.sim.log if "priceInfoRange" in r.fields or "priceInfo" in r.fields]
    assert after == before


def test_cache_commands_need_no_token_and_report_a_bad_file(tmp_path: Path, store: str) -> None:
    bad = tmp_path / "nope.json"
    bad.write_text("{not json")
    result = run(
        "cache", "import-ha", str(bad), "--time-zone", "Europe/Oslo", store=store, token=None
    )
    assert result.exit_code == 1
    assert "not JSON" in result.stderr
    assert not Path(store).exists()


# -- simulator ---------------------------------------------------------------------------------


def test_simulator_command_serves_on_the_given_port(store: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-c", "from pricepool.cli import main; main()"]
    child = subprocess.Popen(
        [*command, "simulator", "--port", str(port), "--token", "sim-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 20)
        assert ready, "the simulator did not start"
        line = child.stdout.readline()
        endpoint = f"http://127.0.0.1:{port}/v1-beta/gql"
        assert endpoint in line
        result = CliRunner().invoke(
            app, ["homes", "--endpoint", endpoint, "--token", "sim-token", "--store", store]
        )
        assert result.exit_code == 0, result.output
        assert OSLO_HOME.id in result.stdout
    finally:
        child.terminate()
        child.wait(10)


def test_cache_gc_evicts_or_says_what_it_lacks(served: Served, store: str) -> None:
    for start, end in (("2026-10-01", "2026-10-31"), ("today", "tomorrow")):
        line = ("prices", "--home", "Altbau", "--from", start, "--to", end, "-f", "csv")
        assert run(*line, endpoint=served.endpoint, store=store).exit_code == 0
    dry = run("cache", "gc", "--dry-run", "--max-intervals", "1000", store=store, token=None)
    # October: 31 days of quarter-hours and the extra hour of 2026-10-25.
    assert "would evict 1 fetch group, 2980 intervals" in dry.stdout
    result = run("cache", "gc", "--max-intervals", "1000", store=store, token=None)
    assert result.exit_code == 0, result.output
    left = run("cache", "gc", "--dry-run", "--max-intervals", "1000", store=store, token=None)
    assert "would evict 0 fetch groups" in left.stdout


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


# -- what a new user ran into ------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (["prices", "--bogus"], "no such option --bogus; see pricepool prices --help"),
        (
            ["prices", "--hourley"],
            "no such option --hourley (did you mean --hourly?); see pricepool prices --help",
        ),
        (
            ["prices", "-f", "xml"],
            "--format: 'xml' is not one of 'table', 'json', 'csv'; see pricepool prices --help",
        ),
        (
            ["cheapest", "--slots", "0"],
            "--slots: must be at least 1; see pricepool cheapest --help",
        ),
        (
            ["cheapest", "--slots", "x"],
            "--slots: must be a whole number; see pricepool cheapest --help",
        ),
        (["prices", "--from"], "--from needs a value; see pricepool prices --help"),
        (
            ["prices", "--retry-budget", "inf"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool prices --help",
        ),
        (
            ["homes", "--retry-budget", "1e308"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool homes --help",
        ),
        (
            ["prices", "--retry-budget", "nan"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool prices --help",
        ),
        (
            ["--retry-budget", "-1", "homes"],
            "--retry-budget: must be 0 to 3600 seconds; see pricepool --help",
        ),
        (["cache", "import-ha"], "missing FILE; see pricepool cache import-ha --help"),
        (
            ["pricez"],
            "no such command 'pricez'; did you mean 'prices'? See pricepool --help",
        ),
        (["demo", "--token", "x"], "no such option --token; see pricepool demo --help"),
        (
            ["prices", "--endpoint", "notaurl"],
            "--endpoint: 'notaurl' is not an http(s) URL, e.g. "
            "http://127.0.0.1:8080/v1-beta/gql; see pricepool prices --help",
        ),
    ],
)
def test_usage_errors_are_one_line(line: list[str], message: str) -> None:
    result = CliRunner().invoke(app, line)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"


def test_a_bad_endpoint_is_refused_before_any_request(served: Served, store: str) -> None:
    folder = Path(store).parent / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('endpoint = "localhost:8080"\n')
    result = run("prices", "--home", "Altbau", store=store)
    assert result.exit_code == 2
    assert "endpoint 'localhost:8080' is not an http(s) URL" in result.stderr
    assert served.sim.requests == 0


@pytest.mark.parametrize("command", HELP_PAGES)
def test_help_reads_at_80_columns(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "<bool>" not in page
    assert "…" not in page.replace("01J…", "")  # nothing cut off (but the example's file)
    usage = next(row for row in page.splitlines() if "Usage:" in row)
    assert "{" not in usage
    assert all(len(row) <= 80 for row in page.splitlines())
    # Each example is a line of its own.
    examples = page[page.rindex("Example") :].splitlines()[1:]
    assert all(row.strip().startswith("pricepool ") for row in examples if row.strip())


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        (["demo"], [], ["--token", "--endpoint", "--store", "--retry-budget", "--quiet"]),
        (["simulator"], ["--token", "--port"], ["--store", "--endpoint", "--retry-budget"]),
        (["homes"], ["--token", "--endpoint", "--store"], ["--quiet"]),
        (["prices"], ["--token", "--endpoint", "--store", "--quiet", "--retry-budget"], []),
        (["cache", "stats"], ["--store"], ["--token", "--endpoint", "--retry-budget"]),
        (["cache", "import-ha"], ["FILE", "--time-zone"], ["--token", "--endpoint", "{file}"]),
    ],
)
def test_help_lists_only_the_options_a_command_uses(
    command: list[str], present: list[str], absent: list[str]
) -> None:
    page = CliRunner().invoke(app, [*command, "--help"]).stdout
    # The usage line and the panels, not the description or the examples.
    panels = page[page.index("╭─") : page.rindex("╯")]
    page = page[page.index("Usage:") :].splitlines()[0] + panels
    for name in present:
        assert name in page, name
    for name in absent:
        assert name not in page, name


def test_cache_commands_refuse_a_store_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "typo.sqlite"
    for line in (["stats"], ["coverage"], ["export"], ["gc", "--dry-run"]):
        result = run("cache", *line, store=str(typo), token=None)
        assert result.exit_code == 2, (line, result.output)
        assert result.stderr.startswith(f"error: no store at {typo}"), result.stderr
    assert not typo.exists()


def test_a_nickname_known_to_the_store_needs_no_api_call(
    served: Served, closed_endpoint: str, store: str, tmp_path: Path
) -> None:
    assert (
        run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=store).exit_code == 0
    )
    before = served.sim.requests
    again = run("prices", "--home", "Fjellstua", "-f", "csv", endpoint=served.endpoint, store=store)
    assert again.exit_code == 0, again.output
    assert served.sim.requests == before
    # Offline too, by the home in config.toml: a complete answer, without a warning.
    folder = tmp_path / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('home = "fjellstua"\n')
    offline = run("prices", "-f", "csv", endpoint=closed_endpoint, store=store)
    assert offline.exit_code == 0, offline.output
    assert offline.stderr == ""
    assert offline.stdout == again.stdout


def test_an_unreachable_api_is_named_in_a_few_words(closed_endpoint: str, store: str) -> None:
    result = run("homes", endpoint=closed_endpoint, store=store)
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot reach {closed_endpoint} (connection refused)\n"


def test_a_wrong_path_says_there_is_no_api_there(served: Served, store: str) -> None:
    wrong = served.endpoint.replace("/gql", "/graphql")
    result = run("homes", endpoint=wrong, store=store)
    assert result.exit_code == 1
    assert result.stderr == f"error: no GraphQL API at {wrong} (HTTP 404); check --endpoint\n"


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


def test_cache_stats_and_coverage_count_days_alike(filled: str) -> None:
    stats = run("cache", "stats", "--home", "Altbau", store=filled, token=None)
    coverage = run("cache", "coverage", "--home", "Altbau", store=filled, token=None)
    assert "answered   27 days in 1 span" in stats.stdout
    assert "(27 days)" in coverage.stdout


def test_import_ha_checks_the_file_before_the_zone(tmp_path: Path, store: str) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    result = run("cache", "import-ha", str(other), store=store, token=None)
    assert result.exit_code == 1
    assert "is not a tibber_prices interval pool file" in result.stderr
    assert "--time-zone" not in result.stderr
    gone = run("cache", "import-ha", str(tmp_path / "gone.json"), store=store, token=None)
    assert gone.exit_code == 2
    assert gone.stderr == f"error: no file at {tmp_path / 'gone.json'}\n"


def test_demo_chart_has_a_legend_without_colour() -> None:
    result = run("demo", token=None)
    assert result.exit_code == 0, result.output
    # The chart's title is its legend.
    assert "every interval of today and tomorrow · █ the cheapest 3 hours" in result.stdout
