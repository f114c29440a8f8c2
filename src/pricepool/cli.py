"""The ``pricepool`` command: the demo, homes, prices, cheapest windows and the cache.

Each command takes the options it uses of ``--token``, ``--endpoint``, ``--store``,
``-v/--verbose``, ``-q/--quiet`` and ``--retry-budget``; all of them may also go before the
command's name. Exit codes: 0 done (also when the API failed but cached prices were shown,
with a warning), 1 an error of the API or the store, or nothing to choose from because
prices are not published yet, 2 a usage error (bad option, unknown home, no token, no store).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from pricepool import (
    InvalidRangeError,
    ManualClock,
    PricePoolError,
    RateLimitedError,
    SourceUnavailableError,
    __version__,
)
from pricepool.simulator import serve
from pricepool.sources.tibber import ENDPOINT

from ._cli import cache as cache_ops
from ._cli.cheapest import average, cheapest_slots, cheapest_window
from ._cli.config import ConfigError, check_endpoint, load_config
from ._cli.demo import run_demo
from ._cli.output import (
    REPEATED_HOUR,
    Hour,
    chart,
    currency_of,
    days_table,
    home_dict,
    homes_table,
    hours,
    hours_table,
    interval_dict,
    iso,
    level_text,
    money,
    natural_width,
    prices_csv,
    prices_json,
    prices_table,
    range_text,
    rounded,
    span_dict,
)
from ._cli.publication import gaps_text, missing, unpublished
from ._cli.session import (
    MissingTokenError,
    NotKnown,
    Options,
    Session,
    UsageProblem,
    describe,
)
from ._cli.usage import Command, Group, Root
from ._cli.when import an_hour_before, midnight, parse_duration, parse_when, parse_within

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="pricepool",
    cls=Root,
    help=(
        "Electricity spot prices for your homes, cached so that Tibber's API is asked only "
        "for what pricepool has never been told. Try [bold]pricepool demo[/bold]: it needs "
        "no token and no network.\n\nThe options below may also go after a command's name; "
        "each command lists those it uses."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(
    cls=Group,
    help="What the store holds: stats, coverage, retention, export and import.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Shape(StrEnum):
    table = "table"
    json = "json"


class DumpFormat(StrEnum):
    json = "json"
    csv = "csv"


# -- options the commands take ----------------------------------------------------------------


def _now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO timestamp") from None
    if instant.tzinfo is None:
        raise typer.BadParameter("needs an offset, e.g. 2026-11-26T14:00+01:00")
    return instant


def _url(value: str | None) -> str | None:
    if value is not None:
        try:
            check_endpoint(value)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from None
    return value


_MAX_RETRY_BUDGET = 3600.0


def _seconds(value: float | None) -> float | None:
    # Also refuses nan and inf (``inf`` would retry for ever).
    if value is not None and not 0 <= value <= _MAX_RETRY_BUDGET:
        raise typer.BadParameter(f"must be 0 to {_MAX_RETRY_BUDGET:g} seconds")
    return value


def _at_least_one(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise typer.BadParameter("must be at least 1")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise typer.BadParameter("must be 0 to 65535")
    return value


# Each option: its type, declarations and help. ``metavar=""`` keeps a flag's type column
# blank (typer 0.29 would print ``<bool>``); number checks are callbacks, not ``min=``, so
# that help shows no ``[x>=0]`` either.
_COMMON: dict[str, tuple[Any, tuple[str, ...], dict[str, Any]]] = {
    "token": (
        str | None,
        ("--token",),
        {"metavar": "TOKEN", "help": "Tibber API token (else $TIBBER_TOKEN or config.toml)."},
    ),
    "endpoint": (
        str | None,
        ("--endpoint",),
        {"metavar": "URL", "callback": _url, "help": "GraphQL URL (default: Tibber's)."},
    ),
    "store": (
        str | None,
        ("--store",),
        {
            "metavar": "PATH",
            "help": "SQLite file, or a folder (existing, or ending in /) of JSON files. "
            "Default: pricepool.sqlite in the user's data folder.",
        },
    ),
    "verbose": (
        bool,
        ("--verbose", "-v"),
        {"metavar": "", "help": "Log what happens; tracebacks on errors."},
    ),
    "quiet": (
        bool,
        ("--quiet", "-q"),
        {"metavar": "", "help": "No progress bar and no remarks."},
    ),
    "retry_budget": (
        float | None,
        ("--retry-budget",),
        {
            "metavar": "SECONDS",
            "callback": _seconds,
            "help": "How long to retry a failing API call, 0 to 3600 (default 10).",
        },
    ),
    "now": (
        str | None,
        ("--now",),
        {"hidden": True, "help": "Pretend it is this instant (for tests)."},
    ),
}
_DEFAULTS: dict[str, Any] = {"verbose": False, "quiet": False}

# What each kind of command uses; the root takes them all, for use before a command's name.
API = ("token", "endpoint", "store", "retry_budget", "verbose", "now")
PRICES = (*API, "quiet")
STORE = ("store", "verbose", "now")


def _annotation(name: str, help_text: str | None = None) -> Any:
    kind, decls, settings = _COMMON[name]
    settings = {**settings, "show_default": False}
    if help_text is not None:
        settings["help"] = help_text
    return Annotated[kind, typer.Option(*decls, **settings)]


def _merge(ctx: typer.Context, given: dict[str, Any]) -> Options:
    root = ctx.find_root()
    if not isinstance(root.obj, Options):
        root.obj = Options()
    opts: Options = root.obj
    for name, value in given.items():
        if value is None or value is False:
            continue
        setattr(opts, name, _now(value) if name == "now" else value)
    return opts


def common(*names: str, **helps: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options ``names`` (merged with the ones before its name) and
    turn pricepool's errors into one line and an exit code; ``helps`` rewords an option's help.

    The command may take ``opts: Options``; typer never sees that parameter.
    """

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(func, eval_str=True)
        wants = "opts" in signature.parameters
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in signature.parameters.values()
            if p.name != "opts"
        ]
        extra = [
            inspect.Parameter("ctx__", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            *(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=_annotation(name, helps.get(name)),
                    default=_DEFAULTS.get(name),
                )
                for name in names
            ),
        ]

        @functools.wraps(func)
        def run(**kwargs: Any) -> None:
            ctx: typer.Context = kwargs.pop("ctx__")
            opts = _merge(ctx, {name: kwargs.pop(name) for name in names})
            if wants:
                kwargs["opts"] = opts
            with _reported(opts):
                func(**kwargs)

        # typer reads the signature: the command's own parameters, then the common ones.
        run.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        return run

    return decorate


