"""``pricepool demo``: the whole story on loopback, with no token and no network."""

from __future__ import annotations

import typer

from ..options import Now, Verbose, examples, merged
from ..runner import out, reported, run_loop
from ..usage import Command


def register(app: typer.Typer) -> None:
    app.command(
        cls=Command,
        help="Run everything on loopback: a simulated Tibber API, a pool with a SQLite store "
        "in a temporary folder, today's and tomorrow's prices, the cheapest 3 hours, and what "
        "the cache saved across a restart. Needs no token and no network.",
        short_help="Run everything on loopback, with no token and no network.",
        epilog=examples("pricepool demo"),
    )(demo)


def demo(ctx: typer.Context, verbose: Verbose = False, now: Now = None) -> None:
    """Run everything on loopback, with no token and no network."""
    opts = merged(ctx, verbose=verbose, now=now)
    with reported(opts):
        from ..demo import run_demo

        console = out()
        colour = console.is_terminal and console.color_system is not None
        run_loop(lambda: run_demo(console, now=opts.now, colour=colour))
