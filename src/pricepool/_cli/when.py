"""What people type for times: ``today``, ``2026-11-26``, ``3h``, ``tomorrow..+2d``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["an_hour_before", "midnight", "parse_duration", "parse_when", "parse_within"]

_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}
# Longest units first: "min" must not match as "m" followed by "in".
_PART = re.compile(r"(\d+(?:\.\d+)?)(days?|d|hours?|h|minutes?|mins?|m)")


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz`` (the first that exists on a DST jump)."""
    # A round trip through UTC moves a wall time that does not exist onto a real instant.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).astimezone(tz)


def an_hour_before(instant: datetime) -> datetime:
    """An elapsed hour before ``instant``, in its zone (local clock arithmetic would move
    03:05 back to a 02:05 that does not exist, i.e. not at all, on a spring-forward night)."""
    tz = instant.tzinfo
    return (instant.astimezone(UTC) - timedelta(hours=1)).astimezone(tz)


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


def parse_when(
    text: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    end: bool = False,
    warn: Callable[[str], None] | None = None,
) -> datetime:
    """The instant ``text`` names, in ``tz``.

    ``today``, ``tomorrow``, ``yesterday`` and ``YYYY-MM-DD`` are home-local midnight, or
    with ``end`` the midnight after (a day given as an end includes that day). ``now`` is
    now. An ISO timestamp keeps its offset; one without is read in ``tz``: a wall time the
    clocks skip (02:30 on a spring-forward night) is the instant it names on the clock not
    yet set forward (03:30), and one that happens twice (02:30 on a fall-back night) is the
    first of the two, which ``warn`` is told (an explicit offset picks the other).
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
        first = instant.replace(tzinfo=tz, fold=0)
        second = instant.replace(tzinfo=tz, fold=1)
        if warn is not None and first.utcoffset() != second.utcoffset():
            real = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == instant
            if real:  # the repeated hour: both folds exist
                other = second.astimezone(UTC).astimezone(tz)
                warn(
                    f"{word} happens twice in {tz.key}; taking the first, "
                    f"{first.isoformat()} (give {other.isoformat()} for the second)"
                )
        # A round trip through UTC moves a wall time that does not exist onto a real instant.
        instant = first.astimezone(UTC)
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


def parse_within(
    text: str, *, now: datetime, tz: ZoneInfo, warn: Callable[[str], None] | None = None
) -> tuple[datetime, datetime]:
    """The range ``text`` names: a day word, ``next24h``, ``upcoming`` or ``FROM..TO``.

    ``next24h`` is 24 elapsed hours, also on a DST day. ``upcoming`` runs from now to the
    end of tomorrow: every price that can be known.
    """
    word = text.strip().lower()
    local = now.astimezone(tz)
    if word == "next24h":
        # In UTC: local wall-clock arithmetic makes 23 or 25 hours on a DST day.
        return local, (local.astimezone(UTC) + timedelta(hours=24)).astimezone(tz)
    if word == "upcoming":
        return local, midnight(local.date() + timedelta(days=2), tz)
    if ".." in word:
        lo, _, hi = text.partition("..")
        start = parse_when(lo, now=now, tz=tz, warn=warn)
        end = parse_when(hi, now=now, tz=tz, end=True, warn=warn)
    else:
        try:
            start = parse_when(text, now=now, tz=tz, warn=warn)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a range: use today, tomorrow, yesterday, next24h, "
                "upcoming, a date, or FROM..TO (each a time as in prices --from)"
            ) from None
        if _day(text, now, tz) is None:
            raise ValueError(
                f"{text!r} is not a range: use today, tomorrow, yesterday, next24h, "
                "upcoming, a date, or FROM..TO"
            )
        end = parse_when(text, now=now, tz=tz, end=True)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end
