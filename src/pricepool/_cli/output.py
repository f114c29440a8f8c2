"""How prices look: rich tables, a plotext chart, and the stable JSON and CSV shapes.

JSON (``prices --format json``), version 1::

    {"version": 1,
     "home": {"id": "...", "nickname": "...", "time_zone": "Europe/Oslo", "currency": "NOK"},
     "from": "2026-11-26T00:00:00+01:00", "to": "2026-11-28T00:00:00+01:00",
     "currency": "NOK",
     "source_error": null,
     "missing": [],
     "unpublished": null,
     "intervals": [{"start": "2026-11-26T00:00:00+01:00", "end": "2026-11-26T00:15:00+01:00",
                    "total": 0.9123, "energy": 0.7298, "tax": 0.1825, "level": "NORMAL"}]}

``missing`` (added without a version change; readers ignore keys they do not know) lists
the parts ``[{"from", "to"}]`` of the range the source has never answered, e.g. because it
was unreachable or rate limited (``source_error`` says why); ``[]`` when nothing is missing.
Parts not published yet are not in it but in ``unpublished``.

``unpublished`` (added the same way) is
null, or when part of the range has no published prices yet ``{"from", "to",
"expected_at", "retry_at", "message"}``: that part, when its first day's prices are due
(13:00 home-local the day before), when the pool asks again if they are late (else null),
and the line the command printed on stderr.

CSV: ``start,end,total,energy,tax,level,currency``. Times are ISO 8601 with the home's
offset; a price part the source did not give is ``null`` (JSON) or empty (CSV).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import plotext
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pricepool import HomeInfo, PriceInterval, PriceLevel, Span

from .cheapest import Window

__all__ = [
    "CSV_HEADER",
    "REPEATED_HOUR",
    "WINDOW_MARK",
    "Hour",
    "chart",
    "days_table",
    "homes_table",
    "hours",
    "hours_table",
    "interval_dict",
    "money",
    "natural_width",
    "prices_csv",
    "prices_json",
    "prices_table",
    "range_text",
    "rounded",
    "span_dict",
]

CSV_HEADER = ("start", "end", "total", "energy", "tax", "level", "currency")

LEVEL_STYLE = {
    PriceLevel.VERY_CHEAP: "bold green",
    PriceLevel.CHEAP: "green",
    PriceLevel.NORMAL: "",
    PriceLevel.EXPENSIVE: "dark_orange",
    PriceLevel.VERY_EXPENSIVE: "bold red",
}


def level_text(level: PriceLevel | None) -> Text:
    if level is None:
        return Text("")
    return Text(level.value.lower().replace("_", " "), style=LEVEL_STYLE[level])


def rounded(value: float | None) -> float | None:
    """A computed price (an average) to 4 decimals, as the source gives prices."""
    return None if value is None or math.isnan(value) else round(value, 4)


def days_text(seconds: float) -> str:
    """``330 days``, or ``26.96 days`` when not whole."""
    days = seconds / 86400
    whole = round(days)
    if abs(days - whole) < 0.005:
        return "1 day" if whole == 1 else f"{whole} days"
    return f"{days:.2f} days"


def range_text(start: datetime, end: datetime) -> str:
    """``Thu 2026-11-26 – Fri 2026-11-27`` for whole days (both included), else with times
    to the minute, in ``start``'s zone."""
    tz = start.tzinfo
    end = end.astimezone(tz)
    midnight = datetime.min.time()
    if start.time() == end.time() == midnight and end > start:
        last = (end - timedelta(hours=12)).date()  # the last day, also across DST
        if last == start.date():
            return f"{start:%a %Y-%m-%d}"
        return f"{start:%a %Y-%m-%d} – {last:%a %Y-%m-%d}"
    if start.date() == end.date():
        return f"{start:%a %Y-%m-%d %H:%M} – {end:%H:%M}"
    return f"{start:%a %Y-%m-%d %H:%M} – {end:%a %Y-%m-%d %H:%M}"


def money(value: float, places: int = 4) -> str:
    return "–" if math.isnan(value) else f"{value:.{places}f}"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def natural_width(table: Table, console: Console) -> int:
    """The width ``table`` takes when nothing is squeezed."""
    return console.measure(table, options=console.options.update(max_width=10_000)).maximum


def span_text(span: Span, tz: ZoneInfo) -> str:
    return f"{span.start.astimezone(tz):%Y-%m-%d %H:%M} – {span.end.astimezone(tz):%Y-%m-%d %H:%M}"


def span_dict(span: Span, tz: ZoneInfo) -> dict[str, str]:
    """``{"from", "to"}`` with the home's offset, as in the ``missing`` lists."""
    return {"from": iso(span.start.astimezone(tz)), "to": iso(span.end.astimezone(tz))}


# -- homes -------------------------------------------------------------------------------------


