"""pricepool: electricity spot prices for homes, cached so the API is asked only once."""

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
from .model import HomeInfo, PriceInterval, PriceLevel, Span
from .pool import IntervalPool, PoolStats
from .sources.base import FetchResult, PriceSource
from .storage.base import Group, Pending, Snapshot, Store

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Clock",
    "FetchResult",
    "Group",
    "HomeInfo",
    "IntervalPool",
    "InvalidRangeError",
    "InvalidResponseError",
    "ManualClock",
    "Pending",
    "PoolStats",
    "PriceInterval",
    "PriceLevel",
    "PricePoolError",
    "PriceSource",
    "RateLimitedError",
    "Snapshot",
    "SourceError",
    "SourceUnavailableError",
    "Span",
    "StorageError",
    "Store",
    "UnknownHomeError",
    "__version__",
    "system_clock",
]
