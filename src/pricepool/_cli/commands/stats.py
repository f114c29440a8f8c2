"""``pricepool cache stats``: per home, what the store holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..options import HomeOpt, Now, Shape, StorePath, Verbose, examples, format_option, merged
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(cls=Command, epilog=examples("pricepool cache stats -f json"))(stats)


def stats(
    ctx: typer.Context,
    home: HomeOpt = None,
    fmt: Annotated[Shape, format_option("table", "json")] = Shape.table,
    store: StorePath = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Per home: intervals, fetch groups, first and last price, days covered, pending spans."""
    opts = merged(ctx, store=store, verbose=verbose, now=now)
    with reported(opts):
        run(opts, lambda session: report(session, home, fmt), read_only=True).show()


async def report(session: Session, wanted: str | None, fmt: Shape) -> Report:
    """The table is one block per home, so that it reads at 80 columns."""
    from ..output import covered_days, days_text
    from ..schemas import stats_dict, stats_json
    from ..stored import count, files, moment, name, size_text, snapshots

    found = await snapshots(session, wanted)
    path = session.store_path
    size = sum(p.stat().st_size for p in files(path))
    shown = Report()
    if fmt is Shape.json:
        homes = [stats_dict(s, round(covered_days(s.coverage, s.home.tz), 3)) for s in found]
        shown.text(stats_json(path, size, homes))
        return shown
    homes_text = "1 home" if len(found) == 1 else f"{len(found)} homes"
    shown.add(f"store {path} · {homes_text} · {size_text(size)}")
    for snap in found:
        tz = snap.home.tz
        row = stats_dict(snap, 0.0)
        home = snap.home
        shown.add("", f"{name(home)}{home.id} · {home.time_zone} · {home.currency or '–'}")
        lengths = " and ".join(f"{m} min" for m in row["interval_minutes"])
        groups = row["fetch_groups"]
        shown.add(
            f"  intervals  {row['intervals']}"
            + (f" of {lengths}" if lengths else "")
            + f", in {groups} fetch group{'' if groups == 1 else 's'}"
        )
        if snap.intervals:
            first = snap.intervals[0].start.astimezone(tz)
            last = snap.intervals[-1].end.astimezone(tz)
            shown.add(f"  prices     {first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}")
        spans = count(row["covered_spans"], "span")
        days = days_text(covered_days(snap.coverage, tz) * 86400)
        shown.add(f"  answered   {days} in {spans}")
        if snap.pending:
            when = moment(min(p.retry_at for p in snap.pending).astimezone(tz), session)
            pending = count(len(snap.pending), "span")
            shown.add(f"  pending    {pending} not published yet; ask again after {when}")
    return shown
