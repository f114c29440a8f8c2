"""What a pool answers for a range: the intervals, and each part it could not answer and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from .backoff import Backoff
from .clock import day_ceil
from .coverage import Coverage
from .errors import SourceError
from .model import HomeInfo, PriceInterval, Span
from .publication import Publication
from .spans import Edge, subtract

__all__ = ["Answer", "Cause", "Gap", "clip", "explain"]

Failure = tuple[int, int, SourceError]
"""A flight's span in POSIX seconds, and the error it failed with."""


class Cause(StrEnum):
    """Why a part of a range has no answer."""

    UNPUBLISHED = "unpublished"
    """The source has not published it yet (before or after its expected time)."""
    FAILED = "failed"
    """The source failed for this span; it is asked again at ``retry_at``."""


@dataclass(frozen=True, slots=True)
class Gap:
    """A span of the asked range that the pool could not answer, and its cause."""

    span: Span
    cause: Cause
    expected_at: datetime | None = None
    """UNPUBLISHED: when the day's prices are expected (their publication time)."""
    retry_at: datetime | None = None
    """When the pool asks the source again; None: on the next request."""
    error: SourceError | None = None
    """FAILED: the source's error, the original object with its attributes."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Every interval starting in the asked range, and the parts not answered."""

    home: HomeInfo
    intervals: list[PriceInterval]
    """Sorted by start, in the home's zone."""
    missing: tuple[Gap, ...]
    """Sorted, non-overlapping parts of the range without an answer."""

    @property
    def complete(self) -> bool:
        """True when nothing in the range is missing."""
        return not self.missing


def explain(
    coverage: Coverage,
    publication: Publication,
    backoff: Backoff,
    asked: tuple[int, int, int],
    tz: ZoneInfo,
    now: float,
    failed: Sequence[Failure] = (),
    *,
    ahead: bool = True,
) -> tuple[Gap, ...]:
    """Each part of ``[a, b)`` not answered, with its cause: the one place that says why.

    ``asked`` is ``(a, b, horizon)`` in POSIX seconds. Up to the horizon a part is what
    ``coverage`` holds back (pending: UNPUBLISHED; failed: FAILED with its error), else a
    part the source failed for as a whole (``failed`` flights of this request, or a quiet
    ``backoff``). Past it each local day is UNPUBLISHED until its publication time; without
    ``ahead`` those are left out.
    """
    a, b, limit = asked
    gaps: list[Gap] = []
    for lo, hi in coverage.missing(a, min(b, limit)) if a < limit else ():
        holds = coverage.holds(lo, hi, now)
        for h_lo, h_hi, until, error in holds:
            span = Span.from_seconds(h_lo, h_hi)
            retry = datetime.fromtimestamp(until, tz)
            if error is None:
                expected = datetime.fromtimestamp(publication.expected_at(h_lo, tz), tz)
                gaps.append(Gap(span, Cause.UNPUBLISHED, expected, retry))
            else:
                gaps.append(Gap(span, Cause.FAILED, None, retry, error))
        for g_lo, g_hi in subtract(lo, hi, [(h[0], h[1]) for h in holds]):
            gaps.extend(_unheld(g_lo, g_hi, backoff, now, failed, tz))
    for lo, hi in _days(max(a, limit), b, tz) if ahead else ():
        expected = datetime.fromtimestamp(publication.expected_at(lo, tz), tz)
        gaps.append(Gap(Span.from_seconds(lo, hi), Cause.UNPUBLISHED, expected, expected))
    gaps.sort(key=lambda g: g.span.start)
    return tuple(gaps)


def clip(answer: Answer, end: datetime) -> Answer:
    """``answer`` with its last gap ending at ``end`` (gaps are found in whole seconds)."""
    missing = answer.missing
    if not missing or missing[-1].span.end <= end:
        return answer
    last = missing[-1]
    clipped = replace(last, span=Span(last.span.start, end))
    return replace(answer, missing=(*missing[:-1], clipped))


def _unheld(
    lo: int, hi: int, backoff: Backoff, now: float, failed: Sequence[Failure], tz: ZoneInfo
) -> list[Gap]:
    """A missing part no word in the coverage explains: the source failed as a whole.

    Retried when the back-off ends, or on the next request if it already has.
    """
    retry = datetime.fromtimestamp(backoff.until, tz) if backoff.quiet(now) else None
    out: list[Gap] = []
    cursor = lo
    for f_lo, f_hi, error in sorted(failed, key=lambda f: f[0]):
        if f_hi <= cursor or f_lo >= hi:
            continue
        if f_lo > cursor:
            out.append(
                Gap(Span.from_seconds(cursor, f_lo), Cause.FAILED, None, retry, backoff.error)
            )
        end = min(f_hi, hi)
        out.append(Gap(Span.from_seconds(max(cursor, f_lo), end), Cause.FAILED, None, retry, error))
        cursor = end
    if cursor < hi:
        out.append(Gap(Span.from_seconds(cursor, hi), Cause.FAILED, None, retry, backoff.error))
    return out


def _days(start: int, end: int, tz: ZoneInfo) -> list[Edge]:
    """``[start, end)`` cut at local midnights."""
    out: list[Edge] = []
    while start < end:
        edge = int(day_ceil(datetime.fromtimestamp(start + 1, UTC), tz).timestamp())
        out.append((start, min(edge, end)))
        start = min(edge, end)
    return out
