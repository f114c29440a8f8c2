"""What Tibber says about the account and its homes besides prices, kept and refreshed rarely.

Owner, address, metering point, features and subscriptions change seldom; the service asks
for all of them in one request (``TibberSource.details``) the first time a GraphQL answer
needs them, keeps the answer in memory, and asks again only after ``refresh`` has passed.
While a refresh fails, the last answer is served; with none, the error is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock, system_clock
from ..errors import SourceError

__all__ = ["Meta"]

Fetch = Callable[[], Awaitable[dict[str, Any]]]


class Meta:
    """The account's ``viewer`` object without prices, asked once and kept for ``refresh``."""

    def __init__(
        self, fetch: Fetch, *, clock: Clock | None = None, refresh: timedelta = timedelta(days=1)
    ) -> None:
        if refresh <= timedelta(0):
            raise ValueError(f"refresh must be positive, got {refresh}")
        self._fetch = fetch
        self._clock = clock or system_clock
        self._refresh = refresh
        self._viewer: dict[str, Any] | None = None
        self._homes: dict[str, dict[str, Any]] = {}
        self._at: datetime | None = None
        self._flight: asyncio.Task[dict[str, Any]] | None = None
        self.fetches = 0
        """Requests made for the metadata so far."""

    @property
    def fetched_at(self) -> datetime | None:
        """When the kept answer was read, None before the first."""
        return self._at

    async def viewer(self) -> dict[str, Any]:
        """The ``viewer`` object (homes included); raises the source's error with none kept."""
        kept = self._viewer
        if kept is not None and self._at is not None and self._clock() - self._at < self._refresh:
            return kept
        try:
            return await self._once()
        except SourceError:
            if kept is None:
                raise
            return kept  # stale metadata beats none; the next question asks again

    async def home(self, home_id: str) -> dict[str, Any] | None:
        """The home with ``home_id`` as Tibber describes it; None when the account has none."""
        await self.viewer()
        return self._homes.get(home_id)

    async def _once(self) -> dict[str, Any]:
        """One request shared by every caller arriving while it is under way."""
        if self._flight is None or self._flight.done():
            self._flight = asyncio.ensure_future(self._read())
        return await asyncio.shield(self._flight)

    async def _read(self) -> dict[str, Any]:
        self.fetches += 1
        viewer = await self._fetch()
        homes = [h for h in viewer.get("homes") or [] if isinstance(h, dict)]
        self._viewer = viewer
        self._homes = {str(h.get("id")): h for h in homes}
        self._at = self._clock()
        return viewer
