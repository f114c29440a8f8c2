"""How a save merges with what other writers stored: the rules both stores follow.

A store holds, per home, fetch groups (each stamped with the ``revision`` of the save that
wrote it), their intervals, answered spans (each stamped too), pending spans and the
home's revision. A writer remembers what it knows the store holds (``Known``). A save:

- writes only the groups the writer learned (not ``Known``), each *painted* over its span:
  an interval of an older fetch inside it goes, one of a newer fetch stays (newer fetch
  wins, per span, as in the pool's timeline). A fetch stays stored while some of its span
  is its own, even with no interval left there: an empty answer is an answer, and an older
  fetch saved later by another writer must not fill what it emptied;
- adds the answered spans the writer learned (and every new group's span); coverage is the
  union, and nothing is removed: a span the writer forgot (evicted) stays stored;
- merges pending spans, the later re-check time winning, less what is answered;
- returns what other writers stored since the writer's revision, which its snapshot lacks.

Only ``evict`` (``gc``) removes, and only the groups it names; a group another writer
still holds stays removed because that writer knows it (it never re-adds what it knows).

``Book`` is the whole state of one home in memory (the JSON store's document); the SQLite
store runs the same rules in SQL.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..model import Group, HomeInfo, Pending, PriceInterval, Span
from ..spans import Edge, subtract, union
from ._codec import stamp
from .base import Snapshot

__all__ = ["Book", "Ident", "Known", "ident", "kept", "merge_pending", "overlaps", "painted"]

Ident = tuple[float, int, int]
"""A fetch as every writer names it: fetch time (POSIX seconds) and the span it answered.

