"""A local, Tibber-compatible GraphQL price API for tests, demos and benchmarks.

    async with Simulator(clock=ManualClock(now)) as sim:
        source = TibberSource("any-token", endpoint=sim.endpoint)

It serves ``POST /v1-beta/gql`` and executes a real GraphQL schema (graphql-core) with
Tibber's field names: ``viewer { homes home(id) … }``, ``Home``, ``Subscription { priceInfo
priceInfoRange }``, ``Price``. Prices are synthetic but deterministic per home and
instant; days before 2025-10-01 (home-local) are hourly, later ones quarter-hourly, and
DST days have 92 or 100 quarter-hours. Tomorrow's prices appear at ``publish_hour``
home-local (plus ``publish_delay``).

Where Tibber leaves semantics open, the simulator decides (details in ``_schema``):
``priceInfoRange`` is history up to local midnight of today, never today or tomorrow;
cursors are base64 of a ``startsAt`` (``cursors="end"``: the instant after the node),
compared as cursors, and ``after``/``before`` are strict (``inclusive_after=True``:
inclusive, as Tibber's since 2025-01). Pages hold at most the schema's caps, 672
quarter-hours or 744 hours (``page_limit`` for fewer). The schema is
``pricepool.sources.tibber.wire.sdl()``.

Refusals, shaped like Tibber's:

* no bearer token: HTTP 401, ``errors[0].extensions.code == "UNAUTHENTICATED"``;
* a wrong token (or ``Faults.invalid_token``): HTTP 200, the same error, ``data`` absent;
* over the rate limit: HTTP 429, ``Retry-After`` header and
  ``errors[0].extensions == {"code": "TOO_MANY_REQUESTS", "retryAfter": seconds}``; with
  ``ban=seconds``, Tibber's ban instead: 429 in text/plain without Retry-After, extended by
  every request during it;
* ``Faults.token_error``: HTTP 200, ``INTERNAL_SERVER_ERROR`` "Invalid Compact JWS" or a
  JWT ``"exp" claim`` failure; ``Faults.quarter_outage``: quarter-hourly today/tomorrow
  empty while the hourly ones answer; ``Faults.null_range``: ``priceInfoRange`` null;
* bad arguments: HTTP 200 with ``BAD_USER_INPUT``; unknown home: ``NOT_FOUND``;
  invalid queries: HTTP 400 with ``GRAPHQL_PARSE_FAILED``/``GRAPHQL_VALIDATION_FAILED``.
"""

from ._app import PATH, Simulator, serve
from ._faults import Faults, SimRequest
from ._homes import DEFAULT_HOMES, SimHome

__all__ = ["DEFAULT_HOMES", "PATH", "Faults", "SimHome", "SimRequest", "Simulator", "serve"]
