"""``pricepool cheapest``: the cheapest window of a duration, or the N cheapest intervals."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pricepool.publication import PUBLISH_AT

from ..options import (
    Endpoint,
    HomeOpt,
    Now,
    Quiet,
    RetryBudget,
    Shape,
    StorePath,
    Token,
    Verbose,
    at_least_one,
    examples,
    format_option,
    merged,
)
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help="The cheapest contiguous window of --duration (its time-weighted average, over "
        "intervals of any length, never across a gap), or with --slots the N cheapest separate "
        "intervals. Prices not published yet (a day's come at "
        f"{PUBLISH_AT:%H:%M} home time the day before) "
        "are named on stderr; when nothing fits because of them, exit 1.\n\n"
        "--format json prints {version, home, currency, from, to, source_error, missing, "
        "unpublished, duration_minutes, window: {start, end, average}} or {..., slots: "
        "[{start, end, total, energy, tax, level}], average}; source_error, missing and "
        "unpublished are as in prices. When nothing can be chosen it prints the same with "
        "window null (or slots [] and average null) and an error message.",
        short_help="The cheapest window of a duration, or the N cheapest intervals.",
        epilog=examples(
            "pricepool cheapest --duration 3h",
            "pricepool cheapest -d 90m --within tomorrow",
            "pricepool cheapest --slots 4 -w today..tomorrow -f json",
        ),
    )(cheapest)


def cheapest(
    ctx: typer.Context,
    duration: Annotated[
        str,
        typer.Option(
            "--duration", "-d", metavar="LENGTH", help="Window length: 3h, 90m, 1h30m, 2.5h."
        ),
    ] = "3h",
    within: Annotated[
        str,
        typer.Option(
            "--within",
            "-w",
            metavar="RANGE",
            help="today, tomorrow, next24h, upcoming (now to the end of tomorrow), a date, "
            "or FROM..TO with WHENs as in prices.",
        ),
    ] = "upcoming",
    slots: Annotated[
        int | None,
        typer.Option(
            "--slots",
            "-n",
            metavar="N",
            callback=at_least_one,
            help="Instead: the N cheapest separate intervals.",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    fmt: Annotated[Shape, format_option("table", "json")] = Shape.table,
    token: Token = None,
    endpoint: Endpoint = None,
    store: StorePath = None,
    retry_budget: RetryBudget = None,
    verbose: Verbose = False,
    now: Now = None,
    quiet: Quiet = False,
) -> None:
    """The cheapest contiguous window, or with --slots the N cheapest separate intervals."""
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
        from ..session import UsageProblem
        from ..when import parse_duration

        given = ctx.get_parameter_source("duration")
        if slots is not None and given is not None and given.name == "COMMANDLINE":
            raise UsageProblem(
                "--duration and --slots: give one (--duration: one window of that length; "
                "--slots: the N cheapest separate intervals)"
            )
        try:
            length = parse_duration(duration)
        except ValueError as err:
            raise UsageProblem(f"--duration: {err}") from None
        asked = (duration, length, within, slots, home, fmt)
        run(opts, lambda session: report(session, *asked)).show()


async def report(
    session: Session,
    duration: str,
    length: timedelta,
    within: str,
    slots: int | None,
    wanted: str | None,
    fmt: Shape,
) -> Report:
    from rich.text import Text

    from pricepool.documents import (
        cheapest_base,
        currency_of,
        dumps,
        interval_dict,
        shortfall,
        window_dict,
    )
    from pricepool.numbers import average, money, over, rounded
    from pricepool.pool import MAX_RANGE

    from ..cheapest import cheapest_slots, cheapest_window
    from ..output import REPEATED_HOUR, level_text, local_label, range_text
    from ..publication import gaps_text
    from ..session import NotKnown, UsageProblem, describe
    from ..when import an_hour_before, parse_within

    pool = await session.pool(wanted)
    info = await session.home_of(pool)
    tz, now = info.tz, session.now()
    try:
        lo, hi = parse_within(within, now=now, tz=tz, warn=session.warn)
    except (ValueError, OverflowError) as err:
        raise UsageProblem(f"--within: {err}") from None
    if hi.timestamp() - lo.timestamp() > MAX_RANGE:
        raise UsageProblem(f"--within {within} is longer than 5 years")
    if slots is None and length.total_seconds() > hi.timestamp() - lo.timestamp():
        raise UsageProblem(
            f"--duration {duration} is longer than --within {within} ({range_text(lo, hi)})"
        )
    # From an hour earlier: the interval under way at ``lo`` started before it.
    answer, problem = await session.intervals(pool, an_hour_before(lo), hi)
    items = answer.intervals
    info = pool.home or info
    lacking, later = shortfall(answer, lo, hi, now, pool.publication)
    if problem is not None:
        if not items:
            raise problem
        session.degraded(problem, "cached prices", gaps_text(lacking, tz) if lacking else None)
    a, b = lo.timestamp(), hi.timestamp()
    known = sum(1 for i in items if i.end.timestamp() > a and i.start.timestamp() < b)
    currency = currency_of(info, items)
    base = cheapest_base(
        info,
        currency,
        lo,
        hi,
        describe(problem, session.endpoint) if problem else None,
        lacking,
        later.as_dict() if later else None,
    )
    shown = Report()

    def nothing(err: Exception, empty: dict[str, Any]) -> Report:
        """The report of ``err``: the JSON saying the same first, when JSON was asked for."""
        if fmt is Shape.json:
            shown.text(dumps({**base, **empty, "error": str(err)}))
        shown.error = err
        return shown

    def why_not(what: str, fallback: Exception) -> Exception:
        """Why ``what`` cannot be chosen: prices not out yet, the API failing, or ``fallback``."""
        if later is not None:
            held = f"; prices known up to {later.label(now)}" if known else ""
            return NotKnown(f"no {what} yet: {later.message}{held}")
        if problem is not None and lacking:
            # The API failed for part of the range: that, not the user's asking, is why.
            return problem
        return fallback

    if slots is not None:
        picked = cheapest_slots(items, slots, lo=lo, hi=hi)
        if not picked:
            none: dict[str, Any] = {"slots": [], "average": None}
            fallback = UsageProblem(f"no prices known in {range_text(lo, hi)}")
            return nothing(why_not("intervals to choose from", fallback), none)
        if later is not None:
            session.note(f"{later.message}; chose from prices up to {later.label(now)}")
        mean = average(picked)
        if fmt is Shape.json:
            rows = [interval_dict(i, tz) for i in picked]
            shown.text(dumps({**base, "slots": rows, "average": rounded(mean)}))
            return shown
        mixed = len({i.length for i in picked}) > 1
        shown.add(
            f"The {len(picked)} cheapest intervals in {range_text(lo, hi)} "
            f"average {money(mean)} {currency}/kWh"
            + (" (weighted by time: they differ in length)" if mixed else "")
            + ":"
        )
        for item in picked:
            start_local = item.start.astimezone(tz)
            shown.add(
                Text.assemble(
                    f"  {local_label(start_local, '%a %Y-%m-%d %H:%M')}–"
                    f"{local_label(item.end.astimezone(tz), '%H:%M')}  ",
                    f"{money(item.total)}  ",
                    level_text(item.level),
                )
            )
        if any(i.start.astimezone(tz).fold or i.end.astimezone(tz).fold for i in picked):
            shown.add(f"* {REPEATED_HOUR}")
        return shown
    minutes = length // timedelta(minutes=1)
    window = cheapest_window(items, length, lo=lo, hi=hi)
    if window is None:
        empty: dict[str, Any] = {"duration_minutes": minutes, "window": None}
        fallback = UsageProblem(
            f"no gap-free {duration} of known prices in {range_text(lo, hi)} "
            f"({known} intervals known)"
        )
        return nothing(why_not(f"{duration} window", fallback), empty)
    if later is not None:
        session.note(f"{later.message}; searched up to {later.label(now)}")
    start, end = window.start.astimezone(tz), window.end.astimezone(tz)
    if end.timestamp() <= now.timestamp():
        session.note("that window has passed; --within upcoming searches from now on")
    # The search's float average, taken again exactly as every other average is.
    mean = over(items, start, end)
    assert mean is not None
    if fmt is Shape.json:
        found = window_dict(start, end, mean)
        shown.text(dumps({**base, "duration_minutes": minutes, "window": found}))
        return shown
    shown.add(
        Text.assemble(
            (f"Cheapest {duration}: ", "bold"),
            f"{_stretch(start, end)}, average ",
            (f"{money(mean)} {currency}/kWh", "bold green"),
        )
    )
    return shown


def _stretch(start: Any, end: Any) -> str:
    """``Fri 2026-12-04 14:00 – 17:00``; the end's day too when it is another one, and
    both UTC offsets when the clocks change in between (else 3 h would read as 2 h)."""
    from ..output import local_label

    shift = start.utcoffset() != end.utcoffset()
    first = local_label(start, "%a %Y-%m-%d %H:%M") + (_utc(start) if shift else "")
    last = local_label(end, "%H:%M" if end.date() == start.date() else "%a %Y-%m-%d %H:%M")
    return f"{first} – {last}{_utc(end) if shift else ''}"


def _utc(instant: Any) -> str:
    """`` (UTC+02:00)``: the offset in force at ``instant``."""
    minutes = int(instant.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f" (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"
