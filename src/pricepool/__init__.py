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
    UnknownHomeError,
)
from .model import Group, HomeInfo, Pending, PriceInterval, PriceLevel, Span
from .pool import IntervalPool, PoolStats
from .publication import PUBLISH_AT, Publication
from .sources.base import FetchResult, PriceSource
from .sources.tibber import TibberSource
from .storage import JsonFileStore, PostgresStore, Snapshot, SqliteStore, Store, import_ha

__version__ = "0.1.0"

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
    "UnknownHomeError",
    "__version__",
    "import_ha",
    "system_clock",
]
