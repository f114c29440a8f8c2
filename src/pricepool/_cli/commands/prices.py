"""``pricepool prices``: a home's prices as a table, chart, JSON or CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pricepool.publication import PUBLISH_AT

from ..options import (
    Endpoint,
    Format,
    HomeOpt,
    Now,
    Quiet,
    RetryBudget,
    StorePath,
    Token,
    Verbose,
    examples,
    format_option,
    merged,
)
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ..session import Session

HELP = "\n\n".join(
    (
        "The prices of a home from --from up to --to, fetched only where the store lacks them.",
        "WHEN is today, tomorrow, yesterday, now (the interval in force), a date (YYYY-MM-DD, "
        "home-local midnight) or an ISO timestamp (2026-11-26T14:00+01:00; without an offset, "
        "in the home's zone). A day given as --to includes that day. Default: today and "
        "tomorrow.",
        '--format json prints {"version": 1, "home": {id, nickname, time_zone, currency}, '
        '"from", "to", "currency", "source_error": null or a message, "missing": [{from, to}], '
        '"unpublished": null or {from, to, expected_at, retry_at, message}, "intervals": '
        "[{start, end, total, energy, tax, level}]}. --format csv prints the header "
        "start,end,total,energy,tax,level,currency. Times carry the home's UTC offset; a price "
        "part the API did not give is null (JSON) or empty (CSV). With --hourly both hold "
        "hourly averages.",
        f"Prices for a day come out at {PUBLISH_AT:%H:%M} home time the day before: "
        "the part of the range "
        "not published yet is left out and named in one line on stderr (exit 0). When the API "
        "fails (unreachable, rate limited), the cached prices are shown and a warning names the "
        "missing part (exit 0; in JSON: missing); with nothing cached, exit 1.",
    )
)


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help=HELP,
        short_help="A home's prices as a table, chart, JSON or CSV; cached ones when offline.",
        epilog=examples(
            "pricepool prices --home Fjellstua --chart",
            "pricepool prices --from 2026-01-01 --to 2026-03-31 -f csv > q1.csv",
        ),
    )(prices)


def prices(
    ctx: typer.Context,
    home: HomeOpt = None,
    start: Annotated[str, typer.Option("--from", metavar="WHEN", help="First instant.")] = "today",
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="WHEN", help="End (a day: its end).", show_default=False),
    ] = None,
    fmt: Annotated[Format, format_option("table", "json", "csv")] = Format.table,
    show_chart: Annotated[
        bool, typer.Option("--chart", metavar="", help="Draw a chart too (tables only).")
    ] = False,
    hourly: Annotated[bool, typer.Option("--hourly", metavar="", help="Hourly averages.")] = False,
    token: Token = None,
    endpoint: Endpoint = None,
    store: StorePath = None,
    retry_budget: RetryBudget = None,
    verbose: Verbose = False,
    now: Now = None,
    quiet: Quiet = False,
) -> None:
    opts = merged(
        ctx,
        token=token,
        endpoint=endpoint,
        store=store,
        retry_budget=retry_budget,
        verbose=verbose,
        now=now,
        quiet=quiet,
    )
    with reported(opts):
        if show_chart and fmt is not Format.table:
            from ..session import UsageProblem

            raise UsageProblem(f"--chart draws beside a table; it cannot go into {fmt.value}")
        asked = Asked(home, start, end, fmt, show_chart, hourly)
        run(opts, lambda session: report(session, asked)).show()


@dataclass(frozen=True, slots=True)
class Asked:
    """What the command line asked of ``prices``."""

    home: str | None
    start: str
    end: str | None
    fmt: Format
    chart: bool = False
    hourly: bool = False


def when(name: str, text: str, **kwargs: Any) -> datetime:
    """``text`` as an instant; a usage error naming the option when it is not one."""
    from ..session import UsageProblem
    from ..when import parse_when

    try:
        return parse_when(text, **kwargs)
    except ValueError as err:
        raise UsageProblem(f"{name}: {err}") from None
    except OverflowError:
        raise UsageProblem(f"{name}: {text} is beyond the last date there is") from None


def _ordered(start: str, end: str | None, lo: datetime, hi: datetime) -> None:
    """Refuse a range that ends before it starts, or is too long to ask for, in the words
    the user typed, before anything is fetched."""
    from pricepool.pool import MAX_RANGE

    from ..session import UsageProblem

    said = f"--to {end}" if end is not None else "the default --to"
    if hi > lo:
        if hi.timestamp() - lo.timestamp() > MAX_RANGE:
            raise UsageProblem(
                f"--from {start} to {said} is longer than 5 years; ask for 5 years at a time"
            )
        return
    how = "ends as" if hi == lo else "ends before"
    raise UsageProblem(f"{said} {how} --from {start} starts: the range is empty")


def _default_end(lo: datetime, now: datetime, tz: ZoneInfo) -> datetime:
    """The end of tomorrow, or of ``lo``'s day when that is later."""
    from ..session import UsageProblem
    from ..when import midnight

    try:
        after = midnight(now.astimezone(tz).date() + timedelta(days=2), tz)
        return after if lo < after else midnight(lo.date() + timedelta(days=1), tz)
    except OverflowError:
        raise UsageProblem(
            f"--from {lo:%Y-%m-%d} is beyond the last date there is; give --to"
        ) from None


