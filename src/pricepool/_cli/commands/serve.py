"""``pricepool serve``: one cache and one rate limit for every app in the house, over HTTP."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..options import (
    Endpoint,
    Now,
    Quiet,
    RetryBudget,
    StorePath,
    Token,
    Verbose,
    examples,
    merged,
    port_number,
)
from ..runner import reported, run_loop
from ..usage import Command

KEY_ENV = "PRICEPOOL_API_KEY"

HELP = "\n\n".join(
    (
        "Answer every app in the house from one cache, with one share of the API's rate "
        "limit: REST/JSON under /v1 (homes, prices, cheapest, coverage, evcc's rates, Home "
        "Assistant's current), Tibber's GraphQL at /v1-beta/gql, Server-Sent Events at "
        "/v1/homes/HOME/events, Prometheus metrics at /metrics, /healthz and /readyz.",
        "Binds 127.0.0.1 by default. Any other address needs --api-key (or api_key in "
        f"config.toml, or {KEY_ENV}); clients then send Authorization: Bearer KEY on every "
        "route but /healthz. SIGTERM, SIGINT or SIGHUP: answers under way finish, the store "
        "is saved, exit 0.",
    )
)


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help=HELP,
        short_help="Serve the cache over HTTP: REST, Tibber's GraphQL, events, metrics.",
        epilog=examples(
            "pricepool serve",
            'pricepool serve --host 0.0.0.0 --port 8080 --api-key "$(cat /etc/pricepool.key)"',
        ),
    )(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", metavar="PORT", callback=port_number, help="Port (0: any free)."),
    ] = 8080,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help=f"Key clients must send (default: {KEY_ENV}, then api_key in config.toml).",
            show_default=False,
        ),
    ] = None,
    token: Token = None,
    endpoint: Endpoint = None,
    store: StorePath = None,
    retry_budget: RetryBudget = None,
    verbose: Verbose = False,
    now: Now = None,
    quiet: Quiet = False,
) -> None:
    opts = merged(
        ctx,
        token=token,
        endpoint=endpoint,
        store=store,
        retry_budget=retry_budget,
        verbose=verbose,
        now=now,
        quiet=quiet,
    )
    with reported(opts):
        from ..config import load_config
        from ..runner import errors
        from ..session import UsageProblem

        console = errors()
        config = load_config(
            warn=lambda text: console.print(f"warning: {text}", style="yellow", soft_wrap=True)
        )
        key = api_key or os.environ.get(KEY_ENV) or config.api_key or None
        from pricepool.service import loopback

        if not loopback(host) and not key:
            raise UsageProblem(
                f"--host {host} reaches beyond this machine: give --api-key (or {KEY_ENV}, "
                "or api_key in config.toml) so that only your apps may ask"
            )
        from pricepool.service import run_service

        run_loop(lambda: run_service(opts, config, host=host, port=port, api_key=key))
