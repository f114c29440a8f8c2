"""The client-side limit: a rolling window of requests, the API's ban, and what a limiter is.

How many requests are in flight at once is the transport's business (it is per process);
a limiter counts requests sent and knows the ban, which may be shared between processes.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

from ...errors import RateLimitedError

__all__ = ["FileLimiter", "Limiter", "RequestLimiter"]

_T = TypeVar("_T")

log = logging.getLogger("pricepool.sources.tibber")


@runtime_checkable
class RequestLimiter(Protocol):
    """What ``TibberSource`` asks of a limiter; every user of one limiter shares its budget.

    The default is the in-process ``Limiter``; one backed by a database lets replicas share
    a window and a ban. ``slot`` raises RateLimitedError with ``own=True`` (and
    ``banned=True`` while a ban lasts), ``retry_after`` and ``clear_after`` set, at once when
    waiting would take longer than ``patience``: it never sleeps past it.
    """

    max_requests: int
    per_seconds: float

    def slot(self, patience: float) -> AbstractAsyncContextManager[None]:
        """Hold one request's place, counted in the window when it is granted."""
        ...

    async def ban(self, retry_after: float, reason: str) -> None:
        """Send nothing for ``retry_after`` seconds from now (extends a ban, never shortens)."""
        ...

    def left(self) -> int:
        """Requests that may go now without waiting (as last known)."""
        ...


class Limiter:
    """At most ``max_requests`` per rolling ``per_seconds`` in this process, and the ban.

    Times come from ``monotonic`` so that a wall-clock jump can neither stall nor flood.
    """

    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        _check(max_requests, per_seconds)
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._banned_until = 0.0
        self._ban_reason = ""

    def __repr__(self) -> str:
        return f"Limiter({self.max_requests} per {self.per_seconds:g} s)"

    @asynccontextmanager
    async def slot(self, patience: float) -> AsyncIterator[None]:
        """Hold one request's place; wait at most ``patience`` seconds for the window."""
        await self._take(self._monotonic() + patience)
        yield

    async def ban(self, retry_after: float, reason: str) -> None:
        until = self._monotonic() + max(retry_after, 0.0)
        if until > self._banned_until:
            self._banned_until = until
            self._ban_reason = reason

    def banned_for(self) -> float:
        """Seconds the ban still lasts (0 when none)."""
        return max(self._banned_until - self._monotonic(), 0.0)

    def left(self) -> int:
        self._expire(self._monotonic())
        return self.max_requests - len(self._sent)

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.per_seconds:
            self._sent.popleft()

    def _clear_after(self, now: float) -> float:
        """Seconds until the whole window is free again."""
        return max((self._sent[-1] + self.per_seconds - now) if self._sent else 0.0, 0.0)

    async def _take(self, deadline: float) -> None:
        while True:
            now = self._monotonic()
            banned = self._banned_until - now
            if banned > 0:
                if now + banned > deadline:
                    raise _banned(self._ban_reason, banned, self._clear_after(now))
                await self._sleep(banned)
                continue
            self._expire(now)
            if len(self._sent) < self.max_requests:
                self._sent.append(now)
                return
            wait = self._sent[0] + self.per_seconds - now
            if now + wait > deadline:
                raise _full(self, wait, self._clear_after(now))
            await self._sleep(wait)


