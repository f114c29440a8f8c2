"""``pricepool homes``, and choosing a home."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pricepool.simulator import DEFAULT_HOMES

from .helpers import (
    BERLIN_HOME,
    OSLO_HOME,
    Served,
    run,
)


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


def test_homes_at_60_columns_keep_the_nicknames(
    served: Served, store: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = run("homes", endpoint=served.endpoint, store=store)
    assert result.exit_code == 0, result.output
    for name in ("Fjellstua", "Sjöboden", "Altbau", OSLO_HOME.id):
        assert name in result.stdout
    assert all(len(row) <= 60 for row in result.stdout.splitlines())
