"""What a pool answers for a range: the intervals, and each part it could not answer and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import SourceError
from .model import HomeInfo, PriceInterval, Span

__all__ = ["Answer", "Cause", "Gap"]


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

    @property
    def error(self) -> SourceError | None:
        """The error of the first failed gap, if any."""
        for gap in self.missing:
            if gap.error is not None:
                return gap.error
        return None