def homes_table(homes: Sequence[HomeInfo], title: str = "Homes") -> Table:
    # Without its outer edge the table fits 80 columns with full ids and zone names.
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("nickname")
    table.add_column("time zone", no_wrap=True)
    table.add_column("currency")
    for home in homes:
        table.add_row(home.id, home.nickname or "", home.time_zone, home.currency or "")
    return table


def home_dict(home: HomeInfo) -> dict[str, Any]:
    return {
        "id": home.id,
        "nickname": home.nickname,
        "time_zone": home.time_zone,
        "currency": home.currency,
    }


# -- prices ------------------------------------------------------------------------------------


def prices_table(items: Sequence[PriceInterval], tz: ZoneInfo, currency: str, title: str) -> Table:
    """One row per interval, a section per local day; the currency in the title."""
    table = Table(title=f"{title} · {currency}/kWh", title_justify="left")
    table.add_column("start", no_wrap=True)
    table.add_column("end", no_wrap=True)
    table.add_column("total", justify="right")
    table.add_column("energy", justify="right")
    table.add_column("tax", justify="right")
    table.add_column("level")
    day = None
    for item in items:
        start = item.start.astimezone(tz)
        if day is not None and start.date() != day:
            table.add_section()
        day = start.date()
        style = LEVEL_STYLE[item.level] if item.level else ""
        table.add_row(
            f"{start:%a %Y-%m-%d %H:%M}",
            f"{item.end.astimezone(tz):%H:%M}",
            Text(money(item.total), style=style),
            money(item.energy),
            money(item.tax),
            level_text(item.level),
        )
    return table


def interval_dict(item: PriceInterval, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "start": iso(item.start.astimezone(tz)),
        "end": iso(item.end.astimezone(tz)),
        "total": item.total,
        "energy": _number(item.energy),
        "tax": _number(item.tax),
        "level": item.level.value if item.level else None,
    }


