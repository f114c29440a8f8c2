"""A fresh database per test on the server ``PRICEPOOL_TEST_POSTGRES`` names.

Tests that need the server are skipped only when that variable is unset (``.ci/run``
always sets it; see the README's PostgreSQL section to point it at any server).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

SERVER = os.environ.get("PRICEPOOL_TEST_POSTGRES", "")

needs_server = pytest.mark.skipif(
    not SERVER, reason="PRICEPOOL_TEST_POSTGRES is unset (no PostgreSQL server to test on)"
)


def with_database(dsn: str, name: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=name)


@pytest.fixture
def database() -> Iterator[str]:
    """The DSN of a new, empty database, dropped after the test."""
    import psycopg

    name = f"pricepool_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(SERVER, name)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
