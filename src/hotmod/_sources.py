"""What hotmod last loaded of each watched source file: stat signature and content digest.

A file event only says something happened to a file. Comparing the file's stat signature, then
its content digest, with what was last loaded tells a real edit from a touch, a re-save of the
same bytes or a branch switch that restored them: only a real edit reloads.

What each module runs is also kept process-wide (``LOADED``), outliving any one Reloader: a
Reloader created or started later compares every watched file with the version its module was
loaded from, so an edit made while nothing was watching is applied, never taken as the baseline.
A module no Reloader has loaded or seen yet is judged by ``runs_current_file``.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from hotmod._code_cache import DISCARDED, StatKey, blake2b, spec_of, stat_key
from hotmod._observed import looked_up

__all__ = [
    "LOADED",
    "LoadedVersions",
    "SourceStore",
    "SourceVersion",
    "open_for_writing",
    "runs_current_file",
]


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
    # os.open and os.read, not open(): a buffered file object costs two more system calls,
    # and a file just saved (the usual case) takes some 30 us to open that way, 12 us here.
    fd = os.open(path, _READ_FLAGS)
    try:
        status = os.fstat(fd)
        key = stat_key(status)
        data = os.read(fd, status.st_size + 1)
        if len(data) != status.st_size:  # a short read, or the file changed: to the end
            parts = [data]
            while chunk := os.read(fd, 1 << 16):
                parts.append(chunk)
            data = b"".join(parts)
    finally:
        os.close(fd)
    return data, SourceVersion(key, blake2b(data, digest_size=16).digest())


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_for_writing(path: str) -> bool:
    """Whether some process has ``path`` open for writing now (a save under way), where the
    system can tell: Linux grants a read lease on a file only while nobody has it open for
    writing. False when unknown (another system, a file system without leases, a file of
    another user, which only its owner may lease).

    The lease is given back at once. A writer opening the file in between waits for that (some
    microseconds), and the kernel signals the lease's holder: SIGURG, ignored unless handled,
    instead of the default SIGIO, which would end this process.
    """
    if sys.platform != "linux":
        return False
    import fcntl
    import signal

    setlease = getattr(fcntl, "F_SETLEASE", None)
    setsig = getattr(fcntl, "F_SETSIG", None)
    if setlease is None or setsig is None:
        return False
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return False
    try:
        fcntl.fcntl(fd, setsig, signal.SIGURG)
        fcntl.fcntl(fd, setlease, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    else:
        fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


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


class LoadedVersions:
    """The version of its file each loaded module was executed from, for the whole process.

    An entry is kept with the ``__spec__`` of the module it describes (see
    ``hotmod._code_cache.spec_of``) and is only believed for a module with that spec: a module
    re-executed by something other than hotmod (``importlib.reload``, a re-import) gets a new
    one, and its entry no longer counts.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, str, SourceVersion]] = {}
        # changed modules a reload is executing now: (path, version), by name
        self._executing: dict[str, tuple[str, SourceVersion]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def executing(self, versions: Mapping[str, tuple[str, SourceVersion]]) -> Iterator[None]:
        """While a reload executes new versions of changed modules: a Reloader created by
        their code (a ``hotmod.watch()`` call with edited options) sees those versions as the
        ones loaded, not the versions they replace (the re-executed module keeps the spec of
        the one it replaces, so the entry of that one would still match)."""
        self._executing.update(versions)
        try:
            yield
        finally:
            for name in versions:
                self._executing.pop(name, None)

    @property
    def busy(self) -> bool:
        """Whether a reload is executing changed modules now (see ``executing``)."""
        return bool(self._executing)

    def get(self, name: str, module: object, path: str) -> SourceVersion | None:
        """The version of ``path`` that ``module`` (the live module ``name``) runs, if known."""
        running = self._executing.get(name)
        if running is not None and running[0] == path:
            return running[1]
        entry = self._entries.get(name)
        if entry is None or entry[1] != path or entry[0] is not spec_of(module):
            return None
        return entry[2]

    def record(self, name: str, module: object, path: str, version: SourceVersion) -> None:
        """Record that ``module`` (now the live module ``name``) runs ``version`` of ``path``."""
        spec = spec_of(module)
        if spec is None:
            self._entries.pop(name, None)
        else:
            self._entries[name] = (spec, path, version)

    def forget(self, name: str) -> None:
        """Drop the entry of a module that is no longer loaded."""
        self._entries.pop(name, None)


LOADED = LoadedVersions()


def runs_current_file(
    name: str, module: object, path: str, data: bytes | None, st: os.stat_result | None = None
) -> bool:
    """Whether a module that hotmod never loaded runs its file as it is now (``data``).

    True only when the evidence says so; False means "not known" (the caller then reloads the
    module once, which at worst re-executes it unchanged). Both must hold:

    1. The file has not changed since before the module was imported: its last change (the
       later of mtime and, outside Windows, ctime, which no tool can set back) is older, by
       more than the file system's time stamps can lag (``_stamp_margin``), than a time before
       the import: when the import system last looked for the module while it was
       not loaded (noted from hotmod's import on), else the process start (known on Linux).
    2. Its ``.pyc`` does not disagree: the source mtime and size (or hash) recorded in the
       header of ``__cached__`` are the file's now. This also catches an edit after the import
       on a file system whose clock is not the machine's (network drives). A discarded
       ``.pyc`` (by a reload in another process, ``discard_bytecode``) must have been
       discarded before that time: else the import may have run the old bytecode it held
       until then.
       (A ``.pyc`` deleted by something else leaves no evidence and is taken for none.)

    Call it after ``data`` was read (None: not read, the stat signature of the version known
    was taken): a change since then makes the stat newer, never older. ``st``: the file's stat
    taken for that (after the version known was read or described), saving a second one.
    """
    since = looked_up(name)
    if since is None:
        since = _process_start()
    if since is None:
        return False
    if st is None:
        try:
            st = os.stat(path)
        except OSError:
            return False
    last_change = st.st_mtime if os.name == "nt" else max(st.st_mtime, st.st_ctime)
    if last_change >= since - _stamp_margin(st):
        return False
    return not _bytecode_disagrees(module, path, st, data, since)


def _stamp_margin(st: os.stat_result) -> float:
    """How much earlier than the moment of a change its file's times can read.

    Files are stamped with the kernel's clock as of its last tick (Linux: 1-10 ms behind
    ``time.time()``; Windows: up to 16 ms), so a change saved within a tick after the import
    began can carry a time before it; some file systems keep whole seconds (FAT: two). Such a
    change would pass condition 1 of ``runs_current_file``, and a same-size one made in the
    same tick as the ``.pyc`` would pass condition 2 too.
    """
    return 2.0 if st.st_mtime_ns % 1_000_000_000 == 0 else 0.02


def _bytecode_disagrees(
    module: object, path: str, st: os.stat_result, data: bytes | None, since: float
) -> bool:
    """Whether the module's ``.pyc`` describes another version of its source, or was discarded
    (``discard_bytecode``: another process reloaded an edit) after ``since``, a time before
    the import: the import may have run the old bytecode it held until then."""
    spec = spec_of(module)
    cached = getattr(spec, "cached", None) if spec is not None else None
    if not isinstance(cached, str):
        return False
    try:  # os-level calls: this runs for every module a Reloader finds at its construction
        fd = os.open(cached, os.O_RDONLY)
    except OSError:
        return False
    try:
        header = os.read(fd, 16)
        cached_st = os.fstat(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    written = cached_st.st_mtime_ns
    if not header or header[:4] == DISCARDED:
        # discarded at `written` (emptied, by an earlier hotmod): found so by an import that
        # began later, which compiled the source
        return written / 1e9 >= since - _stamp_margin(cached_st)
    if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER:
        return False  # no bytecode, or another Python's: no evidence either way
    if int.from_bytes(header[4:8], "little") & 1:  # PEP 552 hash-based .pyc
        if data is None:
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                return True  # cannot tell: not proven
        return header[8:16] != importlib.util.source_hash(data)
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    if (mtime, size) != (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF):
        return True
    # The header matches, but the source was written after the .pyc: an edit of the same size
    # in the same second, which CPython's check (whole seconds and size) takes for the version
    # the .pyc was compiled from. The import may have run that stale bytecode: not proven.
    return st.st_mtime_ns > written


@cache
def _process_start() -> float | None:
    """When this process started, on Linux (rounded down to a clock tick); None elsewhere.

    Only modules imported before hotmod are judged against it, and no interpreter imports a
    module of yours within the first tick of its life, so the rounding never lets an edit made
    after such an import pass for an older one.
    """
    try:
        with open("/proc/self/stat", "rb") as file:
            fields = file.read()
        # fields after the command name (in parentheses, may hold spaces): state is field 3,
        # starttime (clock ticks after boot) field 22
        ticks = int(fields[fields.rindex(b")") + 2 :].split()[19])
        since_boot = ticks / os.sysconf("SC_CLK_TCK")
        now_since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - (now_since_boot - since_boot)
