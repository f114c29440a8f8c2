"""The domain values: price intervals, levels, homes and spans of time."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Group",
    "HomeInfo",
    "Pending",
    "PriceInterval",
    "PriceLevel",
    "Span",
    "find_home",
    "zone",
]


class PriceLevel(StrEnum):
    """Tibber's coarse price level of an interval, relative to the recent average."""

    VERY_CHEAP = "VERY_CHEAP"
    CHEAP = "CHEAP"
    NORMAL = "NORMAL"
    EXPENSIVE = "EXPENSIVE"
    VERY_EXPENSIVE = "VERY_EXPENSIVE"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err


# Durations are shared objects so that a held interval pays 8 bytes for its length.
_DURATIONS: dict[int, timedelta] = {}


def _duration(seconds: int) -> timedelta:
    found = _DURATIONS.get(seconds)
    if found is None:
        found = _DURATIONS.setdefault(seconds, timedelta(seconds=seconds))
    return found


def _same(a: float, b: float) -> bool:
    """Equal, with NaN (not given) equal to NaN."""
    return a == b or (a != a and b != b)


def _finite(name: str, value: Any, *, optional: bool = False) -> float:
    if value is None and optional:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    # -0.0 becomes 0.0: a store may not keep the sign, and output must not depend on it.
    return number + 0.0


class PriceInterval:
    """One immutable price: ``[start, end)`` in the home's zone, and what it costs.

    ``total = energy + tax`` per kWh in ``currency``. ``energy`` and ``tax`` are NaN where
    the source did not say. ``end`` is derived from a shared length, which keeps a held
    interval small; instants, not wall-clock times, define equality.
    """

    __slots__ = ("_length", "currency", "energy", "level", "start", "tax", "total")

    start: datetime
    total: float
    energy: float
    tax: float
    level: PriceLevel | None
    currency: str | None
    _length: timedelta

    def __init__(
        self,
        start: datetime,
        end: datetime,
        total: float,
        energy: float | None = None,
        tax: float | None = None,
        level: PriceLevel | str | None = None,
        currency: str | None = None,
    ) -> None:
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError(f"end must be timezone-aware, got {end!r}")
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start must be timezone-aware, got {start!r}")
        # Aware datetimes in one zone subtract as wall times; timestamps are instants.
        seconds = round(end.timestamp() - start.timestamp())
        if seconds <= 0:
            raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
        self._fill(start, seconds, total, energy, tax, level, currency)

    @classmethod
    def lasting(
        cls,
        start: datetime,
        seconds: int,
        total: float,
        energy: float | None = None,
        tax: float | None = None,
        level: PriceLevel | str | None = None,
        currency: str | None = None,
    ) -> PriceInterval:
        """The interval of ``seconds`` from ``start``: the same checks, no ``end`` to build."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"length must be a positive whole number of seconds, got {seconds!r}")
        made = object.__new__(cls)
        made._fill(start, seconds, total, energy, tax, level, currency)
        return made

    def _fill(
        self,
        start: datetime,
        seconds: int,
        total: float,
        energy: float | None,
        tax: float | None,
        level: PriceLevel | str | None,
        currency: str | None,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start must be timezone-aware, got {start!r}")
        if start.microsecond or start.second:
            raise ValueError(f"start must be on a whole minute, got {start.isoformat()}")
        put = object.__setattr__
        put(self, "start", start)
        put(self, "_length", _duration(seconds))
        put(self, "total", _finite("total", total))
        put(self, "energy", _finite("energy", energy, optional=True))
        put(self, "tax", _finite("tax", tax, optional=True))
        put(self, "level", None if level is None else PriceLevel(level))
        # One string per currency code, not one per parsed interval (about 50 bytes each).
        put(self, "currency", sys.intern(currency) if type(currency) is str else currency)

    @property
    def end(self) -> datetime:
        """The first instant after this interval, in the zone of ``start``."""
        # Wall-clock arithmetic would be wrong across a DST change: add in UTC.
        return (self.start.astimezone(UTC) + self._length).astimezone(self.start.tzinfo)

    @property
    def length(self) -> timedelta:
        """How long the interval lasts (15 minutes or an hour at Tibber)."""
        return self._length

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PriceInterval is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"PriceInterval is immutable; cannot delete {name!r}")

    def _key(self) -> tuple[object, ...]:
        # NaN != NaN would make an interval unequal to itself; compare NaN as None.
        return (
            self.start.timestamp(),
            self._length,
            self.total,
            None if math.isnan(self.energy) else self.energy,
            None if math.isnan(self.tax) else self.tax,
            self.level,
            self.currency,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceInterval):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def same_price(self, other: PriceInterval) -> bool:
        """True when ``other`` has this interval's values (start and length aside)."""
        return (
            self.total == other.total
            and _same(self.energy, other.energy)
            and _same(self.tax, other.tax)
            and self.level is other.level
            and self.currency == other.currency
        )

    def __repr__(self) -> str:
        level = self.level.value if self.level else None
        return (
            f"PriceInterval(start={self.start.isoformat()}, end={self.end.isoformat()}, "
            f"total={self.total!r}, level={level}, currency={self.currency})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            PriceInterval,
            (
                self.start,
                self.end,
                self.total,
                None if math.isnan(self.energy) else self.energy,
                None if math.isnan(self.tax) else self.tax,
                self.level,
                self.currency,
            ),
        )

    def in_zone(self, tz: ZoneInfo) -> PriceInterval:
        """This interval with ``start`` shown in ``tz`` (the same instant)."""
        if self.start.tzinfo is tz:
            return self
        return self._with_start(self.start.astimezone(tz))

    def _with_start(self, start: datetime) -> PriceInterval:
        clone = object.__new__(PriceInterval)
        put = object.__setattr__
        put(clone, "start", start)
        put(clone, "_length", self._length)
        put(clone, "total", self.total)
        put(clone, "energy", self.energy)
        put(clone, "tax", self.tax)
        put(clone, "level", self.level)
        put(clone, "currency", self.currency)
        return clone

    @classmethod
    def from_node(
        cls,
        node: Mapping[str, Any],
        *,
        tz: ZoneInfo,
        length: timedelta,
        currency: str | None = None,
    ) -> PriceInterval:
        """An interval from a Tibber ``Price`` node; see ``sources.tibber.wire.interval``."""
        from .sources.tibber.wire import interval  # the wire format has one owner

        return interval(node, tz=tz, length=length, currency=currency)

    def to_node(self) -> dict[str, Any]:
        """This interval as a Tibber ``Price`` node; see ``sources.tibber.wire.node_of``."""
        from .sources.tibber.wire import node_of

        return node_of(self)


