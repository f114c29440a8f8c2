"""How a command runs: its event loop, signals, the library's log, errors and its report.

A command builds a :class:`Report` (what goes to stdout) inside :func:`run`; errors become
one ``error:`` line and an exit code; SIGINT, SIGTERM and SIGHUP stop the run the same way
(what was fetched is saved by the session's close) and exit with 128 + the signal number.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from .options import Options

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Interrupted", "Report", "errors", "out", "reported", "run", "run_loop"]

T = TypeVar("T")

# What stops a run: the terminal's Ctrl-C, and what systemctl, docker and timeout send.
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def errors() -> Console:
    return Console(stderr=True, highlight=False)


class _Out(Console):
    """stdout; a reader that left (``| head``) is not an error (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def out() -> Console:
    return _Out(highlight=False)


@dataclass(frozen=True, slots=True)
class _Raw:
    text: str


@dataclass(frozen=True, slots=True)
class _Writer:
    write: Callable[[Console], None]


@dataclass(slots=True)
class Report:
    """What a command prints on stdout, in order; ``error`` is raised after printing it."""

    parts: list[Any] = field(default_factory=list)
    error: BaseException | None = None

    def text(self, value: str) -> None:
        """Text as is (JSON, CSV): a newline is added unless it ends with one."""
        self.parts.append(_Raw(value if value.endswith("\n") else value + "\n"))

    def add(self, *renderables: Any) -> None:
        """Rich renderables or markup strings, one after another."""
        self.parts.extend(renderables)

    def write(self, writer: Callable[[Console], None]) -> None:
        """Something that writes itself to the console (a large table, see output.Grid)."""
        self.parts.append(_Writer(writer))

    def show(self) -> None:
        console = out()
        for part in self.parts:
            if isinstance(part, _Raw):
                sys.stdout.write(part.text)
            elif isinstance(part, _Writer):
                part.write(console)
            else:
                console.print(part)
        sys.stdout.flush()
        if self.error is not None:
            raise self.error


class Interrupted(Exception):
    """A signal stopped the run."""

    def __init__(self, signum: int, note: str = "") -> None:
        self.signum = signum
        self.note = note
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}" + (f"; {note}" if note else ""))


def run_loop(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` in a fresh event loop; a stop signal cancels it (its ``finally``
    blocks run: pools save) and raises :class:`Interrupted`."""
    import asyncio  # ~25 ms: not for --help

    caught: list[int] = []

    async def go() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(signum: int) -> None:
            # The first signal cancels; more of them must not cut the save short.
            if not caught:
                task.cancel()
            caught.append(signum)

        for sig in STOPS:
            # Only the main thread may set handlers (a test runner's thread may not).
            with contextlib.suppress(ValueError, RuntimeError):
                loop.add_signal_handler(sig, stop, sig)
        try:
            return await main()
        except asyncio.CancelledError:
            if caught:
                raise Interrupted(caught[0]) from None
            raise
        finally:
            for sig in STOPS:
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)

    result = asyncio.run(go())
    if caught:
        # Work done when the signal came: the status still says the run was stopped.
        raise Interrupted(caught[0])
    return result


def run(opts: Options, work: Callable[[Session], Awaitable[T]], *, read_only: bool = False) -> T:
    """Run ``work`` in a fresh session and event loop; the session is closed after.

    ``read_only``: the store must exist and is neither created nor changed."""
    from .config import load_config
    from .session import Session

    session_errors = errors()

    def warn(text: str) -> None:
        session_errors.print(f"warning: {text}", style="yellow", highlight=False, soft_wrap=True)

    config = load_config(warn=warn)

    async def go() -> T:
        session = Session(opts, config, session_errors, read_only=read_only)
        try:
            return await work(session)
        finally:
            await session.close()

    try:
        return run_loop(go)
    except Interrupted as err:
        # The session's close saved what the pools hold.
        raise Interrupted(err.signum, "what was fetched is saved") from None


class _Warnings(logging.Handler):
    """The library's errors, and the stores' warnings (a damaged store moved aside), as
    ``warning:`` lines; the pool's and the source's warnings ("serving cached prices",
    retries) are what the command says itself, in its own words."""

    def emit(self, record: logging.LogRecord) -> None:
        folder = os.path.basename(os.path.dirname(record.pathname))
        if record.levelno < logging.ERROR and folder != "storage":
            return
        try:
            line = f"warning: {record.getMessage()}"
        except (TypeError, ValueError):
            line = f"warning: {record.msg}"
        errors().print(Text(line, style="yellow"), soft_wrap=True)


@contextlib.contextmanager
def _logging(opts: Options) -> Iterator[None]:
    logger = logging.getLogger("pricepool")
    handler: logging.Handler
    if opts.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.DEBUG)
    else:
        handler = _Warnings(logging.WARNING)
    level = logger.level
    if opts.verbose:
        logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def reported(opts: Options) -> Iterator[None]:
    """Log to stderr; one line and an exit code for every expected failure."""
    from pricepool.errors import InvalidRangeError, PricePoolError

    from .config import ConfigError
    from .session import MissingTokenError, NotKnown, UsageProblem

    with _logging(opts):
        try:
            yield
        except BrokenPipeError:
            _closed_pipe()
        except Interrupted as err:
            errors().print(Text(str(err), style="yellow"), soft_wrap=True)
            raise typer.Exit(128 + err.signum) from None
        except (UsageProblem, ConfigError, MissingTokenError, InvalidRangeError) as err:
            _fail(opts, err, 2)
        except (PricePoolError, NotKnown) as err:
            _fail(opts, err, getattr(err, "exit_code", 1))
        except OSError as err:
            _fail(opts, err, 1)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exit codes and usage errors: typer's, worded by the root command
        except Exception as err:  # noqa: BLE001 - the last resort, on purpose
            # A bug, not the user's doing: one line, the traceback only with -v.
            if opts.verbose:
                traceback.print_exception(err, file=sys.stderr)
            line = f"error: internal error ({type(err).__name__}: {err}); run with -v for details"
            errors().print(Text(" ".join(line.split()), style="red"), soft_wrap=True)
            raise typer.Exit(1) from None


def _closed_pipe() -> None:
    """The reader left (``| head``): not an error. Later writes go nowhere, so that the
    interpreter's final flush does not fail either."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def _fail(opts: Options, err: BaseException, code: int) -> None:
    from pricepool.errors import PricePoolError, SourceError

    from .config import ConfigError, load_config
    from .session import describe

    if opts.verbose:
        traceback.print_exception(err, file=sys.stderr)
    if isinstance(err, PricePoolError):
        endpoint = opts.endpoint
        # Only the source's errors name the endpoint; a store's must not pull in aiohttp.
        if endpoint is None and isinstance(err, SourceError):
            with contextlib.suppress(ConfigError):
                endpoint = load_config().endpoint
            endpoint = endpoint or default_endpoint()
        message = describe(err, endpoint or "")
    else:
        message = str(err)
        if code == 2 and message.startswith("--"):
            # About an option, as typer's own usage errors are: say where to read up.
            message += f"; see {opts.command} --help"
    errors().print(Text(f"error: {message}", style="red"), soft_wrap=True)
    raise typer.Exit(code)


def default_endpoint() -> str:
    """Tibber's URL (imported late: the Tibber source pulls in aiohttp)."""
    from pricepool.sources.tibber import ENDPOINT

    return ENDPOINT
