"""What a price source promises the pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..errors import SourceError
from ..model import HomeInfo, PriceInterval, Span

__all__ = ["FetchResult", "PriceSource"]


@dataclass(frozen=True)
class FetchResult:
    """A source's answer for a requested span.

    ``answered`` is the span the source speaks for: every interval it has there is in
    ``intervals``, so a part without intervals is known to have none. ``pending`` is a part
    that is not published yet, to be asked again at ``retry_at``. What lies in neither was
    not answered (a page limit, say). ``home`` carries fresher home info when the answer
    came with it. ``error`` is the failure that cut the answer short (a ban after some
    pages of history): what came before it is kept, the rest failed with it.
    """

    intervals: Sequence[PriceInterval]
    answered: Span | None
    pending: Span | None = None
    retry_at: datetime | None = None
    home: HomeInfo | None = field(default=None)
    error: SourceError | None = None


@runtime_checkable
class PriceSource(Protocol):
    """Where prices come from: Tibber, a simulator, a test fake.

    Both methods raise the ``SourceError`` subclasses of ``pricepool.errors``.
    """

    async def home(self, home_id: str) -> HomeInfo:
        """The home's id, IANA time zone and currency."""
        ...

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        """Every interval starting in ``span``, as far as the source can answer."""
        ...
