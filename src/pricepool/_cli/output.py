"""How prices look: tables (a fast plain grid for many rows), charts, hours and days.

The JSON and CSV shapes live in :mod:`.schemas`; averages and rounding in :mod:`.numbers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from pricepool.model import HomeInfo, PriceInterval, PriceLevel, Span
from pricepool.numbers import average, money, weighted

from .schemas import iso  # publication.py reads it from here

if TYPE_CHECKING:
    from .cheapest import Window

__all__ = [
    "REPEATED_HOUR",
    "WINDOW_MARK",
    "Grid",
    "Hour",
    "chart",
    "days_table",
    "homes_table",
    "hours",
    "hours_table",
    "iso",
    "natural_width",
    "prices_table",
    "range_text",
]

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


def days_text(seconds: float) -> str:
    """``330 days``, or ``26.96 days`` when not whole."""
    days = seconds / 86400
    whole = round(days)
    if abs(days - whole) < 0.005:
        return "1 day" if whole == 1 else f"{whole} days"
    return f"{days:.2f} days"


def wall_days(start: datetime, end: datetime, tz: ZoneInfo) -> float:
    """Days from ``start`` to ``end`` on the home's clock: a span of whole local days
    counts whole also across a DST change (96 days, not 96.04)."""
    lo = start.astimezone(tz).replace(tzinfo=None)
    hi = end.astimezone(tz).replace(tzinfo=None)
    return (hi - lo).total_seconds() / 86400


def covered_days(spans: Iterable[Span], tz: ZoneInfo) -> float:
    return sum(wall_days(s.start, s.end, tz) for s in spans)


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


def natural_width(table: Table, console: Console) -> int:
    """The width ``table`` takes when nothing is squeezed."""
    return console.measure(table, options=console.options.update(max_width=10_000)).maximum


def span_text(span: Span, tz: ZoneInfo) -> str:
    return f"{span.start.astimezone(tz):%Y-%m-%d %H:%M} – {span.end.astimezone(tz):%Y-%m-%d %H:%M}"


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


# -- prices ------------------------------------------------------------------------------------


def homes_list(homes: Sequence[HomeInfo], title: str = "Homes") -> Text:
    """The homes as blocks of two lines, for a console too narrow for the table."""
    text = Text(title + "\n", style="italic")
    for home in homes:
        text.append(home.id + "\n", style="bold")
        parts = [home.nickname or "", home.time_zone, home.currency or ""]
        text.append("  " + " · ".join(p for p in parts if p) + "\n")
    text.rstrip()
    return text


class Grid:
    """A table written as plain lines in rich's look (heavy head, a rule between days).

    A year of quarter-hours is 35,040 rows: rich's Table measures every cell and takes
    about 15 s; this formats each row once with known widths. Columns marked ``optional``
    are left out when the table would not fit the console, so that prices are never cut.
    """

    def __init__(self, title: str, columns: Sequence[tuple[str, bool, bool]]) -> None:
        """``columns``: ``(name, right-aligned, optional)``."""
        self.title = title
        self.columns = list(columns)
        self.rows: list[tuple[list[str], list[str]] | None] = []  # None: a rule

    def add_row(self, cells: Sequence[str], styles: Sequence[str] = ()) -> None:
        self.rows.append((list(cells), list(styles) or [""] * len(cells)))

    def add_section(self) -> None:
        if self.rows and self.rows[-1] is not None:
            self.rows.append(None)

    def __len__(self) -> int:
        return sum(1 for row in self.rows if row is not None)

    def _widths(self) -> list[int]:
        cells = [row[0] for row in self.rows if row is not None]
        columns = zip(*cells, strict=True) if cells else iter(())
        found = [max(map(len, column)) for column in columns] or [0] * len(self.columns)
        return [max(len(c[0]), w) for c, w in zip(self.columns, found, strict=True)]

    def lines(self, width: int | None = None, colour: Any = None) -> list[str]:
        """The table's lines; ``colour`` maps a style to its ANSI (prefix, suffix)."""
        widths = self._widths()
        shown = list(range(len(self.columns)))

        def total() -> int:
            return sum(widths[i] + 3 for i in shown) + 1

        if width is not None:
            for i in reversed(range(len(self.columns))):
                if total() <= width:
                    break
                if self.columns[i][2]:
                    shown.remove(i)

        def rule(left: str, mid: str, right: str, fill: str) -> str:
            return left + mid.join(fill * (widths[i] + 2) for i in shown) + right

        def cell(i: int, text: str, style: str = "") -> str:
            padded = text.rjust(widths[i]) if self.columns[i][1] else text.ljust(widths[i])
            if style and colour is not None:
                before, after = colour(style)
                padded = before + padded + after
            return padded

        head = "┃ " + " ┃ ".join(cell(i, self.columns[i][0], "bold") for i in shown) + " ┃"
        out = [self.title] if self.title else []
        out += [rule("┏", "┳", "┓", "━"), head, rule("┡", "╇", "┩", "━")]
        between = rule("├", "┼", "┤", "─")
        # Without colour one format string pads a whole row: a year's table in ~0.1 s.
        plain = (
            "│ "
            + " │ ".join(f"{{{i}:{'>' if self.columns[i][1] else '<'}{widths[i]}}}" for i in shown)
            + " │"
        )
        for row in self.rows:
            if row is None:
                out.append(between)
            elif colour is None:
                out.append(plain.format(*row[0]))
            else:
                cells, styles = row
                out.append("│ " + " │ ".join(cell(i, cells[i], styles[i]) for i in shown) + " │")
        out.append(rule("└", "┴", "┘", "─"))
        return out

    def __call__(self, console: Console) -> None:
        """Write the table to ``console``'s file, in colour on a colour terminal."""
        colour = _ansi(console) if console.is_terminal else None
        console.file.write("\n".join(self.lines(console.width, colour)) + "\n")