def _errors() -> Console:
    return Console(stderr=True, highlight=False)


def _out() -> Console:
    return Console(highlight=False)


@contextlib.contextmanager
def _reported(opts: Options) -> Any:
    """Log to stderr with -v; one line and an exit code for every expected failure."""
    logger = logging.getLogger("pricepool")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # Without -v the library stays silent: the command says what matters in one line.
    handler.setLevel(logging.DEBUG if opts.verbose else logging.CRITICAL + 1)
    level = logger.level
    if opts.verbose:
        logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    except (UsageProblem, ConfigError, MissingTokenError, InvalidRangeError) as err:
        _fail(opts, err, 2)
    except (PricePoolError, NotKnown) as err:
        _fail(opts, err, 1)
    except OSError as err:
        _fail(opts, err, 1)
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # exit codes and usage errors: typer's, worded by the root command
    except Exception as err:  # noqa: BLE001 - the last resort, on purpose
        # A bug, not the user's doing: one line, the traceback only with -v.
        if opts.verbose:
            traceback.print_exception(err, file=sys.stderr)
        line = f"error: internal error ({type(err).__name__}: {err}); run with -v for details"
        _errors().print(Text(" ".join(line.split()), style="red"), soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _fail(opts: Options, err: BaseException, code: int) -> None:
    if opts.verbose:
        traceback.print_exception(err, file=sys.stderr)
    endpoint = opts.endpoint or ENDPOINT
    with contextlib.suppress(ConfigError):
        endpoint = opts.endpoint or load_config().endpoint or ENDPOINT
    message = describe(err, endpoint) if isinstance(err, PricePoolError) else str(err)
    _errors().print(Text(f"error: {message}", style="red"), soft_wrap=True)
    raise typer.Exit(code)


def _run(opts: Options, work: Callable[[Session], Awaitable[T]]) -> T:
    """Run ``work`` in a fresh session and event loop; the session is closed after."""
    config = load_config()

    async def go() -> T:
        session = Session(opts, config, _errors())
        try:
            return await work(session)
        finally:
            await session.close()

    return asyncio.run(go())


def _when(name: str, text: str, **kwargs: Any) -> datetime:
    try:
        return parse_when(text, **kwargs)
    except ValueError as err:
        raise UsageProblem(f"{name}: {err}") from None


def _ordered(start: str, end: str | None, lo: datetime, hi: datetime) -> None:
    """Refuse a range that ends before it starts, in the words the user typed."""
    if hi > lo:
        return
    said = f"--to {end}" if end is not None else "the default --to"
    how = "ends as" if hi == lo else "ends before"
    raise UsageProblem(f"{said} {how} --from {start} starts: the range is empty")


HomeOpt = Annotated[
    str | None,
    typer.Option(
        "--home",
        metavar="HOME",
        help="Home id, nickname or a unique start of the id. Default: the only home "
        "(or home in config.toml).",
        show_default=False,
    ),
]


def _format(*names: str) -> Any:
    return typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help=" or ".join((", ".join(names[:-1]), names[-1])) + ".",
    )


