"""Tibber's wire format, owned here alone: price nodes, cursors, slot rules and the schema.

Used by the source, the simulator and the Home Assistant import (and by the coming
service, which serves the same SDL). A node's ``startsAt`` is parsed once, by ``Nodes``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from ...clock import local_midnight
from ...errors import InvalidResponseError
from ...model import PriceInterval, PriceLevel

if TYPE_CHECKING:
    from graphql import GraphQLSchema

__all__ = [
    "EDGE",
    "HOURLY",
    "PAGE_MAX",
    "QUARTER_HOURLY",
    "QUARTER_HOURS_FROM",
    "Nodes",
    "Page",
    "cursor",
    "decode_cursor",
    "encode_cursor",
    "interval",
    "items",
    "node_of",
    "obj",
    "page",
    "resolution",
    "schema",
    "sdl",
    "slot_length",
    "slots",
    "start_of",
]

QUARTER_HOURS_FROM: Final = date(2025, 10, 1)
"""The first delivery day of 15-minute day-ahead prices; hourly before (home-local days)."""

HOURLY: Final = "HOURLY"
QUARTER_HOURLY: Final = "QUARTER_HOURLY"

PAGE_MAX: Final = {QUARTER_HOURLY: 672, HOURLY: 744}
"""The schema's cap on ``priceInfoRange(first:, last:)``: a week of quarter-hours, a month of
hours."""

_QUARTER = timedelta(minutes=15)
_HOUR = timedelta(hours=1)


def slot_length(day: date) -> timedelta:
    """How long the market's price slots are on the local ``day``."""
    return _QUARTER if day >= QUARTER_HOURS_FROM else _HOUR


def resolution(day: date) -> str:
    """The ``PriceInfoResolution`` whose nodes are the market's slots on ``day``."""
    return QUARTER_HOURLY if day >= QUARTER_HOURS_FROM else HOURLY


def slots(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """How many slots Tibber has in ``[start, end)``: DST and the 2025-10-01 switch counted."""
    count = 0
    day = start.astimezone(tz).date()
    while True:
        # Subtract in UTC: aware datetimes sharing a tzinfo subtract as wall clocks.
        head = max(start, local_midnight(day, tz)).astimezone(UTC)
        tail = min(end, local_midnight(day + timedelta(days=1), tz)).astimezone(UTC)
        if tail <= head:
            return count
        count += math.ceil((tail - head) / slot_length(day))
        day += timedelta(days=1)


# -- cursors ---------------------------------------------------------------------------------


def encode_cursor(instant: datetime, tz: ZoneInfo | None = None) -> str:
    """A cursor as Tibber writes them: base64 of an ISO time with milliseconds and offset."""
    shown = instant.astimezone(tz) if tz is not None else instant
    return base64.b64encode(shown.isoformat(timespec="milliseconds").encode()).decode()


def decode_cursor(text: str, tz: ZoneInfo) -> datetime:
    """The instant a cursor names (read in ``tz`` when it has no offset); ValueError if none."""
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"invalid cursor {text!r}: not base64 of an ISO timestamp") from err
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=tz)
    return instant.astimezone(UTC)


def cursor(start: datetime, tz: ZoneInfo) -> str:
    """An ``after`` cursor whose page begins with the node starting at ``start``, or with
    the one before it.

    It names the instant one second earlier, where no node starts or ends: an inclusive
    ``after`` and a strict one select the same nodes. A server whose cursors name a node's
    end, compared as cursors, also selects the node ending at ``start``: pages ask for
    ``EDGE`` more nodes than they need and drop what lies before ``start``.
    """
    return encode_cursor(start - timedelta(seconds=1), tz)


EDGE: Final = 1
"""Nodes a page asks for beyond those it needs: the one a cursor convention may add."""


# -- reading answers -------------------------------------------------------------------------


def obj(value: Any, where: str) -> dict[str, Any] | None:
    """``value`` when it is an object, None when null; anything else is invalid."""
    if value is None or isinstance(value, dict):
        return value
    raise InvalidResponseError(f"{where} is not an object: {type(value).__name__}")


