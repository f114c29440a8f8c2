"""Backoff: the whole-source circuit."""

from __future__ import annotations

import pytest

from pricepool.backoff import Backoff, whole
from pricepool.errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitedError,
    SourceUnavailableError,
    UnknownHomeError,
)


def test_steps_double_from_30_s_up_to_the_ceiling() -> None:
    backoff = Backoff(ceiling=900)
    now = 0.0
    waits = []
    for _ in range(7):
        until = backoff.failed(SourceUnavailableError("down"), now)
        waits.append(until - now)
        now = until
    assert waits == [30, 60, 120, 240, 480, 900, 900]


def test_failures_within_one_outage_take_one_step() -> None:
    backoff = Backoff(ceiling=900)
    assert backoff.failed(SourceUnavailableError("a"), 0) == 30
    assert backoff.failed(SourceUnavailableError("b"), 1) == 31  # already quiet: same step
    assert backoff.step == 30
    assert backoff.quiet(30.9)
    assert not backoff.quiet(31)


def test_retry_after_is_honoured_and_the_error_kept() -> None:
    backoff = Backoff(ceiling=900)
    error = RateLimitedError("slow down", retry_after=600)
    assert backoff.failed(error, 100) == 700
    assert backoff.error is error


def test_a_success_starts_the_next_outage_at_the_first_step() -> None:
    backoff = Backoff(ceiling=900)
    backoff.failed(SourceUnavailableError("a"), 0)
    backoff.failed(SourceUnavailableError("b"), 30)
    backoff.succeeded()
    assert backoff.failed(SourceUnavailableError("c"), 1000) == 1030


@pytest.mark.parametrize(
    ("error", "is_whole"),
    [
        (SourceUnavailableError("x"), True),
        (RateLimitedError("x"), True),
        (AuthenticationError("x"), True),
        (UnknownHomeError("x"), True),
        (InvalidResponseError("x"), False),
    ],
)
def test_whole_source_failures_are_told_from_a_span_s_bad_answer(
    error: Exception, is_whole: bool
) -> None:
    assert whole(error) is is_whole  # type: ignore[arg-type]
