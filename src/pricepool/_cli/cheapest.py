"""The cheapest window and slots: re-exported from the public ``pricepool.cheapest``."""

from __future__ import annotations

from pricepool.cheapest import Window, average, cheapest_slots, cheapest_window, runs

__all__ = ["Window", "average", "cheapest_slots", "cheapest_window", "runs"]