def items(value: Any, where: str) -> list[Any] | None:
    """``value`` when it is a list, None when null; anything else is invalid."""
    if value is None or isinstance(value, list):
        return value
    raise InvalidResponseError(f"{where} is not a list: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ``priceInfoRange``."""

    nodes: list[Mapping[str, Any]]
    has_next: bool


def page(value: Any) -> Page | None:
    """A ``priceInfoRange`` connection, or None when Tibber sent null."""
    found = obj(value, "priceInfoRange")
    if found is None:
        return None
    edges = items(found.get("edges"), "priceInfoRange.edges") or []
    nodes: list[Mapping[str, Any]] = []
    for edge in edges:
        edge = obj(edge, "priceInfoRange edge")
        node = obj(edge.get("node") if edge else None, "priceInfoRange node")
        if node is None:
            raise InvalidResponseError("priceInfoRange edge without a node")
        nodes.append(node)
    info = obj(found.get("pageInfo"), "priceInfoRange.pageInfo") or {}
    return Page(nodes, info.get("hasNextPage") is True)


def start_of(node: Mapping[str, Any]) -> datetime:
    """The ``startsAt`` of a price node in UTC; InvalidResponseError when it has none."""
    raw = node.get("startsAt")
    if not isinstance(raw, str):
        raise InvalidResponseError(f"price node without a valid startsAt: {raw!r}")
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidResponseError(f"price node with an invalid startsAt: {raw!r}") from err
    if start.tzinfo is None:
        raise InvalidResponseError(f"price node startsAt without an offset: {raw!r}")
    return start.astimezone(UTC)


def interval(
    node: Mapping[str, Any],
    *,
    tz: ZoneInfo,
    length: timedelta,
    currency: str | None = None,
    start: datetime | None = None,
) -> PriceInterval:
    """The interval a ``Price`` node describes, lasting ``length``.

    ``start`` is the node's start when already parsed. Raises InvalidResponseError naming
    the field when the node cannot be trusted.
    """
    begins = (start if start is not None else start_of(node)).astimezone(tz)
    level = node.get("level")
    if level is not None and level not in PriceLevel.__members__:
        raise InvalidResponseError(
            f"price node at {node.get('startsAt')} with an unknown level {level!r}"
        )
    seconds = round(length.total_seconds())
    try:
        return PriceInterval.lasting(
            begins,
            seconds,
            node.get("total"),  # type: ignore[arg-type]
            node.get("energy"),
            node.get("tax"),
            level,
            node.get("currency") or currency,
        )
    except ValueError as err:
        raise InvalidResponseError(f"price node at {node.get('startsAt')}: {err}") from err


def node_of(item: PriceInterval) -> dict[str, Any]:
    """An interval as a Tibber ``Price`` node, ``startsAt`` with its offset."""
    return {
        "startsAt": item.start.isoformat(timespec="milliseconds"),
        "total": item.total,
        "energy": None if math.isnan(item.energy) else item.energy,
        "tax": None if math.isnan(item.tax) else item.tax,
        "level": item.level.value if item.level else None,
        "currency": item.currency,
    }


class Nodes:
    """Price nodes heard in one fetch, by start; each ``startsAt`` is parsed once.

    A start heard again replaces the earlier node (the later answer wins).
    """

    __slots__ = ("_by_start", "currency")

    def __init__(self) -> None:
        self._by_start: dict[datetime, Mapping[str, Any]] = {}
        self.currency: str | None = None

    def add(self, nodes: Iterable[Any], where: str = "price node") -> list[datetime]:
        """Take ``nodes`` in; returns their starts (UTC) in the order given."""
        starts = []
        for value in nodes:
            node = obj(value, where)
            if node is None:
                raise InvalidResponseError(f"{where} is null")
            start = start_of(node)
            self._by_start[start] = node
            starts.append(start)
            if self.currency is None:
                found = node.get("currency")
                if isinstance(found, str) and found:
                    self.currency = found
        return starts

    def __contains__(self, start: object) -> bool:
        return start in self._by_start

    def __len__(self) -> int:
        return len(self._by_start)

    def starts(self) -> list[datetime]:
        return sorted(self._by_start)

    def join(self, other: Nodes) -> None:
        """Take in what ``other`` heard (its nodes win where both have a start)."""
        self._by_start.update(other._by_start)
        self.currency = self.currency or other.currency

    def intervals(
        self, tz: ZoneInfo, currency: str | None, within: tuple[datetime, datetime] | None = None
    ) -> list[PriceInterval]:
        """Sorted intervals, ``within`` [start, end) when given.

        A node's length is the spacing to the next start on the same local day, never more
        than the day's smallest spacing (so a missing node leaves a gap instead of
        stretching its neighbour); a day's last node takes that smallest spacing, a lone
        node its date's slot.
        """
        out: list[PriceInterval] = []
        for start, length in lengths(self.starts(), tz):
            if within is not None and not within[0] <= start < within[1]:
                continue
            node = self._by_start[start]
            out.append(interval(node, tz=tz, length=length, currency=currency or None, start=start))
        return out


def lengths(starts: list[datetime], tz: ZoneInfo) -> list[tuple[datetime, timedelta]]:
    """Each sorted start with the length of its slot (see ``Nodes.intervals``)."""
    out: list[tuple[datetime, timedelta]] = []
    i = 0
    while i < len(starts):
        day = starts[i].astimezone(tz).date()
        j = i
        while j < len(starts) and starts[j].astimezone(tz).date() == day:
            j += 1
        run = starts[i:j]
        gaps = [b - a for a, b in itertools.pairwise(run)]
        step = min(gaps) if gaps else slot_length(day)
        for k, start in enumerate(run):
            length = min(gaps[k], step) if k < len(gaps) else step
            out.append((start, length))
        i = j
    return out


# -- the schema ------------------------------------------------------------------------------


@cache
def sdl() -> str:
    """The SDL of Tibber's schema as pricepool knows it (``tibber.graphql``)."""
    return resources.files(__package__).joinpath("tibber.graphql").read_text(encoding="utf-8")


@cache
def schema() -> GraphQLSchema:
    """The schema built from ``sdl()`` (graphql-core), without resolvers; shared, do not edit."""
    from graphql import build_schema  # not every user of the wire format needs graphql-core

    return build_schema(sdl())
