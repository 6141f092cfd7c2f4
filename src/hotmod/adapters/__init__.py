"""Adapters: registries outside the module dict taking part in reloads.

A framework keeps registries that outlive a module (an app registry, a URL resolver's cache,
a MetaData of tables, logging handlers): re-executing a module registers its objects again,
next to the old ones. An ``Adapter`` takes out what the replaced modules registered before they
are evicted (``detach``), clears caches built from the old code after the reload
(``commit``), and puts the registry back exactly as it was when the reload rolls back
(``restore``). See ``Adapter``.

Which adapters take part is ``Reloader(adapters=...)``: None (default) means the built-in
ones (``builtin("logging")``, ``builtin("atexit")``) and those given to ``register()``; a
sequence means exactly those; ``()`` none. An adapter whose ``requires`` names a framework
takes part only while that framework is imported.

Each built-in framework adapter is a module of this package, imported only when its
framework is.
"""

from hotmod._exceptions import AdapterError
from hotmod.adapters._base import Adapter, builtin, register, unregister

__all__ = ["Adapter", "AdapterError", "builtin", "register", "unregister"]
