"""The interval pool's lifecycle, planning and single-flight; the rules live in their modules.

Who owns what the pool asks: ``Publication`` (is the day out yet), ``Coverage`` (answered,
pending or failed until when), ``Backoff`` (is the source as a whole resting),
``Retention`` (what to evict), ``DelayedSave`` (when to write). The pool plans whole local
days around what is missing, launches one flight per stretch wanted in an event-loop turn,
merges answers into the ``Timeline``; ``answer.explain`` says what it could not answer.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from types import TracebackType
from typing import Any, NoReturn, Self
from zoneinfo import ZoneInfo

from .answer import Answer, Failure, Gap, clip, explain
from .backoff import Backoff, whole
from .clock import Clock, day_ceil, day_floor, system_clock
from .coverage import Coverage
from .errors import (
    InvalidRangeError,
    InvalidResponseError,
    PricePoolError,
    SourceError,
    StorageError,
    UnansweredError,
)
from .model import Group, HomeInfo, Pending, PriceInterval, Span
from .publication import Publication
from .retention import Retention
from .sources.base import FetchResult, PriceSource
from .spans import Edge, subtract, union
from .storage.base import Snapshot, Store
from .storage.claims import Claims, Watches
from .storage.delayed import DelayedSave
from .timeline import Timeline, key, key_end, ordered

__all__ = ["IntervalPool", "PoolStats"]

log = logging.getLogger("pricepool")

MAX_RANGE = 5 * 366 * 86_400  # seconds; five years, leap days included


@dataclass(frozen=True, slots=True)
class PoolStats:
    """Counters of one pool since it was opened, and what it holds now."""

    requests: int
    """Calls of ``get_intervals`` and ``query``."""
    hits: int
    """Requests answered without asking the source."""
    source_calls: int
    """``fetch`` calls made to the source."""
    failures: int
    """Source calls that raised."""
    intervals: int
    fetch_groups: int
    evictions: int
    """Intervals dropped by retention."""
    revisions: int
    """Re-fetched intervals whose values had changed."""
    saves: int
    save_failures: int = 0
    """Writes to the store that failed (the data stays in memory and is written later)."""


class _Flight:
    """One source call under way, shared by every request that needs its span."""

    __slots__ = ("end", "group", "start", "task", "waiters")

    task: asyncio.Task[None]

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.group: int | None = None
        # Requests that will slice what this flight brought: its group is not evicted
        # before they have their answer.
        self.waiters = 0


def _instant(name: str, value: object) -> float:
    if not isinstance(value, datetime):
        raise InvalidRangeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRangeError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.timestamp()


def _bounds(start: datetime, end: datetime) -> Edge:
    """A request's range as whole POSIX seconds; InvalidRangeError names what is wrong."""
    first = _instant("start", start)
    last = _instant("end", end)
    if last <= first:
        raise InvalidRangeError(
            f"end ({end.isoformat()}) must be after start ({start.isoformat()})"
        )
    # Keys are whole seconds, so "starts at or after x" is "starts at or after ceil(x)".
    a = math.ceil(first)
    b = math.ceil(last)
    if b - a > MAX_RANGE:
        raise InvalidRangeError(
            f"range from start {start.isoformat()} to end {end.isoformat()} is longer than 5 years"
        )
    return a, b


def _floor(stamp: int, tz: ZoneInfo) -> int:
    return int(day_floor(datetime.fromtimestamp(stamp, UTC), tz).timestamp())


def _ceil(stamp: int, tz: ZoneInfo) -> int:
    return int(day_ceil(datetime.fromtimestamp(stamp, UTC), tz).timestamp())


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a task's failure as seen: every waiter gets it, so asyncio need not report it."""
    if not task.cancelled():
        task.exception()


