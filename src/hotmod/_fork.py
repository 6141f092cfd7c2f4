"""Changes seen by a watching process reach the processes forked from it.

A watcher's threads do not survive ``os.fork()``: a child (a gunicorn worker forked from a
``--preload`` master, a ``multiprocessing`` fork-pool worker) would keep running the code it was
forked with, silently. One watcher serves the whole process tree instead. At each fork a running
Reloader opens a pipe to the child; every path its watcher reports (or that it received from its
own parent) is written into the pipes of its children, and a child applies what it reads at its
own safe points, exactly as it applies its own watcher's events: each file is compared with the
version the child's module was loaded from, so a change the parent applied before the fork is not
applied twice and one it applied after is not missed.

Wire format: one record per change, ending in a NUL byte (no path contains NUL): ``1`` or
``0`` (the event said the save is complete, or not), then the path in the file-system encoding.
The record ``0`` with no path means "compare every watched file", sent after a child's pipe was
full and a message to it was dropped.

This module knows nothing of the Reloader: it tracks objects with three hook methods
(``Forkable``) and calls them around ``os.fork()``.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import weakref
from typing import Protocol

__all__ = ["Forkable", "ParentPipe", "Pipes", "track", "untrack"]

_RESCAN = b"0\0"
_PIPE_BUF = getattr(select, "PIPE_BUF", 512)  # POSIX guarantees at least 512


class Forkable(Protocol):
    """What ``track()`` takes: the hooks run around every ``os.fork()`` of the process."""

    def _before_fork(self) -> None: ...

    def _after_fork_in_parent(self) -> None: ...

    def _after_fork_in_child(self) -> None: ...


class Pipes:
    """The write ends of the pipes to the children forked while a Reloader was running."""

    def __init__(self) -> None:
        self._children: list[int] = []
        self._overflowed: set[int] = set()
        self._opening: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self._children)

    def open(self) -> None:
        """Before a fork: the pipe the next child gets."""
        self._opening = os.pipe()

    def forked_parent(self) -> None:
        """After a fork, in the parent: keep the write end."""
        if self._opening is None:
            return
        read, write = self._opening
        self._opening = None
        os.close(read)
        os.set_blocking(write, False)  # a child that stops reading never blocks the watcher
        self._children.append(write)

    def forked_child(self) -> ParentPipe | None:
        """After a fork, in the child: the read end; the siblings' write ends are closed."""
        for fd in self._children:
            _close(fd)
        self._children = []
        self._overflowed.clear()
        if self._opening is None:
            return None
        read, write = self._opening
        self._opening = None
        os.close(write)
        return ParentPipe(read)

    def send(self, changes: list[tuple[str, bool]]) -> None:
        """Write ``(path, complete)`` changes to every child; a child that exited is forgotten.

        Every write is at most ``PIPE_BUF`` bytes, which a pipe takes whole or not at all: a
        longer message is sent as "compare everything", and so is the next message to a child
        whose pipe was full (that child is busy; it compares every file when it reads again).
        """
        if not self._children:
            return
        message = b"".join(
            (b"1" if complete else b"0") + os.fsencode(path) + b"\0" for path, complete in changes
        )
        if len(message) >= _PIPE_BUF:
            message = _RESCAN
        for fd in list(self._children):
            data = message
            if fd in self._overflowed:
                data = _RESCAN
            try:
                os.write(fd, data)
            except BlockingIOError:
                self._overflowed.add(fd)
            except OSError:  # BrokenPipeError: the child exited
                self._children.remove(fd)
                self._overflowed.discard(fd)
                _close(fd)
            else:
                self._overflowed.discard(fd)

    def close(self) -> None:
        for fd in self._children:
            _close(fd)
        self._children = []
        self._overflowed.clear()


class ParentPipe:
    """The read end of the pipe from the parent process, in a forked child."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self._partial = b""
        self.closed = False

    def receive(self) -> list[tuple[str, bool]] | None:
        """The ``(path, complete)`` changes the parent sent since the last call ([] if none);
        None once the parent closed its end (it exited or stopped watching)."""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                break
            chunks.append(chunk)
        if not chunks:
            return None if self.closed else []
        data = self._partial + b"".join(chunks)
        *records, self._partial = data.split(b"\0")
        return [(os.fsdecode(record[1:]), record[:1] == b"1") for record in records]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _close(self.fd)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


_tracked: weakref.WeakSet[Forkable] = weakref.WeakSet()
_tracked_lock = threading.Lock()
_registered = False


def track(reloader: Forkable) -> None:
    """Run ``reloader``'s fork hooks around every later ``os.fork()`` of this process."""
    global _registered
    with _tracked_lock:
        _tracked.add(reloader)
        if not _registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
            )
            _registered = True


def untrack(reloader: Forkable) -> None:
    with _tracked_lock:
        _tracked.discard(reloader)


# Hooks run in the forking thread with the GIL held. The lock stays held across the fork so
# the set cannot change between `before` and `after`; it is released in both processes.
_forking: list[Forkable] = []


def _before() -> None:
    _tracked_lock.acquire()
    _forking[:] = list(_tracked)
    for reloader in _forking:
        reloader._before_fork()


def _after_in_parent() -> None:
    try:
        for reloader in _forking:
            reloader._after_fork_in_parent()
    finally:
        _forking.clear()
        _tracked_lock.release()


def _after_in_child() -> None:
    try:
        for reloader in _forking:
            reloader._after_fork_in_child()
    finally:
        _forking.clear()
        _tracked_lock.release()
