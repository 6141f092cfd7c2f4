"""Prices. Edit PRICE_PER_LOAF (or price()) while an example runs, and save."""

from __future__ import annotations

PRICE_PER_LOAF = 2


def price(loaves: int) -> int:
    """What ``loaves`` loaves cost."""
    return loaves * PRICE_PER_LOAF
