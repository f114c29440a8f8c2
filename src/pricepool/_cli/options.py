"""The options commands share, as ``Annotated`` aliases, and how they merge.

Every option may go before the command's name (the root callback takes them all) or after
it (each command declares those it uses); a value given after the name wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

__all__ = [
    "Endpoint",
    "Format",
    "HomeOpt",
    "Now",
    "Options",
    "Quiet",
    "RetryBudget",
    "Shape",
    "StorePath",
    "Token",
    "Verbose",
    "examples",
    "format_option",
    "merged",
]

MAX_RETRY_BUDGET = 3600.0


@dataclass(slots=True)
class Options:
    """The options every command takes; later ones (after the command name) win."""

    token: str | None = None
    endpoint: str | None = None
    store: str | None = None
    verbose: bool = False
    quiet: bool = False
    retry_budget: float | None = None
    now: datetime | None = None
    # The command as typed (``pricepool cache gc``), for "see ... --help" in usage errors.
    command: str = "pricepool"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Shape(StrEnum):
    table = "table"
    json = "json"


class DumpFormat(StrEnum):
    json = "json"
    csv = "csv"


def _url(value: str | None) -> str | None:
    if value is not None:
        from .config import check_endpoint

        try:
            check_endpoint(value)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from None
    return value


def _seconds(value: float | None) -> float | None:
    # Also refuses nan and inf (``inf`` would retry for ever).
    if value is not None and not 0 <= value <= MAX_RETRY_BUDGET:
        raise typer.BadParameter(f"must be 0 to {MAX_RETRY_BUDGET:g} seconds")
    return value


def at_least_one(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise typer.BadParameter("must be at least 1")
    return value


def port_number(value: int) -> int:
    if not 0 <= value <= 65535:
        raise typer.BadParameter("must be 0 to 65535")
    return value


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO timestamp") from None
    if instant.tzinfo is None:
        raise typer.BadParameter("needs an offset, e.g. 2026-11-26T14:00+01:00")
    return instant


# ``metavar=""`` keeps a flag's type column blank (typer 0.29 would print ``<bool>``); number
# checks are callbacks, not ``min=``, so that help shows no ``[x>=0]`` either.
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        show_default=False,
        help="Tibber API token (else $TIBBER_TOKEN or config.toml).",
    ),
]
ServedToken = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        show_default=False,
        help="The token clients must send (default: any).",
    ),
]
Endpoint = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        metavar="URL",
        callback=_url,
        show_default=False,
        help="GraphQL URL (default: Tibber's).",
    ),
]
StorePath = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="PATH",
        show_default=False,
        help="SQLite file, or a folder (existing, or ending in /) of JSON files. "
        "Default: pricepool.sqlite in the user's data folder.",
    ),
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        metavar="",
        show_default=False,
        help="Log what happens; tracebacks on errors.",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", metavar="", show_default=False, help="No progress bar and no remarks."
    ),
]
RetryBudget = Annotated[
    float | None,
    typer.Option(
        "--retry-budget",
        metavar="SECONDS",
        callback=_seconds,
        show_default=False,
        help="How long to retry a failing API call, 0 to 3600 (default 10).",
    ),
]
Now = Annotated[
    str | None,
    typer.Option("--now", hidden=True, help="Pretend it is this instant (for tests)."),
]
HomeOpt = Annotated[
    str | None,
    typer.Option(
        "--home",
        metavar="HOME",
        help="Home id, nickname or a unique start of the id. Default: the only home "
        "(or home in config.toml).",
        show_default=False,
    ),
]


def format_option(*names: str) -> Any:
    """``--format/-f`` choosing one of ``names``."""
    return typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help=" or ".join((", ".join(names[:-1]), names[-1])) + ".",
    )


def examples(*lines: str, intro: str = "") -> str:
    """An epilog: each example on its own line, in bold."""
    head = intro or ("Example:" if len(lines) == 1 else "Examples:")
    return "\n".join([head, *(f"  [bold]{line}[/bold]" for line in lines)])


def merged(ctx: typer.Context, **given: Any) -> Options:
    """The options given before the command's name, overridden by ``given`` (after it)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Options):
        root.obj = Options()
    opts: Options = root.obj
    opts.command = ctx.command_path
    for name, value in given.items():
        if value is None or value is False:
            continue
        setattr(opts, name, _instant(value) if name == "now" else value)
    return opts
