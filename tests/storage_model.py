"""A tiny model of a pool's state for store tests, and random states for hypothesis."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from pricepool import HomeInfo, PriceInterval, PriceLevel, Span
from pricepool.storage._codec import union
from pricepool.storage.base import Group, Pending, Snapshot

# Zones with their DST days: Lord Howe moves by 30 minutes, New York on other dates.
ZONES = {
    "Europe/Oslo": [datetime(2025, 3, 30, tzinfo=UTC), datetime(2025, 10, 26, tzinfo=UTC)],
    "America/New_York": [datetime(2025, 3, 9, tzinfo=UTC), datetime(2025, 11, 2, tzinfo=UTC)],
    "Australia/Lord_Howe": [datetime(2025, 4, 5, tzinfo=UTC), datetime(2025, 10, 4, tzinfo=UTC)],
    "UTC": [datetime(2025, 9, 30, tzinfo=UTC)],
}
QUARTER = timedelta(minutes=15)


@dataclass
class Model:
    """One home's intervals as the pool keeps them: a newer fetch replaces its whole span."""

    home: HomeInfo
    groups: dict[int, Group] = field(default_factory=dict)
    held: dict[int, tuple[PriceInterval, int]] = field(default_factory=dict)
    coverage: list[Span] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    next_id: int = 1
    # fetches whose answer held no interval
    empty: set[int] = field(default_factory=set)

    def fetch(self, span: Span, intervals: list[PriceInterval], fetched_at: datetime) -> int:
        gid = self.next_id
        self.next_id += 1
        a, b = span.start.timestamp(), span.end.timestamp()
        for start in [s for s in self.held if a <= s < b]:
            del self.held[start]
        for item in intervals:
            self.held[int(item.start.timestamp())] = (item, gid)
        self.groups[gid] = Group(gid, fetched_at, span)
        if not intervals:
            self.empty.add(gid)
        self.coverage.append(span)
        return gid

    def holding(self) -> list[int]:
        """The fetches holding an interval: the only ones a pool can evict."""
        return sorted({gid for _, gid in self.held.values()})

    def evict(self, gid: int) -> None:
        """Drop a fetch, and the answered spans no other fetch holds an interval in."""
        span = self.groups.pop(gid).span
        self.empty.discard(gid)
        for start in [s for s, (_, owner) in self.held.items() if owner == gid]:
            del self.held[start]
        # Instants, not datetimes: in one zone those compare by wall time, so the repeated
        # hour of a DST change would sort wrongly.
        a0, b0 = span.start.timestamp(), span.end.timestamp()
        kept = sorted(
            (i.start.timestamp(), i.end.timestamp())
            for i, _ in self.held.values()
            if a0 <= i.start.timestamp() < b0
        )
        lost: list[Span] = []
        cursor = a0
        for a, b in kept:
            if a > cursor:
                lost.append(Span(_utc(cursor), _utc(a)))
            cursor = max(cursor, b)
        if cursor < b0:
            lost.append(Span(_utc(cursor), span.end))
        left: list[Span] = []
        for have in union(self.coverage):
            pieces = [have]
            for cut in lost:
                pieces = (
                    [
                        part
                        for p in pieces
                        for part in (
                            Span(p.start, min(p.end, cut.start)) if p.start < cut.start else None,
                            Span(max(p.start, cut.end), p.end) if cut.end < p.end else None,
                        )
                        if part is not None
                    ]
                    if any(p.start < cut.end and cut.start < p.end for p in pieces)
                    else pieces
                )
            left.extend(pieces)
        self.coverage = left

    def snapshot(self) -> Snapshot:
        # Groups whose intervals were all replaced are dropped, as the pool's timeline does;
        # an answer that held none is carried, as a pool carries it to its store.
        live = {gid for _, gid in self.held.values()} | self.empty
        order = sorted(self.held)
        return Snapshot(
            self.home,
            groups=[g for g in self.groups.values() if g.id in live],
            intervals=[self.held[s][0] for s in order],
            group_ids=[self.held[s][1] for s in order],
            coverage=list(self.coverage),
            pending=list(self.pending),
        )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def replay(*models: Model) -> Model:
    """One model holding what ``models`` fetched, replayed in fetch order: what a store
    shared by their writers must hold (the newer fetch wins, per span). Their own
    coverage is kept as each writer holds it."""
    out = Model(models[0].home)
    fetches = [
        (
            g.fetched_at,
            g.span,
            sorted((i for i, owner in m.held.values() if owner == g.id), key=lambda i: i.start),
        )
        for m in models
        for g in m.groups.values()
    ]
    for fetched_at, span, intervals in sorted(fetches, key=lambda f: f[0]):
        out.fetch(span, intervals, fetched_at)
    out.coverage = [s for m in models for s in m.coverage]
    return out


