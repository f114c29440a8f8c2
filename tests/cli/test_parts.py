"""The CLI's pure parts: cheapest windows, time words, config and home matching."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pricepool import (
    HomeInfo,
    JsonFileStore,
    ManualClock,
    PriceInterval,
    PriceLevel,
    RateLimitedError,
    SourceUnavailableError,
    SqliteStore,
)
from pricepool._cli.cheapest import average, cheapest_slots, cheapest_window, runs
from pricepool._cli.config import ConfigError, load_config, open_store, resolve_token
from pricepool._cli.output import days_text, hours, range_text
from pricepool._cli.session import UsageProblem, describe, match_home
from pricepool._cli.when import (
    an_hour_before,
    midnight,
    parse_duration,
    parse_when,
    parse_within,
)
from pricepool.errors import InvalidResponseError, Reason, SourceError
from pricepool.model import Span
from pricepool.numbers import rounded
from pricepool.simulator import DEFAULT_HOMES, Simulator
from pricepool.sources.tibber import TibberSource

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 11, 26, tzinfo=OSLO)


def series(*parts: tuple[int, float], start: datetime = T0) -> list[PriceInterval]:
    """Back-to-back intervals of (minutes, price)."""
    found = []
    at = start
    for minutes, price in parts:
        end = at + timedelta(minutes=minutes)
        found.append(PriceInterval(at, end, price))
        at = end
    return found


def brute(items: list[PriceInterval], length: timedelta) -> tuple[float, datetime] | None:
    """Every window starting on a whole minute: the reference answer."""
    best = None
    for piece in runs(items):
        first, last = piece[0][0], piece[-1][1]
        t = first
        while t + length.total_seconds() <= last + 1e-9:
            hi = t + length.total_seconds()
            cost = sum(p * max(0.0, min(b, hi) - max(a, t)) for a, b, p in piece)
            mean = cost / length.total_seconds()
            if best is None or mean < best[0] - 1e-9:
                best = (mean, datetime.fromtimestamp(t, OSLO))
            t += 60
    return best


def test_window_over_quarter_hours_is_the_cheapest_run() -> None:
    items = series(*[(15, p) for p in (5, 5, 1, 1, 1, 1, 5, 0.5, 9)])
    found = cheapest_window(items, timedelta(hours=1))
    assert found is not None
    assert found.start == T0 + timedelta(minutes=30)
    assert found.end == T0 + timedelta(minutes=90)
    assert found.average == pytest.approx(1.0)


def test_window_mixes_hourly_and_quarter_hourly_time_weighted() -> None:
    # An hour at 2, then quarter-hours at 0, 0, 0, 10: the best 75 minutes straddles both.
    items = series((60, 2.0), (15, 0.0), (15, 0.0), (15, 0.0), (15, 10.0))
    found = cheapest_window(items, timedelta(minutes=75))
    assert found is not None
    assert found.start == T0 + timedelta(minutes=30)
    assert found.average == pytest.approx((30 * 2.0) / 75)


def test_window_may_end_on_an_edge_rather_than_start_on_one() -> None:
    # Hourly 5, 1, 1, 5 and 90 minutes: any start in [1h, 1.5h] is optimal; the earliest wins.
    items = series((60, 5.0), (60, 1.0), (60, 1.0), (60, 5.0))
    found = cheapest_window(items, timedelta(minutes=90))
    assert found is not None
    assert found.start == T0 + timedelta(hours=1)
    assert found.average == pytest.approx(1.0)


def test_window_never_spans_a_gap_and_none_when_nothing_fits() -> None:
    cheap = series((60, 0.0), start=T0)
    dear = series((60, 3.0), (60, 3.0), start=T0 + timedelta(hours=2))
    found = cheapest_window(cheap + dear, timedelta(hours=2))
    assert found is not None
    assert found.start == T0 + timedelta(hours=2)
    assert cheapest_window(cheap, timedelta(hours=2)) is None
    assert cheapest_window([], timedelta(hours=1)) is None


def test_window_is_clipped_to_the_range() -> None:
    items = series(*[(60, p) for p in (0, 0, 0, 4, 4, 4, 4)])
    lo = T0 + timedelta(hours=2, minutes=30)
    found = cheapest_window(items, timedelta(hours=1), lo=lo)
    assert found is not None
    assert found.start == lo
    assert found.average == pytest.approx(2.0)


def test_window_matches_brute_force_on_random_mixed_series() -> None:
    rng = random.Random(7)
    for _ in range(60):
        parts = [(rng.choice((15, 15, 60)), round(rng.uniform(-1, 3), 2)) for _ in range(20)]
        items = series(*parts)
        length = timedelta(minutes=rng.choice((15, 30, 45, 60, 75, 120, 180)))
        found = cheapest_window(items, length)
        expected = brute(items, length)
        if expected is None:
            assert found is None
            continue
        assert found is not None
        assert found.average == pytest.approx(expected[0], abs=1e-9)
        assert found.start == expected[1]


def test_window_rejects_a_non_positive_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        cheapest_window(series((60, 1.0)), timedelta(0))


def test_slots_are_the_cheapest_in_time_order_ties_to_the_earlier() -> None:
    items = series(*[(15, p) for p in (3, 1, 2, 1, 0, 5)])
    picked = cheapest_slots(items, 3)
    assert [i.total for i in picked] == [1, 1, 0]
    assert picked == sorted(picked, key=lambda i: i.start)
    lo = T0 + timedelta(minutes=40)  # inside the third interval: it still counts
    assert [i.total for i in cheapest_slots(items, 2, lo=lo)] == [1, 0]
    assert average(picked) == pytest.approx(2 / 3)
    assert average([]) is None


def test_when_words_dates_and_timestamps() -> None:
    now = datetime(2026, 11, 26, 13, 5, tzinfo=UTC)
    assert parse_when("today", now=now, tz=OSLO) == T0
    assert parse_when("tomorrow", now=now, tz=OSLO) == T0 + timedelta(days=1)
    assert parse_when("yesterday", now=now, tz=OSLO) == T0 - timedelta(days=1)
    assert parse_when("today", now=now, tz=OSLO, end=True) == T0 + timedelta(days=1)
    assert parse_when("2026-03-29", now=now, tz=OSLO) == datetime(2026, 3, 29, tzinfo=OSLO)
    assert parse_when("now", now=now, tz=OSLO) == now
    naive = parse_when("2026-11-26T14:00", now=now, tz=OSLO)
    assert naive == datetime(2026, 11, 26, 13, tzinfo=UTC)
    assert parse_when("2026-11-26T14:00Z", now=now, tz=OSLO) == datetime(
        2026, 11, 26, 14, tzinfo=UTC
    )
    for bad in ("soon", "2026-13-01", ""):
        with pytest.raises(ValueError, match="is not a"):
            parse_when(bad, now=now, tz=OSLO)


BERLIN = ZoneInfo("Europe/Berlin")


def test_naive_times_on_dst_nights_are_real_instants() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    said: list[str] = []
    # Skipped by the clocks: the instant 02:30 names on the clock not yet set forward.
    gap = parse_when("2026-03-29T02:30", now=now, tz=BERLIN, warn=said.append)
    assert gap == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert gap.isoformat() == "2026-03-29T03:30:00+02:00"
    assert said == []
    # Twice: the first, and a warning that names the second.
    twice = parse_when("2026-10-25T02:30", now=now, tz=BERLIN, warn=said.append)
    assert twice.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert twice.isoformat() == "2026-10-25T02:30:00+02:00"
    assert len(said) == 1
    assert "twice" in said[0]
    assert "2026-10-25T02:30:00+01:00" in said[0]
    # An explicit offset picks the second, without a warning.
    second = parse_when("2026-10-25T02:30+01:00", now=now, tz=BERLIN, warn=said.append)
    assert second.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert len(said) == 1
    parse_when("2026-10-25T04:30", now=now, tz=BERLIN, warn=said.append)
    assert len(said) == 1


def test_next24h_and_an_hour_before_are_elapsed_time_on_dst_days() -> None:
    for now in (
        datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN),
        datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN),
    ):
        lo, hi = parse_within("next24h", now=now, tz=BERLIN)
        assert lo == now
        assert hi.astimezone(UTC) - lo.astimezone(UTC) == timedelta(hours=24)
    # 03:05 on the spring-forward night: an hour earlier is 01:05, not 03:05 again.
    spring = datetime(2026, 3, 29, 3, 5, tzinfo=BERLIN)
    before = an_hour_before(spring)
    assert spring.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=1)
    assert before.isoformat() == "2026-03-29T01:05:00+01:00"


def test_midnight_on_a_day_whose_midnight_does_not_exist() -> None:
    # Santiago skips 00:00-01:00 when DST starts (2026-09-06).
    tz = ZoneInfo("America/Santiago")
    first = midnight(datetime(2026, 9, 6).date(), tz)
    assert first.hour == 1
    assert first.utcoffset() == timedelta(hours=-3)


def test_durations() -> None:
    assert parse_duration("3h") == timedelta(hours=3)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2.5h") == timedelta(minutes=150)
    assert parse_duration("45min") == timedelta(minutes=45)
    assert parse_duration("1d") == timedelta(days=1)
    for bad in ("", "h", "3x", "0h", "10s", "1.01m"):
        with pytest.raises(ValueError, match=r"duration|whole number"):
            parse_duration(bad)


def test_within_ranges() -> None:
    now = datetime(2026, 11, 26, 14, 7, tzinfo=OSLO)
    assert parse_within("today", now=now, tz=OSLO) == (T0, T0 + timedelta(days=1))
    assert parse_within("next24h", now=now, tz=OSLO) == (now, now + timedelta(hours=24))
    assert parse_within("upcoming", now=now, tz=OSLO) == (now, T0 + timedelta(days=2))
    assert parse_within("today..tomorrow", now=now, tz=OSLO) == (T0, T0 + timedelta(days=2))
    with pytest.raises(ValueError, match="not a range"):
        parse_within("2026-11-26T10:00", now=now, tz=OSLO)
    with pytest.raises(ValueError, match="ends before"):
        parse_within("tomorrow..today", now=now, tz=OSLO)


def test_config_file_token_order_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    assert load_config(path).token is None
    path.write_text('token = "from-file"\nstore = "~/p.sqlite"\nhome = "Fjellstua"\n')
    config = load_config(path)
    assert config.home == "Fjellstua"
    assert config.store == "~/p.sqlite"
    monkeypatch.delenv("TIBBER_TOKEN", raising=False)
    assert resolve_token(None, config) == "from-file"
    monkeypatch.setenv("TIBBER_TOKEN", "from-env")
    assert resolve_token(None, config) == "from-env"
    assert resolve_token("from-flag", config) == "from-flag"
    path.write_text("token = 3\n")
    with pytest.raises(ConfigError, match="token must be a string"):
        load_config(path)
    path.write_text("token = \n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(path)


def test_store_kind_follows_the_path(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), JsonFileStore)
    assert isinstance(open_store(f"{tmp_path}/new/"), JsonFileStore)
    assert isinstance(open_store(str(tmp_path / "p.sqlite")), SqliteStore)


def test_home_matching() -> None:
    homes = [
        HomeInfo("96a14971-aaaa", "Europe/Oslo", "NOK", "Fjellstua"),
        HomeInfo("96b00000-bbbb", "Europe/Berlin", "EUR", "Altbau"),
    ]
    assert match_home("96b00000-bbbb", homes) is homes[1]
    assert match_home("fjellSTUA", homes) is homes[0]
    assert match_home("96a", homes) is homes[0]
    with pytest.raises(UsageProblem, match="choose one with --home"):
        match_home("96", homes)
    with pytest.raises(UsageProblem, match="none is known"):
        match_home("x", [])


def test_an_hours_level_is_that_of_the_price_nearest_its_average() -> None:
    cheap, normal, expensive = PriceLevel.CHEAP, PriceLevel.NORMAL, PriceLevel.EXPENSIVE
    quarters = [
        PriceInterval(
            T0 + timedelta(minutes=15 * i), T0 + timedelta(minutes=15 * (i + 1)), p, level=lv
        )
        for i, (p, lv) in enumerate(
            # Two quarters each way: the most common level would be the first, NORMAL.
            [
                *[(1.20, normal), (1.21, normal), (1.50, expensive), (1.52, expensive)],
                # Three cheap quarters and one far above: the average sits among the cheap.
                *[(0.90, cheap), (0.91, cheap), (0.92, cheap), (1.60, expensive)],
            ]
        )
    ]
    first, second = hours(quarters, OSLO)
    assert first.average == pytest.approx(1.3575)
    assert first.level is expensive  # 1.50 is nearer 1.3575 than 1.21
    assert second.level is cheap


def test_hours_keep_the_two_hours_of_a_dst_night_apart() -> None:
    night = datetime(2026, 10, 25, 0, tzinfo=UTC)  # 02:00 summer time, then 02:00 winter time
    items = series(*[(15, 1.0)] * 8, start=night)
    first, second = hours(items, OSLO)
    assert (first.start.hour, first.start.fold) == (2, 0)
    assert (second.start.hour, second.start.fold) == (2, 1)


def test_ranges_read_as_days_or_minutes() -> None:
    day = datetime(2026, 11, 26, tzinfo=OSLO)
    assert range_text(day, day + timedelta(days=1)) == "Thu 2026-11-26"
    assert range_text(day, day + timedelta(days=2)) == "Thu 2026-11-26 – Fri 2026-11-27"
    noon = day.replace(hour=12, minute=0, second=31, microsecond=5)
    assert range_text(noon, noon + timedelta(hours=1)) == "Thu 2026-11-26 12:00 – 13:00"
    # A DST day of 25 hours is one day.
    sunday = datetime(2026, 10, 25, tzinfo=OSLO)
    assert range_text(sunday, midnight(sunday.date() + timedelta(days=1), OSLO)) == "Sun 2026-10-25"


def test_days_and_averages_are_rounded_for_people() -> None:
    assert days_text(330 * 86400) == "330 days"
    assert days_text(86400) == "1 day"
    assert days_text(26.958 * 86400) == "26.96 days"
    assert rounded(1.2041499999999998) == 1.2041
    assert rounded(None) is None


def test_averages_are_exact_and_rounded_half_up() -> None:
    from pricepool.numbers import average, money, over

    # Float means of these pairs land either side of the half (0.24855 reads 0.2485 as a
    # float, 1.24695 reads 1.2470); the exact mean is a half both times, rounded up.
    for a, b, shown in ((0.2485, 0.2486, "0.2486"), (1.2469, 1.247, "1.2470")):
        pair = series((15, a), (15, b))
        assert money(average(pair)) == shown
        assert money(over(pair, T0, T0 + timedelta(minutes=30))) == shown
    # Mixed lengths weigh by time: an hour at 1.0 and a quarter at 2.0 is 1.2.
    mixed = series((60, 1.0), (15, 2.0))
    assert average(mixed) == 1.2
    assert over(mixed, T0 + timedelta(minutes=45), T0 + timedelta(minutes=75)) == 1.5


ENDPOINT = "http://127.0.0.1:1/v1-beta/gql"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            SourceUnavailableError(
                "words the CLI does not read", reason=Reason.REFUSED, attempts=5, elapsed=6.24
            ),
            f"cannot reach {ENDPOINT} (connection refused); gave up after 5 attempts in 6.2 s",
        ),
        (
            SourceUnavailableError("...", reason=Reason.DNS, attempts=1),
            f"cannot reach {ENDPOINT} (unknown host)",
        ),
        (
            SourceUnavailableError("...", reason=Reason.TIMEOUT, attempts=1, elapsed=30.004),
            f"cannot reach {ENDPOINT} (no answer within 30 s)",
        ),
        (
            SourceUnavailableError("...", reason=Reason.TIMEOUT, attempts=3, elapsed=9.96),
            f"cannot reach {ENDPOINT} (no answer); gave up after 3 attempts in 10 s",
        ),
        (
            SourceUnavailableError(f"{ENDPOINT} (HTTP 503) failed", status=503),
            f"{ENDPOINT} is down (HTTP 503)",
        ),
        (
            InvalidResponseError(f"{ENDPOINT} (HTTP 200) answered malformed JSON", status=200),
            f"{ENDPOINT} sent an answer pricepool cannot use: answered malformed JSON",
        ),
        (
            # The API's window frees one request in 96 s; all of it within its 5 minutes.
            RateLimitedError("...", 96, status=429, clear_after=300),
            f"rate limited by {ENDPOINT}; the next request can go in 96 s, a whole back-fill "
            "in 5 min",
        ),
        (
            RateLimitedError("...", 297.2, status=429, clear_after=297.2),
            f"rate limited by {ENDPOINT}; the next request can go in 298 s",
        ),
        (
            RateLimitedError("...", 600, status=429, banned=True, clear_after=600),
            f"{ENDPOINT} banned this client (HTTP 429); nothing is sent for 10 min",
        ),
        (
            RateLimitedError("...", 12, own=True, clear_after=290),
            "pricepool's own request limit is reached; the next request can go in 12 s, a "
            "whole back-fill in 290 s",
        ),
    ],
)
def test_source_failures_in_a_few_words(error: Exception, line: str) -> None:
    assert describe(error, ENDPOINT) == line


async def _failure(endpoint: str, **kwargs: Any) -> Exception:
    """What a real TibberSource raises asking ``endpoint`` for the homes."""
    async with TibberSource("a-token-for-tests", endpoint=endpoint, **kwargs) as source:
        with pytest.raises(SourceError) as caught:
            await source.homes()
    return caught.value


async def test_real_source_failures_in_a_few_words() -> None:
    """The transport's own wording, so that a change to it breaks this test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1-beta/gql"
    refused = await _failure(closed, retry_budget=0)
    assert describe(refused, closed) == f"cannot reach {closed} (connection refused)"
    sim = Simulator(clock=ManualClock(datetime(2026, 11, 26, 13, tzinfo=UTC)))
    url = await sim.start()
    try:
        sim.faults.status = 503
        down = await _failure(url, retry_budget=0)
        assert describe(down, url) == f"{url} is down (HTTP 503)"
        sim.faults.status = 429
        sim.faults.retry_after = 120
        limited = await _failure(url, retry_budget=0)
        assert describe(limited, url) == (
            f"rate limited by {url}; the next request can go in 120 s, a whole back-fill in 5 min"
        )
        sim.faults.status = None
        wrong = url.replace("/v1-beta/gql", "/nothing")
        missing = await _failure(wrong, retry_budget=0)
        assert describe(missing, wrong) == f"no GraphQL API at {wrong} (HTTP 404); check --endpoint"
        sim.faults.hang = True
        slow = await _failure(url, retry_budget=0, timeout=0.2)
        assert describe(slow, url) == f"cannot reach {url} (no answer within 0.2 s)"
    finally:
        await sim.stop()


