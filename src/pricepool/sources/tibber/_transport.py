"""One GraphQL call to Tibber over HTTP: headers, error mapping, retries, bans, bounds.

Status and body map onto ``pricepool.errors`` (the facts go to attributes):

    401, 403, UNAUTHENTICATED, or a message naming a bad
    token (JWS/JWT, "exp" claim) whatever the status/code   AuthenticationError      never retried
    429, TOO_MANY_REQUESTS, a text saying "banned"           RateLimitedError         never retried:
                                                              a ban for Retry-After, else ``ban`` s
    5xx, timeout, connection failure                         SourceUnavailableError   with backoff
    errors[].extensions.code NOT_FOUND                       UnknownHomeError         never retried
    not JSON, not GraphQL, other error codes, null data      InvalidResponseError     never retried
    errors only about priceInfoRange (by path), with data    the data, range null     (partial data)

A call takes at most ``retry_budget + timeout`` seconds from the moment it is made: waits
for a place and between tries fit in the budget, and the last try gets its timeout. After
a call gave up on an unreachable API, the endpoint is down for ``down_for`` seconds (longer
when a 503 said so): every call then fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import random
import re
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

import aiohttp

from ...clock import Clock
from ...errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    Reason,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from ._limiter import RequestLimiter

__all__ = ["Transport", "user_agent"]

log = logging.getLogger("pricepool.sources.tibber")

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0

# What Tibber's messages say when the token is the problem, whatever code comes with it.
_TOKEN_WORDS = (
    "compact jws",
    "jwt",
    '"exp" claim',
    "invalid token",
    "token expired",
    "token is expired",
    "invalid signature",
    "unauthenticated",
    "unauthorized",
)
# And when the caller is banned (Tibber sends this as text/plain with HTTP 429).
_BAN_WORDS = ("too many requests", "temporarily banned", "rate limit")


def user_agent(extra: str | None) -> str:
    """``pricepool/<version>``, followed by the caller's app name when given."""
    try:
        own = version("pricepool")
    except PackageNotFoundError:  # running from a source tree that was never installed
        own = "0"
    return f"pricepool/{own} {extra}" if extra else f"pricepool/{own}"


# A token at least this long is redacted wherever it appears; a shorter one only where it
# stands alone (a real API token is far longer).
_SECRET_LENGTH = 8


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN and Infinity by default; no GraphQL server sends them.
    raise ValueError(f"non-JSON number {name}")


class _Fast(SourceUnavailableError):
    """A call refused at once because the endpoint is marked down: never retried."""


