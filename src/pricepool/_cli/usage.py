"""Usage errors as one ``error:`` line, and help pages without type labels on flags.

typer (0.29) prints a usage error as a boxed rich panel worded by its coercion layer
("Value error, 'xml' is not one of …", "Input should be greater than or equal to 1"). The
root command runs typer in non-standalone mode instead and words the error itself:

    error: --format: 'xml' is not one of 'table', 'json', 'csv'; see pricepool prices --help

with exit code 2. ``--help`` stays typer's rich page.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException, NoSuchOption, UsageError
except ImportError:  # pragma: no cover - typer on top of click
    from click.exceptions import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        ClickException,
        NoSuchOption,
        UsageError,
    )

__all__ = ["Command", "Group", "Root", "usage_line"]

# typer's and pydantic's phrases, and ours.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"^Invalid value for '([^']+)'(?: / '[^']+')*: ", r"\1: "),
    (r"^Invalid value: ", ""),
    (r"Value error, ", ""),
    (r"Input should be greater than or equal to (\S+)", r"must be at least \1"),
    (r"Input should be less than or equal to (\S+)", r"must be at most \1"),
    (r"Input should be greater than (\S+)", r"must be more than \1"),
    (r"Input should be a valid integer.*", "must be a whole number"),
    (r"Input should be a valid number.*", "must be a number"),
    (r"^Option '([^']+)' requires an argument\.?", r"\1 needs a value"),
    (r"^Option '([^']+)' requires (\d+) arguments\.?", r"\1 needs \2 values"),
    (r"^Missing argument '([^']+)'\.?", r"missing \1"),
    (r"^Missing option '([^']+)'(?: / '[^']+')*\.?", r"missing \1"),
    (r"^Got unexpected extra arguments? \((.*)\)", r"unexpected argument: \1"),
    (r"^No such command '([^']+)'\.?", r"no such command '\1'"),
    (r"\. Did you mean ", "; did you mean "),
)


def usage_line(err: ClickException) -> str:
    """What was wrong, in one line without the hint."""
    if isinstance(err, NoSuchOption):
        # typer offers any loosely similar option ("--bogus": "--verbose"); only a close one.
        text = f"no such option {err.option_name}"
        close = difflib.get_close_matches(err.option_name, err.possibilities or [], 1, 0.75)
        return text + (f" (did you mean {close[0]}?)" if close else "")
    text = " ".join(err.format_message().split())
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    text = text.rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _fail(err: ClickException) -> NoReturn:
    ctx = getattr(err, "ctx", None)
    where = ctx.command_path if ctx is not None else "pricepool"
    line = f"error: {usage_line(err)}"
    if isinstance(err, UsageError):
        line += f"; see {where} --help"
    Console(stderr=True, highlight=False).print(Text(line, style="red"), soft_wrap=True)
    sys.exit(err.exit_code)


def _plain_help(option: Any) -> Any:
    # typer 0.29 labels flags ``<bool>``: an empty metavar leaves the type column blank.
    if option is not None and getattr(option, "metavar", "") is None:
        option.metavar = ""
    return option


class Command(TyperCommand):
    """A command whose ``-h/--help`` shows no type label."""

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help(super().get_help_option(ctx))


class Group(TyperGroup):
    """A group whose ``-h/--help`` shows no type label."""

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help(super().get_help_option(ctx))


class Root(Group):
    """The ``pricepool`` group: usage errors as one line, exit code 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except ClickException as err:
            if type(err).__name__ == "NoArgsIsHelpError":
                # The help page is already printed (rich), or is the message (plain).
                message = err.format_message()
                if message.strip():
                    typer.echo(message, err=True)
                sys.exit(err.exit_code)
            _fail(err)
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return result
        # Non-standalone typer returns the exit code of an Exit, else the command's value.
        sys.exit(result if isinstance(result, int) else 0)
