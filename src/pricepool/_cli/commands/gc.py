"""``pricepool cache gc``: retention, run on the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..options import HomeOpt, Now, StorePath, Verbose, at_least_one, examples, merged
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help="Run retention: evict the oldest fetches beyond --max-intervals per home, never "
        "those holding the days from the day before yesterday to tomorrow.",
        epilog=examples("pricepool cache gc --max-intervals 20000 --dry-run"),
    )(gc)


def gc(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", metavar="", help="Only say what would go.")
    ] = False,
    max_intervals: Annotated[
        int,
        typer.Option(
            "--max-intervals",
            metavar="N",
            callback=at_least_one,
            help="Intervals kept per home.",
        ),
    ] = 35_040,
    home: HomeOpt = None,
    store: StorePath = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Run retention: evict the oldest fetches beyond --max-intervals per home."""
    opts = merged(ctx, store=store, verbose=verbose, now=now)
    with reported(opts):
        # --dry-run changes nothing: the store is opened as the read-only commands open it.
        work = run(
            opts,
            lambda session: report(session, home, dry_run, max_intervals),
            read_only=dry_run,
        )
        work.show()


async def report(session: Session, wanted: str | None, dry_run: bool, limit: int) -> Report:
    from rich import box
    from rich.padding import Padding
    from rich.table import Table

    from pricepool import IntervalPool

    from ..output import span_text
    from ..stored import Offline, name, snapshots

    shown = Report()
    for snap in await snapshots(session, wanted):
        pool = IntervalPool(
            snap.home.id, Offline(), store=session.store, max_intervals=limit, clock=session.clock
        )
        await pool.open()
        try:
            victims = pool.evictable()
            held = pool.snapshot()
            tz = snap.home.tz
            evicted = sum(len(held.members(g)) for g in victims)
            verb = "would evict" if dry_run else "evicts"
            shown.add(
                f"{name(snap.home)}{snap.home.id}: {len(held.intervals)} intervals, limit {limit}"
            )
            groups = "fetch group" if len(victims) == 1 else "fetch groups"
            shown.add(
                f"  {verb} {len(victims)} {groups}, {evicted} intervals"
                + (" (oldest fetched first):" if victims else "")
            )
            if victims:
                table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
                table.add_column("group", justify="right")
                table.add_column("prices")
                table.add_column("intervals", justify="right")
                table.add_column("fetched")
                for group_id in victims:
                    group = held.group(group_id)
                    table.add_row(
                        str(group_id),
                        span_text(group.span, tz),
                        str(len(held.members(group_id))),
                        # A restored export keeps no fetch times (see schemas._grouped).
                        "restored"
                        if group.fetched_at.timestamp() == 0
                        else f"{group.fetched_at.astimezone(tz):%Y-%m-%d %H:%M}",
                    )
                shown.add(Padding(table, (0, 0, 0, 4)))
            if victims and not dry_run:
                await pool.gc()
        finally:
            # Saves only what gc changed: a dry run leaves the store as it was.
            await pool.close()
    return shown
