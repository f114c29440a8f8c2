"""What tests can break at runtime, and what the simulator remembers of each request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Faults", "SimRequest"]


@dataclass
class Faults:
    """Misbehaviour switched on by tests; every field may be changed while serving.

    Checked in this order: ``hang``, ``latency``, the rate limit, ``fail_next``,
    ``status``, ``error_rate``, ``malformed``, ``non_graphql``, the token,
    ``invalid_token``, ``token_error``, ``errors_without_extensions``; ``empty_today``,
    ``quarter_outage``, ``null_range`` and ``null_subscription`` change the data of
    answers that get through.
    """

    error_rate: float = 0.0
    """Share of requests answered HTTP 503 (drawn from the simulator's seeded RNG)."""
    latency: float = 0.0
    """Real seconds added before each answer."""
    hang: bool = False
    """Never answer (until the client gives up or the simulator stops)."""
    malformed: bool = False
    """HTTP 200, ``application/json``, with a body that is not JSON."""
    non_graphql: bool = False
    """HTTP 200 with an HTML notice, as a proxy blocking a User-Agent sends."""
    empty_today: bool = False
    """``priceInfo.today`` and ``tomorrow`` are ``[]`` and ``current`` is null."""
    null_subscription: bool = False
    """``currentSubscription`` is null, as during Tibber maintenance."""
    quarter_outage: bool = False
    """``priceInfo(resolution: QUARTER_HOURLY)`` has empty ``today`` and ``tomorrow`` while
    the HOURLY one and ``priceInfoRange`` answer (Tibber, May 2026)."""
    null_range: bool = False
    """``priceInfoRange`` is null (the schema allows it) while ``priceInfo`` answers."""
    token_error: str | None = None
    """Refuse the token as Tibber's JWT layer does, HTTP 200 with ``INTERNAL_SERVER_ERROR``:
    ``"jws"`` says "Invalid Compact JWS", ``"exp"`` that the ``"exp"`` claim failed."""
    invalid_token: bool = False
    """Reject the token as Tibber does: HTTP 200, ``errors[0].extensions.code`` UNAUTHENTICATED."""
    errors_without_extensions: bool = False
    """HTTP 200 with ``data: null`` and an error whose ``extensions`` is null."""
    status: int | None = None
    """Answer every request with this HTTP status."""
    fail_next: int = 0
    """The next N requests get ``status`` (503 when None); counts down to 0."""
    retry_after: float | None = None
    """``Retry-After`` seconds sent with injected 429 and 503 answers."""


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One POST as the simulator saw it.

    ``at`` is the simulator clock's time of arrival, ``status`` the HTTP status answered
    (0 for a request left hanging), ``fields`` the price-relevant fields the query
    selected: any of ``homes``, ``priceInfo``, ``priceInfoRange``; ``variables`` the
    query's variables (None when it had none).
    """

    at: datetime
    status: int
    fields: frozenset[str]
    variables: Mapping[str, Any] | None = None
