"""``python -m bench [NAME ...] [--quick] [--json PATH] [--only NAME ...] [--markdown]``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from . import report
from .common import Config, Row, clock

# Section name → module; each module has ``async def run(cfg) -> list[Row]``.
SECTIONS = {
    "lookup": "bench.lookup",
    "ingest": "bench.ingest",
    "memory": "bench.memory",
    "stores": "bench.stores",
    "economy": "bench.economy",
    "concurrency": "bench.concurrency",
    "startup": "bench.startup",
    "serve": "bench.serve",
}
TITLES = {
    "lookup": "Cached lookup",
    "ingest": "Ingest",
    "memory": "Memory",
    "stores": "Stores",
    "economy": "API economy (simulator)",
    "concurrency": "Concurrency",
    "startup": "Command startup",
    "serve": "Service (pricepool serve)",
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs (<30 s)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results.json",
        metavar="PATH",
        help="where to write the results (default: bench/results.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these sections (repeat or comma-separate): {', '.join(SECTIONS)}",
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "sections", nargs="*", metavar="NAME", help="sections to run, as --only (default: all)"
    )
    args = parser.parse_args(argv)
    parts = [*args.only, *args.sections]
    chosen = [name.strip() for part in parts for name in part.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.only = chosen or list(SECTIONS)
    return args


async def suite(
    names: Sequence[str], cfg: Config
) -> tuple[list[tuple[str, list[Row]]], dict[str, float]]:
    done: list[tuple[str, list[Row]]] = []
    seconds: dict[str, float] = {}
    out = report.console()
    for name in names:
        module = importlib.import_module(SECTIONS[name])
        run: Callable[[Config], Awaitable[list[Row]]] = module.run
        out.print(f"[dim]running {name}…[/dim]")
        started = clock()
        rows = await run(cfg)
        seconds[name] = round(clock() - started, 2)
        done.append((TITLES[name], rows))
        # What one section held must not slow the next one's collections.
        gc.collect()
    return done, seconds


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    # The pool logs warnings on purpose in some paths; a benchmark table should stay readable.
    logging.basicConfig(level=logging.ERROR)
    cfg = Config(quick=args.quick)
    info = report.machine()
    started = clock()
    sections, seconds = asyncio.run(suite(args.only, cfg))
    seconds["total"] = round(clock() - started, 2)
    mode = "quick" if args.quick else "full"
    load = info.get("load_average")
    title = (
        f"pricepool benchmarks ({mode}) · {info['cpu']}, {info['cores']} cores · "
        f"Python {info['python']} · {seconds['total']:.0f} s"
        + (f" · load {load[0]:.1f} at start" if load else "")
    )
    out = report.console()
    out.print(report.table(sections, title))
    if args.markdown:
        print(report.markdown(sections))
    report.write(args.json, sections, info, seconds, args.quick)
    out.print(f"[dim]results written to {args.json}[/dim]")


if __name__ == "__main__":
    main()
