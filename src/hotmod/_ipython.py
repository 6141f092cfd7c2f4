"""The IPython/Jupyter extension: ``%load_ext hotmod`` then ``%hotmod myapp``.

Changes are applied before each cell runs (IPython's ``pre_run_cell`` event), never in the middle
of a cell: the Reloader is started with ``background=False``, so its watcher only records
changes. After a reload, the names of the notebook namespace that held objects of reloaded
modules (``from myapp.x import f``) are re-bound to the new objects, and one line reports what
was reloaded.

IPython is never imported by hotmod itself: this module only talks to the shell object it is
given, and imports ``IPython.core.error`` lazily, inside the magic, to report usage errors.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

from hotmod._exceptions import HotmodError
from hotmod._reloader import Reloader
from hotmod._result import ReloadResult, user_traceback
from hotmod._worker import SharedReloader, apply_pending, rebind

__all__ = ["HotmodExtension", "load_ipython_extension", "unload_ipython_extension"]

logger = logging.getLogger(__name__)

_USAGE = "usage: %hotmod [PACKAGE ...] | %hotmod off   (no argument: show the status)"

# One extension state per shell (there is normally exactly one shell per process).
_extensions: dict[int, HotmodExtension] = {}


class HotmodExtension:
    """The state of the extension in one IPython shell: its Reloader and the last report.

    Args:
        shell: the ``InteractiveShell`` (``get_ipython()``).
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._shared: SharedReloader | None = None
        self.reloads = 0
        self.last: ReloadResult | None = None

    @property
    def reloader(self) -> Reloader | None:
        """The Reloader applying changes before cells, or None when not watching.

        It is the one ``hotmod.watch(*packages, background=False)`` returns: ``@reloading``
        functions and ``hotmod.loop`` over the same packages share it (one watcher).
        """
        return None if self._shared is None else self._shared.reloader

    # -- commands --------------------------------------------------------------------------

    def start(self, packages: list[str]) -> str:
        """Watch ``packages`` (replacing what was watched before) and describe it.

        Raises:
            HotmodError: a package cannot be found or watched (its message says why).
        """
        Reloader(*packages)  # check the names before stopping what is watched now
        self.stop()
        self._shared = SharedReloader(tuple(packages), {})
        self.reloads, self.last = 0, None
        return f"hotmod: watching {', '.join(packages)}; changes are applied before each cell runs"

    def stop(self) -> bool:
        """Stop watching; True when something was being watched."""
        shared, self._shared = self._shared, None
        if shared is None:
            return False
        shared.stop()
        return True

    def status(self) -> str:
        """One or two lines: what is watched, and the last reload."""
        reloader = self.reloader
        if reloader is None:
            return "hotmod: not watching anything; start with %hotmod PACKAGE"
        text = (
            f"hotmod: watching {', '.join(reloader.packages)} "
            f"({len(reloader.graph)} modules loaded, "
            f"{'polling' if reloader.polling else 'native events'}); "
            f"{self.reloads} reload{'' if self.reloads == 1 else 's'} so far"
        )
        if self.last is not None:
            text += f"\nlast: {self.last}"
        return text

    def magic(self, line: str) -> None:
        """The ``%hotmod`` line magic.

        ``%hotmod myapp [other ...]`` starts watching the packages (replacing the previous
        ones), ``%hotmod`` alone shows what is watched and the last reload, ``%hotmod off`` stops.
        Changes are applied before each cell runs; names imported into the notebook are re-bound
        to the new objects.
        """
        try:
            args = shlex.split(line)
        except ValueError as exc:
            _usage_error(f"{exc}; {_USAGE}")
            return
        if not args:
            print(self.status())
        elif args == ["off"]:
            print("hotmod: stopped watching" if self.stop() else "hotmod: was not watching")
        elif any(arg.startswith("-") for arg in args):
            _usage_error(_USAGE)
        else:
            try:
                print(self.start(args))
            except HotmodError as exc:
                _usage_error(f"hotmod: {exc}")

    # -- the event -------------------------------------------------------------------------

    def pre_run_cell(self, *_info: object) -> None:
        """Apply pending changes, re-bind the notebook's names, print a one-line report."""
        reloader = self.reloader
        if reloader is None:
            return
        before = dict(sys.modules)
        with _report_failures_here() as reporting:
            result = apply_pending(reloader)
        if result is None:
            return
        self.last = result
        if result.error is not None:
            report = f"hotmod: {result}"
            if reporting.dropped:  # the log would not show it: its traceback goes here
                error = result.error
                trace = traceback.format_exception(type(error), error, user_traceback(error))
                report += "\n" + "".join(trace).rstrip("\n")
            print(report, file=sys.stderr)
            return
        if not result.reloaded and not result.evicted:
            return
        self.reloads += 1
        names = rebind(self.shell.user_ns, result.reloaded, before)
        report = f"hotmod: {result}"
        if names:
            report += f"; re-bound {', '.join(names)}"
        print(report)


class _FailureFilter(logging.Filter):
    """On the "hotmod" logger while the extension applies changes: drops the record of a
    failed reload when logging is not configured (no handler on the way to the root), where
    logging's last-resort handler would print it to the cell's output next to the extension's
    own report. A configured handler gets it as always."""

    dropped = False

    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()  # another thread's reloads are not ours

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        is_result = isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], ReloadResult)
        ours = is_result and record.thread == self._thread and record.levelno >= logging.ERROR
        if ours and not _LOG.hasHandlers():
            self.dropped = True
            return False
        return True


_LOG = logging.getLogger("hotmod")


@contextlib.contextmanager
def _report_failures_here() -> Iterator[_FailureFilter]:
    failures = _FailureFilter()
    _LOG.addFilter(failures)
    try:
        yield failures
    finally:
        _LOG.removeFilter(failures)


def _usage_error(message: str) -> None:
    """Raise IPython's UsageError (shown as one line, no traceback), imported lazily."""
    try:
        from IPython.core.error import UsageError
    except ImportError:  # pragma: no cover - only reachable without IPython
        print(message, file=sys.stderr)
        return
    raise UsageError(message)


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%hotmod`` magic and the before-each-cell reload in an IPython shell.

    Called by ``%load_ext hotmod``; loading it twice is harmless.

    Args:
        ipython: the ``InteractiveShell``.

    Example:
        >>> %load_ext hotmod                                   # doctest: +SKIP
        >>> %hotmod myapp                                      # doctest: +SKIP
        hotmod: watching myapp; changes are applied before each cell runs
    """
    if id(ipython) in _extensions:
        return
    extension = HotmodExtension(ipython)
    _extensions[id(ipython)] = extension
    ipython.register_magic_function(extension.magic, magic_kind="line", magic_name="hotmod")
    ipython.events.register("pre_run_cell", extension.pre_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop watching and unregister the cell hooks (``%unload_ext hotmod``).

    Args:
        ipython: the ``InteractiveShell``.

    Example:
        >>> %unload_ext hotmod                                 # doctest: +SKIP
    """
    extension = _extensions.pop(id(ipython), None)
    if extension is None:
        return
    extension.stop()
    for event, callback in (("pre_run_cell", extension.pre_run_cell),):
        try:
            ipython.events.unregister(event, callback)
        except ValueError:
            logger.debug("%s hook was already unregistered", event)
