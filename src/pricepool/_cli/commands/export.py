"""``pricepool cache export``: everything the store holds, as JSON or CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..options import DumpFormat, HomeOpt, Now, StorePath, Verbose, examples, format_option, merged
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help='Everything the store holds. JSON: {"version": 1, "homes": [{id, nickname, '
        "time_zone, currency, coverage, pending, intervals}]}, which cache import reads back "
        "(a backup). CSV: the header home,start,end,total,energy,tax,level,currency.",
        short_help="Everything the store holds, as JSON or CSV.",
        epilog=examples(
            "pricepool cache export -f csv > prices.csv",
            "pricepool cache export > backup.json",
        ),
    )(export)


def export(
    ctx: typer.Context,
    fmt: Annotated[DumpFormat, format_option("json", "csv")] = DumpFormat.json,
    home: HomeOpt = None,
    store: StorePath = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Everything the store holds, as JSON or CSV."""
    opts = merged(ctx, store=store, verbose=verbose, now=now)
    with reported(opts):
        run(opts, lambda session: report(session, home, fmt), read_only=True).show()


async def report(session: Session, wanted: str | None, fmt: DumpFormat) -> Report:
    from ..schemas import export_csv, export_json
    from ..stored import snapshots

    found = await snapshots(session, wanted)
    shown = Report()
    shown.text(export_csv(found) if fmt is DumpFormat.csv else export_json(found))
    return shown
