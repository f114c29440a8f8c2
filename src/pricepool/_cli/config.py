"""Where the command finds its token, store and defaults.

The token comes from ``--token``, then ``TIBBER_TOKEN``, then ``token = "..."`` in
``config.toml`` in the user's config folder, which may also set ``endpoint``, ``store``
and ``home``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platformdirs import user_config_dir, user_data_dir

if TYPE_CHECKING:
    from pricepool import Store
    from pricepool.sources.tibber import RequestLimiter


__all__ = [
    "Config",
    "check_endpoint",
    "config_path",
    "default_store",
    "limiter_for",
    "load_config",
    "open_store",
]

APP = "pricepool"
log = logging.getLogger("pricepool.cli")
TOKEN_ENV = "TIBBER_TOKEN"


def config_path() -> Path:
    return Path(user_config_dir(APP)) / "config.toml"


def default_store() -> Path:
    return Path(user_data_dir(APP)) / "pricepool.sqlite"


def check_endpoint(text: str) -> None:
    """Raise ValueError unless ``text`` is an http(s) URL with a host."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL, e.g. http://127.0.0.1:8080/v1-beta/gql")


class ConfigError(Exception):
    """The config file exists but cannot be used."""


class NotAStore(Exception):
    """``--store`` names a file that is not a pricepool store (it is left untouched)."""


KEYS = ("token", "endpoint", "store", "home", "api_key")


@dataclass(frozen=True, slots=True)
class Config:
    """What ``config.toml`` says; every field optional."""

    token: str | None = None
    endpoint: str | None = None
    store: str | None = None
    home: str | None = None
    api_key: str | None = None
    """The key ``pricepool serve`` asks its clients for."""

    def __repr__(self) -> str:
        # Secrets are never shown, not even in a traceback.
        hidden = {"token", "api_key"}
        shown = ", ".join(
            f"{name}={'***' if name in hidden and value else repr(value)}"
            for name, value in ((n, getattr(self, n)) for n in KEYS)
        )
        return f"Config({shown})"


def load_config(path: Path | None = None, warn: Callable[[str], None] | None = None) -> Config:
    """The config file at ``path`` (default: the user's), or an empty one when absent;
    ``warn`` is told of keys pricepool does not know (a typo would be ignored silently)."""
    path = path or config_path()
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    unknown = [name for name in raw if name not in KEYS]
    if unknown and warn is not None:
        names = ", ".join(unknown)
        known = ", ".join(KEYS)
        warn(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {names} ignored "
            f"(pricepool reads {known})"
        )
    found: dict[str, str] = {}
    for name in KEYS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{path}: {name} must be a string")
        if value:
            found[name] = value
    if "endpoint" in found:
        try:
            check_endpoint(found["endpoint"])
        except ValueError as err:
            raise ConfigError(f"{path}: endpoint {err}") from None
    return Config(**found)


def resolve_token(flag: str | None, config: Config) -> str | None:
    """The token from the flag, the environment or the config file, in that order."""
    return flag or os.environ.get(TOKEN_ENV) or config.token or None


def store_path(text: str) -> Path:
    return Path(text).expanduser()


_SQLITE = b"SQLite format 3\x00"


def limiter_for(store: Store, token: str) -> RequestLimiter | None:
    """The request budget every process on ``store``'s database shares, when it is a
    PostgresStore (None: not one).

    The budget is named after a digest of ``token``, never the token: processes with one
    token share one window and one ban, other tokens have their own.
    """
    from pricepool.storage import PostgresLimiter, PostgresStore

    if not isinstance(store, PostgresStore):
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return PostgresLimiter(store, name=f"tibber-{digest}")


def endpoint_limiter(endpoint: str) -> RequestLimiter | None:
    """The request budget every process of this user asking ``endpoint`` shares, kept in
    the data folder, so a run started during a ban sends nothing (None: the folder cannot
    be written; the source keeps its own, per process)."""
    from pricepool.sources.tibber import FileLimiter

    # One file per endpoint: the simulator's ban is not Tibber's.
    name = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
    path = Path(user_data_dir(APP)) / "limits" / f"{name}.json"
    try:
        limiter = FileLimiter(path)
    except OSError as err:
        log.warning("cannot keep the request budget in %s (%s); this run keeps its own", path, err)
        return None
    # Budgets of endpoints not asked for a day (a simulator's random port) hold nothing
    # that still counts: they go, so the folder does not grow.
    stale = time.time() - 86_400
    for other in path.parent.glob("[0-9a-f]" * 16 + ".json"):
        with contextlib.suppress(OSError):
            if other != path and other.stat().st_mtime < stale:
                other.unlink()
    return limiter


def open_store(text: str, *, create: bool = True) -> Store:
    """A PostgresStore for a postgresql:// URL, a JsonFileStore for a folder (existing, or
    named with a trailing slash), else SQLite.

    An existing file that is not an SQLite database is refused (NotAStore) before the
    store sees it; with ``create`` false a missing store is refused too, and the store is
    asked not to create or change anything.
    """
    from pricepool import JsonFileStore, PostgresStore, SqliteStore
    from pricepool.storage.postgres_dsn import is_postgres

    if is_postgres(text):
        return PostgresStore(text, create=create)
    path = store_path(text)
    if not create and not path.exists():
        raise NotAStore(f"no store at {text}")
    if path.is_dir() or text.endswith(("/", os.sep)):
        return JsonFileStore(path, create=create)
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE))
        if head != _SQLITE:
            raise NotAStore(
                f"{text} is not a pricepool store (not an SQLite database); not changed"
            )
    return SqliteStore(path, create=create)
