"""Pieces the stores share: instants as numbers, intervals as rows, bad files set aside."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..clock import system_clock
from ..model import PriceInterval, Span

log = logging.getLogger("pricepool.storage")

Row = tuple[int, int, float, float | None, float | None, str | None, str | None]
"""An interval as stored: start and length in seconds, total, energy, tax, level, currency."""

_SECOND = timedelta(seconds=1)

BAD_VALUE = (ValueError, TypeError, OverflowError, OSError)
"""What decoding a stored value can raise: ``datetime.fromtimestamp`` raises OverflowError,
or OSError (EOVERFLOW), for seconds out of range. Decoding does no I/O of its own."""


def stamp(instant: datetime) -> int | float:
    """POSIX seconds of ``instant``: an int when whole, else a float exact to the microsecond."""
    value = instant.timestamp()
    whole = int(value)
    return whole if whole == value else value


def instant(value: object) -> datetime:
    """The UTC instant ``value`` POSIX seconds name; one of ``BAD_VALUE`` if it names none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected POSIX seconds, got {value!r}")
    return datetime.fromtimestamp(value, UTC)


def row(item: PriceInterval) -> Row:
    """``item`` as a row; NaN energy and tax become None."""
    return (
        int(item.start.timestamp()),
        item.length // _SECOND,
        item.total,
        None if math.isnan(item.energy) else item.energy,
        None if math.isnan(item.tax) else item.tax,
        item.level.value if item.level else None,
        item.currency,
    )


def interval(values: Sequence[Any], tz: ZoneInfo) -> PriceInterval:
    """The interval a row describes, its start shown in ``tz``; one of ``BAD_VALUE`` if bad."""
    start, length, total, energy, tax, level, currency = values
    if not isinstance(start, int) or not isinstance(length, int):
        raise TypeError(
            f"interval start and length must be whole seconds, got {start!r}, {length!r}"
        )
    if currency is not None and not isinstance(currency, str):
        raise TypeError(f"currency must be a string, got {currency!r}")
    return PriceInterval.lasting(
        datetime.fromtimestamp(start, tz),
        length,
        total,
        energy,
        tax,
        level,
        currency,
    )


def union(spans: Iterable[Span]) -> list[Span]:
    """The sorted, merged union of ``spans`` (touching spans join)."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def check(snapshot: Any) -> None:
    """ValueError naming the first thing in a stored ``snapshot`` a pool could not hold:
    intervals out of order or overlapping, an interval of no group or outside its group."""
    spans = {g.id: g.span for g in snapshot.groups}
    # Instants, not datetimes: two in one zone compare by wall time, and autumn's
    # repeated hour would look like an overlap.
    end: float | None = None
    for item, gid in zip(snapshot.intervals, snapshot.group_ids, strict=True):
        span = spans.get(gid)
        if span is None:
            raise ValueError(f"interval at {item.start.isoformat()} is held by no fetch group")
        if not span.start <= item.start < span.end:
            raise ValueError(f"interval at {item.start.isoformat()} lies outside its fetch group")
        if end is not None and item.start.timestamp() < end:
            raise ValueError(f"intervals overlap or are out of order at {item.start.isoformat()}")
        end = item.end.timestamp()


def cause(err: BaseException) -> str:
    """A short reason for ``err``: the OS's words when there are some."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror} (errno {err.errno})"
    return str(err) or type(err).__name__


def aside(path: Path) -> Path:
    """A free name ``<name>.corrupt.<UTC time>`` beside ``path``, for evidence."""
    tag = system_clock().strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt.{tag}")
    count = 1
    while target.exists():
        # Two bad files within one second must not overwrite each other's evidence.
        count += 1
        target = path.with_name(f"{path.name}.corrupt.{tag}.{count}")
    return target


def set_aside(path: Path, why: str, companions: Iterable[str] = ()) -> Path:
    """Rename ``path`` to ``<name>.corrupt.<UTC time>`` and log both paths.

    ``companions`` are suffixes of files that belong to ``path`` (SQLite's ``-wal``) and
    follow it. The file is kept for inspection, never overwritten.
    """
    target = aside(path)
    os.replace(path, target)
    for suffix in companions:
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, target.with_name(target.name + suffix))
    log.warning("%s is damaged (%s); moved it to %s and starting empty", path, why, target)
    return target