def pool_like(pending: list[Pending], coverage: list[Span]) -> list[Pending]:
    """``pending`` as a pool holds it: disjoint, sorted, none inside an answered span."""
    kept: list[Pending] = []
    for item in sorted(pending, key=lambda p: p.span.start):
        taken = [*coverage, *(k.span for k in kept)]
        if not any(item.span.start < s.end and s.start < item.span.end for s in taken):
            kept.append(item)
    return kept


def set_aside(folder: Path) -> list[Path]:
    """The files a store has moved aside in ``folder``."""
    return sorted(folder / name for name in os.listdir(folder) if ".corrupt." in name)


def assert_same(got: Snapshot | None, want: Snapshot) -> None:
    """Equal in everything a pool would notice, including each start's offset and zone."""
    assert got is not None
    assert got.home == want.home
    assert list(got.intervals) == list(want.intervals)
    assert [i.start.utcoffset() for i in got.intervals] == [
        i.start.utcoffset() for i in want.intervals
    ]
    assert all(i.start.tzinfo is want.home.tz for i in got.intervals)

    # Group ids are the store's own: a fetch is named by its time and span.
    def fetches(snapshot: Snapshot) -> list[tuple[datetime, Span]]:
        groups = {g.id: g for g in snapshot.groups}
        return [(groups[i].fetched_at, groups[i].span) for i in snapshot.group_ids]

    assert fetches(got) == fetches(want)
    assert len(got.groups) == len({g for g in want.group_ids})
    # Stores keep coverage as a union (touching spans join).
    assert list(got.coverage) == union(want.coverage)
    assert list(got.pending) == list(want.pending)


money = st.floats(-2.0, 5.0, allow_nan=False, allow_infinity=False)
optional_money = st.none() | money


@st.composite
def fetch(draw: st.DrawFn, tz: ZoneInfo, base: datetime) -> tuple[Span, list[PriceInterval]]:
    """A fetch near ``base``: a span, and intervals in it with holes, 15 or 60 minutes."""
    # Spans start and end on whole hours, as whole days do: hourly and quarter-hourly
    # fetches then replace each other's intervals without leaving one that overlaps.
    quarters = draw(st.sampled_from([1, 4]))
    step = QUARTER * quarters
    start = base + timedelta(hours=draw(st.integers(-10, 50)))
    count = draw(st.integers(1, 15)) * (4 // quarters)
    span = Span(start, start + step * count)
    intervals: list[PriceInterval] = []
    if draw(st.integers(0, 7)) == 0:
        return span, intervals  # answered without a price: it still replaces older ones
    for k in range(count):
        if draw(st.integers(0, 9)) == 0:
            continue  # answered, but no price there
        at = start + step * k
        intervals.append(
            PriceInterval(
                at.astimezone(tz),
                at + step,
                draw(money),
                draw(optional_money),
                draw(optional_money),
                draw(st.none() | st.sampled_from(list(PriceLevel))),
                draw(st.sampled_from(["NOK", "EUR", None])),
            )
        )
    return span, intervals


@st.composite
def home(draw: st.DrawFn) -> tuple[HomeInfo, datetime]:
    """A home (its id may need escaping in a file name) and a DST-ish day to fetch around."""
    name = draw(st.sampled_from(list(ZONES)))
    info = HomeInfo(
        draw(st.sampled_from(["home-1", "7f3c/../ü x", "a.b"])),
        name,
        draw(st.sampled_from(["NOK", "EUR", None])),
        draw(st.none() | st.text(max_size=8)),
    )
    return info, draw(st.sampled_from(ZONES[name]))


@st.composite
def pending(draw: st.DrawFn, base: datetime) -> Pending:
    start = base + QUARTER * draw(st.integers(0, 400))
    span = Span(start, start + timedelta(days=1))
    retry = start - timedelta(microseconds=draw(st.integers(0, 10**10)))
    return Pending(span, retry)


@st.composite
def history(draw: st.DrawFn) -> tuple[Model, list[tuple[str, object]]]:
    """A model and a list of steps: ("fetch", (span, intervals)), ("evict", k), ("save", None)."""
    info, base = draw(home())
    model = Model(info)
    steps: list[tuple[str, object]] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["fetch", "fetch", "fetch", "evict", "save", "pending"]))
        if kind == "fetch":
            steps.append((kind, draw(fetch(info.tz, base))))
        elif kind == "evict":
            steps.append((kind, draw(st.integers(0, 20))))
        elif kind == "pending":
            steps.append((kind, draw(st.lists(pending(base), max_size=2))))
        else:
            steps.append((kind, None))
    return model, steps


def play(model: Model, step: tuple[str, object], fetched_at: datetime) -> None:
    """Apply one step of ``history`` to ``model``."""
    kind, value = step
    if kind == "fetch":
        span, intervals = cast(tuple[Span, list[PriceInterval]], value)
        model.fetch(span, intervals, fetched_at)
    elif kind == "evict" and model.holding():
        ids = model.holding()
        model.evict(ids[cast(int, value) % len(ids)])
    elif kind == "pending":
        model.pending = list(cast(list[Pending], value))