class IntervalPool:
    """Price intervals of one home, fetched once and kept.

    ``query`` (and its thin wrapper ``get_intervals``) answers from the pool when the
    source has already answered the range, and otherwise asks the source only for the
    whole local days it has never answered, never for days that cannot be published yet
    (day D is expected at ``publish_at`` on D-1, home-local; or give a shared
    ``publication``), and at most once per ``recheck`` for a day the source said is not
    published yet or failed for. Concurrent requests for the same span share one source
    call; requests arriving in one event-loop turn are planned together. Retention keeps
    at most ``max_intervals`` (evicting the oldest fetches first, never the protected
    window). With a ``store``, what the pool learns is saved ``save_delay`` seconds after
    the last change and on close, and loaded on open.
    """

    def __init__(
        self,
        home_id: str,
        source: PriceSource,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        max_intervals: int = 35_040,
        publish_at: time | None = None,
        recheck: timedelta = timedelta(minutes=15),
        save_delay: float = 3.0,
        publication: Publication | None = None,
        gather: float = 0.0,
    ) -> None:
        if not home_id:
            raise ValueError("home_id must not be empty")
        if recheck <= timedelta(0):
            raise ValueError(f"recheck must be positive, got {recheck}")
        if gather < 0:
            raise ValueError(f"gather must not be negative, got {gather}")
        # Requests within this many seconds are planned together (a service's clients
        # arrive over several event-loop turns); 0: those of one turn.
        self._gather = gather
        self.home_id = home_id
        self._source = source
        self._store = store
        self._clock = clock or system_clock
        self._retention = Retention(max_intervals, recent=recheck.total_seconds())
        if publication is None:
            publication = Publication() if publish_at is None else Publication(publish_at)
        elif publish_at is not None and publish_at != publication.at:
            raise ValueError("give publish_at or publication, not both")
        self._publication = publication
        # The horizon and the instants between which it holds, as Publication.window gives.
        self._window: tuple[int, float, float] = (0, 0.0, 0.0)
        self._recheck = int(recheck.total_seconds())
        self._saver = DelayedSave(self._write, save_delay, f"prices of home {home_id!r}")
        # Fetch groups gc evicted, to be removed from the store by the next write.
        self._evicted: list[Group] = []
        # Answers without intervals not saved yet: the timeline keeps no group for them,
        # yet in a shared store they must win over older fetches (ids below zero).
        self._empty: list[Group] = []
        self._timeline = Timeline()
        self._coverage = Coverage()
        self._home: HomeInfo | None = None
        self._home_task: asyncio.Task[HomeInfo] | None = None
        self._flights: list[_Flight] = []
        self._held: set[_Flight] = set()
        # Spans wanted by requests of this event-loop turn, launched together at its end.
        self._wanted: list[Edge] = []
        self._round: asyncio.Future[list[_Flight]] | None = None
        self._backoff = Backoff(float(self._recheck))
        # Where each failure was first raised: raising it again does not grow its traceback.
        # By id: an error class may define __eq__ and so not be hashable.
        self._traces: dict[int, tuple[SourceError, TracebackType | None]] = {}
        self._logged: tuple[SourceError, ...] = ()
        # Ranges that requests under way will slice once their fetches land.
        self._reading: list[Edge] = []
        self._closing: asyncio.Future[None] | None = None
        self._opened = False
        self._closed = False
        self._open_lock = asyncio.Lock()
        self._unwatch: Callable[[], None] | None = None
        self._requests = 0
        self._hits = 0
        self._calls = 0
        self._failures = 0
        self._evictions = 0
        self._revisions = 0

    def __repr__(self) -> str:
        return (
            f"IntervalPool(home_id={self.home_id!r}, intervals={len(self._timeline)}, "
            f"groups={self._timeline.group_count}, closed={self._closed})"
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Load what the store holds for this home. Safe to call twice."""
        async with self._open_lock:
            if self._closed:
                raise PricePoolError("this pool is closed; make a new IntervalPool")
            if self._opened:
                return
            if self._store is not None:
                snapshot = await self._store.load(self.home_id)
                if snapshot is not None:
                    self._restore(snapshot)
                if isinstance(self._store, Watches):
                    # Another process's save: the next write of ours brings it in.
                    self._unwatch = self._store.watch(self.home_id, self._saver.schedule)
            self._opened = True

    async def close(self) -> None:
        """Stop fetching and write what is not saved yet. A pending save is flushed.

        Cancelling ``close`` does not cancel the flush: it goes on, and another ``close``
        waits for it.
        """
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.ensure_future(self._shut())
        await asyncio.shield(self._closing)

    async def _shut(self) -> None:
        busy: list[asyncio.Future[Any]] = [f.task for f in self._flights]
        if self._home_task is not None and not self._home_task.done():
            busy.append(self._home_task)
        # A fetch not yet answered holds nothing to lose; waiting could take the retry budget.
        for task in busy:
            task.cancel()
        if busy:
            await asyncio.gather(*busy, return_exceptions=True)
        if self._unwatch is not None:
            self._unwatch()
        if self._store is not None:
            await self._saver.close()

    # ------------------------------------------------------------------ queries

    @property
    def home(self) -> HomeInfo | None:
        """The home's info, once the source (or the store) told it."""
        return self._home

    @property
    def stats(self) -> PoolStats:
        return PoolStats(
            requests=self._requests,
            hits=self._hits,
            source_calls=self._calls,
            failures=self._failures,
            intervals=len(self._timeline),
            fetch_groups=self._timeline.group_count,
            evictions=self._evictions,
            revisions=self._revisions,
            saves=self._saver.saves,
            save_failures=self._saver.failures,
        )

    async def query(self, start: datetime, end: datetime) -> Answer:
        """Every interval whose start lies in ``[start, end)``, and what is missing and why.

        A failure of the source does not raise: its span becomes a FAILED gap saying when
        the source is asked again. Raises InvalidRangeError for naive, reversed or
        over-long ranges, PricePoolError when the pool is closed, and the source's error
        when the home itself cannot be resolved (nothing is answerable without its zone).
        """
        a, b = _bounds(start, end)
        home = await self._ready()
        now = self._clock()
        stamp = now.timestamp()
        limit = self._limit(stamp, home.tz)
        top = min(b, limit)
        if a >= top or self._coverage.covers(a, top):
            self._hits += 1
            intervals = self._timeline.slice(a, b)
            if len(self._timeline) > self._retention.max_intervals and not self._reading:
                self._enforce()
            answer = Answer(home, intervals, self._gaps(a, b, limit, home, stamp, ()))
        else:
            answer = await self._answer(a, b, top, limit, now, home)
        return clip(answer, end)

    async def get_intervals(
        self, start: datetime, end: datetime, *, allow_partial: bool = False
    ) -> list[PriceInterval]:
        """Every interval whose start lies in ``[start, end)``, sorted, in the home's zone.

        Raises InvalidRangeError for naive, reversed or over-long ranges, and the source's
        error when it failed for a part of the range, unless ``allow_partial``: then what
        the pool holds is returned. Days not published yet are simply absent; ``query``
        says what is missing and why.
        """
        a, b = _bounds(start, end)
        home = self._home
        if home is None or self._closed or not self._opened:
            home = await self._ready()
        else:
            self._requests += 1  # the common case without a coroutine call
        now = self._clock()
        stamp = now.timestamp()
        window = self._window
        limit = window[0] if window[1] <= stamp < window[2] else self._limit(stamp, home.tz)
        top = min(b, limit)
        if a >= top or self._coverage.covers(a, top):
            self._hits += 1
            found = self._timeline.slice(a, b)
            if len(self._timeline) > self._retention.max_intervals and not self._reading:
                self._enforce()  # the protected window may have moved on
            return found
        # Unpublished days raise nothing: no need to describe them.
        answer = await self._answer(a, b, top, limit, now, home, ahead=False)
        for gap in answer.missing:
            error = gap.error
            if error is None:
                continue
            if not allow_partial:
                self._raise(error)
            if all(error is not seen for seen in self._logged):
                self._logged = (*self._logged[-7:], error)
                log.warning(
                    "serving cached prices for home %s; the source failed for %s: %s",
                    self.home_id,
                    gap.span,
                    error,
                )
        return answer.intervals

    async def resolve_home(self) -> HomeInfo:
        """The home's info, from the store or asked of the source once.

        Raises the source's error when it cannot tell, PricePoolError when closed.
        """
        if not self._opened:
            await self.open()
        if self._closed:
            raise PricePoolError("this pool is closed")
        return self._home or await self._fetch_home()

    async def _ready(self) -> HomeInfo:
        if not self._opened:
            await self.open()
        if self._closed:
            raise PricePoolError("this pool is closed")
        self._requests += 1
        return self._home or await self._fetch_home()

    async def _answer(
        self,
        a: int,
        b: int,
        top: int,
        limit: int,
        now: datetime,
        home: HomeInfo,
        *,
        ahead: bool = True,
    ) -> Answer:
        """Fetch what ``[a, top)`` lacks, then answer ``[a, b)``; source failures become gaps."""
        spans = self._plan(a, top, limit, now, home.tz)
        if not spans:
            self._hits += 1  # the rest is unpublished, or failed, until a re-check
            intervals = self._timeline.slice(a, b)
            gaps = self._gaps(a, b, limit, home, now.timestamp(), (), ahead=ahead)
            return Answer(home, intervals, gaps)
        flights: list[_Flight] = []
        reading = (a, b)
        self._reading.append(reading)
        try:
            await self._fly(spans, flights)
            failed: list[Failure] = []
            for flight in flights:
                if flight.task.cancelled():
                    raise PricePoolError("the pool was closed while fetching")
                failure = flight.task.exception()
                if failure is None:
                    continue
                if not isinstance(failure, SourceError):
                    flight.task.result()  # raises with the traceback asyncio kept
                assert isinstance(failure, SourceError)
                failed.append((flight.start, flight.end, failure))
            intervals = self._timeline.slice(a, b)
            home = self._home or home
            stamp = self._clock().timestamp()
            gaps = self._gaps(a, b, limit, home, stamp, failed, ahead=ahead)
            return Answer(home, intervals, gaps)
        finally:
            self._reading.remove(reading)
            for flight in flights:
                flight.waiters -= 1
                if not flight.waiters:
                    self._held.discard(flight)
            if not self._reading:
                self._enforce()  # the last reader out; earlier ones would repeat the work

    def _gaps(
        self,
        a: int,
        b: int,
        limit: int,
        home: HomeInfo,
        now: float,
        failed: Sequence[Failure],
        *,
        ahead: bool = True,
    ) -> tuple[Gap, ...]:
        return explain(
            self._coverage,
            self._publication,
            self._backoff,
            (a, b, limit),
            home.tz,
            now,
            failed,
            ahead=ahead,
        )

    def peek(self, at: datetime) -> PriceInterval | None:
        """The held interval in force at ``at``; asks nothing (for a metrics page)."""
        stamp = at.timestamp()
        # No interval is longer than an hour (DST days included: they have more of them).
        for item in reversed(self._timeline.slice(math.floor(stamp) - 3600, math.floor(stamp) + 1)):
            if item.start.timestamp() <= stamp < item.end.timestamp():
                return item
        return None

    @property
    def revision(self) -> tuple[int, int, int, bool]:
        """Differs whenever what the pool answers may have changed, time aside: new or
        evicted intervals, coverage, pending and failed spans, the back-off, the home."""
        return (
            self._timeline.revision,
            self._coverage.revision,
            self._backoff.revision,
            self._home is not None,
        )

    def steady_until(self, now: datetime) -> float:
        """Until when (POSIX seconds) answers stay as they are at ``now`` if nothing is
        fetched: the next end of a pending or failed span, of the back-off, or of the
        current publication horizon; ``now`` itself when the home is not known."""
        if self._home is None:
            return now.timestamp()
        stamp = now.timestamp()
        ends = [self._publication.window(stamp, self._home.tz)[2]]
        ends.extend(h[2] for h in self._coverage.holds(-(2**62), 2**62, stamp))
        if self._backoff.until > stamp:
            ends.append(self._backoff.until)
        return min(ends)

    def published_until(self) -> datetime | None:
        """End of the last day whose prices can be out by now (home-local), if the home is known.

        Prices for day D are expected at ``publish_at`` on D-1; a range past this instant is
        answered only up to it.
        """
        if self._home is None:
            return None
        tz = self._home.tz
        return self._publication.horizon(self._clock(), tz)

    @property
    def publication(self) -> Publication:
        """The calendar this pool expects prices by."""
        return self._publication

    def coverage(self) -> tuple[list[Span], list[Pending]]:
        """The answered spans and the pending ones, oldest first."""
        answered = [Span.from_seconds(lo, hi) for lo, hi in self._coverage]
        pending = [
            Pending(Span.from_seconds(lo, hi), datetime.fromtimestamp(due, UTC))
            for lo, hi, due in self._coverage.pending
        ]
        return answered, pending

    def evictable(self) -> list[int]:
        """Fetch groups ``gc`` would evict now (a dry run)."""
        if self._home is None:
            return []
        now = self._clock()
        spare, _ = self._retention.spare(
            self._timeline, now.timestamp(), self._reading, self._groups_held(), recent=False
        )
        return self._retention.victims(self._timeline, now, self._home.tz, spare)

    async def gc(self) -> int:
        """Evict down to ``max_intervals`` now, recent fetches included, and save.

        Returns how many intervals were evicted. Automatic retention keeps a fetch for a
        re-check interval; an explicit gc does not wait for that.
        """
        dropped = 0
        before = list(self._timeline.groups)
        if self._home is not None:
            dropped = self._retention.sweep(
                self._timeline,
                self._coverage,
                self._clock(),
                self._home.tz,
                self._reading,
                self._groups_held(),
            )
        if dropped:
            self._evictions += dropped
            # Saves never remove what a shared store holds; gc tells it what went.
            self._evicted.extend(g for g in before if not self._timeline.size(g.id))
            self._changed()
        await self._saver.flush()
        return dropped

    def snapshot(self) -> Snapshot:
        """An immutable copy of everything the pool holds. O(n) memcpy."""
        if self._home is None:
            raise PricePoolError(f"home {self.home_id!r} has not been fetched yet")
        values, owners = self._timeline.columns()
        answered, pending = self.coverage()
        return Snapshot(
            self._home,
            groups=list(self._timeline.groups),
            intervals=values,
            group_ids=owners,
            coverage=answered,
            pending=pending,
        )

    # ------------------------------------------------------------------ planning

    def _limit(self, stamp: float, tz: ZoneInfo) -> int:
        """End of the last publishable day at ``stamp``, as POSIX seconds."""
        self._window = self._publication.window(stamp, tz)
        return self._window[0]

    def _plan(self, a: int, b: int, limit: int, now: datetime, tz: ZoneInfo) -> list[Edge]:
        """The spans to ask for: whole local days around the gaps, less what is held back."""
        gaps = self._coverage.missing(a, b)
        days = union((_floor(lo, tz), min(_ceil(hi, tz), limit)) for lo, hi in gaps)
        stamp = int(now.timestamp())
        spans: list[Edge] = []
        for lo, hi in days:
            for g_lo, g_hi in self._coverage.missing(lo, hi):
                spans.extend(subtract(g_lo, g_hi, self._coverage.waiting(g_lo, g_hi, stamp)))
        return spans

    # ------------------------------------------------------------------ fetching

    async def _fetch_home(self) -> HomeInfo:
        if self._home_task is None or (
            self._home_task.done()
            and (self._home_task.cancelled() or self._home_task.exception() is not None)
        ):
            now = self._clock().timestamp()
            if self._backoff.quiet(now) and self._backoff.error is not None:
                self._raise(self._backoff.error)
            self._home_task = asyncio.create_task(self._ask_home())
            self._home_task.add_done_callback(_retrieve)
        task = self._home_task
        await asyncio.wait([task])
        if task.cancelled():
            raise PricePoolError("the pool was closed while fetching the home's info")
        home = task.result()
        if home.id != self.home_id:
            raise InvalidResponseError(
                f"source answered home {home.id!r} when asked for {self.home_id!r}"
            )
        if self._home is None:
            self._home = home
            self._changed()
        return self._home

    async def _ask_home(self) -> HomeInfo:
        try:
            return await self._source.home(self.home_id)
        except SourceError as err:
            self._failed(err)
            raise

    async def _fly(self, spans: Sequence[Edge], flights: list[_Flight]) -> None:
        """Get ``spans`` fetched and wait for it; ``flights`` gets the flights waited on.

        Spans wanted in one event-loop turn are launched together at its end, so that
        overlapping requests arriving at once make one call for their union, not one each.
        """
        if self._closed:
            # close() may have begun while this request waited for the home's info.
            raise PricePoolError("this pool was closed while the request waited")
        self._wanted.extend(spans)
        if self._round is None:
            loop = asyncio.get_running_loop()
            self._round = loop.create_future()
            if self._gather:
                loop.call_later(self._gather, self._launch_round)
            else:
                loop.call_soon(self._launch_round)
        launched = await asyncio.shield(self._round)
        if self._closed:
            raise PricePoolError("this pool was closed while the request waited")
        seen: set[int] = set()
        for lo, hi in spans:
            for flight in (*launched, *self._flights):
                if flight.start < hi and flight.end > lo and id(flight) not in seen:
                    seen.add(id(flight))
                    self._hold(flight, flights)
        if flights:
            await asyncio.wait([f.task for f in flights])

    def _launch_round(self) -> None:
        """Launch one flight per stretch of the union of this turn's wanted spans."""
        done, self._round = self._round, None
        wanted, self._wanted = self._wanted, []
        launched: list[_Flight] = []
        stamp = self._clock().timestamp()
        if not self._closed and not self._backoff.quiet(stamp):
            busy = [(f.start, f.end) for f in self._flights]
            for lo, hi in union(wanted):
                # A flight may have landed since the requests planned: ask only what is
                # still missing, not held back, and not under way.
                for m_lo, m_hi in self._coverage.missing(lo, hi):
                    holes = union([*busy, *self._coverage.waiting(m_lo, m_hi, int(stamp))])
                    for f_lo, f_hi in subtract(m_lo, m_hi, holes):
                        launched.append(self._launch(f_lo, f_hi))
        if done is not None and not done.done():
            done.set_result(launched)

    def _hold(self, flight: _Flight, flights: list[_Flight]) -> None:
        flight.waiters += 1
        self._held.add(flight)
        flights.append(flight)

    def _launch(self, lo: int, hi: int) -> _Flight:
        flight = _Flight(lo, hi)
        flight.task = asyncio.create_task(self._fetch(flight))
        self._flights.append(flight)

        def landed(task: asyncio.Task[None]) -> None:
            self._flights.remove(flight)
            _retrieve(task)

        flight.task.add_done_callback(landed)
        return flight

    async def _fetch(self, flight: _Flight) -> None:
        lo, hi = flight.start, flight.end
        home = self._home
        assert home is not None
        try:
            flight.group, cut = await self._ask(home, lo, hi)
        except SourceError as err:
            self._remember(err)
            if whole(err):
                self._failed(err)
            else:
                # A bad answer for one span says nothing of the others.
                self._failures += 1
                until = int(self._clock().timestamp()) + self._recheck
                self._coverage.fail(lo, hi, until, err)
            raise
        if cut is None:
            # An answer cut short by a ban or an outage is no sign the source is well.
            self._backoff.succeeded()

    async def _ask(self, home: HomeInfo, lo: int, hi: int) -> tuple[int | None, SourceError | None]:
        """Fetch and merge ``[lo, hi)``: the last group made, and the failure that cut an
        answer short. A store that claims spans (PostgreSQL) lets one process ask the
        source; the others take what it saved, without a call."""
        if not isinstance(self._store, Claims):
            self._calls += 1
            result = await self._source.fetch(home, Span.from_seconds(lo, hi))
            return self._apply(result, lo, hi, home), result.error
        group = None
        cut: SourceError | None = None
        async with self._store.claim(home.id, Span.from_seconds(lo, hi)) as known:
            gaps = [(lo, hi)]
            if known is not None:
                group = self._take(known, (lo, hi))
                gaps = subtract(lo, hi, [s.seconds for s in known.coverage])
            for a, b in gaps:
                self._calls += 1
                result = await self._source.fetch(home, Span.from_seconds(a, b))
                group = self._apply(result, a, b, home)
                cut = result.error or cut
                if cut is not None and whole(cut):
                    break  # a ban or an outage: the other gaps would fail the same way
            if gaps:
                # Saved before the claim ends: a waiting process reads it instead of asking.
                await self._saver.flush()
        return group, cut

    def _failed(self, error: SourceError) -> None:
        """Count a failed call of the whole source and keep the source quiet for a while."""
        self._failures += 1
        self._remember(error)
        self._backoff.failed(error, self._clock().timestamp())

    def _remember(self, error: SourceError) -> None:
        """Keep where ``error`` was raised, for as long as something may raise it again."""
        if id(error) not in self._traces:
            live = {id(self._backoff.error), *(id(h[3]) for h in self._coverage.failed)}
            self._traces = {k: v for k, v in self._traces.items() if k in live}
            self._traces[id(error)] = (error, error.__traceback__)

    def _raise(self, error: SourceError) -> NoReturn:
        """Raise ``error`` with the traceback of its first raise, not one that grows."""
        kept = self._traces.get(id(error))
        raise error.with_traceback(kept[1] if kept is not None else None)

    def _apply(
        self,
        result: FetchResult,
        lo: int,
        hi: int,
        home: HomeInfo,
    ) -> int | None:
        """Validate the whole answer, then merge it; nothing is kept from a bad one.

        Returns the new fetch group, if the answer held intervals.
        """
        fresher = result.home is not None and result.home.id == home.id and result.home != home
        if fresher:
            assert result.home is not None
            home = result.home
        tz = home.tz
        now = self._clock()
        stamp = int(now.timestamp())
        answered: Edge | None = None
        if result.answered is not None:
            answered = result.answered.seconds
        intervals: list[PriceInterval] = []
        starts: list[int] = []
        if answered is not None:
            try:
                starts, intervals = ordered(result.intervals, *answered, tz)
            except ValueError as err:
                raise InvalidResponseError(f"source answered {err}") from err
        pending: Edge | None = None
        if result.pending is not None:
            pending = result.pending.seconds
        # Below here nothing raises: the answer is merged as a whole.
        if fresher:
            self._home = home
            self._window = (0, 0.0, 0.0)  # the zone may have changed
        group = None
        self._retention.settle()
        if answered is not None:
            merged = self._timeline.merge(answered[0], answered[1], intervals, starts, now)
            self._revisions += merged.revised
            self._coverage.record(*answered)
            group = merged.group
            if group is None and self._store is not None:
                gid = min((g.id for g in self._empty), default=0) - 1
                self._empty.append(Group(gid, now, Span.from_seconds(*answered)))
        due = stamp + self._recheck
        if pending is not None:
            asked = int(result.retry_at.timestamp()) if result.retry_at else 0
            # A day the source calls unpublished before its publication time is not worth
            # asking about until then.
            expected = self._publication.expected_at(pending[0], tz)
            self._coverage.defer(pending[0], pending[1], max(asked, due, expected))
        # What the source neither answered nor called pending is a failure of that span,
        # asked again after a re-check, so a span that cannot be filled is not asked for
        # on every request.
        known = sorted(e for e in (answered, pending) if e is not None)
        cut = result.error
        if cut is not None:
            # The answer was cut short: what came is kept, the rest failed as the source did.
            if whole(cut):
                self._failed(cut)
            else:
                self._remember(cut)
        for g_lo, g_hi in subtract(lo, hi, known):
            missing = Span.from_seconds(g_lo, g_hi)
            error = cut or UnansweredError(f"the source left {missing} unanswered")
            self._coverage.fail(g_lo, g_hi, due, error)
        self._changed()
        return group

    def _enforce(self) -> None:
        """Apply retention, sparing what requests under way are about to read."""
        if len(self._timeline) <= self._retention.max_intervals or self._home is None:
            return
        dropped = self._retention.keep(
            self._timeline,
            self._coverage,
            self._clock(),
            self._home.tz,
            self._reading,
            self._groups_held(),
        )
        if dropped:
            self._evictions += dropped
            self._changed()

    def _groups_held(self) -> set[int]:
        """Groups fetched for requests that have not read them yet."""
        return {f.group for f in self._held if f.group is not None}

    # ------------------------------------------------------------------ persistence

    def _restore(self, snapshot: Snapshot) -> None:
        if snapshot.home.id != self.home_id:
            raise StorageError(
                f"store returned home {snapshot.home.id!r} when asked for {self.home_id!r}"
            )
        tz = snapshot.home.tz
        timeline = Timeline()
        try:
            timeline.load(
                snapshot.groups, [i.in_zone(tz) for i in snapshot.intervals], snapshot.group_ids
            )
        except ValueError as err:
            raise StorageError(
                f"stored pool of home {self.home_id!r} is inconsistent: {err}"
            ) from err
        coverage = Coverage()
        for span in snapshot.coverage:
            coverage.record(*span.seconds)
        for item in snapshot.pending:
            coverage.defer(*item.span.seconds, int(item.retry_at.timestamp()))
        self._home = snapshot.home
        self._timeline = timeline
        self._coverage = coverage

    def _changed(self) -> None:
        if self._store is not None:
            self._saver.schedule()

    async def save(self) -> None:
        """Write what is not saved yet, now. StorageError when the store fails."""
        if self._store is None:
            return
        await self._saver.flush()
        # Only a failed write counts: a change made while it ran (others' fetches taken
        # in, retention) is dirty again yet was not asked to be saved by this call.
        if self._saver.failed:
            raise StorageError(
                f"could not save pool of home {self.home_id!r}: {self._saver.error}"
            ) from self._saver.error

    async def _write(self) -> None:
        """One write of the whole pool, serialised now (a burst of changes costs one);
        what other writers stored meanwhile comes back and is taken in."""
        if self._store is None or self._home is None:
            return
        if self._evicted:
            # gc's evictions go first, so that nothing is written back over them.
            evicted, self._evicted = self._evicted, []
            try:
                await self._store.evict(self.home_id, evicted)
            except BaseException:
                self._evicted = evicted + self._evicted
                raise
        snapshot = self.snapshot()
        # A copy: answers landing while the save runs append to the list, and stay in it.
        empty = list(self._empty)
        if empty:
            snapshot = Snapshot(
                snapshot.home,
                groups=[*snapshot.groups, *empty],
                intervals=snapshot.intervals,
                group_ids=snapshot.group_ids,
                coverage=snapshot.coverage,
                pending=snapshot.pending,
            )
        delta = await self._store.save(snapshot)
        # Saved: the store paints around them from now on. Ones made during the save stay.
        del self._empty[: len(empty)]
        if delta is not None and delta.home.id == self.home_id:
            self._take(delta)
            self._enforce()

    def _take(self, known: Snapshot, within: Edge | None = None) -> int | None:
        """Take in what another process stored (what a save returned, or the part of a
        claimed span ``within`` the store already held), without a call.

        Each fetch keeps its own fetch time, so per span the newer fetch wins as when
        this pool fetches; only stretches the snapshot holds intervals for are replaced,
        so nothing this pool holds is emptied. Answered and pending spans are added.
        Returns the last group made.
        """
        if self._home is None:
            return None
        tz = self._home.tz
        held = {(g.fetched_at, g.span) for g in self._timeline.groups}
        group = None
        for fetch in sorted(known.groups, key=lambda g: g.fetched_at):
            if (fetch.fetched_at, fetch.span) in held:
                continue
            lo, hi = fetch.span.seconds
            newer = union(
                g.span.seconds
                for g in self._timeline.groups
                if g.fetched_at > fetch.fetched_at
                and g.span.start < fetch.span.end
                and fetch.span.start < g.span.end
            )
            members = [i.in_zone(tz) for i in known.members(fetch.id)]
            for a, b in subtract(lo, hi, newer):
                if within is not None:
                    a, b = max(a, within[0]), min(b, within[1])
                run: list[PriceInterval] = []
                for item in members:
                    if not a <= key(item) < b:
                        continue
                    if run and key(item) != key_end(run[-1]):
                        group = self._run(run, fetch.fetched_at) or group
                        run = []
                    run.append(item)
                if run:
                    group = self._run(run, fetch.fetched_at) or group
        for span in known.coverage:
            a, b = span.seconds
            if within is not None:
                a, b = max(a, within[0]), min(b, within[1])
            self._coverage.record(a, b)
        busy = union((lo, hi) for lo, hi, _ in self._coverage.pending)
        for wait in known.pending:
            for a, b in self._coverage.missing(*wait.span.seconds):
                for c, d in subtract(a, b, busy):
                    self._coverage.defer(c, d, int(wait.retry_at.timestamp()))
        return group

    def _run(self, run: list[PriceInterval], fetched_at: datetime) -> int | None:
        starts = [key(i) for i in run]
        merged = self._timeline.merge(starts[0], key_end(run[-1]), run, starts, fetched_at)
        return merged.group
