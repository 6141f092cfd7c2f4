"""`make demo`: watch a live reload happen.

Builds a small package in a temporary folder, imports it, starts hotmod's watcher, edits one
module on disk, and prints what hotmod evicted (dependents first), what it re-imported
(dependencies first), how long it took, and the new value seen through a dependent.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import hotmod

FILES = {
    "shop/__init__.py": "",
    "shop/config.py": "TAX_RATE = 0.20\n",
    "shop/pricing.py": """\
        from shop.config import TAX_RATE

        def with_tax(amount: float) -> float:
            return round(amount * (1 + TAX_RATE), 2)
        """,
    "shop/cart.py": """\
        from . import pricing

        def total(items: list[float]) -> float:
            return pricing.with_tax(sum(items))
        """,
    "shop/catalog.py": "ITEMS = {'tea': 4.0, 'cake': 6.0}\n",
}


def build(root: Path) -> None:
    for rel, source in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hotmod-demo-") as tmp:
        root = Path(tmp).resolve()
        build(root)
        # A file saved within a few milliseconds before its import cannot be told from one
        # saved just after it (file times lag the clock by up to a tick), and is reloaded once
        # when watching starts. The package just written here waits out that margin, as the
        # files of a real project are long older than the process.
        time.sleep(0.05)
        sys.path.insert(0, tmp)
        cart = importlib.import_module("shop.cart")
        importlib.import_module("shop.catalog")
        print(f"package built in {root}")
        print(f"before the edit: cart.total([10.0]) = {cart.total([10.0])}")

        done = threading.Event()
        results: list[hotmod.ReloadResult] = []

        def on_reload(result: hotmod.ReloadResult) -> None:
            results.append(result)
            done.set()

        with hotmod.watching("shop", on_reload=on_reload) as reloader:
            deps = sorted(reloader.graph.dependents("shop.config"))
            print(f"modules that depend on shop.config: {', '.join(deps)}")
            print("editing shop/config.py: TAX_RATE = 0.20 -> TAX_RATE = 0.25 ...")
            config = root / "shop" / "config.py"
            config.write_text(config.read_text().replace("0.20", "0.25"))
            if not done.wait(timeout=10):
                print("no reload seen within 10 s: is the file system watchable here?")
                return 1

        result = results[0]
        print()
        print(f"hotmod: {result}")
        print(f"  changed:    {', '.join(str(p.relative_to(root)) for p in result.changed)}")
        print(f"  evicted:    {' -> '.join(result.evicted)}   (dependents first)")
        print(
            f"  re-imported:{' ' if result.reloaded else ''}{' -> '.join(result.reloaded)}"
            "   (dependencies first)"
        )
        print(f"  took:       {result.duration * 1000:.2f} ms")
        print("  untouched:  shop.catalog (nothing it imports changed)")
        new_cart = sys.modules["shop.cart"]
        print(f"after the edit:  cart.total([10.0]) = {new_cart.total([10.0])}")
        return 0 if result.ok and new_cart.total([10.0]) == 12.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
