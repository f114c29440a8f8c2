"""``GET /metrics``: the service in Prometheus's text format, read from live state at scrape time.

One registry per application (never the process-wide one), so several services in one process
keep their own. Labels are bounded: a route is its template (``/v1/homes/{home}/prices``),
never the asked path; a home is its id, of which an account has a handful. A scrape asks the
API nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ..clock import local_midnight
from ._hub import Hub

__all__ = ["PATH", "add_routes"]

PATH: Final = "/metrics"


class Metrics:
    """The application's registry: request counters and latencies, and the hub's state."""

    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pricepool_http_requests",
            "HTTP answers by route template and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pricepool_http_request_duration_seconds",
            "Time to answer, by route template.",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.registry.register(_State(hub))

    def seen(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)


class _State(Collector):
    """Gauges and counters of the hub, the source and the pools, read when scraped."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        now = hub.clock()
        from .. import __version__

        build = GaugeMetricFamily(
            "pricepool_build_info", "The running pricepool's version.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build
        status = hub.source.status
        upstream = CounterMetricFamily(
            "pricepool_upstream_requests",
            "Requests sent to the price API, by outcome.",
            labels=["outcome"],
        )
        for outcome in ("ok", "rate_limited", "unavailable", "refused", "invalid"):
            upstream.add_metric([outcome], status.outcomes.get(outcome, 0))
        yield upstream
        yield _gauge(
            "pricepool_upstream_banned", "1 while the API bans us.", status.banned_until is not None
        )
        yield _gauge(
            "pricepool_upstream_ban_remaining_seconds",
            "Seconds until the API's ban ends (0: none).",
            _left(status.banned_until, now),
        )
        yield _gauge(
            "pricepool_upstream_down_remaining_seconds",
            "Seconds until an API marked down is asked again (0: not down).",
            _left(status.down_until, now),
        )
        yield _gauge(
            "pricepool_upstream_requests_left",
            "Requests that may go now within the rate window.",
            status.requests_left,
        )
        yield _gauge(
            "pricepool_upstream_rate_window_seconds", "The rate limit's window.", status.window
        )
        yield _gauge(
            "pricepool_upstream_last_success_timestamp_seconds",
            "When the API last gave a usable answer (Unix time; 0: never since start).",
            status.answered_at.timestamp() if status.answered_at else 0,
        )
        held = GaugeMetricFamily(
            "pricepool_intervals", "Price intervals held in memory, by home.", labels=["home"]
        )
        tomorrow = GaugeMetricFamily(
            "pricepool_tomorrow_available",
            "1 when tomorrow's prices are held, by home.",
            labels=["home"],
        )
        price = GaugeMetricFamily(
            "pricepool_price",
            "The price in force per kWh in the home's currency, by home and component.",
            labels=["home", "component", "currency"],
        )
        failures = CounterMetricFamily(
            "pricepool_store_save_failures",
            "Writes to the store that failed, by home (the data stays in memory).",
            labels=["home"],
        )
        hits = CounterMetricFamily(
            "pricepool_pool_requests",
            "Requests to the pools, by home and result.",
            labels=["home", "result"],
        )
        for home_id, pool in list(hub.pools.items()):
            stats = pool.stats
            held.add_metric([home_id], stats.intervals)
            failures.add_metric([home_id], stats.save_failures)
            hits.add_metric([home_id, "hit"], stats.hits)
            hits.add_metric([home_id, "miss"], stats.requests - stats.hits)
            home = pool.home
            if home is None:
                continue
            tz = home.tz
            day = now.astimezone(tz).date() + timedelta(days=1)
            answered, _ = pool.coverage()
            start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
            covered = any(s.start <= start and s.end >= end for s in answered)
            tomorrow.add_metric([home_id], 1 if covered else 0)
            here = pool.peek(now)
            if here is not None:
                currency = here.currency or home.currency or ""
                for component, value in (
                    ("total", here.total),
                    ("energy", here.energy),
                    ("tax", here.tax),
                ):
                    if value == value:  # nan: the API did not give this part
                        price.add_metric([home_id, component, currency], value)
        yield held
        yield tomorrow
        yield price
        yield failures
        yield hits


_KEY: Final = web.AppKey("metrics", Metrics)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _left(until: datetime | None, now: datetime) -> float:
    return max(0.0, (until - now).total_seconds()) if until is not None else 0.0


def seen(app: web.Application, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answer of ``app`` (its access log calls this)."""
    metrics = app.get(_KEY)
    if metrics is not None:
        metrics.seen(route, method, status, seconds)


def add_routes(app: web.Application, hub: Hub) -> None:
    """``GET /metrics``; every answer is counted through :func:`seen`."""
    metrics = Metrics(hub)
    app[_KEY] = metrics

    async def scrape(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app.router.add_get(PATH, scrape)