async def report(session: Session, asked: Asked) -> Report:
    from pricepool.documents import currency_of, prices_json, shortfall
    from pricepool.numbers import average, money

    from ..output import (
        REPEATED_HOUR,
        chart,
        days_table,
        hourly_intervals,
        hours,
        hours_table,
        natural_width,
        prices_table,
        range_text,
    )
    from ..publication import gaps_text
    from ..schemas import prices_csv
    from ..session import describe
    from ..when import an_hour_before

    pool = await session.pool(asked.home)
    info = await session.home_of(pool)
    tz, now = info.tz, session.now()
    lo = when("--from", asked.start, now=now, tz=tz, warn=session.warn)
    if asked.end is not None:
        hi = when("--to", asked.end, now=now, tz=tz, end=True, warn=session.warn)
    else:
        hi = _default_end(lo, now, tz)
    _ordered(asked.start, asked.end, lo, hi)
    in_force = asked.start.strip().lower() == "now"
    # ``now`` means the interval in force: it started before now, up to an hour before.
    answer, problem = await session.intervals(pool, an_hour_before(lo) if in_force else lo, hi)
    items = answer.intervals
    if in_force:
        # By instant: on the autumn night the two 02:00 hours compare equal by wall clock.
        at = lo.timestamp()
        current = next((i for i in items if i.start.timestamp() <= at < i.end.timestamp()), None)
        lo = current.start.astimezone(tz) if current is not None else lo
        items = [i for i in items if i.end.timestamp() > lo.timestamp()]
    info = pool.home or info
    lacking, later = shortfall(answer, lo, hi, now, pool.publication)
    note = describe(problem, session.endpoint) if problem else None
    if problem is not None:
        if not items:
            raise problem
        session.degraded(problem, "cached prices", gaps_text(lacking, tz) if lacking else None)
    if later is not None:
        shown = f"; showing up to {later.label(now)}" if items else ""
        session.note(later.message + shown)
    currency = currency_of(info, items)
    shown_report = Report()
    if asked.fmt is Format.json or asked.fmt is Format.csv:
        rows = hourly_intervals(items, tz) if asked.hourly else items
        if asked.fmt is Format.json:
            unpub = later.as_dict() if later else None
            shown_report.text(
                prices_json(info, lo, hi, rows, note, unpub, lacking, hourly=asked.hourly)
            )
        else:
            shown_report.text(prices_csv(rows, tz, currency))
        return shown_report
    from ..runner import out

    console = out()
    name = info.nickname or info.id
    if not items:
        shown_report.add(f"{name}: no prices known for {range_text(lo, hi)}")
        return shown_report
    # The range shown is the one the prices cover, which may end before --to.
    shown_range = range_text(items[0].start.astimezone(tz), items[-1].end.astimezone(tz))
    rows_shown = 0
    if asked.hourly:
        found = hours(items, tz)
        by_day: dict[str, list[Any]] = {}
        for hour in found:
            by_day.setdefault(f"{hour.start:%a %d %b}", []).append(hour)
        # The days shown head the columns: the title need not name them.
        title = f"{name} · hourly averages · {currency}/kWh"
        side_by_side = days_table(list(by_day.items()), currency, title=title)
        # Days side by side while they fit; else one row per hour.
        if len(by_day) <= 3 and natural_width(side_by_side, console) <= console.width:
            shown_report.add(side_by_side)
        else:
            title = f"{name} · {shown_range} · {currency}/kWh"
            table = hours_table(found, currency, title)
            rows_shown = len(table)
            shown_report.write(table)
        if any(h.start.fold for h in found):
            shown_report.add(f"* {REPEATED_HOUR}")
    else:
        table = prices_table(items, tz, currency, f"{name} · {shown_range}")
        rows_shown = len(table)
        shown_report.write(table)
        if any(i.start.astimezone(tz).fold for i in items):
            shown_report.add(f"* {REPEATED_HOUR}")
    mean = average(items)
    if mean is not None:
        shown_report.add(f"average {money(mean)} {currency}/kWh over {len(items)} intervals")
    if rows_shown > console.height:
        session.note(
            f"{rows_shown} rows; for a file or a program, --format csv or --format json "
            "prints them faster and whole"
        )
    if asked.chart:
        from rich.text import Text

        colour = console.is_terminal and console.color_system is not None
        drawn = chart(items, tz=tz, title=f"{currency}/kWh", width=console.width - 1, colour=colour)
        shown_report.add(Text.from_ansi(drawn))
    return shown_report
