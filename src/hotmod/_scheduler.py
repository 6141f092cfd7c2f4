"""When to apply what the watcher reported: the pending paths, the debounce, the wait.

The watcher's thread adds paths; the Reloader's background thread waits until they are due and
takes them; ``check()`` takes them at once, unless a file is still being written (its last
event was not final) and the debounce has not passed. A save is due as soon as every pending
path is known complete (a writer closed the file, or it was renamed into place) and the
events have paused for a moment (``_COMPLETE_QUIET``: files saved together, "save all",
coalesce), a longer moment (``_BURST_QUIET``) when they began while the previous changes were
being applied or just after (a burst: a checkout writing hundreds of files), counted from the
last event and from the end of that reload; otherwise after ``debounce``
seconds without events; in any case after ``max(10 x debounce, 0.5 s)`` (a file written
without a pause still reloads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["RESCAN_ALL", "Change", "Scheduler", "max_delay"]

Change = tuple[str, bool]  # (path, the event said the new content is complete)

# A pending "path" standing for every watched file (after an event queue overflow, a start).
RESCAN_ALL = ""

# Pause after a completed save before applying it: long enough for the closes of files saved
# together to arrive (they come well under a millisecond apart), short against the debounce.
_COMPLETE_QUIET = 0.005
# A change first seen while the last changes were applied, or this soon after, continues a
# burst (a branch checkout, a formatter rewriting files while the first reload runs): its pause
# after a complete save is this long instead, so a writer's short stalls do not split the burst
# into many reloads. Never longer than the debounce.
_BURST_QUIET = 0.05


def max_delay(debounce: float) -> float:
    """Longest wait for a quiet moment: a file written without pause still reloads."""
    return max(10 * debounce, 0.5)


class Scheduler:
    """Pending changes of one Reloader.

    Args:
        debounce: seconds without events before incomplete changes are due.
        forward: called with every batch added (``forward=True``), under the lock: the
            Reloader copies them to the processes forked from it.
    """

    def __init__(self, debounce: float, forward: Callable[[list[Change]], None]) -> None:
        self.debounce = debounce
        self._forward = forward
        # Held by the fork hooks across os.fork(): no batch is half-added in a child.
        self.lock = threading.Condition()
        self._pending: dict[str, None] = {}  # paths in the order first reported
        self._incomplete: set[str] = set()  # pending paths whose last event was not final
        self._first = 0.0
        self._last = 0.0
        self._taken = float("-inf")  # when the pending paths were last taken
        self._applied = float("-inf")  # when the reload of the paths taken last ended
        self._applying = False  # between a take() that returned paths and applied()
        self._burst = False  # the pending changes began during a reload or within
        # _BURST_QUIET of its end
        self.stopping = False

    def __bool__(self) -> bool:
        """True while changes are pending (read without the lock: a hint for check())."""
        return bool(self._pending)

    def add(self, changes: Iterable[Change], *, forward: bool = True) -> None:
        """Queue changes (any thread)."""
        with self.lock:
            batch = list(changes)
            if not batch:
                return
            now = time.monotonic()
            if not self._pending:
                self._first = now
                since = max(self._taken, self._applied)  # the last take, or its reload's end
                self._burst = self._applying or now - since < _BURST_QUIET
            for path, complete in batch:
                self._pending[path] = None
                if complete:
                    self._incomplete.discard(path)
                else:
                    self._incomplete.add(path)
            self._last = now
            if forward:
                self._forward(batch)
            self.lock.notify_all()

    def take(self, *, written: bool = False) -> list[str]:
        """Every pending path, now; nothing is pending afterwards.

        ``written``: only once no pending file is still being written (the last event of each
        was final: closed after writing, or renamed into place) or the debounce has passed
        since the last event (``[]`` and everything stays pending otherwise): ``check()`` never
        executes a file truncated for an in-place save and not yet written."""
        with self.lock:
            # (a rescan compares files with what was loaded: due for check() at once, as ever)
            if written and self._incomplete and self._incomplete != {RESCAN_ALL}:
                debounce = self.debounce
                due = min(self._last + debounce, self._first + max_delay(debounce))
                if time.monotonic() < due:
                    return []
            paths = list(self._pending)
            self._pending.clear()
            self._incomplete.clear()
            self._taken = time.monotonic()
            self._applying = bool(paths)
            return paths

    def applied(self) -> None:
        """The reload of the paths ``take()`` returned has ended (applied or not)."""
        with self.lock:
            self._applying = False
            self._applied = time.monotonic()
            self.lock.notify_all()

    def _due(self) -> float:
        debounce = self.debounce
        latest = self._first + max_delay(debounce)  # a file written without pause reloads
        if self._incomplete:
            return min(self._last + debounce, latest)
        if self._burst:
            # quiet for that long after the last event and after the reload that ran while
            # they came (not capped by the debounce from the last event, which a reload longer
            # than the debounce has passed already): a long reload starves the writer (a
            # checkout) and the watcher's thread of the GIL and of the CPU, and the burst goes
            # on once it ends
            last = max(self._last, self._applied)
            return min(last + min(debounce, _BURST_QUIET), latest)
        return min(self._last + min(debounce, _COMPLETE_QUIET), latest)

    def wait_due(self, timeout: float | None = None) -> bool:
        """Block until pending changes are due (True), or until ``stop()`` or ``timeout``
        seconds (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while not self._pending and not self.stopping:
                if deadline is None:
                    self.lock.wait()
                elif not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    return False
            while not self.stopping:
                now = time.monotonic()
                remaining = self._due() - now
                if remaining <= 0:
                    return True
                if deadline is not None:
                    if now >= deadline:
                        return False
                    remaining = min(remaining, deadline - now)
                self.lock.wait(remaining)
            return False

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self.lock.notify_all()

    def restart(self) -> None:
        with self.lock:
            self.stopping = False
