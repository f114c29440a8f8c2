"""The ``pricepool`` command: the demo, homes, prices, cheapest windows and the cache.

Options every command takes (before or after its name): ``--token``, ``--endpoint``,
``--store``, ``-v/--verbose``, ``-q/--quiet`` and ``--retry-budget``. Exit codes: 0 done
(also when the API failed but cached prices were shown, with a warning), 1 an error of the
API or the store, or nothing to choose from because prices are not published yet, 2 a usage
error (bad option, unknown home, no token).
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
from ._cli.config import ConfigError, load_config
from ._cli.demo import run_demo
from ._cli.output import (
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
)
from ._cli.publication import unpublished
from ._cli.session import (
    MissingTokenError,
    NotKnown,
    Options,
    Session,
    UsageProblem,
    describe,
)
from ._cli.when import midnight, parse_duration, parse_when, parse_within

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="pricepool",
    help=(
        "Electricity spot prices for your homes, cached so that Tibber's API is asked only "
        "for what pricepool has never been told. Try [bold]pricepool demo[/bold]: it needs "
        "no token and no network."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(
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


# -- options every command takes ------------------------------------------------------------


def _now(text: str | None) -> datetime | None:
    if text is None:
        return None
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise typer.BadParameter("--now needs an offset, e.g. 2026-11-26T14:00+01:00")
    return instant


_COMMON: dict[str, Any] = {
    "token": Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Tibber API token (else $TIBBER_TOKEN, else token in config.toml). "
            "For [bold]simulator[/bold]: the token it requires.",
            show_default=False,
        ),
    ],
    "endpoint": Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="GraphQL endpoint, e.g. a local simulator's http://127.0.0.1:8080/v1-beta/gql.",
            show_default=False,
        ),
    ],
    "store": Annotated[
        str | None,
        typer.Option(
            "--store",
            help="SQLite file, or a folder (existing, or ending in /) for JSON files. "
            "Default: pricepool.sqlite in the user's data folder.",
            show_default=False,
        ),
    ],
    "verbose": Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what happens; tracebacks on errors.")
    ],
    "quiet": Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no remarks.")],
    "retry_budget": Annotated[
        float | None,
        typer.Option(
            "--retry-budget",
            help="Seconds to keep retrying a failing API call (default 10).",
            min=0,
            show_default=False,
        ),
    ],
    "now": Annotated[
        str | None,
        typer.Option("--now", hidden=True, help="Pretend it is this instant (for tests)."),
    ],
}
_DEFAULTS: dict[str, Any] = {"verbose": False, "quiet": False}


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


def common(func: Callable[..., None]) -> Callable[..., None]:
    """Give a command the common options (merged with the ones before its name) and
    turn pricepool's errors into one line and an exit code.

    The command may take ``opts: Options``; typer never sees that parameter.
    """
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
                annotation=kind,
                default=_DEFAULTS.get(name),
            )
            for name, kind in _COMMON.items()
        ),
    ]

    @functools.wraps(func)
    def run(**kwargs: Any) -> None:
        ctx: typer.Context = kwargs.pop("ctx__")
        opts = _merge(ctx, {name: kwargs.pop(name) for name in _COMMON})
        if wants:
            kwargs["opts"] = opts
        with _reported(opts):
            func(**kwargs)

    # typer reads the signature: the command's own parameters, then the common ones.
    run.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    return run


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


HomeOpt = Annotated[
    str | None,
    typer.Option(
        "--home",
        help="Home id, nickname or a unique start of the id. Default: the only home "
        "(or home in config.toml).",
        show_default=False,
    ),
]


# -- the root -------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pricepool {__version__}")
        raise typer.Exit()


@app.callback(
    epilog="Example: [bold]pricepool demo[/bold] · "
    "[bold]pricepool --token $TIBBER_TOKEN prices --home Fjellstua --chart[/bold]"
)
@common
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Electricity spot prices for your homes, cached."""


# -- demo -----------------------------------------------------------------------------------


