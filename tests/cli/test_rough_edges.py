"""What a new user ran into (issue 14) and what the stores promise the command (issue 9)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .helpers import NOW, OSLO, OSLO_HOME, TODAY, Served, run, truth


def _ha_file(served: Served, tmp_path: Path) -> Path:
    nodes = truth(served, OSLO_HOME.id, TODAY - timedelta(days=2), TODAY)
    group = {"fetched_at": "2026-11-25T13:05:00+01:00", "intervals": nodes}
    document = {"version": 1, "home_id": "other-id", "fetch_groups": [group]}
    path = tmp_path / "tibber_prices.interval_pool.01JX"
    path.write_text(json.dumps(document))
    return path


def test_import_ha_resolves_a_nickname_to_the_stored_home(
    served: Served, store: str, tmp_path: Path
) -> None:
    assert (
        run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=store).exit_code == 0
    )
    path = _ha_file(served, tmp_path)
    result = run("cache", "import-ha", str(path), "--home", "Fjellstua", "--replace", store=store)
    assert result.exit_code == 0, result.output
    assert f"as home {OSLO_HOME.id}" in " ".join(result.stdout.split())
    stats = json.loads(run("cache", "stats", "-f", "json", store=store).stdout)
    assert [h["id"] for h in stats["homes"]] == [OSLO_HOME.id]


def test_a_date_beyond_the_calendar_is_a_usage_error(served: Served, store: str) -> None:
    result = run(
        "prices", "--from", "9999-12-31", "--home", "Altbau", endpoint=served.endpoint, store=store
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert "internal error" not in result.stderr


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


def test_import_ha_with_an_unknown_zone_is_a_usage_error(
    served: Served, store: str, tmp_path: Path
) -> None:
    result = run(
        "cache", "import-ha", str(_ha_file(served, tmp_path)), "-z", "Mars/Olympus", store=store
    )
    assert result.exit_code == 2, result.output
    assert "Mars/Olympus" in result.stderr
    assert not Path(store).exists()


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


def test_coverage_across_dst_counts_whole_days(served: Served, store: str) -> None:
    run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-30",
        "-f",
        "csv",
        endpoint=served.endpoint,
        store=store,
    )
    result = run("cache", "coverage", store=store)
    assert "(58 days)" in result.stdout, result.stdout  # not 58.04: DST on 25 Oct


def test_an_unknown_config_key_is_named(served: Served, store: str) -> None:
    folder = Path(store).parent / "config" / "pricepool"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('tokne = "x"\n')
    result = run("homes", endpoint=served.endpoint, store=store)
    assert "tokne" in result.stderr
    assert "config.toml" in result.stderr


def _child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pricepool.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


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


def test_a_file_that_is_not_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for line in (("cache", "stats"), ("cache", "export"), ("prices", "--home", "x")):
        result = run(*line, store=str(notes))
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: ")
        assert notes.read_text() == "my notes\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_read_only_cache_commands_create_nothing(tmp_path: Path) -> None:
    store = tmp_path / "none.sqlite"
    for line in (("cache", "stats"), ("cache", "coverage"), ("cache", "export")):
        assert run(*line, store=str(store)).exit_code == 2
    folder = tmp_path / "nofolder/"
    assert run("cache", "stats", store=f"{folder}/").exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_export_then_import_restores_and_merges(served: Served, store: str, tmp_path: Path) -> None:
    # The autumn night's two 02:00 hours included.
    for lo, hi in (("2026-10-24", "2026-10-26"), ("2026-11-20", "2026-11-27")):
        line = ("prices", "--home", "Fjellstua", "--from", lo, "--to", hi, "-f", "csv")
        assert run(*line, endpoint=served.endpoint, store=store).exit_code == 0
    exported = run("cache", "export", store=store)
    backup = tmp_path / "backup.json"
    backup.write_text(exported.stdout)
    other = str(tmp_path / "other.sqlite")
    run(
        "prices",
        "--home",
        "Fjellstua",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-05",
        endpoint=served.endpoint,
        store=other,
    )
    result = run("cache", "import", str(backup), store=other)
    assert result.exit_code == 0, result.output
    merged = json.loads(run("cache", "export", store=other).stdout)["homes"][0]
    starts = {i["start"][:10] for i in merged["intervals"]}
    assert "2026-11-02" in starts
    assert "2026-11-21" in starts
    again = json.loads(run("cache", "export", "--home", "Fjellstua", store=store).stdout)
    restored = {i["start"] for i in merged["intervals"]}
    assert {i["start"] for i in again["homes"][0]["intervals"]} <= restored


def test_a_failed_import_creates_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "homes": [{"id": "h"}]}')
    store = tmp_path / "store.sqlite"
    result = run("cache", "import", str(bad), store=str(store))
    assert result.exit_code == 1
    assert "not a pricepool cache export" in result.stderr
    assert not store.exists()


def test_sigterm_sighup_and_sigint_save_what_was_fetched(serve: Any, tmp_path: Path) -> None:
    served = serve(page_limit=96, rate_limit=1_000_000)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        store = tmp_path / f"{sig.name}.sqlite"
        child = _child(
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
            "2024-01-01",
            "-f",
            "csv",
            "--store",
            str(store),
            "--retry-budget",
            "0",
        )
        before = served.sim.requests
        deadline = time.monotonic() + 30
        while served.sim.requests < before + 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(sig)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 128 + sig, err
        assert f"stopped by {sig.name}" in err
        saved = json.loads(run("cache", "stats", "-f", "json", store=str(store)).stdout)
        assert saved["homes"][0]["intervals"] > 0


def test_the_simulator_stops_on_sigterm_with_its_status(tmp_path: Path) -> None:
    child = _child("simulator", "--port", "0")
    assert child.stdout is not None
    assert "serving" in child.stdout.readline()
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err


def test_charts_over_months_name_the_months() -> None:
    from pricepool._cli.output import _ticks

    start = datetime(2026, 9, 1, tzinfo=OSLO)
    _, weeks = _ticks(start, start + timedelta(days=60), OSLO)
    assert weeks[:2] == ["01 Sep", "08 Sep"]
    _, months = _ticks(start, start + timedelta(days=150), OSLO)
    assert months[:3] == ["Sep 2026", "Oct 2026", "Nov 2026"]
    _, days = _ticks(start, start + timedelta(days=2), OSLO)
    assert days[0] == "Tue 01"


def test_homes_at_60_columns_keep_the_nicknames(
    served: Served, store: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = run("homes", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    for name in ("Fjellstua", "Sjöboden", "Altbau", OSLO_HOME.id):
        assert name in result.stdout
    assert all(len(row) <= 60 for row in result.stdout.splitlines())


def test_a_damaged_store_moved_aside_is_said_without_verbose(
    served: Served, tmp_path: Path
) -> None:
    # An SQLite header and garbage: recognisably a database, and damaged.
    store = tmp_path / "prices.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    result = run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=str(store))
    warnings = [row for row in result.stderr.splitlines() if row.startswith("warning: ")]
    assert len(warnings) == 1, result.stderr
    moved = [p for p in tmp_path.iterdir() if ".corrupt." in p.name]
    assert str(store) in warnings[0]
    assert str(moved[0]) in warnings[0]


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


def test_read_only_cache_commands_change_nothing(served: Served, tmp_path: Path) -> None:
    for store in (tmp_path / "s.sqlite", tmp_path / "folder"):
        text = f"{store}/" if store.suffix == "" else str(store)
        line = ("prices", "--home", "Fjellstua", "-f", "csv")
        assert run(*line, endpoint=served.endpoint, store=text).exit_code == 0
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        for command in (("stats",), ("coverage",), ("export",), ("gc", "--dry-run")):
            assert run("cache", *command, store=text).exit_code == 0
        after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        assert after == before
