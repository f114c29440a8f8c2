"""Import of the Home Assistant ``tibber_prices`` interval pool file.

That integration keeps one home per file (``.storage/tibber_prices.interval_pool.<entry>``),
version 1, either bare or in Home Assistant's Store envelope::

    {"version": 1, "minor_version": 1, "key": "tibber_prices.interval_pool.<entry>",
     "data": {"version": 1, "home_id": "...",
              "fetch_groups": [{"fetched_at": "<ISO>", "intervals": [<Tibber price node>, ...]}]}}

Its fetch groups hold only the intervals that were new to it, so a group may have holes.
Each group is therefore split into runs of back-to-back intervals, and each run becomes a
``Group`` whose span is exactly what it covers; claiming the holes would tell the pool it
knows spans it never saw. Runs get ids in ``fetched_at`` order; a later fetch wins where two
hold the same start. Coverage is the union of the runs; nothing is pending.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import InvalidResponseError, StorageError
from ..model import HomeInfo, PriceInterval, Span, zone
from ..sources.tibber.wire import interval, slot_length, start_of
from ..timeline import key, key_end
from ._codec import union
from .base import Group, Snapshot

__all__ = ["import_ha"]

_LONGEST = timedelta(hours=1)
_EXPECTED = 'version 1 with "home_id" and "fetch_groups" (bare or in a Store envelope)'


def import_ha(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    time_zone: str,
    currency: str | None = None,
) -> Snapshot:
    """A snapshot of the home in a ``tibber_prices`` interval pool file (or its parsed JSON).

    ``time_zone`` is the home's IANA zone, which the file does not record (its offsets
    cannot tell Europe/Oslo from Europe/Berlin). ``currency`` defaults to the one most
    intervals name. Raises StorageError naming the file and what was expected.
    """
    if isinstance(source, Mapping):
        name, document = "the given document", source
    else:
        path = Path(source)
        name = str(path)
        try:
            document = json.loads(path.read_bytes())
        except OSError as err:
            raise StorageError(f"cannot read {path}: {err.strerror or err}") from err
        except ValueError as err:
            raise StorageError(f"{path} is not JSON: {err}") from err
    try:
        tz = zone(time_zone)
    except ValueError as err:
        raise StorageError(f"cannot import {name}: {err}") from err
    data = _unwrap(document, name)
    try:
        return _snapshot(data, tz, time_zone, currency)
    except (InvalidResponseError, ValueError, TypeError, KeyError) as err:
        raise StorageError(f"cannot import {name}: {err}") from err


def _unwrap(document: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise StorageError(f"{name} is not a tibber_prices interval pool: expected {_EXPECTED}")
    if "data" in document and "key" in document:
        if document.get("version") != 1:
            raise StorageError(
                f"{name} has Store version {document.get('version')!r}: expected {_EXPECTED}"
            )
        document = document["data"]
        if not isinstance(document, Mapping):
            raise StorageError(f"{name} has no object in its data: expected {_EXPECTED}")
    if "homes" in document and "fetch_groups" not in document:
        raise StorageError(
            f"{name} has the multi-home layout used before 2025-11-25, which is not "
            f"supported: expected {_EXPECTED}"
        )
    if document.get("version", 1) != 1:
        raise StorageError(f"{name} has version {document.get('version')!r}: expected {_EXPECTED}")
    if not isinstance(document.get("home_id"), str) or not isinstance(
        document.get("fetch_groups"), list
    ):
        raise StorageError(f"{name} is not a tibber_prices interval pool: expected {_EXPECTED}")
    return document


def _snapshot(
    data: Mapping[str, Any], tz: ZoneInfo, time_zone: str, currency: str | None
) -> Snapshot:
    fetches: list[tuple[datetime, list[Mapping[str, Any]]]] = []
    for index, entry in enumerate(data["fetch_groups"]):
        fetched_at = datetime.fromisoformat(entry["fetched_at"])
        if fetched_at.tzinfo is None:
            fetched_at = fetched_at.replace(tzinfo=tz)
        nodes = entry["intervals"]
        if not isinstance(nodes, list):
            raise TypeError(f"fetch group {index} has no list of intervals")
        fetches.append((fetched_at, nodes))
    # sorted() is stable: equal fetch times keep the file's order.
    fetches.sort(key=lambda fetch: fetch[0])

    groups: list[Group] = []
    held: dict[int, tuple[PriceInterval, int]] = {}
    for fetched_at, nodes in fetches:
        for run in _runs(_parse(nodes, tz, currency)):
            group = Group(len(groups) + 1, fetched_at, Span(run[0].start, run[-1].end))
            groups.append(group)
            for item in run:
                held[int(item.start.timestamp())] = (item, group.id)

    order = sorted(held)
    intervals = [held[start][0] for start in order]
    if currency is None:
        named = Counter(i.currency for i in intervals if i.currency)
        currency = named.most_common(1)[0][0] if named else None
    home = HomeInfo(data["home_id"], time_zone, currency)
    # A group whose every interval a later fetch replaced holds nothing: leave it out.
    ids = [held[start][1] for start in order]
    live = set(ids)
    return Snapshot(
        home,
        groups=[g for g in groups if g.id in live],
        intervals=intervals,
        group_ids=ids,
        coverage=union(g.span for g in groups),
    )


def _parse(
    nodes: list[Mapping[str, Any]], tz: ZoneInfo, currency: str | None
) -> list[PriceInterval]:
    """The nodes as intervals, sorted; each lasts until its nearest neighbour starts."""
    by_start: dict[datetime, Mapping[str, Any]] = {}
    for node in nodes:
        if not isinstance(node, Mapping):
            raise TypeError(f"price node is not an object: {node!r}")
        # A start listed twice in one fetch: the later node wins.
        by_start[start_of(node)] = node
    order = sorted(by_start)
    items = []
    for index, start in enumerate(order):
        # The nearest neighbour gives the length: a hole after an interval must not stretch
        # it, and the first quarter-hour after hourly history is 15 minutes, not 60.
        gaps = []
        if index > 0:
            gaps.append(start - order[index - 1])
        if index + 1 < len(order):
            gaps.append(order[index + 1] - start)
        fitting = [gap for gap in gaps if gap <= _LONGEST]
        # Alone, it lasts a slot of its home-local day (the 2025-10-01 switch is local).
        length = min(fitting) if fitting else slot_length(start.astimezone(tz).date())
        items.append(
            interval(by_start[start], tz=tz, length=length, currency=currency, start=start)
        )
    return items


def _runs(items: list[PriceInterval]) -> list[list[PriceInterval]]:
    """``items`` (sorted) cut where one interval does not end where the next starts."""
    runs: list[list[PriceInterval]] = []
    for item in items:
        # Compared as instants: in one zone the autumn night's two 02:15s are equal wall times.
        if runs and key_end(runs[-1][-1]) == key(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
