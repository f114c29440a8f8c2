"""The ``pricepool`` command: the app, the options every command shares, and its commands.

Each command lives in its own module under ``_cli/commands`` and is registered below with
one line. Every option may go before the command's name (the root takes them all) or after
it (each command lists those it uses). Exit codes: 0 done (also when the API failed but
cached prices were shown, with a warning; also when the reader of stdout left), 1 an error
of the API or the store, or nothing to choose from because prices are not published yet,
2 a usage error (bad option, unknown home, no token, no store, a file that is not a store),
128 + N when signal N (SIGINT, SIGTERM, SIGHUP) stopped the run after saving what was
fetched.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._cli.commands import (
    cheapest,
    coverage,
    demo,
    export,
    gc,
    homes,
    import_ha,
    prices,
    restore,
    serve,
    simulator,
    stats,
)
from ._cli.options import (
    Endpoint,
    Now,
    Quiet,
    RetryBudget,
    StorePath,
    Token,
    Verbose,
    examples,
    merged,
)
from ._cli.usage import Group, Root

__all__ = ["app", "main"]

app = typer.Typer(
    name="pricepool",
    cls=Root,
    help=(
        "Electricity spot prices for your homes, cached so that Tibber's API is asked only "
        "for what pricepool has never been told. Try [bold]pricepool demo[/bold]: it needs "
        "no token and no network.\n\nThe options below may also go after a command's name; "
        "each command lists those it uses."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(
    cls=Group,
    help="What the store holds: stats, coverage, retention, export and import.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


def _version(value: bool) -> None:
    if value:
        from pricepool import __version__

        typer.echo(f"pricepool {__version__}")
        raise typer.Exit()


@app.callback(
    epilog=examples(
        "pricepool demo",
        "pricepool prices --home Fjellstua --chart",
        "pricepool --endpoint http://127.0.0.1:8080/v1-beta/gql homes",
    )
)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar="", help="Show the version."
        ),
    ] = False,
    token: Token = None,
    endpoint: Endpoint = None,
    store: StorePath = None,
    retry_budget: RetryBudget = None,
    verbose: Verbose = False,
    now: Now = None,
    quiet: Quiet = False,
) -> None:
    """Electricity spot prices for your homes, cached.

    Options given before a command's name apply to it (and are ignored by commands that do
    not use them).
    """
    merged(
        ctx,
        token=token,
        endpoint=endpoint,
        store=store,
        retry_budget=retry_budget,
        verbose=verbose,
        now=now,
        quiet=quiet,
    )


@cache_app.callback(epilog=examples("pricepool cache stats --store ~/prices.sqlite"))
def cache(ctx: typer.Context, store: StorePath = None, verbose: Verbose = False) -> None:
    """What the store holds, read without asking the API (no token needed)."""
    merged(ctx, store=store, verbose=verbose)


# One line per command module.
demo.register(app)
homes.register(app)
prices.register(app)
cheapest.register(app)
stats.register(cache_app)
coverage.register(cache_app)
gc.register(cache_app)
export.register(cache_app)
restore.register(cache_app)
import_ha.register(cache_app)
serve.register(app)
simulator.register(app)


def main() -> None:
    """The console script."""
    app(prog_name="pricepool")


if __name__ == "__main__":
    main()