@dataclass(frozen=True, slots=True)
class Span:
    """The half-open stretch of time ``[start, end)``, held in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"Span {name} must be a timezone-aware datetime, got {value!r}")
            if value.tzinfo is not UTC:
                object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(
                f"Span end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )

    @classmethod
    def from_seconds(cls, start: int, end: int) -> Span:
        """The span between two POSIX timestamps."""
        return cls(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))

    @property
    def seconds(self) -> tuple[int, int]:
        """Start and end as whole POSIX seconds (start rounded down, end up)."""
        return math.floor(self.start.timestamp()), math.ceil(self.end.timestamp())

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@dataclass(frozen=True, slots=True)
class HomeInfo:
    """A home as the source knows it; ``time_zone`` is an IANA name."""

    id: str
    time_zone: str
    currency: str | None = None
    nickname: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("HomeInfo id must not be empty")
        zone(self.time_zone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)


def find_home(wanted: str, homes: Sequence[HomeInfo]) -> HomeInfo | None:
    """The home ``wanted`` names: its id, its nickname (any case) or a unique start of its
    id; None when no single home matches."""
    for home in homes:
        if home.id == wanted:
            return home
    folded = wanted.casefold()
    named = [h for h in homes if h.nickname and h.nickname.casefold() == folded]
    if len(named) == 1:
        return named[0]
    prefixed = [h for h in homes if h.id.startswith(wanted)]
    return prefixed[0] if len(prefixed) == 1 else None


@dataclass(frozen=True, slots=True)
class Group:
    """One fetch: when it happened and the span it answered."""

    id: int
    fetched_at: datetime
    span: Span


@dataclass(frozen=True, slots=True)
class Pending:
    """A span known to be unpublished, to be asked again at ``retry_at``."""

    span: Span
    retry_at: datetime
