"""Stores keep what a pool learned across restarts."""

from .base import Group, NotAStoreError, Pending, Snapshot, Store
from .ha_import import import_ha
from .json_store import JsonFileStore
from .postgres_limiter import PostgresLimiter
from .postgres_store import PostgresStore
from .sqlite_store import SqliteStore

__all__ = [
    "Group",
    "JsonFileStore",
    "NotAStoreError",
    "Pending",
    "PostgresLimiter",
    "PostgresStore",
    "Snapshot",
    "SqliteStore",
    "Store",
    "import_ha",
]
