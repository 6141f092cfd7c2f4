"""What hotmod last loaded of each watched source file: stat signature and content digest.

A file event only says something happened to a file. Comparing the file's stat signature, then
its content digest, with what was last loaded tells a real edit from a touch, a re-save of the
same bytes or a branch switch that restored them: only a real edit reloads.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from hotmod._code_cache import StatKey, stat_key

__all__ = ["SourceStore", "SourceVersion"]


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """One version of a source file."""

    key: StatKey
    digest: bytes


def read_source(path: str) -> tuple[bytes, SourceVersion]:
    """Read a file and describe the version read.

    The signature is taken before reading: if the file changes meanwhile, the signature is the
    older one, so the next look sees a difference instead of trusting stale bytes.
    """
    with open(path, "rb") as file:
        key = stat_key(os.fstat(file.fileno()))
        data = file.read()
    return data, SourceVersion(key, hashlib.blake2b(data, digest_size=16).digest())


class SourceStore:
    """The loaded version of each watched file, by real path."""

    def __init__(self) -> None:
        self._loaded: dict[str, SourceVersion] = {}

    def __len__(self) -> int:
        return len(self._loaded)

    def loaded(self, path: str) -> SourceVersion | None:
        """The version of ``path`` the running code came from, if known."""
        return self._loaded.get(path)

    def set_loaded(self, path: str, version: SourceVersion) -> None:
        """Record that the running code of ``path`` came from ``version``."""
        self._loaded[path] = version

    def forget(self, path: str) -> None:
        """Forget a file (its module is no longer loaded)."""
        self._loaded.pop(path, None)

    def changed(self, path: str) -> tuple[bytes, SourceVersion] | None:
        """The file's bytes and version when its content differs from the loaded one.

        Returns None for a file whose content is what was loaded (its new stat signature is
        remembered, so the next check is a single ``stat``).

        Raises:
            OSError: the file cannot be read (deleted meanwhile, permissions).
        """
        loaded = self._loaded.get(path)
        if loaded is not None and stat_key(os.stat(path)) == loaded.key:
            return None
        data, version = read_source(path)
        if loaded is not None and version.digest == loaded.digest:
            self._loaded[path] = version
            return None
        return data, version
