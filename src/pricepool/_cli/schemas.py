"""Every JSON and CSV shape the command prints or reads; readers ignore keys they do not know.

``prices --format json``, version 1::

    {"version": 1,
     "home": {"id": "...", "nickname": "...", "time_zone": "Europe/Oslo", "currency": "NOK"},
     "from": "2026-11-26T00:00:00+01:00", "to": "2026-11-28T00:00:00+01:00",
     "currency": "NOK",
     "source_error": null,
     "missing": [],
     "unpublished": null,
     "intervals": [{"start": "2026-11-26T00:00:00+01:00", "end": "2026-11-26T00:15:00+01:00",
                    "total": 0.9123, "energy": 0.7298, "tax": 0.1825, "level": "NORMAL"}]}

``missing`` lists the parts ``[{"from", "to"}]`` of the range the source has never
answered (``source_error`` says why); ``unpublished`` is null or ``{"from", "to",
"expected_at", "retry_at", "message"}`` for the part not published yet. With ``--hourly``
the intervals are the hours (``average`` as ``total``, ``energy`` and ``tax`` averaged
too), and ``"hourly": true`` is added.

``prices --format csv``: ``start,end,total,energy,tax,level,currency``.

``cheapest --format json``: ``{version, home, currency, from, to, source_error, missing,
unpublished, duration_minutes, window: {start, end, average}}`` or ``{..., slots: [{start,
end, total, energy, tax, level}], average}``; window null (or slots [] and average null)
and ``error`` when nothing could be chosen.

``cache stats --format json``: ``{"version": 1, "store", "bytes", "homes": [{id, nickname,
time_zone, currency, intervals, fetch_groups, first, last, interval_minutes, covered_days,
covered_spans, pending_spans}]}``.

``cache export`` JSON: ``{"version": 1, "homes": [{id, nickname, time_zone, currency,
coverage: [{start, end}], pending: [{start, end, retry_at}], intervals: [{start, end, total,
energy, tax, level, currency}]}]}``, which ``cache import`` reads back; CSV: the header
``home,start,end,total,energy,tax,level,currency``.

Times are ISO 8601 with the home's offset; a price part the source did not give is
``null`` (JSON) or empty (CSV); averages are rounded as :mod:`.numbers` says.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pricepool.documents import (
    VERSION,
    cheapest_base,
    currency_of,
    dumps,
    home_dict,
    interval_dict,
    iso,
    prices_json,
    span_dict,
    window_dict,
)

if TYPE_CHECKING:
    from pricepool import HomeInfo, Pending, PriceInterval, Snapshot, Span

__all__ = [
    "CSV_HEADER",
    "EXPORT_CSV_HEADER",
    "VERSION",
    "cheapest_base",
    "csv_rows",
    "currency_of",
    "dumps",
    "export_csv",
    "export_json",
    "home_dict",
    "interval_dict",
    "iso",
    "prices_csv",
    "prices_json",
    "read_export",
    "span_dict",
    "stats_dict",
    "window_dict",
]

CSV_HEADER = ("start", "end", "total", "energy", "tax", "level", "currency")
EXPORT_CSV_HEADER = ("home", *CSV_HEADER)


def csv_rows(items: Iterable[PriceInterval], tz: ZoneInfo, currency: str) -> list[list[str]]:
    return [
        [
            iso(item.start.astimezone(tz)),
            iso(item.end.astimezone(tz)),
            repr(item.total),
            "" if math.isnan(item.energy) else repr(item.energy),
            "" if math.isnan(item.tax) else repr(item.tax),
            item.level.value if item.level else "",
            item.currency or currency,
        ]
        for item in items
    ]


def prices_csv(items: Sequence[PriceInterval], tz: ZoneInfo, currency: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(items, tz, currency))
    return out.getvalue()


# -- the store -----------------------------------------------------------------------------


def _minutes(snapshot: Snapshot) -> list[int]:
    """The interval lengths the home holds, in minutes (60 for old history, 15 after)."""
    return sorted({int(i.length.total_seconds()) // 60 for i in snapshot.intervals})


def stats_dict(snap: Snapshot, covered_days: float) -> dict[str, Any]:
    tz = snap.home.tz
    items = snap.intervals
    return {
        **home_dict(snap.home),
        "intervals": len(items),
        "fetch_groups": len(snap.groups),
        "first": iso(items[0].start.astimezone(tz)) if items else None,
        "last": iso(items[-1].end.astimezone(tz)) if items else None,
        "interval_minutes": _minutes(snap),
        "covered_days": covered_days,
        "covered_spans": len(snap.coverage),
        "pending_spans": len(snap.pending),
    }


def stats_json(path: Path, size: int, homes: list[dict[str, Any]]) -> str:
    return dumps({"version": VERSION, "store": str(path), "bytes": size, "homes": homes})


def export_csv(snapshots: Sequence[Snapshot]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_CSV_HEADER)
    for snap in snapshots:
        currency = snap.home.currency or ""
        for row in csv_rows(snap.intervals, snap.home.tz, currency):
            writer.writerow([snap.home.id, *row])
    return buffer.getvalue()


def export_json(snapshots: Sequence[Snapshot]) -> str:
    homes: list[dict[str, Any]] = []
    for snap in snapshots:
        tz = snap.home.tz
        homes.append(
            {
                **home_dict(snap.home),
                "coverage": [
                    {"start": iso(s.start.astimezone(tz)), "end": iso(s.end.astimezone(tz))}
                    for s in snap.coverage
                ],
                "pending": [
                    {
                        "start": iso(p.span.start.astimezone(tz)),
                        "end": iso(p.span.end.astimezone(tz)),
                        "retry_at": iso(p.retry_at.astimezone(tz)),
                    }
                    for p in snap.pending
                ],
                "intervals": [
                    {**interval_dict(i, tz), "currency": i.currency} for i in snap.intervals
                ],
            }
        )
    return dumps({"version": VERSION, "homes": homes})


class ExportError(ValueError):
    """A file that is not a ``cache export`` JSON this version reads; says where."""


def read_export(text: str) -> list[Snapshot]:
    """The homes of a ``cache export`` JSON, one snapshot each with one fetch group per
    covered span (the export does not keep fetch groups). Raises ExportError."""
    from pricepool import HomeInfo, Pending, PriceInterval, PriceLevel, Span

    try:
        document = json.loads(text)
    except ValueError as err:
        raise ExportError(f"not JSON ({err})") from None
    if not isinstance(document, dict) or not isinstance(document.get("homes"), list):
        raise ExportError('not a pricepool export (expected {"version": 1, "homes": [...]})')
    if document.get("version") != VERSION:
        raise ExportError(
            f"export version {document.get('version')!r}; this pricepool reads {VERSION}"
        )
    found: list[Snapshot] = []
    for n, raw in enumerate(document["homes"]):
        where = f"homes[{n}]"
        try:
            home = HomeInfo(raw["id"], raw["time_zone"], raw.get("currency"), raw.get("nickname"))
            tz = home.tz
            coverage = [Span(_when(s["start"]), _when(s["end"])) for s in raw.get("coverage", [])]
            pending = [
                Pending(Span(_when(p["start"]), _when(p["end"])), _when(p["retry_at"]))
                for p in raw.get("pending", [])
            ]
            items: list[PriceInterval] = []
            for row in raw.get("intervals", []):
                start, end = _when(row["start"]), _when(row["end"])
                level = row.get("level")
                items.append(
                    PriceInterval(
                        start.astimezone(tz),
                        end.astimezone(tz),
                        float(row["total"]),
                        _float(row.get("energy")),
                        _float(row.get("tax")),
                        PriceLevel(level) if level else None,
                        row.get("currency") or home.currency,
                    )
                )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ExportError(f"{where}: {type(err).__name__}: {err}") from None
        # By instant: datetimes of one zone compare by wall clock, and the autumn night
        # has two 02:00s.
        items.sort(key=lambda i: i.start.timestamp())
        for a, b in itertools.pairwise(items):
            if b.start.timestamp() < a.end.timestamp():
                raise ExportError(f"{where}: intervals overlap at {iso(b.start)}")
        found.append(_grouped(home, coverage, pending, items))
    return found


def _grouped(
    home: HomeInfo, coverage: list[Span], pending: list[Pending], items: list[PriceInterval]
) -> Snapshot:
    """One fetch group per home-local day of each covered span (so gc can let restored
    history go a day at a time, oldest first), and one for intervals outside every span."""
    from pricepool import Group, Snapshot, Span
    from pricepool.clock import day_ceil

    spans: list[Span] = []
    for span in sorted(coverage, key=lambda s: s.start.timestamp()):
        at = span.start
        while at < span.end:
            cut = min(day_ceil(at + timedelta(seconds=1), home.tz), span.end)
            spans.append(Span(at, cut))
            at = cut
    # The export keeps no fetch times: restored groups count as the oldest for retention,
    # and never win over a fetch the store holds.
    fetched = datetime.fromtimestamp(0, UTC)
    ids: list[int] = []
    stray: list[PriceInterval] = []
    starts = [s.start.timestamp() for s in spans]
    for item in items:
        lo, hi = item.start.timestamp(), item.end.timestamp()
        # Spans are disjoint and sorted: the one starting last at or before ``lo``.
        g = bisect_right(starts, lo) - 1
        if g >= 0 and hi <= spans[g].end.timestamp():
            ids.append(g)
        else:
            ids.append(len(spans))
            stray.append(item)
    groups = [Group(g, fetched, span) for g, span in enumerate(spans)]
    if stray:
        groups.append(Group(len(spans), fetched, Span(stray[0].start, stray[-1].end)))
    return Snapshot(
        home, groups=groups, intervals=items, group_ids=ids, coverage=spans, pending=pending
    )


def _when(text: Any) -> datetime:
    instant = datetime.fromisoformat(str(text))
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return instant


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
