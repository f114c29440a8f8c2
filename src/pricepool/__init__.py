"""pricepool: electricity spot prices for homes, cached so the API is asked only once."""

from .answer import Answer, Cause, Gap
from .clock import Clock, ManualClock, system_clock
from .errors import (
    AuthenticationError,
    InvalidRangeError,
    InvalidResponseError,
    PricePoolError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    StorageError,
    UnansweredError,
    UnknownHomeError,
)
from .model import Group, HomeInfo, Pending, PriceInterval, PriceLevel, Span
from .publication import PUBLISH_AT, Publication

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .pool import IntervalPool, PoolStats
    from .sources.base import FetchResult, PriceSource
    from .sources.tibber import TibberSource
    from .storage import JsonFileStore, PostgresStore, Snapshot, SqliteStore, Store, import_ha

# Imported when first named: the Tibber source pulls in aiohttp (~0.2 s), the pool and the
# stores asyncio and sqlite3, so that a program that needs none of them (``pricepool
# --help``) starts fast.
_LAZY = {
    "IntervalPool": ".pool",
    "PoolStats": ".pool",
    "FetchResult": ".sources.base",
    "PriceSource": ".sources.base",
    "TibberSource": ".sources.tibber",
    "JsonFileStore": ".storage",
    "PostgresStore": ".storage",
    "Snapshot": ".storage",
    "SqliteStore": ".storage",
    "Store": ".storage",
    "import_ha": ".storage",
}


def __getattr__(name: str) -> object:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "PUBLISH_AT",
    "Answer",
    "AuthenticationError",
    "Cause",
    "Clock",
    "FetchResult",
    "Gap",
    "Group",
    "HomeInfo",
    "IntervalPool",
    "InvalidRangeError",
    "InvalidResponseError",
    "JsonFileStore",
    "ManualClock",
    "Pending",
    "PoolStats",
    "PostgresStore",
    "PriceInterval",
    "PriceLevel",
    "PricePoolError",
    "PriceSource",
    "Publication",
    "RateLimitedError",
    "Snapshot",
    "SourceError",
    "SourceUnavailableError",
    "Span",
    "SqliteStore",
    "StorageError",
    "Store",
    "TibberSource",
    "UnansweredError",
    "UnknownHomeError",
    "__version__",
    "import_ha",
    "system_clock",
]