@app.command(
    help="Run everything on loopback: a simulated Tibber API, a pool with a SQLite store in a "
    "temporary folder, today's and tomorrow's prices, the cheapest 3 hours, and what the cache "
    "saved across a restart. Needs no token and no network.",
    short_help="Run everything on loopback, with no token and no network.",
    epilog="Example: [bold]pricepool demo[/bold]",
)
@common
def demo(opts: Options) -> None:
    """Run everything on loopback, with no token and no network."""
    out = _out()
    colour = out.is_terminal and out.color_system is not None
    asyncio.run(run_demo(out, now=opts.now, colour=colour))


# -- homes ----------------------------------------------------------------------------------


@app.command(epilog="Example: [bold]pricepool homes --format json[/bold]")
@common
def homes(
    opts: Options,
    fmt: Annotated[Shape, typer.Option("--format", "-f", help="table or json.")] = Shape.table,
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
        '"from", "to", "currency", "source_error": null or a message, "unpublished": null or '
        '{from, to, expected_at, retry_at, message}, "intervals": [{start, '
        "end, total, energy, tax, level}]}. --format csv prints the header "
        "start,end,total,energy,tax,level,currency. Times carry the home's UTC offset; a price "
        "part the API did not give is null (JSON) or empty (CSV).",
        "Prices for a day come out at 13:00 home time the day before: the part of the range "
        "not published yet is left out and named in one line on stderr (exit 0). When the API "
        "cannot be reached, the cached prices are shown with a warning (exit 0); with nothing "
        "cached, exit 1.",
    )
)


