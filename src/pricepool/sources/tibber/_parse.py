"""Reading Tibber's answers: days and slots, cursors, pages and price nodes."""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ...clock import local_midnight
from ...errors import InvalidResponseError
from ...model import PriceInterval, node_start, slot_length

__all__ = [
    "Page",
    "cursor",
    "intervals",
    "items",
    "obj",
    "page",
    "slots",
    "start_of",
]


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


def cursor(start: datetime, tz: ZoneInfo) -> str:
    """A cursor whose ``after`` includes a node starting at ``start``."""
    # ``after`` is strict: point one second earlier so the node at ``start`` comes first.
    text = (start - timedelta(seconds=1)).astimezone(tz).isoformat(timespec="milliseconds")
    return base64.b64encode(text.encode()).decode()


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
    end_cursor: str | None
    has_next: bool


def page(value: Any) -> Page | None:
    """A ``priceInfoRange`` connection, or None when Tibber sent null."""
    found = obj(value, "priceInfoRange")
    if found is None:
        return None
    edges = items(found.get("edges"), "priceInfoRange.edges") or []
    nodes: list[Mapping[str, Any]] = []
    last: str | None = None
    for edge in edges:
        edge = obj(edge, "priceInfoRange edge")
        node = obj(edge.get("node") if edge else None, "priceInfoRange node")
        if node is None:
            raise InvalidResponseError("priceInfoRange edge without a node")
        nodes.append(node)
        if isinstance(edge, dict) and isinstance(edge.get("cursor"), str):
            last = edge["cursor"]
    info = obj(found.get("pageInfo"), "priceInfoRange.pageInfo") or {}
    end = info.get("endCursor")
    return Page(nodes, end if isinstance(end, str) else last, info.get("hasNextPage") is True)


def start_of(node: Mapping[str, Any]) -> datetime:
    """The aware start of a price node; InvalidResponseError when it has none."""
    return node_start(node).astimezone(UTC)


def intervals(
    nodes: Iterable[Mapping[str, Any]], tz: ZoneInfo, currency: str | None
) -> list[PriceInterval]:
    """Sorted intervals from price nodes, one per start (the last node given wins).

    A node's length is the spacing to the next start on the same local day, never more than
    the day's smallest spacing (so a missing node leaves a gap instead of stretching its
    neighbour); a day's last node takes that smallest spacing, a lone node the date's rule.
    """
    by_start = {start_of(node): node for node in nodes}
    starts = sorted(by_start)
    out: list[PriceInterval] = []
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
            node = by_start[start]
            out.append(PriceInterval.from_node(node, tz=tz, length=length, currency=currency))
        i = j
    return out