# -- the root -------------------------------------------------------------------------------


def _examples(*lines: str, intro: str = "") -> str:
    """An epilog: each example on its own line, in bold."""
    head = intro or ("Example:" if len(lines) == 1 else "Examples:")
    return "\n".join([head, *(f"  [bold]{line}[/bold]" for line in lines)])


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pricepool {__version__}")
        raise typer.Exit()


@app.callback(
    epilog=_examples(
        "pricepool demo",
        "pricepool prices --home Fjellstua --chart",
        "pricepool --endpoint http://127.0.0.1:8080/v1-beta/gql homes",
    )
)
@common(*PRICES)
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar="", help="Show the version."
        ),
    ] = False,
) -> None:
    """Electricity spot prices for your homes, cached.

    Options given before a command's name apply to it (and are ignored by commands that do
    not use them).
    """


# -- demo -----------------------------------------------------------------------------------


@app.command(
    cls=Command,
    help="Run everything on loopback: a simulated Tibber API, a pool with a SQLite store in a "
    "temporary folder, today's and tomorrow's prices, the cheapest 3 hours, and what the cache "
    "saved across a restart. Needs no token and no network.",
    short_help="Run everything on loopback, with no token and no network.",
    epilog=_examples("pricepool demo"),
)
@common("verbose", "now")
def demo(opts: Options) -> None:
    """Run everything on loopback, with no token and no network."""
    out = _out()
    colour = out.is_terminal and out.color_system is not None
    asyncio.run(run_demo(out, now=opts.now, colour=colour))


# -- homes ----------------------------------------------------------------------------------


@app.command(cls=Command, epilog=_examples("pricepool homes --format json"))
@common(*API)
def homes(
    opts: Options,
    fmt: Annotated[Shape, _format("table", "json")] = Shape.table,
) -> None:
    """The account's homes: id, nickname, time zone and currency."""

    async def work(session: Session) -> None:
        try:
            found = await session.source.homes()
        except (SourceUnavailableError, RateLimitedError) as err:
            found = await session.stored_homes()
            if not found:
                raise
            session.degraded(err, "the homes in the store")
        if fmt is Shape.json:
            typer.echo(_dumps([home_dict(h) for h in found]))
        else:
            _out().print(homes_table(found))

    _run(opts, work)


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# -- prices ---------------------------------------------------------------------------------


