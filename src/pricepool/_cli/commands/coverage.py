"""``pricepool cache coverage``: per home, the spans the API answered and those pending."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..options import HomeOpt, Now, StorePath, Verbose, examples, merged
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(cls=Command, epilog=examples("pricepool cache coverage --home Fjellstua"))(coverage)


def coverage(
    ctx: typer.Context,
    home: HomeOpt = None,
    store: StorePath = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Per home: the spans the API has answered, and those not published yet."""
    opts = merged(ctx, store=store, verbose=verbose, now=now)
    with reported(opts):
        run(opts, lambda session: report(session, home), read_only=True).show()


async def report(session: Session, wanted: str | None) -> Report:
    from ..output import days_text, span_text, wall_days
    from ..stored import moment, name, snapshots

    shown = Report()
    for snap in await snapshots(session, wanted):
        tz = snap.home.tz
        shown.add(f"{name(snap.home)}{snap.home.id} · {snap.home.time_zone}")
        if not snap.coverage:
            shown.add("  nothing answered yet")
        for span in snap.coverage:
            days = days_text(wall_days(span.start, span.end, tz) * 86400)
            shown.add(f"  answered  {span_text(span, tz)}  ({days})")
        for item in snap.pending:
            when = moment(item.retry_at.astimezone(tz), session)
            shown.add(f"  pending   {span_text(item.span, tz)}  ask again after {when}")
    return shown
