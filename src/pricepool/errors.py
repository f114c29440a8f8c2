"""Every error pricepool raises.

    PricePoolError
     ├── InvalidRangeError (also ValueError)   a request's start/end is unusable
     ├── SourceError                           the price source failed; facts as attributes:
     │    │                                      endpoint, status, attempts, elapsed,
     │    │                                      retry_after, reason (a Reason)
     │    ├── AuthenticationError              token missing, wrong, expired or malformed
     │    ├── UnknownHomeError (also LookupError) the account has no home with that id
     │    ├── RateLimitedError                 told to slow down, banned, or pricepool's own
     │    │                                      limit is reached; ``retry_after`` seconds,
     │    │                                      ``clear_after`` until a full window is free
     │    ├── SourceUnavailableError           5xx, timeout, connection refused, marked down
     │    │    └── UnansweredError             an answer that left part of the span out
     │    └── InvalidResponseError             an answer that cannot be trusted; nothing cached
     └── StorageError                          a store could not be read or written

Catch ``SourceError`` to handle "no fresh data"; the pool's cache is untouched by it. Read
its attributes, never its text: the message is for people and may change.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthenticationError",
    "InvalidRangeError",
    "InvalidResponseError",
    "PricePoolError",
    "RateLimitedError",
    "Reason",
    "SourceError",
    "SourceUnavailableError",
    "StorageError",
    "UnansweredError",
    "UnknownHomeError",
]


class PricePoolError(Exception):
    """Base of every pricepool error."""


class InvalidRangeError(PricePoolError, ValueError):
    """A requested range is unusable; the message names the argument."""


class Reason(StrEnum):
    """Why a request never got an HTTP answer."""

    REFUSED = "refused"
    """The host refused the connection (nothing listens there)."""
    UNREACHABLE = "unreachable"
    """No route to the host: the network or the host is unreachable."""
    TIMEOUT = "timeout"
    """No answer within the request's time."""
    DNS = "dns"
    """The host name could not be resolved."""
    TLS = "tls"
    """The TLS handshake or the certificate failed."""
    RESET = "reset"
    """The connection was closed or reset before the answer was complete."""


class SourceError(PricePoolError):
    """The price source could not answer.

    ``endpoint`` is the URL asked, ``status`` the HTTP status (None without an answer),
    ``attempts`` how many requests were sent for it, ``elapsed`` the seconds from the
    call to the failure, ``retry_after`` the seconds until asking again may help, and
    ``reason`` why there was no answer at all. Each is None when not known.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        attempts: int | None = None,
        elapsed: float | None = None,
        retry_after: float | None = None,
        reason: Reason | None = None,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts
        self.elapsed = elapsed
        self.retry_after = retry_after
        self.reason = reason

    @property
    def message(self) -> str:
        """The text for people, as given."""
        return str(self.args[0]) if self.args else ""


class AuthenticationError(SourceError):
    """The source refused the credentials."""


class UnknownHomeError(SourceError, LookupError):
    """The source's account has no home with the requested id."""


class RateLimitedError(SourceError):
    """The source asked us to wait ``retry_after`` seconds before the next request.

    ``banned`` is True when the API banned the caller (every request waits until the ban
    ends), ``own`` when pricepool's own limiter refused to send; ``clear_after`` is the
    seconds until the limiter's whole window is free again (a long back-fill can go on).
    """

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        attempts: int | None = None,
        elapsed: float | None = None,
        reason: Reason | None = None,
        banned: bool = False,
        own: bool = False,
        clear_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            endpoint=endpoint,
            status=status,
            attempts=attempts,
            elapsed=elapsed,
            retry_after=retry_after,
            reason=reason,
        )
        self.banned = banned
        self.own = own
        self.clear_after = clear_after


class SourceUnavailableError(SourceError):
    """The source is down, slow or unreachable; trying later may help."""


class UnansweredError(SourceUnavailableError):
    """The source answered but left part of the asked span out (Tibber's history came back
    null, say); the pool asks for that part again after a re-check."""


class InvalidResponseError(SourceError):
    """The source answered with something that is not a valid price answer."""


class StorageError(PricePoolError):
    """A store could not load or save."""
