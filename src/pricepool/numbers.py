"""Averages and rounding, one way everywhere: tables, JSON documents, ``--slots`` and charts.

An average is the time-weighted mean of the prices as the API gives them, computed exactly
in decimal (an hour of four quarter-hours is their plain mean; an hour mixed with quarter-
hours weighs each by its length) and rounded half up to 4 decimals, as the API's prices are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pricepool import PriceInterval

__all__ = ["PLACES", "average", "money", "over", "rounded", "weighted"]

PLACES = 4
_STEP = Decimal(1).scaleb(-PLACES)


def _exact(value: float) -> Decimal:
    # repr is the shortest decimal that reads back as ``value``: the API's 0.1235, not
    # the binary 0.12349999…
    return Decimal(repr(value))


def average(items: Iterable[PriceInterval]) -> float | None:
    """The time-weighted mean of ``items``' totals, rounded; None when empty or unknown."""
    return weighted((i.total, i.length) for i in items)


def over(items: Iterable[PriceInterval], start: datetime, end: datetime) -> float | None:
    """The time-weighted mean of ``items`` over ``[start, end)`` (each clipped to it),
    rounded: a window found by float arithmetic gets the same exact average as an hour."""
    lo, hi = start.timestamp(), end.timestamp()
    pieces = []
    for item in items:
        a, b = max(item.start.timestamp(), lo), min(item.end.timestamp(), hi)
        if b > a:
            pieces.append((item.total, timedelta(seconds=b - a)))
    return weighted(pieces)


def weighted(values: Iterable[tuple[float, timedelta]]) -> float | None:
    """The mean of ``(value, length)`` pairs weighted by length, rounded; None when empty
    or when a value is unknown (nan)."""
    weight = 0
    total = Decimal(0)
    for value, length in values:
        if math.isnan(value):
            return None
        seconds = int(length.total_seconds())
        weight += seconds
        total += _exact(value) * seconds
    if not weight:
        return None
    return float((total / weight).quantize(_STEP, rounding=ROUND_HALF_UP))


def rounded(value: float | None) -> float | None:
    """A computed price to 4 decimals, half up; None for None or nan."""
    if value is None or math.isnan(value):
        return None
    return float(_exact(value).quantize(_STEP, rounding=ROUND_HALF_UP))


@lru_cache(maxsize=1 << 16)
def money(value: float | None) -> str:
    """A price as shown: 4 decimals (``–`` when unknown). Cached: a year's table repeats
    the same few thousand prices."""
    shown = rounded(value)
    return "–" if shown is None else f"{shown:.{PLACES}f}"