def _ansi(console: Console) -> Any:
    from rich.color import ColorSystem

    systems = {
        "standard": ColorSystem.STANDARD,
        "256": ColorSystem.EIGHT_BIT,
        "truecolor": ColorSystem.TRUECOLOR,
        "windows": ColorSystem.WINDOWS,
    }
    system = systems.get(console.color_system or "")
    if system is None:
        return None
    cache: dict[str, tuple[str, str]] = {}

    def colour(style: str) -> tuple[str, str]:
        found = cache.get(style)
        if found is None:
            before, _, after = Style.parse(style).render("\0", color_system=system).partition("\0")
            found = cache[style] = (before, after)
        return found

    return colour


_LEVEL_NAMES = {level: level.value.lower().replace("_", " ") for level in PriceLevel}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _level_name(level: PriceLevel | None) -> str:
    return _LEVEL_NAMES[level] if level is not None else ""


def local_label(instant: datetime, fmt: str) -> str:
    """``instant`` as ``fmt``; ``*`` marks the repeated hour of the night clocks go back."""
    return f"{instant:{fmt}}" + ("*" if instant.fold else "")


def _clock(t: datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}" + ("*" if t.fold else "")


def _row_start(t: datetime) -> str:
    # ``local_label(t, "%a %Y-%m-%d %H:%M")`` without strftime: 35,040 rows for a year.
    day = _WEEKDAYS[t.weekday()]
    mark = "*" if t.fold else ""
    return f"{day} {t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}{mark}"


def prices_table(items: Sequence[PriceInterval], tz: ZoneInfo, currency: str, title: str) -> Grid:
    """One row per interval, a rule between local days; the currency in the title."""
    grid = Grid(
        f"{title} · {currency}/kWh",
        [
            ("start", False, False),
            ("end", False, False),
            ("total", True, False),
            ("energy", True, True),
            ("tax", True, True),
            ("level", False, False),
        ],
    )
    day = None
    for item in items:
        start = item.start.astimezone(tz)
        if day is not None and start.date() != day:
            grid.add_section()
        day = start.date()
        style = LEVEL_STYLE[item.level] if item.level else ""
        grid.add_row(
            [
                _row_start(start),
                _clock(item.end.astimezone(tz)),
                money(item.total),
                money(item.energy),
                money(item.tax),
                _level_name(item.level),
            ],
            ["", "", style, "", "", style],
        )
    return grid


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