def _reason(err: aiohttp.ClientError) -> Reason | None:
    """Why aiohttp got no answer, from the exception's type and its OS error."""
    if isinstance(err, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return Reason.TLS
    if isinstance(err, aiohttp.ServerTimeoutError):
        return Reason.TIMEOUT
    if isinstance(err, aiohttp.ClientConnectorError):
        cause = err.os_error
        if isinstance(cause, socket.gaierror):
            return Reason.DNS
        if isinstance(cause, ConnectionRefusedError):
            return Reason.REFUSED
        if getattr(cause, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return Reason.UNREACHABLE
        if isinstance(cause, TimeoutError):
            return Reason.TIMEOUT
        return Reason.REFUSED
    if isinstance(err, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return Reason.RESET
    if isinstance(err, aiohttp.ClientOSError):
        return Reason.RESET
    return None


class Transport:
    """Sends GraphQL documents to one endpoint and returns their ``data``."""

    def __init__(
        self,
        token: str,
        endpoint: str,
        *,
        session: aiohttp.ClientSession | None,
        agent: str,
        timeout: float,
        retry_budget: float,
        ban: float,
        down_for: float,
        limiter: RequestLimiter,
        max_in_flight: int,
        clock: Clock,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
    ) -> None:
        self._token = token
        self.endpoint = endpoint
        self._session = session
        self._owned = session is None
        self._agent = agent
        self.timeout = timeout
        self.retry_budget = retry_budget
        self.ban = ban
        self.down_for = down_for
        self.limiter = limiter
        self._flight = asyncio.Semaphore(max_in_flight)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng
        self.requests = 0
        self.outcomes: Counter[str] = Counter()
        """Requests sent, by what came of them: ok, rate_limited, unavailable, refused, invalid."""
        self.answered_at: datetime | None = None
        """When a request last got a usable answer."""
        self._down_until = 0.0  # monotonic
        self._down: SourceUnavailableError | None = None
        self._banned_until = 0.0  # monotonic

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r})"

    async def close(self) -> None:
        """Close the session if this transport opened it; a caller's session stays open."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None

    def _later(self, until: float) -> datetime | None:
        left = until - self._monotonic()
        return self._clock() + timedelta(seconds=left) if left > 0 else None

    @property
    def down_until(self) -> datetime | None:
        """When the endpoint, marked down after a call gave up, is asked again."""
        return self._later(self._down_until)

    @property
    def banned_until(self) -> datetime | None:
        """When the API's ban on this source ends, as far as this process heard of it."""
        return self._later(self._banned_until)

    async def query(self, document: str, variables: Mapping[str, Any], name: str) -> dict[str, Any]:
        """The ``data`` of one GraphQL answer, retrying transient failures within the budget."""
        made = self._monotonic()
        # Waits (for a place, between tries) fit in the budget; the last try gets its timeout.
        budget_end = made + self.retry_budget
        end = budget_end + self.timeout
        attempt = 0
        while True:
            self._check_down(made, attempt)
            try:
                # A place in flight first (the requests ahead may hang: at most until the
                # bound), then the window (at most the budget), so it counts the sending.
                async with asyncio.timeout(max(end - self._monotonic(), 0.0)):
                    await self._flight.acquire()
            except TimeoutError:
                err = SourceUnavailableError(
                    f"{self.endpoint}: no request could go within "
                    f"{self._monotonic() - made:.1f} s; the ones ahead did not end",
                    reason=Reason.TIMEOUT,
                )
                self._facts(err, made, attempt)
                raise err from None
            try:
                try:
                    async with contextlib.AsyncExitStack() as stack:
                        patience = max(budget_end - self._monotonic(), 0.0)
                        try:
                            await stack.enter_async_context(self.limiter.slot(patience))
                        except RateLimitedError as err:
                            # Refused before sending, whatever limiter it is: not the API's
                            # answer, so no ban of our own to record.
                            err.own = True
                            raise
                        # The wait for a place may have outlasted an outage's start.
                        self._check_down(made, attempt)
                        limit = min(self.timeout, end - self._monotonic())
                        if limit <= 0:
                            raise SourceUnavailableError(
                                f"{self.endpoint} did not answer within "
                                f"{self._monotonic() - made:.1f} s",
                                reason=Reason.TIMEOUT,
                            )
                        attempt += 1
                        data = await self._counted(document, variables, name, limit)
                        self._down_until, self._down = 0.0, None
                        return data
                finally:
                    self._flight.release()
            except _Fast:
                raise
            except RateLimitedError as err:
                if not err.own:
                    await self._banned(err)
                self._facts(err, made, attempt)
                raise
            except SourceUnavailableError as err:
                delay = self._backoff(attempt - 1)
                if err.retry_after is not None:
                    delay = max(delay, err.retry_after)
                if self._monotonic() + delay > budget_end:
                    self._gave_up(err, made, attempt)
                cause = str(err)
                log.warning("%s: retrying in %.1f s after: %s", name, delay, self._redact(cause))
                await self._sleep(delay)
            except SourceError as err:
                self._facts(err, made, attempt)
                raise

    def _facts(self, err: SourceError, made: float, attempt: int) -> None:
        err.endpoint = self.endpoint
        err.attempts = attempt
        err.elapsed = self._monotonic() - made

    def _check_down(self, made: float, attempt: int) -> None:
        left = self._down_until - self._monotonic()
        if left <= 0 or self._down is None:
            return
        cause = self._down
        err = _Fast(
            f"{self.endpoint} is marked down for another {left:.0f} s after: {cause}",
            status=cause.status,
            retry_after=left,
            reason=cause.reason,
        )
        self._facts(err, made, attempt)
        raise err

    def _gave_up(self, err: SourceError, made: float, attempt: int) -> NoReturn:
        self._facts(err, made, attempt)
        if attempt > 1:
            err.args = (f"{err.message} (gave up after {attempt} attempts in {err.elapsed:.1f} s)",)
        wait = max(self.down_for, err.retry_after or 0.0)
        err.retry_after = wait
        assert isinstance(err, SourceUnavailableError)
        self._down_until = max(self._down_until, self._monotonic() + wait)
        self._down = err
        raise err

    async def _banned(self, err: RateLimitedError) -> None:
        """Take a 429 as a ban: nobody sharing the limiter sends until it ends."""
        wait = err.retry_after if err.retry_after else self.ban
        err.retry_after = wait
        self._banned_until = max(self._banned_until, self._monotonic() + wait)
        await self.limiter.ban(wait, f"HTTP {err.status or 429} from {self.endpoint}")
        # The API's window (taken to be as long as ours) has let every request in it go by
        # then; Retry-After frees only the oldest one.
        err.clear_after = wait if err.banned else max(wait, self.limiter.per_seconds)

    def _backoff(self, attempt: int) -> float:
        # Equal jitter: never zero, so that many clients failing together spread out.
        step = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0**attempt)
        return step / 2 + self._rng.random() * step / 2

    def _redact(self, text: str) -> str:
        token = self._token
        if not token:
            return text
        if len(token) >= _SECRET_LENGTH:
            return text.replace(token, "<token>")
        # Too short to be a real secret, and a plain replace would mangle the message
        # ("t": "h<token><token>p://"): only where it stands alone.
        return re.sub(rf"(?<![\w.~+/=-]){re.escape(token)}(?![\w.~+/=-])", "<token>", text)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _counted(
        self, document: str, variables: Mapping[str, Any], name: str, limit: float
    ) -> dict[str, Any]:
        """One request, its outcome counted (for metrics)."""
        try:
            data = await self._once(document, variables, name, limit)
        except RateLimitedError:
            self.outcomes["rate_limited"] += 1
            raise
        except SourceUnavailableError:
            self.outcomes["unavailable"] += 1
            raise
        except AuthenticationError:
            self.outcomes["refused"] += 1
            raise
        except SourceError:
            self.outcomes["invalid"] += 1
            raise
        self.outcomes["ok"] += 1
        self.answered_at = self._clock()
        return data

    async def _once(
        self, document: str, variables: Mapping[str, Any], name: str, limit: float
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "User-Agent": self._agent,
            "Accept": "application/json",
        }
        payload = {"query": document, "variables": dict(variables), "operationName": name}
        self.requests += 1
        started = self._monotonic()
        try:
            async with self._http().post(
                self.endpoint,
                json=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as response:
                body = await response.read()
                status = response.status
                kind = response.content_type
                retry_header = response.headers.get("Retry-After")
        except TimeoutError:
            raise SourceUnavailableError(
                f"{self.endpoint} did not answer within {limit:g} s", reason=Reason.TIMEOUT
            ) from None
        except aiohttp.ClientError as err:
            # ``from None``: aiohttp's errors may carry the request, and with it our headers.
            raise SourceUnavailableError(
                self._redact(f"cannot reach {self.endpoint}: {type(err).__name__}: {err}"),
                reason=_reason(err),
            ) from None
        log.debug(
            "%s: HTTP %s from %s in %.2f s",
            name,
            status,
            self.endpoint,
            self._monotonic() - started,
        )
        return self._interpret(status, kind, body, retry_header)

    def _interpret(
        self, status: int, kind: str, body: bytes, retry_header: str | None
    ) -> dict[str, Any]:
        where = f"{self.endpoint} (HTTP {status})"
        answer = _loads(body) if "json" in kind else None
        if status in (401, 403) and not _says(body, _BAN_WORDS):
            raise AuthenticationError(f"{where} refused the token", status=status)
        if status == 429 or ("json" not in kind and _says(body, _BAN_WORDS)):
            after = self._retry_after(retry_header)
            if after is None:
                after = _extension_retry(answer)
            # Without a time to wait, Tibber's 429 is its ban ("temporarily banned").
            banned = after is None or _says(body, ("banned",))
            words = "banned this client" if banned else "asks to slow down"
            raise RateLimitedError(f"{where} {words}", after, status=status, banned=banned)
        if isinstance(answer, dict) and isinstance(answer.get("errors"), list):
            # Token errors come with any status (500, 400, 200): they win over the status.
            self._token_errors(where, status, answer["errors"])
        if status >= 500:
            raise SourceUnavailableError(
                f"{where} failed", status=status, retry_after=self._retry_after(retry_header)
            )
        if "json" not in kind:
            snippet = self._redact(body[:120].decode("utf-8", "replace").strip())
            raise InvalidResponseError(
                f"{where} answered {kind or 'without a content type'}, not GraphQL: {snippet!r}",
                status=status,
            )
        if answer is None:
            raise InvalidResponseError(f"{where} answered malformed JSON", status=status)
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise InvalidResponseError(
                f"{where} answered JSON that is not a GraphQL response", status=status
            )
        errors = answer.get("errors")
        data = answer.get("data")
        if errors and status == 200 and isinstance(data, dict) and _history_only(errors):
            # Partial data: only the history failed (it is null); today and tomorrow stand.
            log.info("%s: priceInfoRange failed, the rest of the answer is kept", where)
            return data
        if errors:
            self._raise_errors(where, status, errors)
        if status != 200:
            raise InvalidResponseError(
                f"{where}: unexpected status without GraphQL errors", status=status
            )
        if not isinstance(data, dict):
            raise InvalidResponseError(f"{where} answered without data", status=status)
        return data

    def _token_errors(self, where: str, status: int, errors: list[Any]) -> None:
        for error in errors:
            if not isinstance(error, dict):
                continue
            ext = error.get("extensions")
            code = ext.get("code") if isinstance(ext, dict) else None
            text = str(error.get("message", ""))
            if code == "UNAUTHENTICATED" or _says(text.encode(), _TOKEN_WORDS):
                message = self._redact(text)[:200]
                raise AuthenticationError(f"{where} refused the token: {message}", status=status)

    def _raise_errors(self, where: str, status: int, errors: Any) -> NoReturn:
        if not isinstance(errors, list):
            raise InvalidResponseError(f"{where}: 'errors' is not a list", status=status)
        found: list[tuple[str, str | None, dict[str, Any] | None]] = []
        for error in errors:
            if not isinstance(error, dict):
                raise InvalidResponseError(
                    f"{where}: a GraphQL error is not an object", status=status
                )
            message = self._redact(str(error.get("message", "")))[:200]
            ext = error.get("extensions")
            ext = ext if isinstance(ext, dict) else None
            code = ext.get("code") if ext else None
            found.append((message, code if isinstance(code, str) else None, ext))
        for message, code, ext in found:
            after = _extension_retry({"errors": [{"extensions": ext}]}) if ext else None
            if after is not None or code in _SLOW_DOWN:
                raise RateLimitedError(
                    f"{where} asks to slow down: {message}", after, status=status
                )
        message, code, ext = found[0] if found else ("", None, None)
        if code == "NOT_FOUND":
            # Tibber's answer to a home id the account does not have.
            raise UnknownHomeError(f"{where}: {message}", status=status)
        if ext is None:
            raise InvalidResponseError(
                f"{where}: GraphQL error without extensions: {message}", status=status
            )
        raise InvalidResponseError(f"{where}: GraphQL error {code}: {message}", status=status)

    def _retry_after(self, header: str | None) -> float | None:
        if not header:
            return None
        try:
            return max(float(header), 0.0)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - self._clock()).total_seconds(), 0.0)


