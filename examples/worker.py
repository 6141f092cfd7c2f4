"""A long-running worker that picks up code changes between jobs, without a restart.

Run it from this folder and type orders (a number of loaves), one per line::

    $ cd examples && python worker.py
    3
    3 loaves cost 6

Now change ``PRICE_PER_LOAF = 2`` to ``5`` in ``bakery/prices.py``, save, and type 3 again::

    3
    hotmod: reloaded bakery.prices, bakery.orders in 1.9 ms (changed: .../bakery/prices.py)
    3 loaves cost 15

Save a syntax error instead and the worker keeps running the last good code (the error is
logged once). Two kinds of safe points are shown, both applying changes in this thread only:

* ``hotmod.loop(jobs, "bakery")`` applies pending changes between jobs, and re-binds the
  names this script imported (``handle`` below) to the new objects (the default here);
* ``@hotmod.reloading("bakery")`` on ``bakery.orders.handle`` applies them when it is called;
  ``--no-loop`` runs a plain ``for`` loop to show the decorator on its own.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bakery.orders import handle

import hotmod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-loop", action="store_true", help="rely on the @hotmod.reloading decorator alone"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    orders = (line.strip() for line in sys.stdin if line.strip())
    if not args.no_loop:
        orders = hotmod.loop(orders, "bakery")
    for order in orders:
        try:
            print(handle(order), flush=True)
        except ValueError:
            print(f"not a number of loaves: {order!r}", flush=True)


if __name__ == "__main__":
    main()