@app.command(
    help=PRICES_HELP,
    short_help="A home's prices as a table, chart, JSON or CSV; cached ones when offline.",
    epilog="Examples: [bold]pricepool prices --home Fjellstua --chart[/bold] · "
    "[bold]pricepool prices --from 2026-01-01 --to 2026-03-31 --format csv > q1.csv[/bold]",
)
@common
def prices(
    opts: Options,
    home: HomeOpt = None,
    start: Annotated[str, typer.Option("--from", metavar="WHEN", help="First instant.")] = "today",
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="WHEN", help="End (a day: its end).", show_default=False),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = (
        Format.table
    ),
    show_chart: Annotated[bool, typer.Option("--chart", help="Draw a chart too.")] = False,
    hourly: Annotated[bool, typer.Option("--hourly", help="Table of hourly averages.")] = False,
) -> None:
    async def work(session: Session) -> None:
        pool = await session.pool(home)
        info = await session.home_of(pool)
        tz, now = info.tz, session.now()
        lo = _when("--from", start, now=now, tz=tz)
        if end is not None:
            hi = _when("--to", end, now=now, tz=tz, end=True)
        else:
            after = midnight(now.astimezone(tz).date() + timedelta(days=2), tz)
            hi = after if lo < after else midnight(lo.date() + timedelta(days=1), tz)
        if hi <= lo:
            raise UsageProblem(f"--to ({hi.isoformat()}) must be after --from ({lo.isoformat()})")
        items, problem = await session.intervals(pool, lo, hi)
        info = pool.home or info
        note = describe(problem, session.endpoint) if problem else None
        if problem is not None:
            if not items:
                raise problem
            session.degraded(problem, "cached prices")
        later = unpublished(pool, lo, hi, now)
        if later is not None:
            shown = f"; showing up to {later.label(now)}" if items else ""
            session.note(later.message + shown)
        currency = currency_of(info, items)
        if fmt is Format.json:
            typer.echo(prices_json(info, lo, hi, items, note, later.as_dict() if later else None))
            return
        if fmt is Format.csv:
            typer.echo(prices_csv(items, tz, currency), nl=False)
            return
        out = _out()
        title = f"{info.nickname or info.id}: {lo:%a %Y-%m-%d %H:%M} – {hi:%a %Y-%m-%d %H:%M}"
        if not items:
            out.print(f"{title}: no prices known")
            return
        if hourly:
            by_day: dict[str, list[Hour]] = {}
            for hour in hours(items, tz):
                by_day.setdefault(f"{hour.start:%a %d %b}", []).append(hour)
            side_by_side = days_table(list(by_day.items()), currency, title=title)
            # Days side by side while they fit; else one row per hour.
            if len(by_day) <= 3 and natural_width(side_by_side, out) <= out.width:
                out.print(side_by_side)
            else:
                out.print(hours_table(hours(items, tz), currency, title))
        else:
            out.print(prices_table(items, tz, currency, title))
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
    help="The cheapest contiguous window of --duration (its time-weighted average, over "
    "intervals of any length, never across a gap), or with --slots the N cheapest separate "
    "intervals. Prices not published yet (a day's come at 13:00 home time the day before) are "
    "named on stderr; when nothing fits because of them, exit 1. --format json prints {version, "
    "home, currency, from, to, unpublished, duration_minutes, window: {start, end, average}} or "
    "{..., slots: [{start, end, total, energy, tax, level}], average}; unpublished is null or "
    "as in prices.",
    short_help="The cheapest window of a duration, or the N cheapest intervals.",
    epilog="Examples: [bold]pricepool cheapest --duration 3h[/bold] · "
    "[bold]pricepool cheapest --duration 90m --within tomorrow[/bold] · "
    "[bold]pricepool cheapest --slots 4 --within today..tomorrow --format json[/bold]",
)
@common
def cheapest(
    opts: Options,
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="Window length: 3h, 90m, 1h30m, 2.5h.")
    ] = "3h",
    within: Annotated[
        str,
        typer.Option(
            "--within",
            "-w",
            help="today, tomorrow, next24h, upcoming (now to the end of tomorrow), a date, "
            "or FROM..TO with WHENs as in prices.",
        ),
    ] = "upcoming",
    slots: Annotated[
        int | None,
        typer.Option(
            "--slots",
            "-n",
            min=1,
            help="Instead: the N cheapest separate intervals.",
            show_default=False,
        ),
    ] = None,
    home: HomeOpt = None,
    fmt: Annotated[Shape, typer.Option("--format", "-f", help="table or json.")] = Shape.table,
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
            lo, hi = parse_within(within, now=now, tz=tz)
        except ValueError as err:
            raise UsageProblem(f"--within: {err}") from None
        # From an hour earlier: the interval under way at ``lo`` started before it.
        items, problem = await session.intervals(pool, lo - timedelta(hours=1), hi)
        info = pool.home or info
        if problem is not None:
            if not items:
                raise problem
            session.degraded(problem, "cached prices")
        later = unpublished(pool, lo, hi, now)
        known = sum(1 for i in items if i.end > lo and i.start < hi)
        currency = currency_of(info, items)
        base = {
            "version": 1,
            "home": home_dict(info),
            "currency": currency,
            "from": iso(lo),
            "to": iso(hi),
            "unpublished": later.as_dict() if later else None,
        }
        out = _out()

        def missing(what: str) -> NotKnown:
            """``what`` cannot be chosen because prices are not out yet."""
            assert later is not None
            shown = f"; prices known up to {later.label(now)}" if known else ""
            return NotKnown(f"no {what} yet: {later.message}{shown}")

        if slots is not None:
            picked = cheapest_slots(items, slots, lo=lo, hi=hi)
            if not picked:
                if later is not None:
                    raise missing("intervals to choose from")
                raise UsageProblem(
                    f"no prices known from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M}"
                )
            if later is not None:
                session.note(f"{later.message}; chose from prices up to {later.label(now)}")
            mean = average(picked)
            if fmt is Shape.json:
                rows = [interval_dict(i, tz) for i in picked]
                typer.echo(_dumps({**base, "slots": rows, "average": mean}))
                return
            out.print(
                f"The {len(picked)} cheapest intervals from {lo:%a %H:%M} to {hi:%a %H:%M} "
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
        window = cheapest_window(items, length, lo=lo, hi=hi)
        if window is None:
            if later is not None:
                raise missing(f"{duration} window")
            raise UsageProblem(
                f"no gap-free {duration} of known prices from {lo:%a %Y-%m-%d %H:%M} to "
                f"{hi:%a %Y-%m-%d %H:%M} ({known} intervals known)"
            )
        if later is not None:
            session.note(f"{later.message}; searched up to {later.label(now)}")
        if fmt is Shape.json:
            found = {
                "start": iso(window.start.astimezone(tz)),
                "end": iso(window.end.astimezone(tz)),
                "average": window.average,
            }
            typer.echo(
                _dumps(
                    {**base, "duration_minutes": length // timedelta(minutes=1), "window": found}
                )
            )
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


@cache_app.callback(epilog="Example: [bold]pricepool cache stats --store ~/prices.sqlite[/bold]")
@common
def cache() -> None:
    """What the store holds, read without asking the API (no token needed)."""


@cache_app.command(epilog="Example: [bold]pricepool cache stats[/bold]")
@common
def stats(
    opts: Options,
    home: HomeOpt = None,
    fmt: Annotated[Shape, typer.Option("--format", "-f", help="table or json.")] = Shape.table,
) -> None:
    """Per home: intervals, fetch groups, first and last price, days covered, pending spans."""
    _run(opts, lambda s: cache_ops.stats(s, _out(), home, fmt.value))


@cache_app.command(epilog="Example: [bold]pricepool cache coverage --home Fjellstua[/bold]")
@common
def coverage(opts: Options, home: HomeOpt = None) -> None:
    """Per home: the spans the API has answered, and those not published yet."""
    _run(opts, lambda s: cache_ops.coverage(s, _out(), home))


@cache_app.command(
    help="Run retention: evict the oldest fetches beyond --max-intervals per home, never those "
    "holding the days from the day before yesterday to tomorrow.",
    epilog="Example: [bold]pricepool cache gc --max-intervals 20000 --dry-run[/bold]",
)
@common
def gc(
    opts: Options,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    max_intervals: Annotated[
        int, typer.Option("--max-intervals", min=1, help="Intervals kept per home.")
    ] = 35_040,
    home: HomeOpt = None,
) -> None:
    """Run retention: evict the oldest fetches beyond --max-intervals per home."""
    _run(opts, lambda s: cache_ops.gc(s, _out(), home, dry_run, max_intervals))


@cache_app.command(
    help='Everything the store holds. JSON: {"version": 1, "homes": [{id, nickname, time_zone, '
    "currency, coverage, pending, intervals}]}. CSV: the header "
    "home,start,end,total,energy,tax,level,currency.",
    short_help="Everything the store holds, as JSON or CSV.",
    epilog="Example: [bold]pricepool cache export --format csv > prices.csv[/bold]",
)
@common
def export(
    opts: Options,
    fmt: Annotated[DumpFormat, typer.Option("--format", "-f", help="json or csv.")] = (
        DumpFormat.json
    ),
    home: HomeOpt = None,
) -> None:
    """Everything the store holds, as JSON or CSV."""

    async def work(session: Session) -> None:
        text = await cache_ops.export(session, home, fmt.value)
        typer.echo(text, nl=not text.endswith("\n"))

    _run(opts, work)


@cache_app.command(
    "import-ha",
    epilog="Example: [bold]pricepool cache import-ha "
    "/config/.storage/tibber_prices.interval_pool.01J… --time-zone Europe/Oslo[/bold]",
)
@common
def import_ha(
    opts: Options,
    file: Annotated[Path, typer.Argument(help="Home Assistant tibber_prices interval pool file.")],
    home: Annotated[
        str | None,
        typer.Option("--home", help="Store under this home id instead of the file's."),
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(
            "--time-zone",
            help="The home's IANA zone (the file does not say); default: the store's.",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a home the store already holds.")
    ] = False,
) -> None:
    """Import the Home Assistant tibber_prices interval pool file into the store."""
    _run(opts, lambda s: cache_ops.import_file(s, _out(), file, home, time_zone, replace))


# -- simulator ------------------------------------------------------------------------------


@app.command(
    help="Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C. Point "
    "other commands at it with --endpoint.",
    short_help="Serve a Tibber-compatible API on loopback.",
    epilog="Example: [bold]pricepool simulator --port 8080 --token secret[/bold] · then "
    "[bold]pricepool homes --endpoint http://127.0.0.1:8080/v1-beta/gql --token secret[/bold]",
)
@common
def simulator(
    opts: Options,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).")] = 8080,
) -> None:
    """Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C."""
    clock = ManualClock(opts.now) if opts.now is not None else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, token=opts.token, clock=clock))


def main() -> None:
    """The console script."""
    app(prog_name="pricepool")
