"""``pricepool serve`` put together: the options as a source, a store, a hub and the app."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ._app import make_app, serve
from ._hub import Hub

if TYPE_CHECKING:
    from .._cli.config import Config
    from .._cli.options import Options

__all__ = ["run_service"]


async def run_service(
    opts: Options, config: Config, *, host: str, port: int, api_key: str | None
) -> None:
    """Serve until a stop signal, with the CLI's token, endpoint and store."""
    import os

    from .._cli.config import (
        default_store,
        endpoint_limiter,
        limiter_for,
        open_store,
        resolve_token,
    )
    from .._cli.runner import default_endpoint
    from .._cli.session import MissingTokenError
    from ..clock import system_clock
    from ..sources.tibber import TibberSource

    token = resolve_token(opts.token, config)
    if not token:
        raise MissingTokenError()
    endpoint = opts.endpoint or config.endpoint or default_endpoint()
    chosen = opts.store or os.environ.get("PRICEPOOL_STORE") or config.store
    text = chosen or str(default_store())
    store = open_store(text)
    fixed = opts.now
    clock = (lambda: fixed) if fixed is not None else system_clock
    source = TibberSource(
        token,
        endpoint=endpoint,
        clock=clock,
        user_agent="pricepool-serve",
        retry_budget=10.0 if opts.retry_budget is None else opts.retry_budget,
        limiter=limiter_for(store, token) or endpoint_limiter(endpoint),
    )
    hub = Hub(source, store=store, clock=clock, meta_path=_meta_path(text))
    app = make_app(hub, endpoint=endpoint, api_key=api_key, watch=True)

    def started(where: str) -> None:
        # One line on stdout a supervisor (or a test) can wait for.
        print(f"pricepool serve: answering on {where}", flush=True)

    with _log_to_stderr(opts.verbose, opts.quiet):
        await serve(app, hub, host=host, port=port, started=started)


def _meta_path(store: str) -> Path | None:
    """Beside a file store; a database keeps none (each replica asks once per start)."""
    from ..storage.postgres_dsn import is_postgres

    if is_postgres(store):
        return None
    path = Path(store.rstrip("/")).expanduser()
    return path.with_name(path.name + ".meta.json")


@contextmanager
def _log_to_stderr(verbose: bool, quiet: bool) -> Iterator[None]:
    """INFO lines (the access log among them) on stderr; DEBUG with -v, WARNING with -q.

    The service's handler stands in for the command's own (its -v lines, its warnings) while
    it serves: with both, every line was written twice.
    """
    logger = logging.getLogger("pricepool")
    theirs = list(logger.handlers)
    for old in theirs:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler.setLevel(level)
    before = logger.level
    logger.setLevel(min(level, before or level))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)
        for old in theirs:
            logger.addHandler(old)
