"""A store's optional promise: one fetch per span across every process that shares it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from ..model import Span
from .base import Snapshot

__all__ = ["Claims"]


@runtime_checkable
class Claims(Protocol):
    """A store shared by processes that lets one of them at a time fetch a span.

    ``claim`` yields a Snapshot of what the store holds in ``span`` when another process
    answered all of it meanwhile (nothing to fetch), else None: the caller holds the span,
    asks the source and saves before leaving, while the others wait for it.
    """

    def claim(self, home_id: str, span: Span) -> AbstractAsyncContextManager[Snapshot | None]: ...