Pools number their groups themselves, so ids collide between writers; this does not."""


def ident(group: Group) -> Ident:
    start, end = group.span.seconds
    return (float(stamp(group.fetched_at)), start, end)


def edge(span: Span) -> Edge:
    return span.seconds


def spans(edges: Iterable[Edge]) -> list[Span]:
    return [Span.from_seconds(a, b) for a, b in edges]


@dataclass
class Known:
    """What one writer knows a store holds for a home: as of which revision, which
    fetches, which answered spans. What is known is never written again."""

    revision: int = -1
    # each fetch with how many intervals the writer last saw it hold
    groups: dict[Ident, int] = field(default_factory=dict)
    coverage: list[Edge] = field(default_factory=list)

    @classmethod
    def of(cls, revision: int, snapshot: Snapshot) -> Known:
        return cls(revision, held(snapshot), union(edge(s) for s in snapshot.coverage))

    def after(
        self, revision: int, snapshot: Snapshot, stored: Iterable[Ident], cover: Iterable[Edge]
    ) -> Known:
        """What is known once ``snapshot`` was saved into a store now holding ``stored``."""
        groups = dict.fromkeys(stored, 0)
        groups.update(held(snapshot))
        return Known(revision, groups, union([*(edge(s) for s in snapshot.coverage), *cover]))


def held(snapshot: Snapshot) -> dict[Ident, int]:
    """Each fetch of ``snapshot`` with how many intervals it holds."""
    counts = Counter(snapshot.group_ids)
    return {ident(g): counts[g.id] for g in snapshot.groups}


def learned(snapshot: Snapshot, known: Known) -> tuple[list[Group], list[Edge], list[Group]]:
    """The groups (oldest fetch first) and answered spans ``snapshot`` holds that ``known``
    does not (every new group's span counts as answered), and the known groups that hold
    fewer intervals than when last seen: a later answer, maybe an empty one, took some."""
    counts = Counter(snapshot.group_ids)
    new: list[Group] = []
    shrunk: list[Group] = []
    for g in snapshot.groups:
        before = known.groups.get(ident(g))
        if before is None:
            new.append(g)
        elif counts[g.id] < before:
            shrunk.append(g)
    new.sort(key=lambda g: (g.fetched_at, g.id))
    edges: list[Edge] = [edge(g.span) for g in new]
    for span in snapshot.coverage:
        edges.extend(subtract(*edge(span), known.coverage))
    return new, union(edges), shrunk


def kept(snapshot: Snapshot, group: Group) -> set[int]:
    """The starts a shrunk fetch keeps in the store: those the writer still holds in it,
    and those an older fetch of the writer took over (in the store the newer fetch wins,
    whatever order the writer learned them in); only what it emptied goes."""
    ids = {g.id for g in snapshot.groups if g.fetched_at < group.fetched_at} | {group.id}
    a, b = edge(group.span)
    return {
        s
        for item, gid in zip(snapshot.intervals, snapshot.group_ids, strict=True)
        if gid in ids and a <= (s := int(item.start.timestamp())) < b
    }


def overlaps(a: Edge, b: Edge) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def painted(span: Edge, newer: Iterable[Edge]) -> list[Edge]:
    """The parts of ``span`` a fetch still owns where newer fetches answered ``newer``."""
    return subtract(*span, union(e for e in newer if overlaps(e, span)))


def merge_pending(
    ours: Iterable[tuple[int, int, float]],
    theirs: Iterable[tuple[int, int, float]],
    answered: Sequence[Edge],
) -> list[tuple[int, int, float]]:
    """Pending spans of both sides, the later re-check time winning where they overlap,
    less what is ``answered`` (sorted, disjoint)."""
    cuts = sorted({p for a, b, _ in (*ours, *theirs) for p in (a, b)})
    both = [*ours, *theirs]
    out: list[tuple[int, int, float]] = []
    for lo, hi in itertools.pairwise(cuts):
        due = [t for a, b, t in both if a <= lo and hi <= b]
        if not due:
            continue
        for a, b in subtract(lo, hi, answered):
            when = max(due)
            if out and out[-1][1] == a and out[-1][2] == when:
                out[-1] = (out[-1][0], b, when)
            else:
                out.append((a, b, when))
    return out


def pending_edges(pending: Iterable[Pending]) -> list[tuple[int, int, float]]:
    return [(*edge(p.span), float(stamp(p.retry_at))) for p in pending]


def pending_values(edges: Iterable[tuple[int, int, float]]) -> list[Pending]:
    return [Pending(Span.from_seconds(a, b), datetime.fromtimestamp(t, UTC)) for a, b, t in edges]


class Book:
    """One home as a store holds it, in memory; the rules of a merging save on it."""

    def __init__(self, home: HomeInfo) -> None:
        self.home = home
        self.revision = 0
        # store id -> (group, revision that wrote it)
        self.groups: dict[int, tuple[Group, int]] = {}
        # start (POSIX seconds) -> (interval, store group id)
        self.rows: dict[int, tuple[PriceInterval, int]] = {}
        # answered spans, disjoint, each with the revision that added it
        self.coverage: list[tuple[int, int, int]] = []
        self.pending: list[tuple[int, int, float]] = []
        # The layout version the book was read in (a store's concern).
        self.version = (0, 0)

    @classmethod
    def of(
        cls,
        snapshot: Snapshot,
        revision: int = 0,
        revs: dict[int, int] | None = None,
        cover_revs: Sequence[int] | None = None,
    ) -> Book:
        """The book holding ``snapshot`` (store ids as they are)."""
        book = cls(snapshot.home)
        book.revision = revision
        for g in snapshot.groups:
            book.groups[g.id] = (g, (revs or {}).get(g.id, 0))
        for item, gid in zip(snapshot.intervals, snapshot.group_ids, strict=True):
            book.rows[int(item.start.timestamp())] = (item, gid)
        edges = [edge(s) for s in snapshot.coverage]
        given = list(cover_revs) if cover_revs is not None else [0] * len(edges)
        book.coverage = sorted((a, b, r) for (a, b), r in zip(edges, given, strict=True))
        book.pending = pending_edges(snapshot.pending)
        return book

    def snapshot(self, home: HomeInfo | None = None) -> Snapshot:
        order = sorted(self.rows)
        live = {gid for _, gid in self.rows.values()}
        return Snapshot(
            home or self.home,
            groups=[g for gid, (g, _) in self.groups.items() if gid in live],
            intervals=[self.rows[s][0] for s in order],
            group_ids=[self.rows[s][1] for s in order],
            coverage=spans(union((a, b) for a, b, _ in self.coverage)),
            pending=pending_values(self.pending),
        )

    def known(self) -> Known:
        return Known.of(self.revision, self.snapshot())

    def save(self, snapshot: Snapshot, known: Known) -> tuple[Snapshot | None, Known, bool]:
        """Merge ``snapshot`` in; what others stored since ``known`` that it lacks, what
        the writer knows afterwards, and whether the book changed."""
        was = (len(self.rows), len(self.groups), len(self.coverage), list(self.pending))
        changed = snapshot.home != self.home
        self.home = snapshot.home
        others = known.revision != self.revision
        revision = self.revision + 1
        stored = {ident(g): gid for gid, (g, _) in self.groups.items()}
        new, answered, shrunk = learned(snapshot, known)
        for group in new:
            if ident(group) not in stored:
                self._paint(group, snapshot.members(group.id), revision)
        for group in shrunk:
            gid = stored.get(ident(group))
            if gid is not None and gid in self.groups:
                self._trim(gid, group.span.seconds, kept(snapshot, group))
        cover = union((a, b) for a, b, _ in self.coverage)
        for a, b in answered:
            for lo, hi in subtract(a, b, cover):
                self.coverage.append((lo, hi, revision))
        self.coverage.sort()
        cover = union((a, b) for a, b, _ in self.coverage)
        self.pending = merge_pending(self.pending, pending_edges(snapshot.pending), cover)
        delta = self._since(known.revision, snapshot) if others else None
        # Painting and trimming replace rows only where they add or drop some.
        changed = (
            changed
            or was != (len(self.rows), len(self.groups), len(self.coverage), self.pending)
            or any(rev == revision for _, rev in self.groups.values())
        )
        if changed:
            self.revision = revision
        after = known.after(
            self.revision, snapshot, (ident(g) for g, _ in self.groups.values()), cover
        )
        return delta, after, changed

    def evict(self, groups: Iterable[Group]) -> int:
        """Remove the fetches ``groups`` name and the spans only they answered; how many
        intervals went. A fetch no longer stored is skipped."""
        stored = {ident(g): gid for gid, (g, _) in self.groups.items()}
        dropped = 0
        for group in groups:
            gid = stored.get(ident(group))
            if gid is None:
                continue
            span = edge(group.span)
            del self.groups[gid]
            inside = [s for s in self.rows if span[0] <= s < span[1]]
            kept: list[Edge] = []
            for s in sorted(inside):
                item, owner = self.rows[s]
                if owner == gid:
                    del self.rows[s]
                    dropped += 1
                else:
                    kept.append((s, s + int(item.length.total_seconds())))
            lost = subtract(*span, union(kept))
            self.coverage = [
                (lo, hi, rev) for a, b, rev in self.coverage for lo, hi in subtract(a, b, lost)
            ]
        return dropped

    def _paint(self, group: Group, members: Sequence[PriceInterval], revision: int) -> None:
        span = edge(group.span)
        at = group.fetched_at
        newer = [edge(g.span) for g, _ in self.groups.values() if g.fetched_at > at]
        older = {gid for gid, (g, _) in self.groups.items() if g.fetched_at < at}
        for start in [s for s in self.rows if span[0] <= s < span[1]]:
            if self.rows[start][1] in older:
                del self.rows[start]
        own = painted(span, newer)
        gid = max(self.groups, default=0) + 1
        starts = [int(m.start.timestamp()) for m in members]
        for a, b in own:
            lo = bisect_left(starts, a)
            hi = bisect_left(starts, b, lo)
            for i in range(lo, hi):
                if starts[i] not in self.rows:
                    self.rows[starts[i]] = (members[i], gid)
        if own:
            # Kept even without intervals: an empty answer still wins over older fetches
            # that another writer saves later.
            self.groups[gid] = (Group(gid, at, group.span), revision)
        self._drop_spent(older)

    def _drop_spent(self, gids: Iterable[int]) -> None:
        """Forget the fetches among ``gids`` that hold no interval and whose whole span a
        newer fetch answered: nothing older can be painted under them any more."""
        live = {g for _, g in self.rows.values()}
        for gid in [g for g in gids if g not in live and g in self.groups]:
            group = self.groups[gid][0]
            newer = (
                edge(g.span) for g, _ in self.groups.values() if g.fetched_at > group.fetched_at
            )
            if not painted(edge(group.span), newer):
                del self.groups[gid]

    def _trim(self, gid: int, span: Edge, keep: set[int]) -> None:
        """Drop the stored intervals of ``gid`` in ``span`` whose starts are not ``keep``."""
        for start in [s for s in self.rows if span[0] <= s < span[1]]:
            if self.rows[start][1] == gid and start not in keep:
                del self.rows[start]
        self._drop_spent([gid])

    def _since(self, revision: int, snapshot: Snapshot) -> Snapshot | None:
        """What writes after ``revision`` stored that ``snapshot`` lacks."""
        mine = {ident(g) for g in snapshot.groups}
        fresh = {
            gid for gid, (g, rev) in self.groups.items() if rev > revision and ident(g) not in mine
        }
        have = union(edge(s) for s in snapshot.coverage)
        gained = union(
            e for a, b, rev in self.coverage if rev > revision for e in subtract(a, b, have)
        )
        starts = sorted(self.rows)
        picked: set[int] = set()
        for s in starts:
            if self.rows[s][1] in fresh:
                picked.add(s)
        for a, b in gained:
            for s in starts[bisect_left(starts, a) : bisect_left(starts, b)]:
                picked.add(s)
        if not picked and not gained:
            return None
        order = sorted(picked)
        gids = {self.rows[s][1] for s in order}
        return Snapshot(
            snapshot.home,
            groups=[self.groups[g][0] for g in sorted(gids)],
            intervals=[self.rows[s][0] for s in order],
            group_ids=[self.rows[s][1] for s in order],
            coverage=spans(gained),
            pending=pending_values(self.pending),
        )