PRICES_HELP = "\n\n".join(
    (
        "The prices of a home from --from up to --to, fetched only where the store lacks them.",
        "WHEN is today, tomorrow, yesterday, now, a date (YYYY-MM-DD, home-local midnight) or "
        "an ISO timestamp (2026-11-26T14:00+01:00; without an offset, in the home's zone). A day "
        "given as --to includes that day. Default: today and tomorrow.",
        '--format json prints {"version": 1, "home": {id, nickname, time_zone, currency}, '
        '"from", "to", "currency", "source_error": null or a message, "missing": [{from, to}], '
        '"unpublished": null or {from, to, expected_at, retry_at, message}, "intervals": '
        "[{start, end, total, energy, tax, level}]}. --format csv prints the header "
        "start,end,total,energy,tax,level,currency. Times carry the home's UTC offset; a price "
        "part the API did not give is null (JSON) or empty (CSV).",
        "Prices for a day come out at 13:00 home time the day before: the part of the range "
        "not published yet is left out and named in one line on stderr (exit 0). When the API "
        "fails (unreachable, rate limited), the cached prices are shown and a warning names the "
        "missing part (exit 0; in JSON: missing); with nothing cached, exit 1.",
    )
)


@app.command(
    cls=Command,
    help=PRICES_HELP,
    short_help="A home's prices as a table, chart, JSON or CSV; cached ones when offline.",
    epilog=_examples(
        "pricepool prices --home Fjellstua --chart",
        "pricepool prices --from 2026-01-01 --to 2026-03-31 -f csv > q1.csv",
    ),
)
@common(*PRICES)
def prices(
    opts: Options,
    home: HomeOpt = None,
    start: Annotated[str, typer.Option("--from", metavar="WHEN", help="First instant.")] = "today",
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="WHEN", help="End (a day: its end).", show_default=False),
    ] = None,
    fmt: Annotated[Format, _format("table", "json", "csv")] = Format.table,
    show_chart: Annotated[bool, typer.Option("--chart", metavar="", help="Draw a chart too.")] = (
        False
    ),
    hourly: Annotated[
        bool, typer.Option("--hourly", metavar="", help="Table of hourly averages.")
    ] = False,
) -> None:
    async def work(session: Session) -> None:
        pool = await session.pool(home)
        info = await session.home_of(pool)
        tz, now = info.tz, session.now()
        lo = _when("--from", start, now=now, tz=tz, warn=session.warn)
        if end is not None:
            hi = _when("--to", end, now=now, tz=tz, end=True, warn=session.warn)
        else:
            after = midnight(now.astimezone(tz).date() + timedelta(days=2), tz)
            hi = after if lo < after else midnight(lo.date() + timedelta(days=1), tz)
        _ordered(start, end, lo, hi)
        items, problem = await session.intervals(pool, lo, hi)
        info = pool.home or info
        lacking = missing(pool, lo, hi)
        note = describe(problem, session.endpoint) if problem else None
        if problem is not None:
            if not items:
                raise problem
            session.degraded(problem, "cached prices", gaps_text(lacking, tz) if lacking else None)
        later = unpublished(pool, lo, hi, now)
        if later is not None:
            shown = f"; showing up to {later.label(now)}" if items else ""
            session.note(later.message + shown)
        currency = currency_of(info, items)
        if fmt is Format.json:
            typer.echo(
                prices_json(info, lo, hi, items, note, later.as_dict() if later else None, lacking)
            )
            return
        if fmt is Format.csv:
            typer.echo(prices_csv(items, tz, currency), nl=False)
            return
        out = _out()
        name = info.nickname or info.id
        if not items:
            out.print(f"{name}: no prices known for {range_text(lo, hi)}")
            return
        # The range shown is the one the prices cover, which may end before --to.
        shown_range = range_text(items[0].start.astimezone(tz), items[-1].end.astimezone(tz))
        if hourly:
            found = hours(items, tz)
            by_day: dict[str, list[Hour]] = {}
            for hour in found:
                by_day.setdefault(f"{hour.start:%a %d %b}", []).append(hour)
            # The days shown head the columns: the title need not name them.
            title = f"{name} · hourly averages · {currency}/kWh"
            side_by_side = days_table(list(by_day.items()), currency, title=title)
            # Days side by side while they fit; else one row per hour.
            if len(by_day) <= 3 and natural_width(side_by_side, out) <= out.width:
                out.print(side_by_side)
            else:
                title = f"{name} · {shown_range} · {currency}/kWh"
                out.print(hours_table(found, currency, title))
            if any(h.start.fold for h in found):
                out.print(f"* {REPEATED_HOUR}")
        else:
            out.print(prices_table(items, tz, currency, f"{name} · {shown_range}"))
        mean = average(items)
        if mean is not None:
            out.print(f"average {money(mean)} {currency}/kWh over {len(items)} intervals")
        if show_chart:
            colour = out.is_terminal and out.color_system is not None
            drawn = chart(items, tz=tz, title=f"{currency}/kWh", width=out.width - 1, colour=colour)
            out.print(Text.from_ansi(drawn))

    _run(opts, work)


