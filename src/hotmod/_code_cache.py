"""Compiled code of watched modules, kept in memory between reloads.

Re-executing an unchanged dependent should cost its execution, not a trip through the import
system's bytecode cache (stat, read, validate and unmarshal the ``.pyc``). The cache holds the code
object of every module hotmod has re-executed, with the ``__spec__`` object of the module it ran
in: a module re-executed by anything else (``importlib.reload``, IPython's autoreload, a re-import
after ``del sys.modules[name]``) gets a new spec from the import system, and is then compiled
again from its file as it is now, which is what that other re-execution ran. Changed files are
always compiled from the exact bytes hotmod read and hashed, never from a ``.pyc``: CPython
trusts a ``.pyc`` whose recorded mtime (in whole seconds) and size match the source, so a quick
same-size edit would run old bytecode.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable
from importlib.machinery import SourceFileLoader
from types import CodeType, ModuleType

__all__ = [
    "DISCARDED",
    "CodeCache",
    "CodeLoader",
    "blake2b",
    "discard_bytecode",
    "spec_of",
    "stat_key",
]

StatKey = int

try:  # hashlib's own, without hashlib's import of OpenSSL (some milliseconds at `import hotmod`)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another interpreter
    from hashlib import blake2b


def stat_key(st: os.stat_result) -> StatKey:
    """What identifies one version of a file without reading it: modification and change
    times, size and inode, hashed into one int (kept for every watched file, so small)."""
    return hash((st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))


def spec_of(module: object) -> object:
    """The ``__spec__`` in a module's globals: what identifies one execution of the module.

    hotmod gives a module it re-executes the spec object of the module it replaces; the import
    system (an import, ``importlib.reload``) sets a spec it has just found. None for an object
    that is not a module (read from its type, so no attribute hook of a user object runs).
    """
    if not issubclass(type(module), ModuleType):
        return None
    return module.__dict__.get("__spec__")


class CodeLoader(SourceFileLoader):
    """A ``SourceFileLoader`` that hands out one prepared code object, then behaves normally.

    Modules re-executed by hotmod keep this loader as ``__loader__``; it is a real
    ``SourceFileLoader`` (``get_source``, resources, ``importlib.reload`` all work) and holds no
    reference to hotmod's cache once its code has been used.
    """

    def __init__(self, fullname: str, path: str, code: CodeType | None) -> None:
        super().__init__(fullname, path)
        self._prepared = code

    def get_code(self, fullname: str) -> CodeType:
        code, self._prepared = self._prepared, None
        if code is not None:
            return code
        return super().get_code(fullname)  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceFileLoader) and (self.name, self.path) == (
            other.name,
            other.path,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.path))


def discard_bytecode(source_path: str) -> None:
    """Make the ``.pyc`` of a changed source invalid, so no later import or process trusts it.

    Its magic number is overwritten with zeros (``DISCARDED``): the import system takes it for
    another Python's bytecode, compiles the source and writes the ``.pyc`` again. Not removed:
    its time stamp, the moment of the discard, is the evidence a process that imported the
    module from the old ``.pyc`` before then (another worker, just started) needs to tell so
    (``hotmod._sources.runs_current_file``); a missing ``.pyc`` says nothing of what an import
    found. Not emptied either: ext4 flushes a file truncated to nothing at once (some 0.4 ms
    for a ``.pyc`` written at the module's import, on every first reload of a file), where
    four bytes written in place cost an open. None is created where there was none.
    """
    try:
        cached = _bytecode_path(source_path, sys.pycache_prefix)
        st = os.stat(cached)
        if not st.st_size or _discarded.get(cached) == (st.st_ino, st.st_mtime_ns, st.st_size):
            return  # discarded already (empty: by an earlier hotmod), its time kept
        fd = os.open(cached, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        try:
            # Already discarded by another process: left as it is, its time the moment no
            # import could trust it any more.
            if os.pread(fd, len(DISCARDED), 0) != DISCARDED:
                os.pwrite(fd, DISCARDED, 0)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        _discarded[cached] = (st.st_ino, st.st_mtime_ns, st.st_size)
    except (OSError, ValueError, NotImplementedError):  # no .pyc (the usual case), or none here
        pass


@functools.lru_cache(maxsize=4096)
def _bytecode_path(source_path: str, prefix: str | None) -> str:
    """``importlib.util.cache_from_source``, once per file (and ``sys.pycache_prefix``)."""
    return importlib.util.cache_from_source(source_path)


# What a discarded .pyc starts with instead of the magic number.
DISCARDED = bytes(4)
# .pyc discarded by this process -> its stat then: unchanged since, it needs no second look
_discarded: dict[str, tuple[int, int, int]] = {}


class CodeCache:
    """The code each watched module was loaded from, by module name.

    An entry is always the code of the file version the running module came from: the
    reloader replaces it when a change is applied and drops it when the module is no longer
    loaded. So a dependent that is re-executed costs one dict lookup, no file access; an edit
    to its file that is not applied yet is a change of its own, applied as such. An entry
    holds the spec of the module the code ran in, and serves only a module with that spec:
    one re-executed by someone else is not running this code any more.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[CodeType, object]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, name: str, module: object) -> CodeType | None:
        """The code ``module`` (the live module ``name``) was loaded from, when in memory."""
        entry = self._entries.get(name)
        if entry is None or entry[1] is not spec_of(module):
            return None
        return entry[0]

    def put(self, name: str, code: CodeType, module: object) -> None:
        """Record the code ``module`` (now the live module ``name``) runs."""
        spec = spec_of(module)
        if spec is None:
            self._entries.pop(name, None)
        else:
            self._entries[name] = (code, spec)

    def forget(self, name: str) -> None:
        """Drop the entry of a module."""
        self._entries.pop(name, None)

    def code_for(
        self,
        name: str,
        module: object,
        loader: SourceFileLoader,
        loaded: Callable[[], StatKey | None],
        *,
        verify: bool = False,
    ) -> tuple[CodeType, StatKey | None]:
        """The code an unchanged module re-executes.

        Args:
            name: the module.
            module: the live module of that name (the new one runs with its spec).
            loader: its loader, used on a miss.
            loaded: returns the stat signature of the version the module was loaded from
                (called on a miss, or with ``verify``).
            verify: serve the code kept in memory only if the file is still that version.

        Returns:
            ``(code, newer)``. ``newer`` is None when the code is the loaded version's.
            Otherwise the file changed since it was loaded (an edit not applied yet): the code
            is compiled from the file as it is now (a ``.pyc`` written for an older version can
            look valid), ``newer`` is that version's signature, and it is not cached: the
            caller puts it once the reload that runs it succeeds.
        """
        code = self.cached(name, module)
        if code is not None and not verify:
            return code, None
        path = loader.path
        try:
            current: StatKey | None = stat_key(os.stat(path))
        except OSError:
            current = None
        if current is None or current == loaded():
            if code is not None:
                return code, None
            code = SourceFileLoader.get_code(loader, name)
            if not isinstance(code, CodeType):  # pragma: no cover - defensive
                raise ImportError(f"no code for {name} from {path}", name=name)
            self.put(name, code, module)
            return code, None
        return compile(loader.get_data(path), path, "exec", dont_inherit=True), current
