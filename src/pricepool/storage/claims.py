"""A store's optional promise: one fetch per span across every process that shares it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from ..model import Span
from .base import Snapshot

__all__ = ["Claims", "Watches"]


@runtime_checkable
class Claims(Protocol):
    """A store shared by processes that lets one of them at a time fetch a span.

    ``claim`` yields what the store holds in ``span`` (a Snapshot whose coverage is the
    part some process answered), or None when it holds nothing there. Unless that covers
    all of ``span``, the caller holds the span: it asks the source for the rest and saves
    before leaving, while the others wait for it.
    """

    def claim(self, home_id: str, span: Span) -> AbstractAsyncContextManager[Snapshot | None]: ...


@runtime_checkable
class Watches(Protocol):
    """A shared store that says when another process saved something for a home, so a
    pool can take it in (through its next save's delta) before anyone asks for it."""

    def watch(self, home_id: str, told: Callable[[], None]) -> Callable[[], None]: ...
