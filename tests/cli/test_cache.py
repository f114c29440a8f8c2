"""``pricepool cache ...``: stats, coverage, gc, export and the imports."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from .helpers import (
    AFTER,
    OSLO,
    OSLO_HOME,
    TODAY,
    Served,
    run,
    truth,
)


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


def test_import_ha_with_an_unknown_zone_is_a_usage_error(
    served: Served, store: str, tmp_path: Path
) -> None:
    result = run(
        "cache", "import-ha", str(_ha_file(served, tmp_path)), "-z", "Mars/Olympus", store=store
    )
    assert result.exit_code == 2, result.output
    assert "Mars/Olympus" in result.stderr
    assert not Path(store).exists()


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


def test_gc_lets_a_restored_backup_go_a_day_at_a_time(
    served: Served, store: str, tmp_path: Path
) -> None:
    """An import is one fetch group per day (oldest first for gc), not one group whose
    eviction would take the whole restored history at once."""
    line = ("prices", "--home", "Altbau", "--from", "2026-10-01", "--to", "2026-10-31", "-f", "csv")
    assert run(*line, endpoint=served.endpoint, store=store).exit_code == 0
    backup = tmp_path / "backup.json"
    backup.write_text(run("cache", "export", store=store).stdout)
    restored = str(tmp_path / "restored.sqlite")
    assert run("cache", "import", str(backup), store=restored).exit_code == 0
    dry = run("cache", "gc", "--dry-run", "--max-intervals", "2000", store=restored, token=None)
    # 2,980 intervals held: the 11 oldest days (1,056) go to get under 2,000, not all 31.
    assert "would evict 11 fetch groups, 1056 intervals" in dry.stdout, dry.stdout
    assert "restored" in dry.stdout
    assert "1970" not in dry.stdout
    result = run("cache", "gc", "--max-intervals", "2000", store=restored, token=None)
    assert result.exit_code == 0, result.output
    left = json.loads(run("cache", "export", store=restored).stdout)["homes"][0]
    assert min(i["start"] for i in left["intervals"]).startswith("2026-10-12")