def test_fast_row_labels_read_as_strftime_does() -> None:
    from pricepool._cli.output import _clock, _row_start, local_label

    for instant in (
        datetime(2026, 10, 25, 2, 15, tzinfo=OSLO),
        datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=OSLO),
        datetime(2027, 1, 3, 23, 45, tzinfo=OSLO),
    ):
        assert _row_start(instant) == local_label(instant, "%a %Y-%m-%d %H:%M")
        assert _clock(instant) == local_label(instant, "%H:%M")


def test_grid_drops_optional_columns_when_narrow_and_colours_alike() -> None:
    from pricepool._cli.output import Grid

    grid = Grid("t", [("a", False, False), ("b", True, True), ("c", False, False)])
    grid.add_row(["x", "1.2345", "cheap"], ["", "", "green"])
    grid.add_section()
    grid.add_row(["yy", "0.5", "normal"])
    wide = grid.lines(80)
    assert wide[0] == "t"
    assert wide[4] == "│ x  │ 1.2345 │ cheap  │"
    assert wide[5].startswith("├")
    assert wide[6] == "│ yy │    0.5 │ normal │"
    narrow = grid.lines(len(wide[4]) - 1)
    assert narrow[4] == "│ x  │ cheap  │"
    tagged = grid.lines(80, colour=lambda style: ("<", ">"))
    assert tagged[4] == "│ x  │ 1.2345 │ <cheap > │"
    assert tagged[6] == wide[6]


