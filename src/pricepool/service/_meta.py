"""What Tibber says about the account and its homes besides prices, kept and refreshed rarely.

Owner, address, metering point, features and subscriptions change seldom; the service asks
for all of them in one request (``TibberSource.details``) the first time a GraphQL answer
needs them, keeps the answer in memory, and asks again only after ``refresh`` has passed.
While a refresh fails, the last answer is served; with none, the error is raised. With a
``path`` the answer is also kept on disk (owner-only), so a restarted service asks nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..clock import Clock, system_clock
from ..errors import SourceError

__all__ = ["Meta"]

log = logging.getLogger("pricepool.service")

Fetch = Callable[[], Awaitable[dict[str, Any]]]


class Meta:
    """The account's ``viewer`` object without prices, asked once and kept for ``refresh``."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Clock | None = None,
        refresh: timedelta = timedelta(days=1),
        path: Path | None = None,
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
        self._path = path
        if path is not None:
            self._load(path)

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
        self._keep(viewer, homes, self._clock())
        if self._path is not None:
            self._save(self._path)
        return viewer

    def _keep(self, viewer: dict[str, Any], homes: list[Any], at: datetime) -> None:
        self._viewer = viewer
        self._homes = {str(h.get("id")): h for h in homes if isinstance(h, dict)}
        self._at = at

    def _load(self, path: Path) -> None:
        """What an earlier run kept; anything unreadable is asked of Tibber again."""
        try:
            kept = json.loads(path.read_text("utf-8"))
            viewer, at = kept["viewer"], datetime.fromisoformat(kept["fetched_at"])
            homes = viewer["homes"]
            if not isinstance(viewer, dict) or not isinstance(homes, list) or at.tzinfo is None:
                raise ValueError("not a metadata document")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring the kept account metadata in %s: %s", path, err)
            return
        self._keep(viewer, homes, at)

    def _save(self, path: Path) -> None:
        """Written whole (temporary file, rename), readable by the owner only: it holds the
        account's address and owner."""
        assert self._viewer is not None
        assert self._at is not None
        text = json.dumps({"fetched_at": self._at.isoformat(), "viewer": self._viewer})
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, path)
        except OSError as err:
            log.warning("could not keep the account metadata in %s: %s", path, err)
            with contextlib.suppress(OSError):
                temp.unlink()
