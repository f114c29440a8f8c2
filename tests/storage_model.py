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

    def fetch(self, span: Span, intervals: list[PriceInterval], fetched_at: datetime) -> int:
        gid = self.next_id
        self.next_id += 1
        a, b = span.start.timestamp(), span.end.timestamp()
        for start in [s for s in self.held if a <= s < b]:
            del self.held[start]
        for item in intervals:
            self.held[int(item.start.timestamp())] = (item, gid)
        self.groups[gid] = Group(gid, fetched_at, span)
        self.coverage.append(span)
        return gid

    def evict(self, gid: int) -> None:
        del self.groups[gid]
        for start in [s for s, (_, owner) in self.held.items() if owner == gid]:
            del self.held[start]

    def snapshot(self) -> Snapshot:
        # Groups whose intervals were all replaced are dropped, as the pool's timeline does.
        live = {gid for _, gid in self.held.values()}
        order = sorted(self.held)
        return Snapshot(
            self.home,
            groups=[g for g in self.groups.values() if g.id in live],
            intervals=[self.held[s][0] for s in order],
            group_ids=[self.held[s][1] for s in order],
            coverage=list(self.coverage),
            pending=list(self.pending),
        )


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
    assert list(got.group_ids) == list(want.group_ids)
    assert got.groups == want.groups
    assert list(got.coverage) == list(want.coverage)
    assert list(got.pending) == list(want.pending)


money = st.floats(-2.0, 5.0, allow_nan=False, allow_infinity=False)
optional_money = st.none() | money


@st.composite
def fetch(draw: st.DrawFn, tz: ZoneInfo, base: datetime) -> tuple[Span, list[PriceInterval]]:
    """A fetch near ``base``: a span, and intervals in it with holes, 15 or 60 minutes."""
    step = QUARTER * draw(st.sampled_from([1, 4]))
    start = base + QUARTER * draw(st.integers(-40, 200)) // step * step
    count = draw(st.integers(1, 60))
    span = Span(start, start + step * count)
    intervals = []
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
    elif kind == "evict" and model.groups:
        ids = sorted(model.groups)
        model.evict(ids[cast(int, value) % len(ids)])
    elif kind == "pending":
        model.pending = list(cast(list[Pending], value))
