"""Which part of a requested range has no published prices yet, and when they are due.

Prices for day D are expected when the pool's ``publication`` says (D-1, home-local). A
range past :meth:`IntervalPool.published_until` is answered only up to it; a day the
source said is not out yet although it is due (late) is pending in the pool's coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pricepool import IntervalPool, Span

from .output import iso
from .when import midnight

__all__ = ["Unpublished", "gaps_text", "missing", "unpublished"]


@dataclass(frozen=True, slots=True)
class Unpublished:
    """The part ``[start, end)`` of a requested range whose prices are not out yet."""

    start: datetime
    end: datetime
    expected: datetime
    """When the prices of ``start``'s day are (or, when late, were) due."""
    retry_at: datetime | None
    """Set when they are late: when the pool asks the source again."""
    message: str

    def label(self, now: datetime) -> str:
        """``start`` as a short label: ``Fri 00:00`` within a week, else a date and time."""
        local = self.start
        if abs(local.date() - now.astimezone(local.tzinfo).date()) < timedelta(days=6):
            return f"{local:%a %H:%M}"
        return f"{local:%Y-%m-%d %H:%M}"

    def as_dict(self) -> dict[str, Any]:
        """The ``unpublished`` member of the JSON shapes."""
        return {
            "from": iso(self.start),
            "to": iso(self.end),
            "expected_at": iso(self.expected),
            "retry_at": iso(self.retry_at) if self.retry_at else None,
            "message": self.message,
        }


def unpublished(
    pool: IntervalPool, lo: datetime, hi: datetime, now: datetime
) -> Unpublished | None:
    """What of ``[lo, hi)`` is not published yet (after the pool was asked for it)."""
    home, until = pool.home, pool.published_until()
    if home is None or until is None:
        return None
    tz = home.tz
    found: list[tuple[datetime, datetime | None]] = []
    if hi > until:
        found.append((max(lo, until), None))
    _, pending = pool.coverage()
    top = min(hi, until)
    for item in pending:
        if item.span.start < top and item.span.end > lo:
            retry = item.retry_at.astimezone(tz) if item.retry_at > now else None
            found.append((max(lo, item.span.start), retry))
    if not found:
        return None
    start, retry_at = min(found, key=lambda pair: pair[0])
    start = start.astimezone(tz)
    day = start.date()
    expected = pool.publication.expected(day, tz)
    today = now.astimezone(tz).date()
    name = _day_name(day, today)
    several = hi > midnight(day + timedelta(days=1), tz)
    owner = f"{name}'s" if not name[0].isdigit() else f"prices for {name}"
    if several:
        subject = f"prices from {name} on are"
        first = f"{owner} " if not name[0].isdigit() else "the first "
    else:
        subject = f"{owner} prices are" if not name[0].isdigit() else f"{owner} are"
        first = ""
    due = f"{_moment(expected, today)} {home.time_zone}"
    late = retry_at is not None or expected <= now
    if late:
        message = f"{subject} late ({first}expected at {due})"
        if retry_at is not None:
            message += f"; pricepool asks again after {_moment(retry_at, today)}"
    else:
        message = f"{subject} not published yet ({first}expected after {due})"
    return Unpublished(start, hi.astimezone(tz), expected, retry_at, message)


def _day_name(day: date, today: date) -> str:
    ahead = (day - today).days
    if ahead == 0:
        return "today"
    if ahead == 1:
        return "tomorrow"
    if 1 < ahead < 7:
        return f"{day:%A}"
    return day.isoformat()


def _moment(instant: datetime, today: date) -> str:
    ahead = (instant.date() - today).days
    if ahead == 0:
        return f"{instant:%H:%M}"
    if ahead == 1:
        return f"tomorrow {instant:%H:%M}"
    if ahead == -1:
        return f"yesterday {instant:%H:%M}"
    return f"{instant:%Y-%m-%d %H:%M}"


def missing(pool: IntervalPool, lo: datetime, hi: datetime) -> list[Span]:
    """The parts of ``[lo, hi)`` the source has never answered, oldest first.

    Parts not published yet (past :meth:`IntervalPool.published_until`, or pending) are
    not missing: :func:`unpublished` names them.
    """
    until = pool.published_until()
    top = min(hi, until) if until is not None else hi
    answered, pending = pool.coverage()
    known = sorted(
        [(s.start, s.end) for s in answered] + [(p.span.start, p.span.end) for p in pending]
    )
    found: list[Span] = []
    at = lo
    for start, end in known:
        if at >= top or start >= top:
            break
        if end <= at:
            continue
        if start > at:
            found.append(Span(at, start))
        at = max(at, end)
    if at < top:
        found.append(Span(at, top))
    return found


def gaps_text(gaps: list[Span], tz: ZoneInfo) -> str:
    """``prices from 2025-01-01 until 2025-12-01`` (and more parts, up to three named)."""

    def moment(instant: datetime) -> str:
        local = instant.astimezone(tz)
        return (
            f"{local:%Y-%m-%d}"
            if local == midnight(local.date(), tz)
            else f"{local:%Y-%m-%d %H:%M}"
        )

    parts = [f"from {moment(g.start)} until {moment(g.end)}" for g in gaps]
    if len(parts) > 3:
        first, last = moment(gaps[0].start), moment(gaps[-1].end)
        return f"prices in {len(parts)} parts between {first} and {last}"
    return "prices " + " and ".join(parts)
