"""pricepool serve: one cache and one rate limit for every app in the house."""

from ._app import MAX_BODY, loopback, make_app, serve
from ._hub import Hub
from ._run import run_service

__all__ = ["MAX_BODY", "Hub", "loopback", "make_app", "run_service", "serve"]
