"""Fixtures of the CLI tests: an isolated home folder, and one simulator for the whole run
(a test that needs another clock or faults starts its own with ``serve``)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    EARLY,
    Served,
    run,
)


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


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    """One simulator for the whole run, at NOW; tests that count its requests count the
    ones they made (other tests ran before). Its rate limit is out of reach."""
    shared = Served(rate_limit=1_000_000)
    yield shared
    shared.close()


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


@pytest.fixture
def early(serve: Callable[..., Served]) -> Served:
    """A simulator at 10:00, before tomorrow's prices are out."""
    return serve(now=EARLY)


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
