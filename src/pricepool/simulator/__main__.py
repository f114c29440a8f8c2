"""``python -m pricepool.simulator``: serve Tibber's API on loopback until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta

from ._app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pricepool.simulator", description="A local Tibber-compatible price API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument("--publish-hour", type=int, default=13)
    parser.add_argument("--publish-delay", type=float, default=0.0, help="minutes")
    parser.add_argument("--rate-limit", type=int, default=100)
    parser.add_argument("--rate-window", type=float, default=300.0, help="seconds")
    parser.add_argument("--page-limit", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                args.host,
                args.port,
                token=args.token,
                publish_hour=args.publish_hour,
                publish_delay=timedelta(minutes=args.publish_delay),
                rate_limit=args.rate_limit,
                rate_window=args.rate_window,
                page_limit=args.page_limit,
                seed=args.seed,
            )
        )


if __name__ == "__main__":
    main()
