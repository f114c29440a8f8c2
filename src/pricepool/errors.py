"""Every error pricepool raises.

    PricePoolError
     ├── InvalidRangeError (also ValueError)   a request's start/end is unusable
     ├── SourceError                           the price source failed
     │    ├── AuthenticationError              token missing, wrong or expired
     │    ├── UnknownHomeError (also LookupError) the account has no home with that id
     │    ├── RateLimitedError                 told to slow down; ``retry_after`` seconds
     │    ├── SourceUnavailableError           5xx, timeout, connection refused
     │    └── InvalidResponseError             an answer that cannot be trusted; nothing cached
     └── StorageError                          a store could not be read or written

Catch ``SourceError`` to handle "no fresh data"; the pool's cache is untouched by it.
"""

from __future__ import annotations


class PricePoolError(Exception):
    """Base of every pricepool error."""


class InvalidRangeError(PricePoolError, ValueError):
    """A requested range is unusable; the message names the argument."""


class SourceError(PricePoolError):
    """The price source could not answer."""


class AuthenticationError(SourceError):
    """The source refused the credentials."""


class UnknownHomeError(SourceError, LookupError):
    """The source's account has no home with the requested id."""


class RateLimitedError(SourceError):
    """The source asked us to wait ``retry_after`` seconds before the next request."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailableError(SourceError):
    """The source is down, slow or unreachable; trying later may help."""


class InvalidResponseError(SourceError):
    """The source answered with something that is not a valid price answer."""


class StorageError(PricePoolError):
    """A store could not load or save."""
