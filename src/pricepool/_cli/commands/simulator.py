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
    ban: Annotated[
        float | None,
        typer.Option(
            "--ban",
            metavar="SECONDS",
            help="Over the rate limit, ban as Tibber does: 429 text/plain, no Retry-After, "
            "extended by each request (Tibber: 600).",
        ),
    ] = None,
    rate_limit: Annotated[
        int, typer.Option("--rate-limit", metavar="N", help="Requests per 5 minutes.")
    ] = 100,
    page_limit: Annotated[
        int | None,
        typer.Option(
            "--page-limit", metavar="N", help="Range page size below the caps (672, 744)."
        ),
    ] = None,
    cursors: Annotated[
        str,
        typer.Option("--cursors", metavar="start|end", help="What an edge's cursor names."),
    ] = "start",
    inclusive_after: Annotated[
        bool,
        typer.Option("--inclusive-after", help="after/before include the instant they name."),
    ] = False,
    quarter_outage: Annotated[
        bool,
        typer.Option("--quarter-outage", help="Quarter-hourly today/tomorrow empty; hourly kept."),
    ] = False,
    null_range: Annotated[
        bool, typer.Option("--null-range", help="priceInfoRange answers null.")
    ] = False,
    token_error: Annotated[
        str | None,
        typer.Option(
            "--token-error", metavar="jws|exp", help="Refuse every token with a JWT error."
        ),
    ] = None,
    token: ServedToken = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    """Serve a Tibber-compatible GraphQL API with three synthetic homes until Ctrl-C."""
    opts = merged(ctx, token=token, verbose=verbose, now=now)
    with reported(opts):
        from pricepool import ManualClock
        from pricepool.simulator import Faults, serve
        from pricepool.simulator._app import CURSORS, TOKEN_ERRORS

        from ..session import UsageProblem

        if cursors not in CURSORS:
            raise UsageProblem(f"--cursors must be start or end, got {cursors!r}")
        if token_error is not None and token_error not in TOKEN_ERRORS:
            raise UsageProblem(f"--token-error must be jws or exp, got {token_error!r}")
        clock = ManualClock(opts.now) if opts.now is not None else None
        faults = Faults(
            quarter_outage=quarter_outage, null_range=null_range, token_error=token_error
        )
        run_loop(
            lambda: serve(
                host,
                port,
                token=opts.token,
                clock=clock,
                ban=ban,
                rate_limit=rate_limit,
                page_limit=page_limit,
                cursors=cursors,
                inclusive_after=inclusive_after,
                faults=faults,
            )
        )
