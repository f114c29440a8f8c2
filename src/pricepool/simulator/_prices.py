"""Deterministic synthetic spot prices, day by day, as Tibber ``Price`` nodes.

Every value is a pure function of the home and the instant (a keyed hash, no global RNG),
so two simulators, two processes or two runs agree. Whole days are computed at once and
cached: a day of quarter-hours costs ~0.2 ms the first time and a dict lookup after.

Slots are laid out from local midnight to the next local midnight in UTC steps, which
gives 92 or 100 quarter-hours on DST days. Days before ``QUARTER_HOURS_FROM`` (home-local)
are hourly; that is all the data has, whichever resolution is asked for.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from ..clock import local_midnight
from ..model import zone
from ..sources.tibber.wire import HOURLY, QUARTER_HOURLY, QUARTER_HOURS_FROM, slot_length
from ._homes import SimHome

__all__ = [
    "HOURLY",
    "QUARTER_HOURLY",
    "QUARTER_HOURS_FROM",
    "Day",
    "backward",
    "day_nodes",
    "forward",
    "history_start",
    "holding",
    "published_through",
    "unit",
]

# Tibber's documented thresholds, as a share of the trailing average price.
_VERY_CHEAP = 0.60
_CHEAP = 0.90
_EXPENSIVE = 1.15
_VERY_EXPENSIVE = 1.40
_TRAILING_DAYS = 3


def unit(home_id: str, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    key = "|".join([home_id, *map(str, parts)]).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


@dataclass(frozen=True, slots=True)
class _Slot:
    start: int  # POSIX seconds
    energy: float
    tax: float
    total: float


@lru_cache(maxsize=4096)
def _native(home: SimHome, day: date) -> tuple[_Slot, ...]:
    """The day's prices at the resolution the data has (hourly or quarter-hourly)."""
    tz = zone(home.time_zone)
    begin = int(local_midnight(day, tz).timestamp())
    end = int(local_midnight(day + timedelta(days=1), tz).timestamp())
    step = int(slot_length(day).total_seconds())

    # Winter is dearer than summer; each day has its own level and weather.
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)
    summer = (1 - season) / 2
    level = (1 + 0.35 * season) * (0.6 + 0.9 * unit(home.id, day, "level"))
    windy = unit(home.id, day, "wind") < 0.08
    sunny = summer > 0.5 and unit(home.id, day, "sun") < 0.15
    # One keyed hash per day seeds the slot noise: as deterministic, far cheaper than one each.
    noise = random.Random(int(unit(home.id, day, "noise") * 2**53)).random

    slots = []
    for start in range(begin, end, step):
        local = datetime.fromtimestamp(start + step / 2, tz)
        hour = local.hour + local.minute / 60
        shape = (
            0.7
            + 0.45 * _bump(hour, 8.0, 1.5)
            + 0.6 * _bump(hour, 18.5, 2.0)
            - 0.25 * summer * _bump(hour, 13.0, 1.8)
            - 0.15 * _bump(hour, 3.5, 2.0)
        )
        energy = level * shape + 0.08 * (2 * noise() - 1)
        if windy:
            energy -= 1.1 * (_bump(hour, 2.5, 2.5) + _bump(hour, 24.5, 1.5))
        if sunny:
            energy -= 1.3 * _bump(hour, 13.0, 1.6)
        energy = round(home.scale * energy, 4)
        tax = round(home.tax_fixed + home.vat * max(energy, 0.0), 4)
        slots.append(_Slot(start, energy, tax, round(energy + tax, 4)))
    return tuple(slots)


@lru_cache(maxsize=4096)
def _day_mean(home: SimHome, day: date) -> float:
    slots = _native(home, day)
    return sum(slot.total for slot in slots) / len(slots)


def _level(total: float, average: float) -> str:
    if average <= 1e-9:
        # A non-positive average makes ratios meaningless; compare by sign alone.
        return "VERY_CHEAP" if total < average else "NORMAL"
    ratio = total / average
    if ratio <= _VERY_CHEAP:
        return "VERY_CHEAP"
    if ratio <= _CHEAP:
        return "CHEAP"
    if ratio < _EXPENSIVE:
        return "NORMAL"
    if ratio < _VERY_EXPENSIVE:
        return "EXPENSIVE"
    return "VERY_EXPENSIVE"


