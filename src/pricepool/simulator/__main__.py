"""``python -m pricepool.simulator``: serve Tibber's API on loopback until a signal stops it.

SIGINT, SIGTERM and SIGHUP each stop it cleanly (hanging requests are released); the exit
status is 128 plus the signal's number, as a shell reports a process killed by it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from ..publication import PUBLISH_AT
from ._app import CURSORS, TOKEN_ERRORS, serve
from ._faults import Faults

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def parser() -> argparse.ArgumentParser:
    """The options, each one of the real API's behaviours the simulator can show."""
    found = argparse.ArgumentParser(
        prog="python -m pricepool.simulator", description="A local Tibber-compatible price API."
    )
    found.add_argument("--host", default="127.0.0.1")
    found.add_argument("--port", type=int, default=8080, help="0: any free port")
    found.add_argument("--token", default=None, help="require this bearer token")
    found.add_argument("--publish-hour", type=int, default=PUBLISH_AT.hour)
    found.add_argument("--publish-delay", type=float, default=0.0, help="minutes")
    found.add_argument("--rate-limit", type=int, default=100, help="requests per window")
    found.add_argument("--rate-window", type=float, default=300.0, help="seconds")
    found.add_argument(
        "--ban",
        type=float,
        default=None,
        metavar="SECONDS",
        help="over the rate limit, ban as Tibber does: 429 text/plain without Retry-After, "
        "extended by every request during the ban (Tibber: 600)",
    )
    found.add_argument(
        "--page-limit",
        type=int,
        default=None,
        help="nodes per priceInfoRange page below the schema's caps (672 quarter-hours, 744 hours)",
    )
    found.add_argument(
        "--cursors", choices=CURSORS, default="start", help="what an edge's cursor names"
    )
    found.add_argument(
        "--inclusive-after",
        action="store_true",
        help="after/before include the instant they name (Tibber since 2025-01)",
    )
    found.add_argument(
        "--quarter-outage",
        action="store_true",
        help="quarter-hourly today/tomorrow empty, hourly and the range still answer",
    )
    found.add_argument("--null-range", action="store_true", help="priceInfoRange answers null")
    found.add_argument(
        "--token-error",
        choices=TOKEN_ERRORS,
        default=None,
        help="refuse every token with a JWT error (INTERNAL_SERVER_ERROR)",
    )
    found.add_argument("--seed", type=int, default=0)
    return found


async def until_signal(work: Coroutine[Any, Any, None]) -> signal.Signals | None:
    """Run ``work`` until it ends or a stopping signal arrives; the signal, if one did."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    got: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        got.append(sig)
        task.cancel()

    for sig in STOPPING:
        loop.add_signal_handler(sig, stop, sig)
    try:
        await task
    except asyncio.CancelledError:
        if not got:
            raise
    finally:
        for sig in STOPPING:
            loop.remove_signal_handler(sig)
    return got[0] if got else None


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    faults = Faults(
        quarter_outage=args.quarter_outage,
        null_range=args.null_range,
        token_error=args.token_error,
    )
    work = serve(
        args.host,
        args.port,
        token=args.token,
        publish_hour=args.publish_hour,
        publish_delay=timedelta(minutes=args.publish_delay),
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        ban=args.ban,
        page_limit=args.page_limit,
        cursors=args.cursors,
        inclusive_after=args.inclusive_after,
        faults=faults,
        seed=args.seed,
    )
    sig = asyncio.run(until_signal(work))
    if sig is not None:
        print(f"pricepool simulator stopped by {sig.name}", file=sys.stderr, flush=True)
        sys.exit(128 + sig.value)


if __name__ == "__main__":
    main()
