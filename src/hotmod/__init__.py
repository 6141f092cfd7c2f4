"""hotmod: dependency-aware, transactional hot reloading for a running Python process.

Edit a module and hotmod re-executes it and every watched module that imports it, in
dependency order, without restarting the process; if anything fails, the previous modules are
put back and the process keeps running its last good code.
"""

from hotmod import _observed
from hotmod._api import watch, watching
from hotmod._exceptions import (
    AdapterError,
    ArgumentTypeError,
    HotmodError,
    NotWatchedError,
    PackageNotFoundError,
    ReloaderStateError,
)
from hotmod._import_graph import EdgeKind, ImportGraph
from hotmod._ipython import load_ipython_extension, unload_ipython_extension
from hotmod._reloader import Reloader
from hotmod._result import ReloadResult
from hotmod._servers import asgi, wsgi
from hotmod._transaction import previous
from hotmod._version import __version__
from hotmod._worker import loop, rebind, reloading

_observed.install()  # imports that modules make at run time are edges too, from here on

__all__ = [
    "AdapterError",
    "ArgumentTypeError",
    "EdgeKind",
    "HotmodError",
    "ImportGraph",
    "NotWatchedError",
    "PackageNotFoundError",
    "ReloadResult",
    "Reloader",
    "ReloaderStateError",
    "__version__",
    "asgi",
    "load_ipython_extension",
    "loop",
    "previous",
    "rebind",
    "reloading",
    "unload_ipython_extension",
    "watch",
    "watching",
    "wsgi",
]
