"""What people type for times: ``today``, ``2026-11-26``, ``3h``, ``tomorrow..+2d``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["midnight", "parse_duration", "parse_when", "parse_within"]

_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}
# Longest units first: "min" must not match as "m" followed by "in".
_PART = re.compile(r"(\d+(?:\.\d+)?)(days?|d|hours?|h|minutes?|mins?|m)")


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (the first that exists on a DST jump)."""
    # A round trip through UTC moves a wall time that does not exist onto a real instant.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).astimezone(tz)


def _day(text: str, now: datetime, tz: ZoneInfo) -> date | None:
    word = text.strip().lower()
    if word in _DAYS:
        return now.astimezone(tz).date() + timedelta(days=_DAYS[word])
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
        try:
            return date.fromisoformat(word)
        except ValueError as err:
            raise ValueError(f"{text!r} is not a date: {err}") from None
    return None


def parse_when(text: str, *, now: datetime, tz: ZoneInfo, end: bool = False) -> datetime:
    """The instant ``text`` names, in ``tz``.

    ``today``, ``tomorrow``, ``yesterday`` and ``YYYY-MM-DD`` are home-local midnight, or
    with ``end`` the midnight after (a day given as an end includes that day). ``now`` is
    now. An ISO timestamp keeps its offset; one without is read in ``tz``.
    """
    word = text.strip()
    if word.lower() == "now":
        return now.astimezone(tz)
    day = _day(word, now, tz)
    if day is not None:
        return midnight(day + timedelta(days=1) if end else day, tz)
    try:
        instant = datetime.fromisoformat(word.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use today, tomorrow, yesterday, now, YYYY-MM-DD "
            "or an ISO timestamp such as 2026-11-26T14:00+01:00"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=tz)
    return instant.astimezone(tz)


def parse_duration(text: str) -> timedelta:
    """``3h``, ``90m``, ``1h30m``, ``2.5h`` or ``1d`` as a positive whole number of minutes."""
    word = text.strip().lower().replace(" ", "")
    total = timedelta(0)
    at = 0
    for match in _PART.finditer(word):
        if match.start() != at:
            break
        amount = float(match.group(1))
        unit = match.group(2)[0]
        total += (
            timedelta(days=amount)
            if unit == "d"
            else timedelta(hours=amount if unit == "h" else 0, minutes=amount if unit == "m" else 0)
        )
        at = match.end()
    if not word or at != len(word):
        raise ValueError(f"{text!r} is not a duration: use e.g. 3h, 90m, 1h30m or 2.5h")
    if total <= timedelta(0) or total % timedelta(minutes=1):
        raise ValueError(f"{text!r} must be a positive whole number of minutes")
    return total


def parse_within(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The range ``text`` names: a day word, ``next24h``, ``upcoming`` or ``FROM..TO``.

    ``upcoming`` runs from now to the end of tomorrow: every price that can be known.
    """
    word = text.strip().lower()
    local = now.astimezone(tz)
    if word == "next24h":
        return local, local + timedelta(hours=24)
    if word == "upcoming":
        return local, midnight(local.date() + timedelta(days=2), tz)
    if ".." in word:
        lo, _, hi = text.partition("..")
        start = parse_when(lo, now=now, tz=tz)
        end = parse_when(hi, now=now, tz=tz, end=True)
    else:
        start = parse_when(text, now=now, tz=tz)
        if _day(text, now, tz) is None:
            raise ValueError(
                f"{text!r} is not a range: use today, tomorrow, yesterday, next24h, "
                "upcoming, a date, or FROM..TO"
            )
        end = parse_when(text, now=now, tz=tz, end=True)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end
