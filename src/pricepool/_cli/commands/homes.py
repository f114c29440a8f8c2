"""``pricepool homes``: the account's homes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..options import (
    Endpoint,
    Now,
    RetryBudget,
    Shape,
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
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(cls=Command, epilog=examples("pricepool homes --format json"))(homes)


def homes(
    ctx: typer.Context,
    fmt: Annotated[Shape, format_option("table", "json")] = Shape.table,
    token: Token = None,
    endpoint: Endpoint = None,
    store: StorePath = None,
    retry_budget: RetryBudget = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """The account's homes: id, nickname, time zone and currency."""
    opts = merged(
        ctx,
        token=token,
        endpoint=endpoint,
        store=store,
        retry_budget=retry_budget,
        verbose=verbose,
        now=now,
    )
    with reported(opts):
        run(opts, lambda session: report(session, fmt)).show()


async def report(session: Session, fmt: Shape) -> Report:
    from pricepool import RateLimitedError, SourceUnavailableError

    from ..output import homes_list, homes_table, natural_width
    from ..runner import out
    from ..schemas import dumps, home_dict

    try:
        found = await session.source.homes()
    except (SourceUnavailableError, RateLimitedError) as err:
        found = await session.stored_homes()
        if not found:
            raise
        session.degraded(err, "the homes in the store")
    shown = Report()
    if fmt is Shape.json:
        shown.text(dumps([home_dict(h) for h in found]))
        return shown
    table = homes_table(found)
    # Narrower than the table, rich would drop the nickname column: one block per home.
    console = out()
    shown.add(table if natural_width(table, console) <= console.width else homes_list(found))
    return shown