def _buckets(
    items: Sequence[PriceInterval], tz: ZoneInfo
) -> list[tuple[datetime, list[PriceInterval]]]:
    """``items`` per local clock hour, by the hour's UTC start (a DST night's two 02:00
    hours stay apart)."""
    buckets: dict[datetime, list[PriceInterval]] = {}
    for item in items:
        local = item.start.astimezone(tz)
        # Floor in UTC by the local minutes: zones with half-hour offsets floor correctly.
        floor = item.start.astimezone(UTC) - timedelta(minutes=local.minute)
        buckets.setdefault(floor, []).append(item)
    return sorted(buckets.items())


def hours(items: Sequence[PriceInterval], tz: ZoneInfo) -> list[Hour]:
    """``items`` averaged per local clock hour (a DST night's two 02:00 hours stay apart)."""
    found = []
    for floor, members in _buckets(items, tz):
        mean = average(members)
        if mean is not None:
            found.append(Hour(floor.astimezone(tz), mean, _hour_level(members, mean)))
    return found


def hourly_intervals(items: Sequence[PriceInterval], tz: ZoneInfo) -> list[PriceInterval]:
    """``items`` averaged per local clock hour as intervals (for JSON and CSV): total,
    energy and tax averaged alike, the level as :func:`hours` gives it."""
    found = []
    for floor, members in _buckets(items, tz):
        mean = average(members)
        if mean is None:
            continue
        found.append(
            PriceInterval(
                floor.astimezone(tz),
                members[-1].end.astimezone(tz),
                mean,
                weighted([(m.energy, m.length) for m in members]),
                weighted([(m.tax, m.length) for m in members]),
                _hour_level(members, mean),
                members[0].currency,
            )
        )
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


def hours_table(found: Sequence[Hour], currency: str, title: str) -> Grid:
    """One row per local hour, a rule between days."""
    grid = Grid(
        title,
        [("hour", False, False), (f"average {currency}/kWh", True, False), ("level", False, False)],
    )
    day = None
    for hour in found:
        if day is not None and hour.start.date() != day:
            grid.add_section()
        day = hour.start.date()
        style = LEVEL_STYLE[hour.level] if hour.level else ""
        grid.add_row(
            [hour_label(hour, "%a %Y-%m-%d %H:%M"), money(hour.average), _level_name(hour.level)],
            ["", style, style],
        )
    return grid


# -- chart -------------------------------------------------------------------------------------


def _ticks(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[list[float], list[str]]:
    """Up to about 10 ticks: hours within days, days as ``Thu 26``, weeks as ``07 Dec``,
    months as ``Dec 2026`` (the month is named once ticks are a week apart or more)."""
    span_hours = (end - start).total_seconds() / 3600
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48) if span_hours / s <= 10), None)
    positions: list[float] = []
    labels: list[str] = []

    def hours_at(instant: datetime) -> float:
        return (instant - start).total_seconds() / 3600

    if step is not None:
        at = 0.0
        while at <= span_hours + 1e-9:
            local = (start + timedelta(hours=at)).astimezone(tz)
            positions.append(at)
            labels.append(
                f"{local:%a %d}" if local.hour == 0 and local.minute == 0 else f"{local:%H:%M}"
            )
            at += step
        return positions, labels
    first = start.astimezone(tz).date()
    days = next((d for d in (7, 14) if span_hours / 24 / d <= 10), None)
    if days is not None:
        day = first if _midnight(first, tz) >= start else first + timedelta(days=1)
        while (at_day := _midnight(day, tz)) <= end:
            positions.append(hours_at(at_day))
            labels.append(f"{day:%d %b}")
            day += timedelta(days=days)
        return positions, labels
    months = next((m for m in (1, 2, 3, 6, 12) if span_hours / 24 / 30.4 / m <= 10), 24)
    year, month = first.year, first.month
    while True:
        day = first.replace(year=year, month=month, day=1)
        at_day = _midnight(day, tz)
        if at_day > end:
            break
        if at_day >= start:
            positions.append(hours_at(at_day))
            labels.append(f"{day:%b %Y}")
        year, month = divmod(year * 12 + month - 1 + months, 12)
        month += 1
    return positions, labels


def _midnight(day: Any, tz: ZoneInfo) -> datetime:
    from .when import midnight

    return midnight(day, tz)


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

    import plotext  # ~0.15 s to import: only when a chart is drawn

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
