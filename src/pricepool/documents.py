"""The JSON documents of prices and cheapest answers, and what of a range an answer lacks.

``pricepool prices -f json`` prints them and ``pricepool serve`` sends them, through these
functions only, so both read the same byte for byte. What is missing and what is not
published yet comes from the pool's :class:`~pricepool.answer.Answer`, never from the
coverage again.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .answer import Answer, Cause
from .clock import local_midnight
from .model import HomeInfo, PriceInterval, Span
from .numbers import rounded
from .publication import Publication
from .spans import union

__all__ = [
    "VERSION",
    "Unpublished",
    "cheapest_base",
    "currency_of",
    "dumps",
    "home_dict",
    "interval_dict",
    "iso",
    "prices_json",
    "shortfall",
    "span_dict",
    "window_dict",
]

VERSION = 1


def dumps(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def home_dict(home: HomeInfo) -> dict[str, Any]:
    return {
        "id": home.id,
        "nickname": home.nickname,
        "time_zone": home.time_zone,
        "currency": home.currency,
    }


def interval_dict(item: PriceInterval, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "start": iso(item.start.astimezone(tz)),
        "end": iso(item.end.astimezone(tz)),
        "total": item.total,
        "energy": _number(item.energy),
        "tax": _number(item.tax),
        "level": item.level.value if item.level else None,
    }


def span_dict(span: Span, tz: ZoneInfo) -> dict[str, str]:
    """``{"from", "to"}`` with the home's offset, as in the ``missing`` lists."""
    return {"from": iso(span.start.astimezone(tz)), "to": iso(span.end.astimezone(tz))}


def currency_of(home: HomeInfo, items: Sequence[PriceInterval]) -> str:
    named = Counter(i.currency for i in items if i.currency)
    return named.most_common(1)[0][0] if named else (home.currency or "")


def prices_json(
    home: HomeInfo,
    start: datetime,
    end: datetime,
    items: Sequence[PriceInterval],
    problem: str | None,
    unpublished: dict[str, Any] | None = None,
    missing: Sequence[Span] = (),
    hourly: bool = False,
) -> str:
    tz = home.tz
    document: dict[str, Any] = {
        "version": VERSION,
        "home": home_dict(home),
        "from": iso(start.astimezone(tz)),
        "to": iso(end.astimezone(tz)),
        "currency": currency_of(home, items),
        "source_error": problem,
        "missing": [span_dict(s, tz) for s in missing],
        "unpublished": unpublished,
        "intervals": [interval_dict(i, tz) for i in items],
    }
    if hourly:
        document["hourly"] = True
    return dumps(document)


def cheapest_base(
    home: HomeInfo,
    currency: str,
    lo: datetime,
    hi: datetime,
    source_error: str | None,
    missing: Sequence[Span],
    unpublished: dict[str, Any] | None,
) -> dict[str, Any]:
    """What every ``cheapest`` JSON answer holds, chosen or not."""
    tz = home.tz
    return {
        "version": VERSION,
        "home": home_dict(home),
        "currency": currency,
        "from": iso(lo),
        "to": iso(hi),
        "source_error": source_error,
        "missing": [span_dict(s, tz) for s in missing],
        "unpublished": unpublished,
    }


def window_dict(start: datetime, end: datetime, average: float) -> dict[str, Any]:
    return {"start": iso(start), "end": iso(end), "average": rounded(average)}


# -- what an answer lacks ------------------------------------------------------------------


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
        """The ``unpublished`` member of the JSON documents."""
        return {
            "from": iso(self.start),
            "to": iso(self.end),
            "expected_at": iso(self.expected),
            "retry_at": iso(self.retry_at) if self.retry_at else None,
            "message": self.message,
        }


def shortfall(
    answer: Answer, lo: datetime, hi: datetime, now: datetime, publication: Publication
) -> tuple[list[Span], Unpublished | None]:
    """What ``answer`` lacks of ``[lo, hi)``: the parts the source failed for (oldest first),
    and the part not published yet with when it is due (None when all is out)."""
    home = answer.home
    tz = home.tz
    failed: list[tuple[int, int]] = []
    first: tuple[datetime, datetime | None] | None = None
    a, b = lo.timestamp(), hi.timestamp()
    for gap in answer.missing:
        g_lo, g_hi = max(gap.span.start.timestamp(), a), min(gap.span.end.timestamp(), b)
        if g_hi <= g_lo:
            continue
        if gap.cause is Cause.FAILED:
            failed.append((int(g_lo), int(g_hi)))
        elif first is None:
            expected = gap.expected_at
            # Due already: late, asked again at retry_at; else simply not out yet.
            late = expected is not None and expected <= now
            retry = gap.retry_at if late and gap.retry_at and gap.retry_at > now else None
            first = (datetime.fromtimestamp(g_lo, tz), retry)
    missing = [Span.from_seconds(s, e) for s, e in union(failed)]
    if first is None:
        return missing, None
    begin, retry_at = first
    day = begin.date()
    expected = publication.expected(day, tz)
    today = now.astimezone(tz).date()
    name = _day_name(day, today)
    several = hi > local_midnight(day + timedelta(days=1), tz)
    owner = f"{name}'s" if not name[0].isdigit() else f"prices for {name}"
    if several:
        subject = f"prices from {name} on are"
        lead = f"{owner} " if not name[0].isdigit() else "the first "
    else:
        subject = f"{owner} prices are" if not name[0].isdigit() else f"{owner} are"
        lead = ""
    due = f"{_moment(expected, today)} {home.time_zone}"
    if retry_at is not None or expected <= now:
        message = f"{subject} late ({lead}expected at {due})"
        if retry_at is not None:
            message += f"; pricepool asks again after {_moment(retry_at, today)}"
    else:
        message = f"{subject} not published yet ({lead}expected after {due})"
    return missing, Unpublished(begin, hi.astimezone(tz), expected, retry_at, message)


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
