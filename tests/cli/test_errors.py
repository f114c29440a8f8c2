"""How API failures and tokens are reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import (
    TOKEN,
    Served,
    run,
)


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


def test_rate_limit_says_when_to_retry(serve: Callable[..., Served], store: str) -> None:
    served = serve()
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


def test_an_unreachable_api_is_named_in_a_few_words(closed_endpoint: str, store: str) -> None:
    result = run("homes", endpoint=closed_endpoint, store=store)
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot reach {closed_endpoint} (connection refused)\n"


def test_a_wrong_path_says_there_is_no_api_there(served: Served, store: str) -> None:
    wrong = served.endpoint.replace("/gql", "/graphql")
    result = run("homes", endpoint=wrong, store=store)
    assert result.exit_code == 1
    assert result.stderr == f"error: no GraphQL API at {wrong} (HTTP 404); check --endpoint\n"


def test_a_home_the_store_lacks_is_not_called_unknown_when_the_api_is_rate_limited(
    serve: Callable[..., Served], store: str
) -> None:
    served = serve()
    assert (
        run("prices", "--home", "Fjellstua", endpoint=served.endpoint, store=store).exit_code == 0
    )
    served.sim.faults.status = 429
    served.sim.faults.retry_after = 120
    result = run("prices", "--home", "Altbau", endpoint=served.endpoint, store=store)
    assert result.exit_code == 1, result.output
    assert "rate limited" in result.stderr
    assert "no single home matches" not in result.stderr


def test_a_range_over_five_years_is_refused_before_any_request(served: Served, store: str) -> None:
    sent = served.sim.requests
    result = run(
        "prices", "--home", "Altbau", "--from", "2019-06-01", "--to", "2025-06-01",
        endpoint=served.endpoint, store=store,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--from 2019-06-01 to --to 2025-06-01 is longer than 5 years" in result.stderr
    assert served.sim.requests <= sent + 1  # the home, for its zone; not one price


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-d", "3h", "--slots", "4"], "--duration and --slots: give one"),
        (["-d", "25h", "-w", "today"], "--duration 25h is longer than --within today"),
    ],
)
def test_cheapest_refuses_options_that_cannot_both_hold(
    served: Served, store: str, args: list[str], said: str
) -> None:
    result = run("cheapest", "--home", "Altbau", *args, endpoint=served.endpoint, store=store)
    assert result.exit_code == 2
    assert said in result.stderr


def test_serve_refuses_a_port_out_of_range() -> None:
    result = run("serve", "--port", "99999", token=None)
    assert result.exit_code == 2
    assert "--port: must be 0 to 65535" in result.stderr


def test_a_run_started_during_a_ban_sends_nothing(serve: Callable[..., Served], store: str) -> None:
    """Tibber's ban (a 429 without Retry-After) is kept for every run of the user: a run
    from cron a minute later must not ask again, or the ban is extended."""
    served = serve(rate_limit=3, ban=600)
    line = ("prices", "--home", "Fjellstua", "--from", "2026-01-01", "--to", "2026-03-01")
    first = run(*line, "-f", "csv", endpoint=served.endpoint, store=store)
    # What came before the ban is shown, with a warning naming the ban.
    assert first.exit_code == 0, first.output
    assert "banned this client (HTTP 429); nothing is sent for 10 min" in first.stderr
    sent = served.sim.requests
    again = run(*line, "-f", "csv", endpoint=served.endpoint, store=store)
    assert again.exit_code == 0, again.output  # what the first run kept, and the warning
    assert again.stdout == first.stdout
    assert "banned this client; nothing is sent for" in again.stderr
    assert served.sim.requests == sent