def prices_json(
    home: HomeInfo,
    start: datetime,
    end: datetime,
    items: Sequence[PriceInterval],
    problem: str | None,
    unpublished: dict[str, Any] | None = None,
    missing: Sequence[Span] = (),
) -> str:
    tz = home.tz
    document = {
        "version": 1,
        "home": home_dict(home),
        "from": iso(start.astimezone(tz)),
        "to": iso(end.astimezone(tz)),
        "currency": currency_of(home, items),
        "source_error": problem,
        "missing": [span_dict(s, tz) for s in missing],
        "unpublished": unpublished,
        "intervals": [interval_dict(i, tz) for i in items],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def csv_rows(items: Iterable[PriceInterval], tz: ZoneInfo, currency: str) -> list[list[str]]:
    rows = []
    for item in items:
        rows.append(
            [
                iso(item.start.astimezone(tz)),
                iso(item.end.astimezone(tz)),
                repr(item.total),
                "" if math.isnan(item.energy) else repr(item.energy),
                "" if math.isnan(item.tax) else repr(item.tax),
                item.level.value if item.level else "",
                item.currency or currency,
            ]
        )
    return rows


def prices_csv(items: Sequence[PriceInterval], tz: ZoneInfo, currency: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(items, tz, currency))
    return out.getvalue()


def currency_of(home: HomeInfo, items: Sequence[PriceInterval]) -> str:
    named = Counter(i.currency for i in items if i.currency)
    return named.most_common(1)[0][0] if named else (home.currency or "")


# -- hours and days ----------------------------------------------------------------------------


WINDOW_MARK = "█"
"""How ``chart`` draws the window it is given."""

REPEATED_HOUR = "the second time this hour came, when clocks went back (summer time ended)"
"""The legend of an hour label marked ``*``."""


@dataclass(frozen=True, slots=True)
class Hour:
    """One local hour: its time-weighted average and a level that agrees with it."""

    start: datetime
    average: float
    level: PriceLevel | None


def _hour_level(members: Sequence[PriceInterval], mean: float) -> PriceLevel | None:
    """The level of the member whose price is closest to the hour's average.

    Tibber rates each interval against a reference (an average of recent prices) pricepool
    is not told, so an hour's level cannot be computed from its average. The most common of
    its quarter-hours' levels can contradict the average (an hour of 1.3253 "expensive"
    next to one of 1.3385 "normal", when two quarters sit just above a threshold); the level
    Tibber gave the price nearest the average is the one it would most likely give the
    average itself. Ties go to the earlier member.
    """
    rated = [m for m in members if m.level is not None]
    if not rated:
        return None
    return min(rated, key=lambda m: abs(m.total - mean)).level


def hours(items: Sequence[PriceInterval], tz: ZoneInfo) -> list[Hour]:
    """``items`` averaged per local clock hour (a DST night's two 02:00 hours stay apart)."""
    buckets: dict[datetime, list[PriceInterval]] = {}
    for item in items:
        local = item.start.astimezone(tz)
        # Floor in UTC by the local minutes: zones with half-hour offsets floor correctly.
        floor = item.start.astimezone(UTC) - timedelta(minutes=local.minute)
        buckets.setdefault(floor, []).append(item)
    found = []
    for floor, members in sorted(buckets.items()):
        seconds = sum(m.length.total_seconds() for m in members)
        mean = sum(m.total * m.length.total_seconds() for m in members) / seconds
        found.append(Hour(floor.astimezone(tz), mean, _hour_level(members, mean)))
    return found


def hour_label(hour: Hour, fmt: str = "%H:%M") -> str:
    """The hour's local start; ``*`` marks the repeated hour of the night clocks go back."""
    return f"{hour.start:{fmt}}" + ("*" if hour.start.fold else "")


def days_table(
    days: Sequence[tuple[str, Sequence[Hour]]],
    currency: str,
    mark: Window | None = None,
    title: str = "",
) -> Table:
    """Hourly averages of a few days side by side; ``mark`` flags the hours it touches."""
    table = Table(title=title or f"Hourly averages, {currency}/kWh", title_justify="left")
    table.add_column("hour", no_wrap=True)
    columns: list[dict[tuple[int, int], Hour]] = []
    for name, day in days:
        table.add_column(name, justify="right")
        table.add_column("", no_wrap=True)
        columns.append({(h.start.hour, h.start.fold): h for h in day})
    labels = sorted({label for column in columns for label in column})
    for hour, fold in labels:
        cells: list[str | Text] = [f"{hour:02d}:00" + ("*" if fold else "")]
        for column in columns:
            found = column.get((hour, fold))
            if found is None:
                cells += ["", ""]
                continue
            style = LEVEL_STYLE[found.level] if found.level else ""
            flag = ""
            if (
                mark is not None
                and found.start < mark.end
                and found.start + timedelta(hours=1) > mark.start
            ):
                flag = " ◀"
            cells += [Text(money(found.average), style=style), level_text(found.level) + flag]
        table.add_row(*cells)
    return table


def hours_table(found: Sequence[Hour], currency: str, title: str) -> Table:
    """One row per local hour, a section per day."""
    table = Table(title=title, title_justify="left")
    table.add_column("hour", no_wrap=True)
    table.add_column(f"average {currency}/kWh", justify="right")
    table.add_column("level")
    day = None
    for hour in found:
        if day is not None and hour.start.date() != day:
            table.add_section()
        day = hour.start.date()
        style = LEVEL_STYLE[hour.level] if hour.level else ""
        table.add_row(
            hour_label(hour, "%a %Y-%m-%d %H:%M"),
            Text(money(hour.average), style=style),
            level_text(hour.level),
        )
    return table


# -- chart -------------------------------------------------------------------------------------


def _ticks(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[list[float], list[str]]:
    span_hours = (end - start).total_seconds() / 3600
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48, 168, 336, 720) if span_hours / s <= 10), 2160)
    positions: list[float] = []
    labels: list[str] = []
    at = 0.0
    while at <= span_hours + 1e-9:
        local = (start + timedelta(hours=at)).astimezone(tz)
        positions.append(at)
        labels.append(
            f"{local:%a %d}" if local.hour == 0 and local.minute == 0 else f"{local:%H:%M}"
        )
        at += step
    return positions, labels


def chart(
    items: Sequence[PriceInterval],
    *,
    tz: ZoneInfo,
    title: str,
    width: int,
    colour: bool,
    window: Window | None = None,
) -> str:
    """The prices as a step line (x: local time); ``window`` drawn over it in another colour."""
    if not items:
        return ""
    origin = items[0].start

    def steps(
        chosen: Iterable[PriceInterval], lo: datetime | None = None, hi: datetime | None = None
    ) -> tuple[list[float], list[float]]:
        xs: list[float] = []
        ys: list[float] = []
        for item in chosen:
            a = max(item.start, lo) if lo else item.start
            b = min(item.end, hi) if hi else item.end
            if b <= a:
                continue
            xs += [(a - origin).total_seconds() / 3600, (b - origin).total_seconds() / 3600]
            ys += [item.total, item.total]
        return xs, ys

    figure = plotext.figure
    figure.clear()
    figure.theme("simple" if colour else "colorless")
    figure.plot_size(max(40, width), 17)
    line = figure.signal(*steps(items), marker="braille")
    line.lines()
    figure.draw(line)
    if window is not None:
        # Its own glyph, so that it stands out without colour too; callers print WINDOW_MARK
        # as the legend.
        best = figure.signal(*steps(items, window.start, window.end), marker=WINDOW_MARK)
        best.lines()
        figure.draw(best)
    figure.ruler("x").ticks(*_ticks(origin, items[-1].end, tz))
    figure.title(title)
    return str(figure.build().string(colorless=not colour))
