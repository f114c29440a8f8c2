"""One GraphQL call to Tibber over HTTP: headers, error mapping, retries within a budget.

Status and body map onto ``pricepool.errors``:

    401, 403, errors[].extensions.code UNAUTHENTICATED   AuthenticationError      never retried
    429, extensions.retryAfter                           RateLimitedError         after Retry-After
    5xx, timeout, connection failure                     SourceUnavailableError   with backoff
    not JSON, not GraphQL, errors without extensions,
    errors[].extensions.code NOT_FOUND                   UnknownHomeError         never retried
    other error codes, null data, NaN                    InvalidResponseError     never retried
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

import aiohttp

from ...clock import Clock
from ...errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)
from ._limiter import Limiter

__all__ = ["Transport", "user_agent"]

log = logging.getLogger("pricepool.sources.tibber")

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0


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


class _Down(SourceUnavailableError):
    """A 5xx answer, with the Retry-After it may carry (503 often does)."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN and Infinity by default; no GraphQL server sends them.
    raise ValueError(f"non-JSON number {name}")


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
        limiter: Limiter,
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
        self._limiter = limiter
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rng = rng
        self.requests = 0

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r})"

    async def close(self) -> None:
        """Close the session if this transport opened it; a caller's session stays open."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None

    async def query(self, document: str, variables: Mapping[str, Any], name: str) -> dict[str, Any]:
        """The ``data`` of one GraphQL answer, retrying transient failures within the budget."""
        deadline = self._monotonic() + self.retry_budget
        attempt = 0
        while True:
            # The first try always gets the full timeout; retries only what the budget leaves.
            left = deadline - self._monotonic()
            limit = self.timeout if attempt == 0 else max(min(self.timeout, left), 0.001)
            try:
                async with self._limiter.slot(max(left, 0.0)):
                    return await self._once(document, variables, name, limit)
            except RateLimitedError as err:
                if err.retry_after is None:
                    err.retry_after = self._backoff(attempt)
                delay = err.retry_after
                self._check_budget(err, delay, deadline, attempt)
                cause = str(err)
            except SourceUnavailableError as err:
                delay = self._backoff(attempt)
                if isinstance(err, _Down) and err.retry_after is not None:
                    delay = max(delay, err.retry_after)
                self._check_budget(err, delay, deadline, attempt)
                cause = str(err)
            log.warning("%s: retrying in %.1f s after: %s", name, delay, self._redact(cause))
            await self._sleep(delay)
            attempt += 1

    def _check_budget(self, err: SourceError, delay: float, deadline: float, attempt: int) -> None:
        if self._monotonic() + delay <= deadline:
            return
        if attempt:
            err.args = (
                f"{err.args[0]} (gave up after {attempt + 1} attempts within the "
                f"{self.retry_budget:g} s retry budget)",
            )
        if isinstance(err, _Down):
            # Callers see the public type; the subclass only carried Retry-After to here.
            raise SourceUnavailableError(*err.args) from None
        raise err

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
                f"{self.endpoint} did not answer within {limit:g} s"
            ) from None
        except aiohttp.ClientError as err:
            # ``from None``: aiohttp's errors may carry the request, and with it our headers.
            raise SourceUnavailableError(
                self._redact(f"cannot reach {self.endpoint}: {type(err).__name__}: {err}")
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
        if status in (401, 403):
            raise AuthenticationError(f"{where} refused the token")
        if status == 429:
            after = self._retry_after(retry_header)
            if after is None:
                after = _extension_retry(_loads(body))
            raise RateLimitedError(f"{where} asks to slow down", retry_after=after)
        if status >= 500:
            raise _Down(f"{where} failed", self._retry_after(retry_header))
        if "json" not in kind:
            snippet = self._redact(body[:120].decode("utf-8", "replace").strip())
            raise InvalidResponseError(
                f"{where} answered {kind or 'without a content type'}, not GraphQL: {snippet!r}"
            )
        answer = _loads(body)
        if answer is None:
            raise InvalidResponseError(f"{where} answered malformed JSON")
        if not isinstance(answer, dict) or not ("data" in answer or "errors" in answer):
            raise InvalidResponseError(f"{where} answered JSON that is not a GraphQL response")
        errors = answer.get("errors")
        if errors:
            self._raise_errors(where, errors)
        if status != 200:
            raise InvalidResponseError(f"{where}: unexpected status without GraphQL errors")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise InvalidResponseError(f"{where} answered without data")
        return data

    def _raise_errors(self, where: str, errors: Any) -> NoReturn:
        if not isinstance(errors, list):
            raise InvalidResponseError(f"{where}: 'errors' is not a list")
        found: list[tuple[str, str | None, dict[str, Any] | None]] = []
        for error in errors:
            if not isinstance(error, dict):
                raise InvalidResponseError(f"{where}: a GraphQL error is not an object")
            message = self._redact(str(error.get("message", "")))[:200]
            ext = error.get("extensions")
            ext = ext if isinstance(ext, dict) else None
            code = ext.get("code") if ext else None
            found.append((message, code if isinstance(code, str) else None, ext))
        for message, code, _ in found:
            if code == "UNAUTHENTICATED":
                raise AuthenticationError(f"{where} refused the token: {message}")
        for message, code, ext in found:
            after = _extension_retry({"errors": [{"extensions": ext}]}) if ext else None
            if after is not None or code in ("TOO_MANY_REQUESTS", "RATE_LIMITED"):
                raise RateLimitedError(f"{where} asks to slow down: {message}", retry_after=after)
        message, code, ext = found[0] if found else ("", None, None)
        if code == "NOT_FOUND":
            # Tibber's answer to a home id the account does not have.
            raise UnknownHomeError(f"{where}: {message}")
        if ext is None:
            raise InvalidResponseError(f"{where}: GraphQL error without extensions: {message}")
        raise InvalidResponseError(f"{where}: GraphQL error {code}: {message}")

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


def _loads(body: bytes) -> Any:
    """Parsed JSON, or None when the body is not JSON at all."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return None


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
