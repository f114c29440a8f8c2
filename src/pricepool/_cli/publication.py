"""Missing parts of a range in the words of a warning line (what is missing and unpublished
is :func:`pricepool.documents.shortfall`'s to say)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pricepool import Span

from .when import midnight

__all__ = ["gaps_text"]


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
