"""Order handling: the job handler of examples/worker.py."""

from __future__ import annotations

import hotmod
from bakery.prices import price


@hotmod.reloading("bakery")
def handle(order: str) -> str:
    """Price one order ("3" means three loaves); each call runs the newest code of this module."""
    loaves = int(order)
    return f"{loaves} loaves cost {price(loaves)}"