def test_charts_over_months_name_the_months() -> None:
    from pricepool._cli.output import _ticks

    start = datetime(2026, 9, 1, tzinfo=OSLO)
    _, weeks = _ticks(start, start + timedelta(days=60), OSLO)
    assert weeks[:2] == ["01 Sep", "08 Sep"]
    _, months = _ticks(start, start + timedelta(days=150), OSLO)
    assert months[:3] == ["Sep 2026", "Oct 2026", "Nov 2026"]
    _, days = _ticks(start, start + timedelta(days=2), OSLO)
    assert days[0] == "Tue 01"


def test_the_simulator_command_lists_the_real_apis_behaviours() -> None:
    from typer.testing import CliRunner

    from pricepool.cli import app

    shown = CliRunner().invoke(app, ["simulator", "--help"], env={"COLUMNS": "120"}).stdout
    for option in (
        "--ban",
        "--rate-limit",
        "--page-limit",
        "--cursors",
        "--inclusive-after",
        "--quarter-outage",
        "--null-range",
        "--token-error",
    ):
        assert option in shown


async def test_a_failure_says_the_time_it_really_took_and_when_a_back_fill_can_go_on() -> None:
    """Issue 14/10: "gave up after 5 attempts in 10 s" after about 6 s; "retry in 96 s"."""
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    sim = Simulator(clock=ManualClock(datetime(2026, 11, 26, 13, tzinfo=UTC)))
    url = await sim.start()
    try:
        sim.faults.status = 503
        down = await _failure(url, retry_budget=10, sleep=sleep, monotonic=lambda: now[0])
        assert isinstance(down, SourceError)
        assert down.elapsed == pytest.approx(sum(sleeps))
        assert down.elapsed <= 10
        took = f"{round(sum(sleeps), 1):g} s"
        assert describe(down, url) == (
            f"{url} is down (HTTP 503); gave up after {down.attempts} attempts in {took}"
        )
        sim.faults.status = None
        now[0] += 60  # past the down mark
        async with TibberSource(
            "a-token-for-tests",
            endpoint=url,
            max_requests=2,
            retry_budget=10,
            sleep=sleep,
            monotonic=lambda: now[0],
        ) as source:
            await source.homes()
            now[0] += 100
            home = HomeInfo(DEFAULT_HOMES[0].id, DEFAULT_HOMES[0].time_zone)
            await source.fetch(home, Span(T0, T0 + timedelta(days=1)))
            with pytest.raises(RateLimitedError) as caught:
                await source.fetch(home, Span(T0 - timedelta(days=9), T0 - timedelta(days=8)))
        assert describe(caught.value, url) == (
            "pricepool's own request limit is reached; the next request can go in 200 s, "
            "a whole back-fill in 5 min"
        )
    finally:
        await sim.stop()


def test_budgets_of_endpoints_not_asked_for_a_day_are_cleared(tmp_path: Path) -> None:
    import os
    import time

    from pricepool._cli.config import endpoint_limiter

    folder = tmp_path / "data" / "pricepool" / "limits"  # the isolated XDG_DATA_HOME
    folder.mkdir(parents=True)
    stale, fresh, other = (
        folder / ("0" * 16 + ".json"),
        folder / ("1" * 16 + ".json"),
        folder / "notes.txt",
    )
    for path in (stale, fresh, other):
        path.write_text("{}")
    two_days = time.time() - 2 * 86_400
    for path in (stale, other):
        os.utime(path, (two_days, two_days))
    limiter = endpoint_limiter("http://127.0.0.1:18080/v1-beta/gql")
    assert limiter is not None
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [fresh.name, other.name, limiter.path.name]  # type: ignore[attr-defined]
    )
