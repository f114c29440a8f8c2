"""A client-side limit: a sliding window of requests and a cap on requests in flight."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from ...errors import RateLimitedError

__all__ = ["Limiter"]


class Limiter:
    """At most ``max_requests`` per ``per_seconds`` and ``max_in_flight`` at once.

    Times come from ``monotonic`` so that a wall-clock jump can neither stall nor flood.
    """

    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        max_in_flight: int,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        if max_requests < 1:
            raise ValueError(f"max_requests must be at least 1, got {max_requests}")
        if not per_seconds > 0:
            raise ValueError(f"per_seconds must be positive, got {per_seconds}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._flight = asyncio.Semaphore(max_in_flight)

    @asynccontextmanager
    async def slot(self, patience: float) -> AsyncIterator[None]:
        """Hold one request's place; wait at most ``patience`` seconds for the window.

        Raises RateLimitedError (with ``retry_after``) when the window stays full longer.
        """
        # The in-flight place is taken first so the window records the instant of sending.
        async with self._flight:
            await self._take(patience)
            yield

    async def _take(self, patience: float) -> None:
        deadline = self._monotonic() + patience
        while True:
            now = self._monotonic()
            while self._sent and self._sent[0] <= now - self.per_seconds:
                self._sent.popleft()
            if len(self._sent) < self.max_requests:
                self._sent.append(now)
                return
            wait = self._sent[0] + self.per_seconds - now
            if now + wait > deadline:
                raise RateLimitedError(
                    f"pricepool's own limit of {self.max_requests} requests per "
                    f"{self.per_seconds:g} s is reached; next request possible in {wait:.1f} s",
                    retry_after=wait,
                )
            await self._sleep(wait)
