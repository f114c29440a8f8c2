"""The cheapest stretch of time: one gap-free window, or the N cheapest separate intervals.

Both work over an ``Answer`` (what ``IntervalPool.query`` returns) or a sorted list of
intervals; a window never spans a missing part. Prices are step functions of time, so the
average over ``[t, t + length)`` is piecewise linear in ``t`` and its minimum lies where
``t`` or ``t + length`` meets an interval edge.
Checking those two families of candidates with monotone pointers finds the exact optimum
in O(n) for any mix of interval lengths.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from .answer import Answer
from .model import PriceInterval

__all__ = ["Window", "average", "cheapest_slots", "cheapest_window", "runs"]

Prices = Answer | Sequence[PriceInterval]
"""An answer of the pool, or intervals sorted by start that do not overlap."""

Piece = tuple[float, float, float]
"""``(start, end, price)``: POSIX seconds and a price per kWh."""

# Averages closer than this are a tie, won by the earlier window (float sums drift).
_TIE = 1e-9


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch ``[start, end)`` and its time-weighted average price."""

    start: datetime
    end: datetime
    average: float


def _items(prices: Prices) -> Sequence[PriceInterval]:
    return prices.intervals if isinstance(prices, Answer) else prices


def runs(
    prices: Prices, lo: datetime | None = None, hi: datetime | None = None
) -> list[list[Piece]]:
    """The intervals clipped to ``[lo, hi)`` and cut into gap-free runs."""
    items = _items(prices)
    low = lo.timestamp() if lo is not None else float("-inf")
    high = hi.timestamp() if hi is not None else float("inf")
    found: list[list[Piece]] = []
    for item in items:
        start = max(item.start.timestamp(), low)
        end = min(item.end.timestamp(), high)
        if end <= start:
            continue
        if found and found[-1][-1][1] == start:
            found[-1].append((start, end, item.total))
        else:
            found.append([(start, end, item.total)])
    return found


class _Integral:
    """Cost accumulated from the start of a run; ``at`` must be asked in rising order."""

    def __init__(self, pieces: Sequence[Piece]) -> None:
        self._pieces = pieces
        self._sums = [0.0]
        for start, end, price in pieces:
            self._sums.append(self._sums[-1] + price * (end - start))
        self._index = 0

    def at(self, t: float) -> float:
        pieces = self._pieces
        while self._index + 1 < len(pieces) and pieces[self._index + 1][0] <= t:
            self._index += 1
        start, _, price = pieces[self._index]
        return self._sums[self._index] + price * (t - start)


def _best_in_run(pieces: Sequence[Piece], length: float) -> tuple[float, float] | None:
    """``(average, start)`` of the cheapest window inside one gap-free run."""
    first, last = pieces[0][0], pieces[-1][1]
    if last - first < length:
        return None
    best: tuple[float, float] | None = None
    # Windows starting at an edge, then windows ending at one: each family rises in t.
    families = (
        [p[0] for p in pieces if p[0] + length <= last],
        [p[1] - length for p in pieces if p[1] - length >= first],
    )
    for starts in families:
        left, right = _Integral(pieces), _Integral(pieces)
        for t in starts:
            average = (right.at(t + length) - left.at(t)) / length
            if (
                best is None
                or average < best[0] - _TIE
                or (average <= best[0] + _TIE and t < best[1])
            ):
                best = (average, t)
    return best


def cheapest_window(
    prices: Prices,
    length: timedelta,
    *,
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> Window | None:
    """The cheapest gap-free window of ``length`` within ``[lo, hi)``; None when none fits.

    The window is shown in the zone of the first interval. O(n).
    """
    items = _items(prices)
    seconds = length.total_seconds()
    if seconds <= 0:
        raise ValueError(f"length must be positive, got {length}")
    best: tuple[float, float] | None = None
    for run in runs(items, lo, hi):
        found = _best_in_run(run, seconds)
        if found is not None and (
            best is None
            or found[0] < best[0] - _TIE
            or (found[0] <= best[0] + _TIE and found[1] < best[1])
        ):
            best = found
    if best is None:
        return None
    zone: tzinfo = items[0].start.tzinfo or UTC
    start = datetime.fromtimestamp(best[1], zone)
    return Window(start, datetime.fromtimestamp(best[1] + seconds, zone), best[0])


def cheapest_slots(
    prices: Prices,
    count: int,
    *,
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> list[PriceInterval]:
    """The ``count`` cheapest intervals overlapping ``[lo, hi)``, in time order.

    Ties go to the earlier interval. O(n log count).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    chosen = [
        i
        for i in _items(prices)
        # Instants: in one zone datetimes compare by wall time, ignoring a DST fold.
        if (lo is None or i.end.timestamp() > lo.timestamp())
        and (hi is None or i.start.timestamp() < hi.timestamp())
    ]
    picked = heapq.nsmallest(count, chosen, key=lambda i: (i.total, i.start.timestamp()))
    return sorted(picked, key=lambda i: i.start.timestamp())


def average(prices: Prices) -> float | None:
    """The time-weighted average price; None when there are no intervals."""
    items = _items(prices)
    seconds = sum(i.length.total_seconds() for i in items)
    if not seconds:
        return None
    return sum(i.total * i.length.total_seconds() for i in items) / seconds