# -- cheapest -------------------------------------------------------------------------------


@app.command(
    cls=Command,
    help="The cheapest contiguous window of --duration (its time-weighted average, over "
    "intervals of any length, never across a gap), or with --slots the N cheapest separate "
    "intervals. Prices not published yet (a day's come at 13:00 home time the day before) are "
    "named on stderr; when nothing fits because of them, exit 1.\n\n"
    "--format json prints {version, home, currency, from, to, source_error, missing, "
    "unpublished, duration_minutes, window: {start, end, average}} or {..., slots: [{start, "
    "end, total, energy, tax, level}], average}; source_error, missing and unpublished are as "
    "in prices. When nothing can be chosen it prints the same with window null (or slots [] "
    "and average null) and an error message.",
    short_help="The cheapest window of a duration, or the N cheapest intervals.",
    epilog=_examples(
        "pricepool cheapest --duration 3h",
        "pricepool cheapest -d 90m --within tomorrow",
        "pricepool cheapest --slots 4 -w today..tomorrow -f json",
    ),
)
@common(*PRICES)
def cheapest(
    opts: Options,
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
            callback=_at_least_one,
            help="Instead: the N cheapest separate intervals.",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    fmt: Annotated[Shape, _format("table", "json")] = Shape.table,
) -> None:
    """The cheapest contiguous window, or with --slots the N cheapest separate intervals."""
    try:
        length = parse_duration(duration)
    except ValueError as err:
        raise UsageProblem(f"--duration: {err}") from None

    async def work(session: Session) -> None:
        pool = await session.pool(home)
        info = await session.home_of(pool)
        tz, now = info.tz, session.now()
        try:
            lo, hi = parse_within(within, now=now, tz=tz, warn=session.warn)
        except ValueError as err:
            raise UsageProblem(f"--within: {err}") from None
        # From an hour earlier: the interval under way at ``lo`` started before it.
        items, problem = await session.intervals(pool, an_hour_before(lo), hi)
        info = pool.home or info
        lacking = missing(pool, lo, hi)
        if problem is not None:
            if not items:
                raise problem
            session.degraded(problem, "cached prices", gaps_text(lacking, tz) if lacking else None)
        later = unpublished(pool, lo, hi, now)
        known = sum(1 for i in items if i.end > lo and i.start < hi)
        currency = currency_of(info, items)
        base = {
            "version": 1,
            "home": home_dict(info),
            "currency": currency,
            "from": iso(lo),
            "to": iso(hi),
            "source_error": describe(problem, session.endpoint) if problem else None,
            "missing": [span_dict(s, tz) for s in lacking],
            "unpublished": later.as_dict() if later else None,
        }
        out = _out()

        def nothing(err: Exception, empty: dict[str, Any]) -> Exception:
            """``err`` to raise, after the JSON saying the same when JSON was asked for."""
            if fmt is Shape.json:
                typer.echo(_dumps({**base, **empty, "error": str(err)}))
            return err

        def not_yet(what: str) -> NotKnown:
            """``what`` cannot be chosen because prices are not out yet."""
            assert later is not None
            shown = f"; prices known up to {later.label(now)}" if known else ""
            return NotKnown(f"no {what} yet: {later.message}{shown}")

        if slots is not None:
            picked = cheapest_slots(items, slots, lo=lo, hi=hi)
            if not picked:
                none: dict[str, Any] = {"slots": [], "average": None}
                if later is not None:
                    raise nothing(not_yet("intervals to choose from"), none)
                raise nothing(UsageProblem(f"no prices known in {range_text(lo, hi)}"), none)
            if later is not None:
                session.note(f"{later.message}; chose from prices up to {later.label(now)}")
            mean = average(picked)
            if fmt is Shape.json:
                rows = [interval_dict(i, tz) for i in picked]
                chosen: dict[str, Any] = {"slots": rows, "average": rounded(mean)}
                typer.echo(_dumps({**base, **chosen}))
                return
            out.print(
                f"The {len(picked)} cheapest intervals in {range_text(lo, hi)} "
                f"average {money(mean or 0.0)} {currency}/kWh:"
            )
            for item in picked:
                start_local = item.start.astimezone(tz)
                out.print(
                    Text.assemble(
                        f"  {start_local:%a %Y-%m-%d %H:%M}–{item.end.astimezone(tz):%H:%M}  ",
                        f"{money(item.total)}  ",
                        level_text(item.level),
                    )
                )
            return
        minutes = length // timedelta(minutes=1)
        window = cheapest_window(items, length, lo=lo, hi=hi)
        if window is None:
            empty: dict[str, Any] = {"duration_minutes": minutes, "window": None}
            if later is not None:
                raise nothing(not_yet(f"{duration} window"), empty)
            raise nothing(
                UsageProblem(
                    f"no gap-free {duration} of known prices in {range_text(lo, hi)} "
                    f"({known} intervals known)"
                ),
                empty,
            )
        if later is not None:
            session.note(f"{later.message}; searched up to {later.label(now)}")
        if fmt is Shape.json:
            found = {
                "start": iso(window.start.astimezone(tz)),
                "end": iso(window.end.astimezone(tz)),
                "average": rounded(window.average),
            }
            typer.echo(_dumps({**base, "duration_minutes": minutes, "window": found}))
            return
        out.print(
            Text.assemble(
                (f"Cheapest {duration}: ", "bold"),
                f"{window.start.astimezone(tz):%a %Y-%m-%d %H:%M} – "
                f"{window.end.astimezone(tz):%H:%M}, average ",
                (f"{money(window.average)} {currency}/kWh", "bold green"),
            )
        )

    _run(opts, work)


