"""``pricepool cache …``: what the store holds, read without asking the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from pricepool import (
    FetchResult,
    HomeInfo,
    IntervalPool,
    Snapshot,
    SourceUnavailableError,
    Span,
    StorageError,
    import_ha,
)

from .output import csv_rows, days_text, home_dict, interval_dict, iso, span_text
from .session import Session, UsageProblem, match_home

__all__ = ["coverage", "export", "gc", "import_file", "stats"]


class Offline:
    """The source of a pool that only reads the store: it never fetches."""

    async def home(self, home_id: str) -> HomeInfo:
        raise SourceUnavailableError("cache commands do not ask the API")

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        raise SourceUnavailableError("cache commands do not ask the API")


async def _snapshots(session: Session, wanted: str | None) -> list[Snapshot]:
    session.require_store()
    found = []
    for home_id in await session.store.homes():
        snapshot = await session.store.load(home_id)
        if snapshot is not None:
            found.append(snapshot)
    if wanted is not None:
        home = match_home(wanted, [s.home for s in found])
        found = [s for s in found if s.home.id == home.id]
    return found


def _minutes(snapshot: Snapshot) -> list[int]:
    """The interval lengths the home holds, in minutes (60 for old history, 15 after)."""
    return sorted({int(i.length.total_seconds()) // 60 for i in snapshot.intervals})


def _stats_dict(snap: Snapshot) -> dict[str, Any]:
    tz = snap.home.tz
    items = snap.intervals
    covered = sum((s.end - s.start for s in snap.coverage), timedelta(0))
    return {
        **home_dict(snap.home),
        "intervals": len(items),
        "fetch_groups": len(snap.groups),
        "first": iso(items[0].start.astimezone(tz)) if items else None,
        "last": iso(items[-1].end.astimezone(tz)) if items else None,
        "interval_minutes": _minutes(snap),
        "covered_days": round(covered.total_seconds() / 86400, 3),
        "covered_spans": len(snap.coverage),
        "pending_spans": len(snap.pending),
    }


async def stats(session: Session, out: Console, wanted: str | None, fmt: str) -> None:
    """Per home: intervals, fetch groups, first and last price, coverage, pending.

    The table shape is one block per home, so that it reads at 80 columns; ``json`` prints
    ``{"version": 1, "store", "bytes", "homes": [{id, nickname, time_zone, currency,
    intervals, fetch_groups, first, last, interval_minutes, covered_days, covered_spans,
    pending_spans}]}``.
    """
    snapshots = await _snapshots(session, wanted)
    path = session.store_path
    size = sum(p.stat().st_size for p in _files(path))
    if fmt == "json":
        document = {
            "version": 1,
            "store": str(path),
            "bytes": size,
            "homes": [_stats_dict(s) for s in snapshots],
        }
        out.out(json.dumps(document, indent=2, ensure_ascii=False), highlight=False)
        return
    homes = "1 home" if len(snapshots) == 1 else f"{len(snapshots)} homes"
    out.print(f"store {path} · {homes} · {_size(size)}", soft_wrap=True)
    for snap in snapshots:
        row = _stats_dict(snap)
        tz = snap.home.tz
        out.print()
        home = snap.home
        out.print(f"{_name(home)}{home.id} · {home.time_zone} · {home.currency or '–'}")
        lengths = " and ".join(f"{m} min" for m in row["interval_minutes"])
        groups = row["fetch_groups"]
        out.print(
            f"  intervals  {row['intervals']}"
            + (f" of {lengths}" if lengths else "")
            + f", in {groups} fetch group{'' if groups == 1 else 's'}"
        )
        if snap.intervals:
            first = snap.intervals[0].start.astimezone(tz)
            last = snap.intervals[-1].end.astimezone(tz)
            out.print(f"  prices     {first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}")
        covered = sum((s.end - s.start for s in snap.coverage), timedelta(0))
        spans = _count(row["covered_spans"], "span")
        out.print(f"  answered   {days_text(covered.total_seconds())} in {spans}")
        if snap.pending:
            when = _moment(min(p.retry_at for p in snap.pending).astimezone(tz), session)
            pending = _count(len(snap.pending), "span")
            out.print(f"  pending    {pending} not published yet; ask again after {when}")


def _name(home: HomeInfo) -> str:
    """The nickname in bold and a space, or nothing."""
    return f"[bold]{escape(home.nickname)}[/bold] " if home.nickname else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _moment(instant: datetime, session: Session) -> str:
    """``HH:MM`` when ``instant`` is today (home-local), else the date too."""
    local = instant.astimezone(instant.tzinfo)
    today = session.now().astimezone(local.tzinfo).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    return f"{size / 1024:.0f} KiB"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for p in path.iterdir() if p.is_file()]
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.is_file()]


async def coverage(session: Session, out: Console, wanted: str | None) -> None:
    """Per home: the spans the API has answered, and those it said are not published yet."""
    for snap in await _snapshots(session, wanted):
        tz = snap.home.tz
        out.print(f"{_name(snap.home)}{snap.home.id} · {snap.home.time_zone}")
        if not snap.coverage:
            out.print("  nothing answered yet")
        for span in snap.coverage:
            days = days_text((span.end - span.start).total_seconds())
            out.print(f"  answered  {span_text(span, tz)}  ({days})")
        for item in snap.pending:
            when = _moment(item.retry_at.astimezone(tz), session)
            out.print(f"  pending   {span_text(item.span, tz)}  ask again after {when}")


async def gc(session: Session, out: Console, wanted: str | None, dry_run: bool, limit: int) -> None:
    """Run retention (keep at most ``limit`` intervals a home) on every stored home."""
    for snap in await _snapshots(session, wanted):
        pool = IntervalPool(
            snap.home.id, Offline(), store=session.store, max_intervals=limit, clock=session.clock
        )
        async with pool:
            victims = pool.evictable()
            held = pool.snapshot()
            tz = snap.home.tz
            count = sum(len(held.members(g)) for g in victims)
            verb = "would evict" if dry_run else "evicts"
            out.print(
                f"{_name(snap.home)}{snap.home.id}: {len(held.intervals)} intervals, limit {limit}"
            )
            groups = "fetch group" if len(victims) == 1 else "fetch groups"
            out.print(
                f"  {verb} {len(victims)} {groups}, {count} intervals"
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
                        f"{group.fetched_at.astimezone(tz):%Y-%m-%d %H:%M}",
                    )
                out.print(Padding(table, (0, 0, 0, 4)))
            if victims and not dry_run:
                await pool.gc()


async def export(session: Session, wanted: str | None, fmt: str) -> str:
    """Everything the store holds, as JSON (with coverage) or CSV (one row per interval)."""
    snapshots = await _snapshots(session, wanted)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("home", "start", "end", "total", "energy", "tax", "level", "currency"))
        for snap in snapshots:
            currency = snap.home.currency or ""
            for row in csv_rows(snap.intervals, snap.home.tz, currency):
                writer.writerow([snap.home.id, *row])
        return buffer.getvalue()
    homes: list[dict[str, Any]] = []
    for snap in snapshots:
        tz = snap.home.tz
        homes.append(
            {
                **home_dict(snap.home),
                "coverage": [
                    {"start": iso(s.start.astimezone(tz)), "end": iso(s.end.astimezone(tz))}
                    for s in snap.coverage
                ],
                "pending": [
                    {
                        "start": iso(p.span.start.astimezone(tz)),
                        "end": iso(p.span.end.astimezone(tz)),
                        "retry_at": iso(p.retry_at.astimezone(tz)),
                    }
                    for p in snap.pending
                ],
                "intervals": [
                    {**interval_dict(i, tz), "currency": i.currency} for i in snap.intervals
                ],
            }
        )
    return json.dumps({"version": 1, "homes": homes}, indent=2, ensure_ascii=False)


async def import_file(
    session: Session,
    out: Console,
    path: Path,
    home_id: str | None,
    time_zone: str | None,
    replace: bool,
) -> None:
    """Import a Home Assistant ``tibber_prices`` pool file into the store."""
    named = _home_named(path)  # checks the layout before anything is asked of the user
    target = home_id or named
    known = await session.store.load(target) if target else None
    zone = time_zone or (known.home.time_zone if known else None)
    if zone is None:
        raise UsageProblem(
            f"{path} does not say the home's time zone; give it with --time-zone (e.g. Europe/Oslo)"
        )
    snap = import_ha(path, time_zone=zone)
    home = snap.home
    if home_id is not None or known is not None:
        base = known.home if known else home
        home = HomeInfo(target or home.id, zone, home.currency or base.currency, base.nickname)
    if known is not None and (known.intervals or known.coverage) and not replace:
        raise UsageProblem(
            f"the store already holds home {home.id}; pass --replace to overwrite it"
        )
    await session.store.save(
        Snapshot(
            home,
            groups=snap.groups,
            intervals=snap.intervals,
            group_ids=snap.group_ids,
            coverage=snap.coverage,
            pending=snap.pending,
        )
    )
    first = snap.intervals[0].start.astimezone(home.tz) if snap.intervals else None
    last = snap.intervals[-1].end.astimezone(home.tz) if snap.intervals else None
    span = f" from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}" if first and last else ""
    out.print(
        f"imported {len(snap.intervals)} intervals in {len(snap.groups)} groups{span} "
        f"as home {home.id} ({zone}) into {session.store_path}"
    )


def _home_named(path: Path) -> str | None:
    """The home id in a tibber_prices file, to look its zone up in the store."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as err:
        raise StorageError(f"cannot read {path}: {err.strerror or err}") from err
    except ValueError as err:
        raise StorageError(f"{path} is not JSON: {err}") from err
    data = document.get("data", document) if isinstance(document, dict) else None
    # The layout first: a file of another kind should not be asked for its time zone.
    if not isinstance(data, dict) or not isinstance(data.get("fetch_groups"), list):
        raise StorageError(
            f"{path} is not a tibber_prices interval pool file (expected "
            '"fetch_groups" and "home_id", bare or in a Home Assistant Store envelope)'
        )
    named = data.get("home_id")
    return named if isinstance(named, str) else None
