"""Compiled code of watched modules, kept in memory between reloads.

Re-executing an unchanged dependent should cost its execution, not a trip through the import
system's bytecode cache (stat, read, validate and unmarshal the ``.pyc``). The cache holds the code
object of every module hotmod has re-executed, keyed by the source file's stat signature; a file
that changed on disk is compiled again. Changed files are always compiled from the exact bytes
hotmod read and hashed, never from a ``.pyc``: CPython trusts a ``.pyc`` whose recorded mtime (in
whole seconds) and size match the source, so a quick same-size edit would run old bytecode.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from importlib.machinery import SourceFileLoader
from types import CodeType

__all__ = ["CodeCache", "CodeLoader", "discard_bytecode", "stat_key"]

StatKey = tuple[int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    """What identifies one version of a file without reading it."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


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
    """Remove the ``.pyc`` of a changed source so no later import or process trusts it."""
    with contextlib.suppress(OSError, ValueError, NotImplementedError):
        os.unlink(importlib.util.cache_from_source(source_path))


class CodeCache:
    """Code objects by module name, each valid for one version (stat signature) of its file.

    The version is the one the running code was loaded from (the reloader knows it without a
    ``stat``): a dependent that is re-executed runs the code it was loaded from, and a change to
    its file is a change of its own, applied as such.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[StatKey, CodeType]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, name: str, key: StatKey, code: CodeType) -> None:
        """Remember the code compiled from version ``key`` of the module's file."""
        self._entries[name] = (key, code)

    def code_for(self, name: str, loader: SourceFileLoader, key: StatKey | None) -> CodeType:
        """The code of an unchanged module: from memory when ``key`` is the cached version,
        else from ``loader`` (which reads the ``.pyc`` or compiles the source)."""
        entry = self._entries.get(name)
        if entry is not None and key is not None and entry[0] == key:
            return entry[1]
        if key is None:
            try:
                key = stat_key(os.stat(loader.path))
            except OSError:
                key = None
        code = SourceFileLoader.get_code(loader, name)
        if not isinstance(code, CodeType):  # pragma: no cover - defensive
            raise ImportError(f"no code for {name} from {loader.path}", name=name)
        if key is not None:
            self._entries[name] = (key, code)
        return code

    def forget(self, name: str) -> None:
        """Drop the entry of a module."""
        self._entries.pop(name, None)
