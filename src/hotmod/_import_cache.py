"""Parsed imports kept across processes, so a Reloader's start-up reads and parses only the
files that changed since the last start.

One cache file per interpreter and set of watched roots, in the user's cache folder (never in
the source tree): ``$HOTMOD_CACHE_DIR``, else ``$XDG_CACHE_HOME/hotmod``, else
``~/.cache/hotmod``; ``HOTMOD_CACHE_DIR=""`` turns it off. An entry is used only for the very
file version it was made from: the file's stat signature (modification and change times in
nanoseconds, size, inode: any write changes the change time, which no tool can set back) must be
the one recorded, and the module name and kind the ones it was parsed as (relative imports
depend on them). Otherwise the file is read and parsed again, and the content digest it had
then is not trusted either.

Several processes may share a file: each reads it whole at start-up, and writes a complete new
file next to it and renames it over the old one (``os.replace`` is atomic), so a reader sees
one writer's file or another's, never a mix. A file that cannot be read or decoded is ignored
(and replaced at the next write); writing is best effort and never fails a reload.
"""

from __future__ import annotations

import atexit
import logging
import marshal
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

from hotmod._code_cache import StatKey, blake2b

__all__ = ["Entry", "ImportCache", "default_cache_dir"]

logger = logging.getLogger(__name__)

# Bumped whenever the parser's output or this format changes: old files are simply not read.
_FORMAT = 1

# (module name, is a package, content digest, imports at import time, imports in functions)
Entry = tuple[str, bool, bytes, tuple[str, ...], tuple[str, ...]]


def default_cache_dir() -> Path | None:
    """Where cache files go (see the module docstring); None when turned off."""
    configured = os.environ.get("HOTMOD_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hotmod"


class ImportCache:
    """The entries of one cache file, by real path.

    Args:
        roots: the watched folders and files: they name the cache file.
        folder: where cache files go; None keeps nothing across processes.
    """

    def __init__(self, roots: Iterable[Path], folder: Path | None) -> None:
        self._entries: dict[str, tuple[StatKey, Entry]] = {}
        self._dirty = False
        # called first by save(): puts in what its owner left to parse later (a Reloader's
        # edited files, parsed when its graph is next consulted)
        self.before_save: Callable[[], None] | None = None
        self._file: Path | None = None
        if folder is None:
            return
        digest = blake2b(
            "\0".join(sorted(map(str, roots))).encode("utf-8", "surrogateescape"), digest_size=8
        ).hexdigest()
        tag = sys.implementation.cache_tag or "python"
        self._file = folder / f"imports-{tag}-v{_FORMAT}-{digest}.marshal"
        self._load()
        _open.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self) -> None:
        assert self._file is not None
        try:
            data = self._file.read_bytes()
        except OSError:
            return
        try:
            loaded = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            logger.debug("ignoring an unreadable import cache %s", self._file)
            return
        if isinstance(loaded, dict):
            self._entries = loaded

    def get(self, path: str, key: StatKey, name: str, is_package: bool) -> Entry | None:
        """The entry of ``path`` if it was made from this very version, as this module."""
        found = self._entries.get(path)
        if found is None or found[0] != key:
            return None
        entry = found[1]
        if entry[0] != name or entry[1] is not is_package:
            return None
        return entry

    def put(self, path: str, key: StatKey, entry: Entry) -> None:
        if self._entries.get(path) != (key, entry):
            self._entries[path] = (key, entry)
            self._dirty = True

    def save(self) -> None:
        """Write the entries if any changed (best effort: errors are logged at debug level)."""
        if self._file is None:
            return  # (the cache is off: nothing pending is parsed for it)
        before = self.before_save
        if before is not None:
            try:
                before()
            except Exception as exc:  # at exit: nothing to report it to but the log
                logger.debug("could not parse the pending files for %s: %s", self._file, exc)
        if not self._dirty:
            return
        self._dirty = False
        folder = self._file.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # a name of this writer's own (no tempfile: its import costs more than all this)
            temporary = str(folder / f".imports-{os.getpid()}-{os.urandom(6).hex()}")
            handle = os.open(temporary, _CREATE_FLAGS, 0o600)
            try:
                with os.fdopen(handle, "wb") as file:
                    marshal.dump(self._entries, file)
                os.replace(temporary, self._file)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, ValueError) as exc:
            logger.debug("could not write the import cache %s: %s", self._file, exc)


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

# Caches with entries added since they were written (files parsed again after an edit): written
# when the process exits, so the next start does not parse them again.
_open: weakref.WeakSet[ImportCache] = weakref.WeakSet()


@atexit.register
def _save_open_caches() -> None:
    for cache in list(_open):
        cache.save()