def _says(body: bytes, words: tuple[str, ...]) -> bool:
    """True when the text holds one of ``words`` (any case)."""
    text = body[:2000].decode("utf-8", "replace").casefold()
    return any(word in text for word in words)


def _loads(body: bytes) -> Any:
    """Parsed JSON, or None when the body is not JSON at all."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return None


# GraphQL error codes that ask the caller to slow down.
_SLOW_DOWN = ("TOO_MANY_REQUESTS", "RATE_LIMITED")


def _history_only(errors: Any) -> bool:
    """Every GraphQL error is about a ``priceInfoRange`` (by its path) and none asks to slow
    down: the answer's other fields can be used."""
    if not isinstance(errors, list):
        return False
    for error in errors:
        if not isinstance(error, dict):
            return False
        path = error.get("path")
        if not isinstance(path, list) or "priceInfoRange" not in path:
            return False
        ext = error.get("extensions")
        code = ext.get("code") if isinstance(ext, dict) else None
        # Token errors were raised before this is asked (they win over everything).
        if code in _SLOW_DOWN or code == "NOT_FOUND":
            return False
        if _extension_retry({"errors": [error]}) is not None:
            return False
    return True


def _extension_retry(answer: Any) -> float | None:
    """The first ``extensions.retryAfter`` (seconds) in a GraphQL answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("errors"), list):
        return None
    for error in answer["errors"]:
        ext = error.get("extensions") if isinstance(error, dict) else None
        value = ext.get("retryAfter") if isinstance(ext, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(float(value), 0.0)
    return None
