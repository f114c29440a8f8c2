"""Tibber's GraphQL API as a pricepool ``PriceSource``."""

from ._source import ENDPOINT, TibberSource

__all__ = ["ENDPOINT", "TibberSource"]
