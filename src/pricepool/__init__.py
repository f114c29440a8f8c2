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
from .model import Group, HomeInfo, Pending, PriceInterval, PriceLevel, Span
from .pool import IntervalPool, PoolStats
from .sources.base import FetchResult, PriceSource
from .storage import JsonFileStore, Snapshot, SqliteStore, Store, import_ha

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .sources.tibber import TibberSource


def __getattr__(name: str) -> object:
    # The Tibber source pulls in aiohttp (~0.2 s): imported when first named, so that
    # programs using only stores and pools (and ``pricepool --help``) start fast.
    if name == "TibberSource":
        from .sources.tibber import TibberSource

        return TibberSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AuthenticationError",
    "Clock",
    "FetchResult",
    "Group",
    "HomeInfo",
    "IntervalPool",
    "InvalidRangeError",
    "InvalidResponseError",
    "JsonFileStore",
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
    "SqliteStore",
    "StorageError",
    "Store",
    "TibberSource",
    "UnknownHomeError",
    "__version__",
    "import_ha",
    "system_clock",
]
