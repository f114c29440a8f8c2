"""``pricepool cache …``: what the store holds, read without asking the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
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

from .output import csv_rows, home_dict, interval_dict, iso, span_text
from .session import Session, UsageProblem, match_home

__all__ = ["coverage", "export", "gc", "import_file", "stats"]


class Offline:
    """The source of a pool that only reads the store: it never fetches."""

    async def home(self, home_id: str) -> HomeInfo:
        raise SourceUnavailableError("cache commands do not ask the API")

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        raise SourceUnavailableError("cache commands do not ask the API")


async def _snapshots(session: Session, wanted: str | None) -> list[Snapshot]:
    found = []
    for home_id in await session.store.homes():
        snapshot = await session.store.load(home_id)
        if snapshot is not None:
            found.append(snapshot)
    if wanted is not None:
        home = match_home(wanted, [s.home for s in found])
        found = [s for s in found if s.home.id == home.id]
    return found


def _lengths(snapshot: Snapshot) -> str:
    seen = sorted({int(i.length.total_seconds()) // 60 for i in snapshot.intervals})
    return ", ".join(f"{m} min" for m in seen)


async def stats(session: Session, out: Console, wanted: str | None) -> None:
    """Per home: intervals, fetch groups, first and last price, coverage, pending."""
    snapshots = await _snapshots(session, wanted)
    path = session.store_path
    size = sum(p.stat().st_size for p in _files(path))
    homes = "1 home" if len(snapshots) == 1 else f"{len(snapshots)} homes"
    out.print(f"store {path} · {homes} · {size / 1024:.0f} KiB")
    if not snapshots:
        return
    table = Table(title_justify="left")
    for name in ("home", "nickname", "intervals", "groups", "first", "last", "lengths"):
        table.add_column(
            name, justify="right" if name in ("intervals", "groups") else "left", no_wrap=True
        )
    table.add_column("covered", justify="right")
    table.add_column("pending", justify="right")
    for snap in snapshots:
        tz = snap.home.tz
        items = snap.intervals
        covered = sum((s.end - s.start for s in snap.coverage), timedelta(0))
        table.add_row(
            snap.home.id,
            snap.home.nickname or "",
            str(len(items)),
            str(len(snap.groups)),
            f"{items[0].start.astimezone(tz):%Y-%m-%d %H:%M}" if items else "",
            f"{items[-1].end.astimezone(tz):%Y-%m-%d %H:%M}" if items else "",
            _lengths(snap),
            f"{covered.total_seconds() / 86400:.1f} days",
            str(len(snap.pending)),
        )
    out.print(table)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for p in path.iterdir() if p.is_file()]
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.is_file()]


async def coverage(session: Session, out: Console, wanted: str | None) -> None:
    """Per home: the spans the API has answered, and those it said are not published yet."""
    for snap in await _snapshots(session, wanted):
        tz = snap.home.tz
        out.print(f"[bold]{snap.home.id}[/bold] {snap.home.nickname or ''} ({snap.home.time_zone})")
        if not snap.coverage:
            out.print("  nothing answered yet")
        for span in snap.coverage:
            days = (span.end - span.start).total_seconds() / 86400
            out.print(f"  answered  {span_text(span, tz)}  ({days:.2f} days)")
        for item in snap.pending:
            out.print(
                f"  pending   {span_text(item.span, tz)}  ask again after "
                f"{item.retry_at.astimezone(tz):%Y-%m-%d %H:%M}"
            )


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
                f"{snap.home.id}: {len(held.intervals)} intervals, limit {limit}; "
                f"{verb} {len(victims)} fetch groups, {count} intervals"
            )
            for group_id in victims:
                group = held.group(group_id)
                out.print(
                    f"  group {group_id} fetched {group.fetched_at.astimezone(tz):%Y-%m-%d %H:%M}"
                    f"  {span_text(group.span, tz)}  {len(held.members(group_id))} intervals"
                )
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
    target = home_id or _home_named(path)
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
    named = data.get("home_id") if isinstance(data, dict) else None
    return named if isinstance(named, str) else None