# -- cache ----------------------------------------------------------------------------------


@cache_app.callback(epilog=_examples("pricepool cache stats --store ~/prices.sqlite"))
@common("store", "verbose")
def cache() -> None:
    """What the store holds, read without asking the API (no token needed)."""


@cache_app.command(cls=Command, epilog=_examples("pricepool cache stats -f json"))
@common(*STORE)
def stats(
    opts: Options,
    home: HomeOpt = None,
    fmt: Annotated[Shape, _format("table", "json")] = Shape.table,
) -> None:
    """Per home: intervals, fetch groups, first and last price, days covered, pending spans."""
    _run(opts, lambda s: cache_ops.stats(s, _out(), home, fmt.value))


@cache_app.command(cls=Command, epilog=_examples("pricepool cache coverage --home Fjellstua"))
@common(*STORE)
def coverage(opts: Options, home: HomeOpt = None) -> None:
    """Per home: the spans the API has answered, and those not published yet."""
    _run(opts, lambda s: cache_ops.coverage(s, _out(), home))


@cache_app.command(
    cls=Command,
    help="Run retention: evict the oldest fetches beyond --max-intervals per home, never those "
    "holding the days from the day before yesterday to tomorrow.",
    epilog=_examples("pricepool cache gc --max-intervals 20000 --dry-run"),
)
@common(*STORE)
def gc(
    opts: Options,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", metavar="", help="Only say what would go.")
    ] = False,
    max_intervals: Annotated[
        int,
        typer.Option(
            "--max-intervals", metavar="N", callback=_at_least_one, help="Intervals kept per home."
        ),
    ] = 35_040,
    home: HomeOpt = None,
) -> None:
    """Run retention: evict the oldest fetches beyond --max-intervals per home."""
    _run(opts, lambda s: cache_ops.gc(s, _out(), home, dry_run, max_intervals))


@cache_app.command(
    cls=Command,
    help='Everything the store holds. JSON: {"version": 1, "homes": [{id, nickname, time_zone, '
    "currency, coverage, pending, intervals}]}. CSV: the header "
    "home,start,end,total,energy,tax,level,currency.",
    short_help="Everything the store holds, as JSON or CSV.",
    epilog=_examples("pricepool cache export -f csv > prices.csv"),
)
@common(*STORE)
def export(
    opts: Options,
    fmt: Annotated[DumpFormat, _format("json", "csv")] = DumpFormat.json,
    home: HomeOpt = None,
) -> None:
    """Everything the store holds, as JSON or CSV."""

    async def work(session: Session) -> None:
        text = await cache_ops.export(session, home, fmt.value)
        typer.echo(text, nl=not text.endswith("\n"))

    _run(opts, work)


