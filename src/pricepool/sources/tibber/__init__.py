"""Tibber's GraphQL API as a pricepool ``PriceSource``; ``wire`` owns its format."""

from . import wire
from ._limiter import Limiter, RequestLimiter
from ._source import ENDPOINT, SourceStatus, TibberSource

__all__ = ["ENDPOINT", "Limiter", "RequestLimiter", "SourceStatus", "TibberSource", "wire"]
