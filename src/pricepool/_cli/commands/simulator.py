"""``pricepool simulator``: a Tibber-compatible API on loopback, until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

from ..options import Now, ServedToken, Verbose, examples, merged, port_number
from ..runner import reported, run_loop
from ..usage import Command


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help="Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C "
        "(or SIGTERM, SIGHUP). Point other commands at it with --endpoint.",
        short_help="Serve a Tibber-compatible API on loopback.",
        epilog=examples(
            "pricepool simulator --port 8080 --token secret",
            "pricepool homes --token secret --endpoint http://127.0.0.1:8080/v1-beta/gql",
            intro="Example, in two shells:",
        ),
    )(simulator)


def simulator(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", metavar="PORT", callback=port_number, help="Port (0: any free one)."
        ),
    ] = 8080,
    token: ServedToken = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C."""
    opts = merged(ctx, token=token, verbose=verbose, now=now)
    with reported(opts):
        from pricepool import ManualClock
        from pricepool.simulator import serve

        clock = ManualClock(opts.now) if opts.now is not None else None
        run_loop(lambda: serve(host, port, token=opts.token, clock=clock))
