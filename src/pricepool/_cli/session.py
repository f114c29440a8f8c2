"""One run of the command: its options, the store, the Tibber source and the pools."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from pricepool import (
    AuthenticationError,
    Clock,
    FetchResult,
    HomeInfo,
    IntervalPool,
    InvalidResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
    Span,
    Store,
    UnansweredError,
    UnknownHomeError,
    system_clock,
)
from pricepool.errors import Reason

from .config import (
    TOKEN_ENV,
    Config,
    NotAStore,
    config_path,
    default_store,
    endpoint_limiter,
    limiter_for,
    open_store,
    resolve_token,
    store_path,
)
from .options import Options
from .when import midnight

if TYPE_CHECKING:
    from pricepool import TibberSource
    from pricepool.answer import Answer
    from pricepool.sources.tibber import RequestLimiter

__all__ = ["MissingTokenError", "NotKnown", "Options", "Session", "UsageProblem"]

# A range longer than this is fetched month by month behind a progress bar.
_LONG = timedelta(days=31)


class UsageProblem(Exception):
    """The user asked for something that cannot be done as asked (exit code 2)."""


class NotKnown(Exception):
    """What was asked for is not known, e.g. not published yet (exit code 1)."""


class MissingTokenError(AuthenticationError):
    """No token was given in any of the three places."""

    def __init__(self, message: str | None = None) -> None:
        # A message like the base class takes: the library may rebuild an error with a
        # note (``type(err)(note)``).
        if message is None:
            message = (
                f'no Tibber token: pass --token, set {TOKEN_ENV}, or put token = "..." in '
                f"{config_path()} (pricepool demo needs none)"
            )
        super().__init__(message)


class Watched:
    """A ``PriceSource`` that opens Tibber on first use and remembers what went wrong.

    After the source was unreachable or rate limited once, later calls fail at once: one
    run of the command should not wait out the retry budget for every month it asks for.
    """

    def __init__(self, make: Callable[[], TibberSource]) -> None:
        self._make = make
        self._source: TibberSource | None = None
        self.errors: list[SourceError] = []
        self._down: SourceError | None = None

    @property
    def requests(self) -> int:
        return self._source.requests if self._source is not None else 0

    @property
    def down(self) -> bool:
        """The source was unreachable or rate limited: later calls fail at once."""
        return self._down is not None

    def _open(self) -> TibberSource:
        if self._down is not None:
            raise self._down
        if self._source is None:
            try:
                self._source = self._make()
            except SourceError as err:
                self.errors.append(err)
                raise
        return self._source

    def _failed(self, err: SourceError) -> None:
        self.errors.append(err)
        if isinstance(err, SourceUnavailableError | RateLimitedError):
            self._down = err

    async def homes(self) -> list[HomeInfo]:
        try:
            return await self._open().homes()
        except SourceError as err:
            self._failed(err)
            raise

    async def home(self, home_id: str) -> HomeInfo:
        try:
            return await self._open().home(home_id)
        except SourceError as err:
            self._failed(err)
            raise

    async def fetch(self, home: HomeInfo, span: Span) -> FetchResult:
        try:
            result = await self._open().fetch(home, span)
        except SourceError as err:
            self._failed(err)
            raise
        if result.error is not None:
            self._failed(result.error)  # cut short: the failure is this run's to report
        return result

    async def close(self) -> None:
        if self._source is not None:
            await self._source.close()


def match_home(wanted: str, homes: list[HomeInfo]) -> HomeInfo:
    """The home ``wanted`` names: its id, its nickname, or a unique start of its id."""
    from pricepool.model import find_home

    found = find_home(wanted, homes)
    if found is None:
        raise UsageProblem(f"no single home matches {wanted!r}; {_listing(homes)}")
    return found


def _listing(homes: list[HomeInfo]) -> str:
    if not homes:
        return "none is known"
    names = ", ".join(f"{h.id} ({h.nickname})" if h.nickname else h.id for h in homes)
    return f"choose one with --home: {names}"


class Session:
    """Everything one command run opens, closed together (pools first, so they save)."""

    def __init__(
        self, options: Options, config: Config, errors: Console, *, read_only: bool = False
    ) -> None:
        self.options = options
        self.read_only = read_only
        self.config = config
        self.errors = errors
        fixed = options.now
        self.clock: Clock = (lambda: fixed) if fixed is not None else system_clock
        self._endpoint = options.endpoint or config.endpoint
        chosen = options.store or os.environ.get("PRICEPOOL_STORE") or config.store
        self.store_text = chosen or str(default_store())
        self.store_path = store_path(self._shown_store())
        self._store: Store | None = None
        self.source = Watched(self._tibber)
        self._pools: dict[str, IntervalPool] = {}
        # Failures already explained to the user (the same error may come back later).
        self._told: set[int] = set()

    @property
    def endpoint(self) -> str:
        """The GraphQL URL asked (Tibber's by default)."""
        if self._endpoint is None:
            from .runner import default_endpoint

            self._endpoint = default_endpoint()
        return self._endpoint

    def _tibber(self) -> TibberSource:
        from pricepool import TibberSource

        token = resolve_token(self.options.token, self.config)
        if not token:
            raise MissingTokenError()
        budget = self.options.retry_budget
        return TibberSource(
            token,
            endpoint=self.endpoint,
            clock=self.clock,
            user_agent="pricepool-cli",
            retry_budget=10.0 if budget is None else budget,
            limiter=self._limiter(token),
        )

    def _limiter(self, token: str) -> RequestLimiter | None:
        """One budget and one ban for every process on a shared database, else for every
        run of this user against the endpoint (a file store is not opened for this)."""
        from pricepool.storage.postgres_dsn import is_postgres

        if is_postgres(self.store_text):
            return limiter_for(self.store, token)
        return endpoint_limiter(self.endpoint)

    def _shown_store(self) -> str:
        """The store as messages may name it: a database's password as ``***``."""
        from pricepool.storage.postgres_dsn import Dsn, is_postgres

        return str(Dsn(self.store_text)) if is_postgres(self.store_text) else self.store_text

    def require_store(self) -> None:
        """Refuse a store that does not exist (rather than create an empty one)."""
        from pricepool.storage.postgres_dsn import is_postgres

        # A database is not a path; PostgresStore(create=False) refuses one without a store,
        # naming it without its password.
        if not is_postgres(self.store_text) and not self.store_path.exists():
            raise UsageProblem(
                f"no store at {self.store_text}; pass --store, or fill one with pricepool prices"
            )

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = open_store(self.store_text, create=not self.read_only)
            except NotAStore as err:
                raise UsageProblem(str(err)) from None
        return self._store

    async def close_store(self) -> None:
        """Close the store now (before removing what a failed import created)."""
        store, self._store = self._store, None
        if store is not None:
            await store.close()

    def now(self) -> datetime:
        return self.clock()

    def note(self, text: str) -> None:
        """A remark on stderr, silenced by --quiet."""
        if not self.options.quiet:
            self.errors.print(text, style="dim", highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        """A warning on stderr; --quiet does not silence it."""
        self.errors.print(f"warning: {text}", style="yellow", highlight=False, soft_wrap=True)

    def degraded(self, err: SourceError, what: str, missing: str | None = None) -> None:
        """Warn that ``what`` comes from the cache because of ``err``, naming it only once;
        ``missing`` names what the cache lacks (``prices from … until …``)."""
        told = id(err) in self._told
        self._told.add(id(err))
        if missing is not None:
            self.warn(
                f"{missing} are missing" + ("" if told else f": {describe(err, self.endpoint)}")
            )
        elif told:
            self.warn(f"showing {what} only")
        else:
            self.warn(f"{describe(err, self.endpoint)} — showing {what}")

    async def close(self) -> None:
        from pricepool.errors import StorageError

        try:
            for pool in self._pools.values():
                # A store that cannot take the save (read-only, newer version) was named in
                # one warning when the save failed; what was fetched is still shown.
                with contextlib.suppress(StorageError):
                    await pool.close()
        finally:
            try:
                await self.source.close()
            finally:
                if self._store is not None:
                    await self._store.close()

    # -- homes -------------------------------------------------------------------------------

    async def stored_homes(self) -> list[HomeInfo]:
        """The homes the store holds, with what it knows of them."""
        found = []
        for home_id in await self.store.homes():
            snapshot = await self.store.load(home_id)
            if snapshot is not None:
                found.append(snapshot.home)
        return found

    async def pool(self, wanted: str | None = None) -> IntervalPool:
        """An open pool of the home ``wanted`` names (or the only home), knowing its home."""
        wanted = wanted or self.config.home
        stored = await self.store.homes()
        if wanted is not None and wanted in stored:
            # Known to the store: no API call is needed to name it.
            return await self._open(wanted)
        if wanted is not None and stored:
            # A nickname or the start of an id the store knows: no API call either.
            with contextlib.suppress(UsageProblem):
                return await self._open(match_home(wanted, await self.stored_homes()).id)
        try:
            homes = await self.source.homes()
        except (SourceUnavailableError, RateLimitedError) as err:
            cached = await self.stored_homes()
            if wanted is not None and cached:
                # A home the store does not know may well exist: the API could not be
                # asked, and that is what the user must hear, not "no such home".
                from pricepool.model import find_home

                if find_home(wanted, cached) is None:
                    raise err from None
                home = match_home(wanted, cached)
            elif wanted is None and len(cached) == 1:
                home = cached[0]
            else:
                raise err from None
            self._told.add(id(err))
            self.warn(f"{describe(err, self.endpoint)} — using the cached home {home.id}")
            return await self._open(home.id)
        if wanted is not None:
            return await self._open(match_home(wanted, homes).id)
        if len(homes) == 1:
            return await self._open(homes[0].id)
        raise UsageProblem(f"the account has {len(homes)} homes; {_listing(homes)}")

    async def _open(self, home_id: str) -> IntervalPool:
        pool = self._pools.get(home_id)
        if pool is None:
            pool = IntervalPool(home_id, self.source, store=self.store, clock=self.clock)
            self._pools[home_id] = pool
            await pool.open()
        if pool.home is None:
            # Not in the store: ask the source now, so that its zone is known for parsing.
            await self.source.home(home_id)
        return pool

    async def home_of(self, pool: IntervalPool) -> HomeInfo:
        """The pool's home, asked of the source when the store did not know it."""
        return pool.home or await self.source.home(pool.home_id)

    # -- prices ------------------------------------------------------------------------------

    async def intervals(
        self, pool: IntervalPool, start: datetime, end: datetime
    ) -> tuple[Answer, SourceError | None]:
        """The pool's answer for ``[start, end)`` after asking for what it lacks.

        Returns it and the source's failure when it could not fill everything; a refused
        token or an unknown home is raised instead.
        """
        before = len(self.source.errors)
        chunks = self._chunks(pool, await self.home_of(pool), start, end)
        # A progress bar only on a terminal: elsewhere it would leave a blank line behind.
        if len(chunks) > 1 and not self.options.quiet and self.errors.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            columns = (TextColumn("fetching {task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=self.errors, transient=True) as bar:
                task = bar.add_task("history", total=len(chunks))
                for lo, hi in chunks:
                    bar.update(task, description=f"{lo:%Y-%m}")
                    await pool.get_intervals(lo, hi, allow_partial=True)
                    bar.advance(task)
                    if self.source.down:
                        break
        else:
            for lo, hi in chunks[:-1]:
                await pool.get_intervals(lo, hi, allow_partial=True)
                if self.source.down:
                    break
        # Oldest month first: when the source fails midway (a rate limit), what is missing
        # is the newer end, named by the caller, and no further month is tried.
        answer = await pool.query(start, end)
        failures = self.source.errors[before:]
        for err in failures:
            if isinstance(err, AuthenticationError | UnknownHomeError):
                raise err
        if not failures:
            # Nothing raised, yet a span is missing: the API answered without it (a null
            # range), or an earlier failure is still waited out. The pool kept why.
            failures = [g.error for g in answer.missing if g.error is not None]
        return answer, (failures[0] if failures else None)

    def _chunks(
        self, pool: IntervalPool, home: HomeInfo, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """``[start, end)`` cut at home-local month starts when long and not yet known."""
        if end - start <= _LONG:
            return [(start, end)]
        top = min(end, self.now() + timedelta(days=2))
        answered, _ = pool.coverage()
        if any(s.start <= start.astimezone(UTC) and s.end >= top for s in answered):
            return [(start, end)]
        tz = home.tz
        chunks = []
        lo = start
        while lo < end:
            local = lo.astimezone(tz)
            year, month = divmod(local.year * 12 + local.month, 12)
            nxt = midnight(local.date().replace(year=year, month=month + 1, day=1), tz)
            hi = min(nxt, end)
            chunks.append((lo, hi))
            lo = hi
        return chunks


def describe(err: BaseException, endpoint: str) -> str:
    """One friendly line for a failure, built from the error's attributes; never the token."""
    if isinstance(err, MissingTokenError):
        return str(err)
    if isinstance(err, AuthenticationError):
        return f"the token was refused by {endpoint}; check --token, {TOKEN_ENV} or {config_path()}"
    if isinstance(err, RateLimitedError):
        return _limited(err, endpoint)
    if isinstance(err, UnansweredError):
        return f"{endpoint} answered without them; they are asked for again later"
    if isinstance(err, SourceUnavailableError):
        return _unreachable(err, endpoint)
    if isinstance(err, InvalidResponseError):
        if err.status in (404, 405):
            return f"no GraphQL API at {endpoint} (HTTP {err.status}); check --endpoint"
        return f"{endpoint} sent an answer pricepool cannot use: {_without(err, endpoint)}"
    if isinstance(err, UnknownHomeError):
        return f"{err}; `pricepool homes` lists the account's homes"
    return str(err)


def _seconds(value: float) -> str:
    """``96 s``, ``5 min``, ``1 h 10 min``: a wait as people say it."""
    whole = math.ceil(value)
    if whole < 300:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _limited(err: RateLimitedError, endpoint: str) -> str:
    """Who refused, and when one request and when a whole back-fill can go again."""
    wait = err.retry_after
    clear = err.clear_after
    if err.banned:
        who = f"{endpoint} banned this client" + (f" (HTTP {err.status})" if err.status else "")
        return f"{who}; nothing is sent for {_seconds(wait)}" if wait else who
    who = "pricepool's own request limit is reached" if err.own else f"rate limited by {endpoint}"
    if not wait:
        return f"{who}; retry in a few minutes"
    line = f"{who}; the next request can go in {_seconds(wait)}"
    if clear and clear > wait + 1:
        line += f", a whole back-fill in {_seconds(clear)}"
    return line


# What each transport failure is, in a few words.
_CAUSES = {
    Reason.REFUSED: "connection refused",
    Reason.DNS: "unknown host",
    Reason.UNREACHABLE: "no route to the host",
    Reason.TLS: "TLS failed",
    Reason.RESET: "connection closed",
}


def _without(err: SourceError, endpoint: str) -> str:
    """The error's words without a leading ``endpoint`` and status (a caller names them)."""
    text = err.message
    for lead in (f"{endpoint} (HTTP {err.status})", endpoint):
        if text.startswith(lead):
            return text[len(lead) :].lstrip(" :")
    return text


def _unreachable(err: SourceError, endpoint: str) -> str:
    """``cannot reach URL (connection refused); gave up after 5 attempts in 6.2 s``, or
    ``URL is down (HTTP 503)``."""
    gave_up = ""
    if err.attempts and err.attempts > 1 and err.elapsed is not None:
        gave_up = f"; gave up after {err.attempts} attempts in {round(err.elapsed, 1):g} s"
    if err.status is not None:
        return f"{endpoint} is down (HTTP {err.status}){gave_up}"
    if err.reason is Reason.TIMEOUT:
        took = f" within {round(err.elapsed, 1):g} s" if err.elapsed and not gave_up else ""
        cause = f"no answer{took}"
    elif err.reason is not None:
        cause = _CAUSES[err.reason]
    else:
        cause = "no answer"
    return f"cannot reach {endpoint} ({cause}){gave_up}"
