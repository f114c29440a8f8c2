"""``pricepool cache import``: a ``cache export`` JSON back into the store (a restore)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..options import Now, StorePath, Verbose, examples, merged
from ..runner import Report, reported, run
from ..usage import Command

if TYPE_CHECKING:
    from ..session import Session


def register(app: typer.Typer) -> None:
    app.command(
        "import",
        cls=Command,
        help="Read back what cache export wrote (JSON) and merge it into the store, which is "
        "created if needed: the answered spans are added, and where the store already holds "
        "a price it keeps its own. A failed import creates nothing.",
        short_help="Merge a cache export (JSON) into the store: restore a backup.",
        epilog=examples(
            "pricepool cache export > backup.json",
            "pricepool cache import backup.json --store ~/prices.sqlite",
        ),
    )(restore)


def restore(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="JSON written by pricepool cache export.")
    ],
    store: StorePath = None,
    verbose: Verbose = False,
    now: Now = None,
) -> None:
    opts = merged(ctx, store=store, verbose=verbose, now=now)
    with reported(opts):
        from ..session import UsageProblem

        if not file.is_file():
            raise UsageProblem(
                f"no file at {file}" if not file.exists() else f"{file} is not a file"
            )
        from pricepool import StorageError

        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise StorageError(f"cannot read {file}: {err}") from err
        run(opts, lambda session: report(session, file, text)).show()


async def report(session: Session, path: Path, text: str) -> Report:
    from pricepool import StorageError

    from ..schemas import ExportError, read_export
    from ..stored import combined, save_all

    try:
        backup = read_export(text)
    except ExportError as err:
        raise StorageError(f"{path} is not a pricepool cache export: {err}") from None
    exists = session.store_path.exists()
    merged_homes = []
    shown = Report()
    for snap in backup:
        held = await session.store.load(snap.home.id) if exists else None
        merged_homes.append(combined(held, snap))
        before = len(held.intervals) if held is not None else 0
        added = len(merged_homes[-1].intervals) - before
        shown.add(
            f"home {snap.home.id}: {len(snap.intervals)} intervals in the file, "
            f"{added} new to the store"
        )
    await save_all(session, merged_homes)
    shown.add(f"imported {path} into {session.store_path}")
    return shown
