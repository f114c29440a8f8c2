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
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, get_args

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

# Only typer's public names: its bundled click (``typer._click``) is private and may move,
# and plain click is not installed. ``typer.TyperException`` is the base of every usage and
# click error typer raises; the usage-error class is found by name among BadParameter's
# bases (it is not exported), and "no such option" by its attributes.
UsageError: type[Exception] = next(
    (base for base in typer.BadParameter.__mro__ if base.__name__ == "UsageError"),
    typer.BadParameter,
)


def _no_such_option(err: BaseException) -> bool:
    return hasattr(err, "option_name") and hasattr(err, "possibilities")


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
    (r"^Got unexpected extra arguments?(?:\(s\))? \((.*)\)", r"unexpected argument: \1"),
    (r"\. Did you mean ", "; did you mean "),
    (r"^No such command '([^']+)'\.?", r"no such command '\1'"),
)


def usage_line(err: typer.TyperException) -> str:
    """What was wrong, in one line without the hint."""
    if _no_such_option(err):
        # typer offers any loosely similar option ("--bogus": "--verbose"); only a close one.
        name = str(getattr(err, "option_name", ""))
        possibilities = list(getattr(err, "possibilities", None) or [])
        text = f"no such option {name}"
        close = difflib.get_close_matches(name, possibilities, 1, 0.75)
        return text + (f" (did you mean {close[0]}?)" if close else "")
    text = " ".join(err.format_message().split())
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    text = text.rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _path(root: Any, name: str, args: Sequence[str]) -> str:
    """The command path ``args`` lead to (for errors raised without a context)."""
    path, command = [name], root
    for arg in args:
        found = getattr(command, "commands", {}).get(arg)
        if found is None:
            continue
        path.append(arg)
        command = found
    return " ".join(path)


def _fail(err: typer.TyperException, where: str) -> NoReturn:
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        where = ctx.command_path
    line = f"error: {usage_line(err)}"
    if isinstance(err, UsageError):
        line += f" See {where} --help" if line.endswith("?") else f"; see {where} --help"
    Console(stderr=True, highlight=False).print(Text(line, style="red"), soft_wrap=True)
    sys.exit(err.exit_code)


def _plain(params: list[Any]) -> list[Any]:
    # typer 0.29 labels flags ``<bool>`` (also --help and --install-completion): an empty
    # metavar leaves the type column blank.
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
            param.metavar = ""
        _lighten(param)
    return params


class _Light:
    """Coercion of a plain option (text, number, path, choice) without pydantic.

    typer 0.29 builds a pydantic TypeAdapter for every parameter of a command it runs;
    importing pydantic alone costs ~0.13 s, more than half of ``pricepool cache stats``.
    The messages are those typer's pydantic path gives, as :func:`usage_line` words them.
    """

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        kind = self.kind
        if value is None or isinstance(value, kind):
            return value
        try:
            return kind(value)
        except ValueError:
            if issubclass(kind, Enum):
                choices = ", ".join(repr(c.value) for c in kind)
                why = f"{value!r} is not one of {choices}"
            elif kind is int:
                why = "must be a whole number"
            else:
                why = "must be a number"
            raise typer.BadParameter(why, ctx=ctx, param=param) from None


_LIGHT = (str, bool, int, float, Path)


def _lighten(param: Any) -> None:
    """Give ``param`` light coercion when its type is plain; else leave typer's."""
    found = getattr(param, "type_descriptor", None)
    if found is None or getattr(param, "_runtime_param", "absent") is not None:
        return  # not typer 0.29's parameter, or coercion already built
    if param.multiple or param.nargs != 1:
        return
    kinds = [a for a in get_args(found.annotation) if a is not type(None)] or [found.annotation]
    if len(kinds) != 1 or not isinstance(kinds[0], type):
        return
    kind = kinds[0]
    if kind in _LIGHT or issubclass(kind, Enum):
        param._runtime_param = _Light(kind)


class Command(TyperCommand):
    """A command whose flags show no type label, and whose usage line names a required
    argument ``FILE`` rather than ``{FILE}``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [re.sub(r"^\{(.+)\}(\.\.\.)?$", r"\1\2", piece) for piece in pieces]


class Group(TyperGroup):
    """A group whose flags show no type label."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


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
        except typer.TyperException as err:
            if type(err).__name__ == "NoArgsIsHelpError":
                # The help page is already printed (rich), or is the message (plain).
                message = err.format_message()
                if message.strip():
                    typer.echo(message, err=True)
                sys.exit(err.exit_code)
            given = sys.argv[1:] if args is None else args
            _fail(err, _path(self, prog_name or self.name or "pricepool", given))
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return result
        # Non-standalone typer returns the exit code of an Exit, else the command's value.
        sys.exit(result if isinstance(result, int) else 0)
