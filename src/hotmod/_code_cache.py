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

    def code_for(
        self, name: str, loader: SourceFileLoader, loaded: StatKey | None
    ) -> tuple[CodeType, StatKey | None]:
        """The code of an unchanged module, and the file version it was compiled from.

        From memory, without touching the disk, when the cached version is the ``loaded`` one.
        Otherwise the file is looked at: if it is still the loaded version, ``loader`` reads it
        (``.pyc`` or source, as the import system would); if it changed since it was loaded
        (an edit not applied yet), it is compiled from source, since a ``.pyc`` written for
        an older version may still look valid.
        """
        entry = self._entries.get(name)
        if entry is not None and loaded is not None and entry[0] == loaded:
            return entry[1], loaded
        path = loader.path
        try:
            current: StatKey | None = stat_key(os.stat(path))
        except OSError:
            current = None
        if entry is not None and current is not None and entry[0] == current:
            return entry[1], current
        if current is None or current == loaded:
            code = SourceFileLoader.get_code(loader, name)
        else:
            code = compile(loader.get_data(path), path, "exec", dont_inherit=True)
        if not isinstance(code, CodeType):  # pragma: no cover - defensive
            raise ImportError(f"no code for {name} from {path}", name=name)
        if current is not None:
            self._entries[name] = (current, code)
        return code, current

    def forget(self, name: str) -> None:
        """Drop the entry of a module."""
        self._entries.pop(name, None)