@dataclass(frozen=True, slots=True)
class Day:
    """One local day at one resolution: sorted starts (POSIX seconds) and their nodes.

    The node dicts are shared by the cache: read them, never change them.
    """

    starts: tuple[int, ...]
    nodes: tuple[dict[str, Any], ...]


def _node(home: SimHome, start: int, slot: _Slot, average: float) -> dict[str, Any]:
    starts_at = datetime.fromtimestamp(start, zone(home.time_zone))
    return {
        "startsAt": starts_at.isoformat(timespec="milliseconds"),
        "total": slot.total,
        "energy": slot.energy,
        "tax": slot.tax,
        "level": _level(slot.total, average),
        "currency": home.currency,
    }


@lru_cache(maxsize=2048)
def day_nodes(home: SimHome, day: date, resolution: str) -> Day:
    """The Price nodes of ``day`` (home-local) at ``resolution``."""
    slots = _native(home, day)
    average = sum(_day_mean(home, day - timedelta(days=n)) for n in range(_TRAILING_DAYS))
    average /= _TRAILING_DAYS
    if resolution == HOURLY and day >= QUARTER_HOURS_FROM:
        # Hours are counted from local midnight in groups of four quarters, so a
        # repeated autumn hour stays two hours and a skipped spring hour never appears.
        hours = []
        for i in range(0, len(slots), 4):
            group = slots[i : i + 4]
            energy = round(sum(s.energy for s in group) / len(group), 4)
            tax = round(sum(s.tax for s in group) / len(group), 4)
            hours.append(_Slot(group[0].start, energy, tax, round(energy + tax, 4)))
        slots = tuple(hours)
    return Day(
        starts=tuple(slot.start for slot in slots),
        nodes=tuple(_node(home, slot.start, slot, average) for slot in slots),
    )


def _day_of(home: SimHome, instant: int) -> date:
    return datetime.fromtimestamp(instant, zone(home.time_zone)).date()


def history_start(home: SimHome) -> int:
    """The first instant the home has prices for, as POSIX seconds."""
    return int(local_midnight(home.history_start, zone(home.time_zone)).timestamp())


def forward(home: SimHome, resolution: str, lo: int, hi: int) -> Iterator[dict[str, Any]]:
    """Nodes starting in ``[lo, hi)`` (POSIX seconds), oldest first."""
    lo = max(lo, history_start(home))
    if lo >= hi:
        return
    day = _day_of(home, lo)
    tz = zone(home.time_zone)
    while int(local_midnight(day, tz).timestamp()) < hi:
        found = day_nodes(home, day, resolution)
        first = bisect_left(found.starts, lo)
        last = bisect_left(found.starts, hi)
        yield from found.nodes[first:last]
        day += timedelta(days=1)


def backward(home: SimHome, resolution: str, lo: int, hi: int) -> Iterator[dict[str, Any]]:
    """Nodes starting in ``[lo, hi)`` (POSIX seconds), newest first."""
    lo = max(lo, history_start(home))
    if lo >= hi:
        return
    day = _day_of(home, hi - 1)
    tz = zone(home.time_zone)
    while int(local_midnight(day + timedelta(days=1), tz).timestamp()) > lo:
        found = day_nodes(home, day, resolution)
        first = bisect_left(found.starts, lo)
        last = bisect_left(found.starts, hi)
        yield from reversed(found.nodes[first:last])
        day -= timedelta(days=1)


def published_through(home: SimHome, now: datetime, publish_hour: int, delay: timedelta) -> date:
    """The last home-local day whose prices are out at ``now``."""
    tz = zone(home.time_zone)
    today = now.astimezone(tz).date()
    release = datetime.combine(today, time(publish_hour), tzinfo=tz).astimezone(UTC) + delay
    return today + timedelta(days=1) if now >= release else today


def holding(day: Day, instant: int) -> dict[str, Any] | None:
    """The node of ``day`` whose interval holds ``instant``."""
    index = bisect_right(day.starts, instant) - 1
    return day.nodes[index] if index >= 0 else None