class FileLimiter:
    """The rolling window and the ban kept in a small JSON file under ``flock``: every
    process of the machine that uses the same file (CLI runs from cron, a script, the
    service) shares one budget and one ban, so a run started during a ban sends nothing.

    Times are wall-clock seconds (``now``), the only clock processes share. The file holds
    request times and the ban, nothing secret. A file that cannot be read as this state
    (cut short by a crash) counts as empty; one that cannot be opened raises OSError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_requests: int = 100,
        per_seconds: float = 300.0,
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        _check(max_requests, per_seconds)
        self.path = Path(path)
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._now = now
        self._sleep = sleep
        self._memory: dict[str, Any] | None = None
        # Owner-only, like the stores: who asked when is nobody else's business.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))

    def __repr__(self) -> str:
        return f"FileLimiter({str(self.path)!r}, {self.max_requests} per {self.per_seconds:g} s)"

    @asynccontextmanager
    async def slot(self, patience: float) -> AsyncIterator[None]:
        """Hold one request's place; wait at most ``patience`` seconds for the window."""
        deadline = self._now() + patience
        while True:
            wait = self._change(self._take, deadline)
            if wait is None:
                break
            await self._sleep(wait)
        yield

    async def ban(self, retry_after: float, reason: str) -> None:
        until = self._now() + max(retry_after, 0.0)

        def extend(state: dict[str, Any]) -> None:
            if until > state["banned_until"]:
                state["banned_until"], state["reason"] = until, reason

        self._change(extend)

    def left(self) -> int:
        now = self._now()
        return self.max_requests - len(self._change(lambda s: self._expire(s, now)))

    def _take(self, state: dict[str, Any], deadline: float) -> float | None:
        """Count one request now, or how long to wait; RateLimitedError past ``deadline``."""
        now = self._now()
        sent = self._expire(state, now)
        clear = max(sent[-1] + self.per_seconds - now, 0.0) if sent else 0.0
        banned: float = state["banned_until"] - now
        if banned > 0:
            if now + banned > deadline:
                raise _banned(state["reason"], banned, clear)
            return banned
        if len(sent) < self.max_requests:
            sent.append(now)
            return None
        wait: float = sent[0] + self.per_seconds - now
        if now + wait > deadline:
            raise _full(self, wait, clear)
        return wait

    def _expire(self, state: dict[str, Any], now: float) -> list[float]:
        sent: list[float] = state["sent"]
        sent[:] = [t for t in sent if now - self.per_seconds < t <= now + self.per_seconds]
        return sent

    def _change(self, change: Callable[..., _T], *args: Any) -> _T:
        """Run ``change(state, *args)`` under the file's lock and write what it left.

        The lock is held for microseconds and never across an await, so taking it in the
        event loop is cheaper than a thread."""
        if self._memory is not None:
            return change(self._memory, *args)
        try:
            # Created again if it went (a user clearing the folder): 0600 as at first.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            with open(fd, "r+", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                state = _state(handle.read())
                before = json.dumps(state, sort_keys=True)
                found = change(state, *args)
                after = json.dumps(state, sort_keys=True)
                if after != before:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(after)
                    handle.flush()
            return found
        except OSError as err:
            # The folder went, or locks do not work there (NFS): this process counts on
            # alone, as the in-process limiter would, and says so once.
            log.warning("cannot keep the request budget in %s (%s); counting alone", self.path, err)
            self._memory = _state("")
            return change(self._memory, *args)


def _state(text: str) -> dict[str, Any]:
    """The state in ``text``; an empty one when it is not (a new file, a cut-short write)."""
    try:
        found = json.loads(text) if text.strip() else {}
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    sent = found.get("sent")
    until = found.get("banned_until")
    reason = found.get("reason")
    return {
        "sent": sorted(float(t) for t in (sent if isinstance(sent, list) else []) if _number(t)),
        "banned_until": float(until) if _number(until) else 0.0,
        "reason": reason if isinstance(reason, str) else "",
    }


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _check(max_requests: int, per_seconds: float) -> None:
    if max_requests < 1:
        raise ValueError(f"max_requests must be at least 1, got {max_requests}")
    if not per_seconds > 0:
        raise ValueError(f"per_seconds must be positive, got {per_seconds}")


def _banned(reason: str, banned: float, clear: float) -> RateLimitedError:
    return RateLimitedError(
        f"banned by the API ({reason}) for another {banned:.0f} s",
        retry_after=banned,
        banned=True,
        own=True,
        clear_after=max(banned, clear),
    )


def _full(limiter: RequestLimiter, wait: float, clear: float) -> RateLimitedError:
    return RateLimitedError(
        f"pricepool's own limit of {limiter.max_requests} requests per "
        f"{limiter.per_seconds:g} s is reached; next request possible in {wait:.1f} s",
        retry_after=wait,
        own=True,
        clear_after=clear,
    )
