"""A separate process on a shared PostgreSQL database, for the multi-process tests.

python -m tests.postgres_child limit DSN COUNT MAX PER
    claim COUNT request slots from a shared budget of MAX per PER seconds
python -m tests.postgres_child hold DSN HOME START END
    claim [START, END) (POSIX seconds), print "held", and wait to be killed
python -m tests.postgres_child pool DSN ENDPOINT HOME RANGES...
    a pool on the Tibber source at ENDPOINT asking each START:END range (POSIX seconds);
    prints one JSON line per answer: {"start", "end", "count", "digest"}, then "calls N"
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from datetime import UTC, datetime

from pricepool import IntervalPool, PostgresStore, Span, TibberSource
from pricepool._cli.config import limiter_for
from pricepool.storage import PostgresLimiter


async def limit(dsn: str, count: int, most: int, per: float) -> None:
    async with PostgresStore(dsn) as store:
        limiter = PostgresLimiter(store, name="child", max_requests=most, per_seconds=per)
        for _ in range(count):
            async with limiter.slot(patience=60.0):
                pass
    print("done", flush=True)


async def hold(dsn: str, home: str, start: int, end: int) -> None:
    span = Span.from_seconds(start, end)
    async with PostgresStore(dsn) as store, store.claim(home, span) as known:
        print("held" if known is None else "known", flush=True)
        await asyncio.sleep(3600)


def tibber(endpoint: str, store: PostgresStore) -> TibberSource:
    """A Tibber source whose request budget is the database's, wired as the CLI wires it."""
    limiter = limiter_for(store, "child-token")
    assert isinstance(limiter, PostgresLimiter)
    return TibberSource("child-token", endpoint=endpoint, limiter=limiter)


def digest(items: list[object]) -> str:
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


async def pool(dsn: str, endpoint: str, home: str, ranges: list[str]) -> None:
    """Every range asked at once, as that many clients of one replica would."""
    async with PostgresStore(dsn) as store:
        source = tibber(endpoint, store)
        try:
            async with IntervalPool(home, source, store=store) as p:

                async def ask(text: str) -> dict[str, object]:
                    a, b = (int(x) for x in text.split(":"))
                    started = time.perf_counter()
                    got = await p.get_intervals(
                        datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)
                    )
                    return {
                        "start": a,
                        "end": b,
                        "count": len(got),
                        "digest": digest([(i.start.timestamp(), i.total) for i in got]),
                        "seconds": time.perf_counter() - started,
                    }

                for line in await asyncio.gather(*(ask(text) for text in ranges)):
                    print(json.dumps(line), flush=True)
                print(f"calls {p.stats.source_calls}", flush=True)
        finally:
            await source.close()


def main(argv: list[str]) -> None:
    mode, dsn, *rest = argv
    if mode == "limit":
        asyncio.run(limit(dsn, int(rest[0]), int(rest[1]), float(rest[2])))
    elif mode == "hold":
        asyncio.run(hold(dsn, rest[0], int(rest[1]), int(rest[2])))
    elif mode == "pool":
        asyncio.run(pool(dsn, rest[0], rest[1], rest[2:]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