@cache_app.command(
    "import-ha",
    cls=Command,
    help="Import the Home Assistant tibber_prices interval pool file (from .storage/ in the "
    "Home Assistant config folder) into the store, which is created if needed.",
    short_help="Import a Home Assistant tibber_prices interval pool file.",
    epilog=_examples("pricepool cache import-ha tibber_prices.interval_pool.01J… -z Europe/Oslo"),
)
@common(*STORE)
def import_ha(
    opts: Options,
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Home Assistant tibber_prices interval pool file."),
    ],
    home: Annotated[
        str | None,
        typer.Option(
            "--home", metavar="ID", help="Store under this home id instead of the file's."
        ),
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(
            "--time-zone",
            "-z",
            metavar="ZONE",
            help="The home's IANA zone (the file does not say); default: the store's.",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", metavar="", help="Overwrite a home the store already holds."),
    ] = False,
) -> None:
    if not file.is_file():
        raise UsageProblem(f"no file at {file}" if not file.exists() else f"{file} is not a file")
    _run(opts, lambda s: cache_ops.import_file(s, _out(), file, home, time_zone, replace))


# -- simulator ------------------------------------------------------------------------------


@app.command(
    cls=Command,
    help="Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C. Point "
    "other commands at it with --endpoint.",
    short_help="Serve a Tibber-compatible API on loopback.",
    epilog=_examples(
        "pricepool simulator --port 8080 --token secret",
        "pricepool homes --token secret --endpoint http://127.0.0.1:8080/v1-beta/gql",
        intro="Example, in two shells:",
    ),
)
@common("token", "verbose", "now", token="The token clients must send (default: any).")
def simulator(
    opts: Options,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", callback=_port, help="Port (0: any free one).")
    ] = 8080,
    ban: Annotated[
        float | None,
        typer.Option(
            "--ban",
            metavar="SECONDS",
            help="Over the rate limit, ban as Tibber does: 429 text/plain, no Retry-After, "
            "extended by each request (Tibber: 600).",
        ),
    ] = None,
    rate_limit: Annotated[
        int, typer.Option("--rate-limit", metavar="N", help="Requests per 5 minutes.")
    ] = 100,
    page_limit: Annotated[
        int | None,
        typer.Option(
            "--page-limit", metavar="N", help="Range page size below the caps (672, 744)."
        ),
    ] = None,
    cursors: Annotated[
        str,
        typer.Option("--cursors", metavar="start|end", help="What an edge's cursor names."),
    ] = "start",
    inclusive_after: Annotated[
        bool,
        typer.Option("--inclusive-after", help="after/before include the instant they name."),
    ] = False,
    quarter_outage: Annotated[
        bool,
        typer.Option("--quarter-outage", help="Quarter-hourly today/tomorrow empty; hourly kept."),
    ] = False,
    null_range: Annotated[
        bool, typer.Option("--null-range", help="priceInfoRange answers null.")
    ] = False,
    token_error: Annotated[
        str | None,
        typer.Option(
            "--token-error", metavar="jws|exp", help="Refuse every token with a JWT error."
        ),
    ] = None,
) -> None:
    """Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C."""
    from pricepool.simulator import Faults
    from pricepool.simulator._app import CURSORS, TOKEN_ERRORS

    if cursors not in CURSORS:
        raise UsageProblem(f"--cursors must be start or end, got {cursors!r}")
    if token_error is not None and token_error not in TOKEN_ERRORS:
        raise UsageProblem(f"--token-error must be jws or exp, got {token_error!r}")
    clock = ManualClock(opts.now) if opts.now is not None else None
    faults = Faults(quarter_outage=quarter_outage, null_range=null_range, token_error=token_error)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                host,
                port,
                token=opts.token,
                clock=clock,
                ban=ban,
                rate_limit=rate_limit,
                page_limit=page_limit,
                cursors=cursors,
                inclusive_after=inclusive_after,
                faults=faults,
            )
        )


def main() -> None:
    """The console script."""
    app(prog_name="pricepool")
