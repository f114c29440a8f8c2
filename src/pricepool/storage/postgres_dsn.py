"""PostgreSQL connection strings shown to people without their password."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = ["Dsn", "is_postgres"]

_SCHEMES = ("postgresql://", "postgres://")
# A password=... pair in key=value form or in a URL's query string.
_PAIR = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)


# libpq's key=value form ("host=/run/postgresql dbname=prices"): every word a pair, the
# first one a connection keyword, so a file name with "=" in it stays a file name.
_CONNINFO = re.compile(r"\s*(?:\w+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']*)\s*)+")
_KEYWORDS = frozenset(
    [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "sslmode",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
    ]
)


def is_postgres(text: str) -> bool:
    """True when ``text`` names a PostgreSQL database: a postgresql:// URL, or libpq's
    key=value form starting with a connection keyword (``host=``, ``dbname=``, ...)."""
    if _is_url(text):
        return True
    first = text.strip().partition("=")[0].strip().lower()
    return first in _KEYWORDS and _CONNINFO.fullmatch(text) is not None


def _is_url(text: str) -> bool:
    return text.lower().startswith(_SCHEMES)


class Dsn:
    """A connection string that knows its password and never shows it.

    ``str()`` and ``repr()`` give the string with the password as ``***``; ``scrub``
    removes the password from any text (a driver's error message, say).
    """

    __slots__ = ("_secrets", "_shown", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        secrets: set[str] = set()
        shown = _PAIR.sub(lambda m: _remember(m, secrets), value)
        if _is_url(value):
            parts = urlsplit(shown)
            if parts.password:
                secrets.update({parts.password, unquote(parts.password)})
                user, _, host = parts.netloc.rpartition("@")
                name = user.partition(":")[0]
                shown = urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
        for secret in list(secrets):
            secrets.add(quote(secret, safe=""))
        self._secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))
        self._shown = shown

    def __str__(self) -> str:
        return self._shown

    def __repr__(self) -> str:
        return f"Dsn({self._shown!r})"

    def scrub(self, text: str) -> str:
        """``text`` with every standalone occurrence of the password replaced by ``***``."""
        for secret in self._secrets:
            # Only where it stands alone: a one-letter password must not mangle words.
            text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", "***", text)
        return text


def _remember(match: re.Match[str], secrets: set[str]) -> str:
    raw = match.group(2)
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        secrets.add(re.sub(r"\\(.)", r"\1", raw[1:-1]))
    secrets.add(raw)
    secrets.add(unquote(raw))
    return match.group(1) + "***"
