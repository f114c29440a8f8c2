"""The whole-source circuit: after the source as a whole fails, it is left alone for a while."""

from __future__ import annotations

import itertools

from .errors import (
    AuthenticationError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    UnknownHomeError,
)

__all__ = ["FIRST_STEP", "Backoff", "whole"]

# Unique across instances: a pool that replaces one (a restore) never repeats a number.
_REVISIONS = itertools.count(1)

FIRST_STEP = 30.0
"""Seconds the source is left alone after the first failure of an outage."""

# Failures of the source as a whole; other failures concern the span asked for.
_WHOLE = (SourceUnavailableError, RateLimitedError, AuthenticationError, UnknownHomeError)


def whole(error: SourceError) -> bool:
    """True when ``error`` says the source as a whole failed, not one span's answer."""
    return isinstance(error, _WHOLE)


class Backoff:
    """Quiet after a failure: ``retry_after`` when the source said so, else back-off steps.

    Steps double from ``first`` up to ``ceiling`` (the re-check interval), so an outage
    costs a few calls an hour, not one per request. Calls already under way when the
    source went down fail in the same outage and take no step of their own; a success
    resets the steps.
    """

    __slots__ = ("ceiling", "error", "first", "revision", "step", "until")

    def __init__(self, ceiling: float, first: float = FIRST_STEP) -> None:
        self.revision = next(_REVISIONS)
        self.ceiling = ceiling
        self.first = min(first, ceiling)
        self.step = 0.0
        self.until = 0.0
        self.error: SourceError | None = None
        """The failure that made the source quiet: the original object."""

    def __repr__(self) -> str:
        return f"Backoff(until={self.until}, step={self.step}, error={self.error!r})"

    def quiet(self, now: float) -> bool:
        """True when the source is not to be asked at ``now``."""
        return now < self.until

    def failed(self, error: SourceError, now: float) -> float:
        """Take ``error`` at ``now``; returns until when the source is left alone."""
        self.revision = next(_REVISIONS)
        if isinstance(error, RateLimitedError) and error.retry_after:
            wait = error.retry_after
        elif now < self.until:
            wait = self.step  # one outage, one step
        else:
            self.step = min(max(2 * self.step, self.first), self.ceiling)
            wait = self.step
        self.until = max(self.until, now + wait)
        self.error = error
        return self.until

    def succeeded(self) -> None:
        """The source answered: the next outage starts at the first step again."""
        self.revision = next(_REVISIONS)
        self.step = 0.0
