"""``pricepool cache import-ha``: a Home Assistant tibber_prices pool file into the store."""

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
        "import-ha",
        cls=Command,
        help="Import the Home Assistant tibber_prices interval pool file (from .storage/ in the "
        "Home Assistant config folder) into the store, which is created if needed. A failed "
        "import creates nothing.",
        short_help="Import a Home Assistant tibber_prices interval pool file.",
        epilog=examples(
            "pricepool cache import-ha tibber_prices.interval_pool.01J… -z Europe/Oslo"
        ),
    )(import_ha)


def import_ha(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Home Assistant tibber_prices interval pool file."),
    ],
    home: Annotated[
        str | None,
        typer.Option(
            "--home",
            metavar="HOME",
            help="Store under this home (id, nickname or unique start of a stored id; "
            "else a new id) instead of the file's.",
        ),
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(
            "--time-zone",
            "-z",
            metavar="ZONE",
            help="The home's IANA zone (the file does not say); default: the store's.",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", metavar="", help="Overwrite a home the store already holds."),
    ] = False,
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
        if time_zone is not None:
            _check_zone(time_zone)
        run(opts, lambda s: report(s, file, home, time_zone, replace)).show()


def _check_zone(name: str) -> None:
    from pricepool.model import zone

    from ..session import UsageProblem

    try:
        zone(name)
    except (ValueError, KeyError) as err:
        raise UsageProblem(f"--time-zone: {name!r} is not an IANA time zone ({err})") from None


async def report(
    session: Session, path: Path, wanted: str | None, time_zone: str | None, replace: bool
) -> Report:
    """Import a Home Assistant ``tibber_prices`` pool file into the store."""
    from pricepool import HomeInfo, Snapshot, import_ha

    from ..session import UsageProblem
    from ..stored import find_home, save_all

    named = _home_named(path)  # checks the layout before anything is asked of the user
    exists = session.store_path.exists()
    stored = await session.stored_homes() if exists else []
    target = wanted or named
    if wanted is not None:
        found = find_home(wanted, stored)
        target = found.id if found is not None else wanted
    known = await session.store.load(target) if exists and target else None
    zone = time_zone or (known.home.time_zone if known else None)
    if zone is None:
        raise UsageProblem(
            f"{path} does not say the home's time zone; give it with --time-zone (e.g. Europe/Oslo)"
        )
    snap = import_ha(path, time_zone=zone)
    home = snap.home
    if wanted is not None or known is not None:
        base = known.home if known else home
        home = HomeInfo(target or home.id, zone, home.currency or base.currency, base.nickname)
    if known is not None and (known.intervals or known.coverage) and not replace:
        raise UsageProblem(
            f"the store already holds home {home.id}; pass --replace to overwrite it"
        )
    fresh = Snapshot(
        home,
        groups=snap.groups,
        intervals=snap.intervals,
        group_ids=snap.group_ids,
        coverage=snap.coverage,
        pending=snap.pending,
    )
    await save_all(session, [fresh])
    first = snap.intervals[0].start.astimezone(home.tz) if snap.intervals else None
    last = snap.intervals[-1].end.astimezone(home.tz) if snap.intervals else None
    span = f" from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}" if first and last else ""
    shown = Report()
    shown.add(
        f"imported {len(snap.intervals)} intervals in {len(snap.groups)} groups{span} "
        f"as home {home.id} ({zone}) into {session.store_path}"
    )
    return shown


def _home_named(path: Path) -> str | None:
    """The home id in a tibber_prices file, to look its zone up in the store."""
    import json

    from pricepool import StorageError

    try:
        document = json.loads(path.read_bytes())
    except OSError as err:
        raise StorageError(f"cannot read {path}: {err.strerror or err}") from err
    except ValueError as err:
        raise StorageError(f"{path} is not JSON: {err}") from err
    data = document.get("data", document) if isinstance(document, dict) else None
    # The layout first: a file of another kind should not be asked for its time zone.
    if not isinstance(data, dict) or not isinstance(data.get("fetch_groups"), list):
        raise StorageError(
            f"{path} is not a tibber_prices interval pool file (expected "
            '"fetch_groups" and "home_id", bare or in a Home Assistant Store envelope)'
        )
    named = data.get("home_id")
    return named if isinstance(named, str) else None
