"""Tibber's GraphQL API as a pricepool ``PriceSource``; ``wire`` owns its format."""

from . import wire
from ._limiter import FileLimiter, Limiter, RequestLimiter

# The source needs aiohttp; readers of the wire format (the HA import, cache commands) do not.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._source import ENDPOINT, SourceStatus, TibberSource

__all__ = [
    "ENDPOINT",
    "FileLimiter",
    "Limiter",
    "RequestLimiter",
    "SourceStatus",
    "TibberSource",
    "wire",
]

_LAZY = frozenset({"ENDPOINT", "SourceStatus", "TibberSource"})


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _source

    value = getattr(_source, name)
    globals()[name] = value
    return value
