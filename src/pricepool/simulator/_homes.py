"""The simulated account: its homes and what the API says about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..model import zone

__all__ = ["DEFAULT_HOMES", "SimHome"]


@dataclass(frozen=True)
class SimHome:
    """One home of the simulated account.

    ``scale`` is the typical spot energy price per kWh in ``currency``; ``tax_fixed`` and
    ``vat`` make up Tibber's ``tax`` (``tax = tax_fixed + vat * max(energy, 0)``).
    History starts at local midnight of ``history_start``.
    """

    id: str
    nickname: str
    time_zone: str
    currency: str
    address1: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    latitude: str = ""
    longitude: str = ""
    price_area: str = ""
    scale: float = 0.8
    tax_fixed: float = 0.1
    vat: float = 0.25
    history_start: date = field(default=date(2021, 1, 1))

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("SimHome id must not be empty")
        zone(self.time_zone)
        if self.scale <= 0:
            raise ValueError(f"SimHome scale must be positive, got {self.scale!r}")


DEFAULT_HOMES: tuple[SimHome, ...] = (
    SimHome(
        id="96a14971-525a-4420-aae9-e5aedaa129ff",
        nickname="Fjellstua",
        time_zone="Europe/Oslo",
        currency="NOK",
        address1="Kongens gate 1",
        postal_code="0153",
        city="Oslo",
        country="NO",
        latitude="59.9096",
        longitude="10.7437",
        price_area="NO1",
        scale=0.85,
        tax_fixed=0.12,
        vat=0.25,
    ),
    SimHome(
        id="c70dcbe5-4485-4821-933d-a8a86452737b",
        nickname="Sjöboden",
        time_zone="Europe/Stockholm",
        currency="SEK",
        address1="Skeppsbron 2",
        postal_code="111 30",
        city="Stockholm",
        country="SE",
        latitude="59.3251",
        longitude="18.0711",
        price_area="SE3",
        scale=0.75,
        tax_fixed=0.55,
        vat=0.25,
    ),
    SimHome(
        id="68e6938b-91a6-4199-a0d4-f24c22be87bb",
        nickname="Altbau",
        time_zone="Europe/Berlin",
        currency="EUR",
        address1="Unter den Linden 5",
        postal_code="10117",
        city="Berlin",
        country="DE",
        latitude="52.5170",
        longitude="13.3889",
        price_area="DE-LU",
        scale=0.11,
        tax_fixed=0.16,
        vat=0.19,
    ),
)
