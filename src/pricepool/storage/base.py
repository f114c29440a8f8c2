"""What a store promises the pool, and the snapshot it keeps."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import StorageError
from ..model import Group, HomeInfo, Pending, PriceInterval, Span

__all__ = ["Group", "NotAStoreError", "Pending", "Snapshot", "Store"]


class NotAStoreError(StorageError):
    """``path`` names something that is not a pricepool store (a foreign or empty file, a
    folder, a path under a file); it was left exactly as it was."""

    # The CLI's status for a wrong argument: the user named the wrong path.
    exit_code = 2

    def __init__(self, message: str, *, path: object) -> None:
        super().__init__(message)
        self.path = path


class Snapshot:
    """An immutable copy of one home's pool: what a store saves and loads.

    ``intervals`` are sorted by start; ``group_ids[i]`` is the fetch group holding
    ``intervals[i]``. A pool's save also lists fetches whose answer held no interval (ids
    below zero): in a shared store they replace what older fetches left in their span.
    Building one costs a copy of two arrays, so the pool takes it at write time;
    ``members`` works out a group's intervals only when a store asks.
    """

    __slots__ = ("_starts", "coverage", "group_ids", "groups", "home", "intervals", "pending")

    def __init__(
        self,
        home: HomeInfo,
        *,
        groups: Sequence[Group] = (),
        intervals: Sequence[PriceInterval] = (),
        group_ids: Sequence[int] = (),
        coverage: Sequence[Span] = (),
        pending: Sequence[Pending] = (),
    ) -> None:
        if len(intervals) != len(group_ids):
            raise ValueError(
                f"intervals ({len(intervals)}) and group_ids ({len(group_ids)}) differ in length"
            )
        self.home = home
        self.groups = tuple(sorted(groups, key=lambda g: g.id))
        self.intervals = intervals
        self.group_ids = group_ids
        self.coverage = tuple(coverage)
        self.pending = tuple(pending)
        self._starts: list[float] | None = None

    def __repr__(self) -> str:
        return (
            f"Snapshot(home={self.home.id!r}, intervals={len(self.intervals)}, "
            f"groups={len(self.groups)}, coverage={len(self.coverage)} spans, "
            f"pending={len(self.pending)})"
        )

    def group(self, group_id: int) -> Group:
        """The group with ``group_id``; KeyError when there is none."""
        for found in self.groups:
            if found.id == group_id:
                return found
        raise KeyError(group_id)

    def members(self, group_id: int) -> list[PriceInterval]:
        """The intervals ``group_id`` still holds, sorted; O(log n + span size)."""
        span = self.group(group_id).span
        if self._starts is None:
            # Snapshot is logically immutable; this lazily filled index is a cache.
            self._starts = [i.start.timestamp() for i in self.intervals]
        starts = self._starts
        lo = bisect_left(starts, span.start.timestamp())
        hi = bisect_left(starts, span.end.timestamp())
        ids = self.group_ids
        return [self.intervals[i] for i in range(lo, hi) if ids[i] == group_id]


@runtime_checkable
class Store(Protocol):
    """Durable keeping of snapshots, one per home, shared by any number of writers.

    ``save`` merges: it adds what the snapshot holds that this writer has not saved or
    loaded before (coverage is the union, the newer fetch wins per span, pending spans
    keep the later re-check time) and removes nothing. It returns what other writers
    stored since this writer last loaded or saved the home and the snapshot lacks (a
    delta, not the whole home), or None when there is nothing. Only ``evict`` removes:
    the named fetches (matched by fetch time and span, not by id) and the spans only they
    answered. ``load`` returns None for a home it never saw. Failures raise
    ``StorageError`` naming the path and cause.
    """

    async def load(self, home_id: str) -> Snapshot | None: ...

    async def save(self, snapshot: Snapshot) -> Snapshot | None: ...

    async def evict(self, home_id: str, groups: Sequence[Group]) -> int: ...

    async def homes(self) -> list[str]: ...

    async def close(self) -> None: ...
