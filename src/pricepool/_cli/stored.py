"""What the ``cache`` commands share: the store's snapshots, read without asking the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from pricepool import FetchResult, HomeInfo, PriceInterval, Snapshot, Span

    from .session import Session

__all__ = ["Offline", "count", "files", "moment", "name", "size_text", "snapshots"]


class Offline:
    """The source of a pool that only reads the store: it never fetches."""

    async def home(self, home_id: str) -> HomeInfo:
        from pricepool import SourceUnavailableError

        raise SourceUnavailableError("cache commands do not ask the API")

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        from pricepool import SourceUnavailableError

        raise SourceUnavailableError("cache commands do not ask the API")


async def snapshots(session: Session, wanted: str | None) -> list[Snapshot]:
    """Every stored home (or the one ``wanted`` names); the store must exist."""
    from .session import match_home

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


def name(home: HomeInfo) -> str:
    """The nickname in bold and a space, or nothing."""
    return f"[bold]{escape(home.nickname)}[/bold] " if home.nickname else ""


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def moment(instant: datetime, session: Session) -> str:
    """``HH:MM`` when ``instant`` is today (home-local), else the date too."""
    local = instant.astimezone(instant.tzinfo)
    today = session.now().astimezone(local.tzinfo).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    return f"{size / 1024:.0f} KiB"


def files(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for p in path.iterdir() if p.is_file()]
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.is_file()]


def find_home(wanted: str, homes: list[HomeInfo]) -> HomeInfo | None:
    """The stored home ``wanted`` names as other commands resolve it (id, nickname, unique
    start of an id); None when it names none (a new id); a usage error when ambiguous."""
    from .session import UsageProblem, match_home

    folded = wanted.casefold()
    named = [h for h in homes if h.id == wanted or (h.nickname or "").casefold() == folded]
    prefixed = [h for h in homes if h.id.startswith(wanted)]
    if not named and not prefixed:
        return None
    try:
        return match_home(wanted, homes)
    except UsageProblem:
        raise UsageProblem(f"--home {wanted} names several stored homes; give the id") from None


def combined(held: Snapshot | None, more: Snapshot) -> Snapshot:
    """``more`` merged into ``held``: coverage is the union; where both hold a price the
    store's stays (it is the newer fetch); the store's home info wins where it has it."""
    from bisect import bisect_right

    from pricepool import Group, HomeInfo, Snapshot

    if held is None:
        return more
    home = HomeInfo(
        held.home.id,
        held.home.time_zone,
        held.home.currency or more.home.currency,
        held.home.nickname or more.home.nickname,
    )
    # Instants as POSIX seconds: datetimes of one zone compare by wall clock.
    starts = [i.start.timestamp() for i in held.intervals]
    kept: list[tuple[PriceInterval, int]] = list(zip(held.intervals, held.group_ids, strict=True))
    offset = max((g.id for g in held.groups), default=-1) + 1
    for item, group_id in zip(more.intervals, more.group_ids, strict=True):
        lo, hi = item.start.timestamp(), item.end.timestamp()
        at = bisect_right(starts, lo)
        before = held.intervals[at - 1] if at else None
        after = held.intervals[at] if at < len(starts) else None
        if (before is not None and before.end.timestamp() > lo) or (
            after is not None and starts[at] < hi
        ):
            continue
        kept.append((item, group_id + offset))
    kept.sort(key=lambda pair: pair[0].start.timestamp())
    used = {g for _, g in kept}
    groups = [*held.groups, *(Group(g.id + offset, g.fetched_at, g.span) for g in more.groups)]
    coverage = _union([*held.coverage, *more.coverage])
    pending = [*held.pending, *(p for p in more.pending if not _inside(p.span, coverage))]
    return Snapshot(
        home,
        groups=[g for g in groups if g.id in used or g.id < offset],
        intervals=[i for i, _ in kept],
        group_ids=[g for _, g in kept],
        coverage=coverage,
        pending=pending,
    )


def _union(spans: list[Span]) -> list[Span]:
    from pricepool import Span

    found: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start.timestamp()):
        if found and span.start.timestamp() <= found[-1].end.timestamp():
            if span.end.timestamp() > found[-1].end.timestamp():
                found[-1] = Span(found[-1].start, span.end)
        else:
            found.append(span)
    return found


def _inside(span: Span, spans: list[Span]) -> bool:
    lo, hi = span.start.timestamp(), span.end.timestamp()
    return any(s.start.timestamp() <= lo and hi <= s.end.timestamp() for s in spans)


async def save_all(session: Session, found: list[Snapshot]) -> None:
    """Save ``found``; when that fails, remove the store if this call created it."""
    import shutil

    path = session.store_path
    existed = path.exists()
    try:
        for snap in found:
            await session.store.save(snap)
    except BaseException:
        if not existed:
            await session.close_store()
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
                if leftover.is_file():
                    leftover.unlink()
        raise
