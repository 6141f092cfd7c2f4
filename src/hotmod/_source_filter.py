"""Decide whether a file-system path is a Python source file hotmod should react to.

Pure functions, no watchdog and no threads: the watcher calls :func:`is_source_path`
(through a precompiled :class:`SourceFilter`) once per file-system event, so the hot path
avoids regexes, ``pathlib`` objects and ``realpath`` calls.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["SourceFilter", "is_source_path"]

# Windows also accepts "/" in a path; os.path.abspath turns it into "\\", so after abspath
# splitting on os.sep alone is enough.
_SEP: Final = os.sep

_SOURCE_SUFFIX: Final = ".py"

# Directory names that never hold importable sources, wherever they appear below a root.
# (Hidden names -- ".git", ".venv", ".mypy_cache", ... -- are caught by the leading-dot rule.)
_IGNORED_DIR_NAMES: Final = frozenset({"__pycache__"})

# Editor scratch files. Every one of these already fails the ".py" suffix test, so they are
# documentation as much as protection -- but being explicit keeps the rules true even if the
# accepted suffixes ever grow (".pyw", ".pyi", ...).
_IGNORED_SUFFIXES: Final = (
    ".pyc",
    ".pyo",
    ".swp",  # vim swap
    ".swx",  # vim swap (second generation)
    "~",  # vim / emacs backup: "x.py~"
    ".tmp",  # generic atomic-save temp: "x.py.tmp"
    "___jb_tmp___",  # JetBrains safe write: new content written here, then renamed onto x.py
    "___jb_old___",  # JetBrains safe write: previous x.py parked here, then deleted
)
_IGNORED_NAMES: Final = frozenset({"4913"})  # vim probes directory writability with this name


def _is_ignored_name(name: str) -> bool:
    """True for file names that are editor/VCS scratch files or not Python sources."""
    if not name.endswith(_SOURCE_SUFFIX):
        return True
    # ".#x.py" (emacs lock) and every other dot-file are covered by the leading-dot rule.
    if name.startswith("."):
        return True
    if name.startswith("#") and name.endswith("#"):  # emacs auto-save "#x.py#"
        return True
    return name in _IGNORED_NAMES or name.endswith(_IGNORED_SUFFIXES)


def _norm(path: str) -> str:
    # normcase is the identity on POSIX; on Windows it folds case and slashes so that
    # comparisons match the case-insensitive file system.
    return os.path.normcase(os.path.abspath(path))


class SourceFilter:
    """A precompiled :func:`is_source_path` for a fixed set of roots.

    Each root is stored in both its absolute (symlinks kept) and its resolved
    (``os.path.realpath``) form, so a path reported through either spelling matches.
    Roots are resolved once, here; if a symlink is later re-pointed, build a new filter.

    A root is either a directory (every ``.py`` file below it, at any depth, matches unless
    ignored) or a single file (only that exact path matches). The distinction needs no
    ``stat``: a file root can only ever equal a path, never prefix one.
    """

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        exact: dict[str, None] = {}  # dicts keep insertion order and drop duplicates
        for root in roots:
            raw = os.fspath(root)
            for form in (_norm(raw), os.path.normcase(os.path.realpath(raw))):
                exact[form] = None
        self._exact: frozenset[str] = frozenset(exact)
        # Trailing separator so "/a/pkg" does not claim "/a/pkg2/x.py". A root that already
        # ends in a separator ("/" or "C:\\") must not get a second one.
        self._prefixes: tuple[str, ...] = tuple(
            form if form.endswith(_SEP) else form + _SEP for form in exact
        )

    def __call__(self, path: str | os.PathLike[str]) -> bool:
        """Return True if *path* is a non-ignored ``.py`` file inside one of the roots."""
        raw = os.fspath(path)
        # Cheapest test first: the vast majority of events on a busy tree are for non-.py
        # files (editor temp files, .pyc, .git objects) and die here without abspath().
        if _is_ignored_name(os.path.basename(raw)):
            return False
        verdict = self._match(_norm(raw))
        if verdict is None:
            # Not inside any root as spelled; maybe it is reached through a symlink
            # (e.g. "/link/pkg/x.py" with root "/real/pkg"). Only paths that already failed
            # the cheap test pay for realpath(), and the watcher never produces such paths
            # for directory roots because it reports paths in the roots' own spelling.
            resolved = os.path.normcase(os.path.realpath(raw))
            verdict = self._match(resolved)
        return bool(verdict)

    def _match(self, path: str) -> bool | None:
        """True: accepted by some root. False: inside a root but ignored. None: in no root."""
        if path in self._exact:
            return True
        inside = False
        for prefix in self._prefixes:
            if path.startswith(prefix):
                inside = True
                # Only components *below* the root count: a project living under
                # "~/.local/src/proj" is fine, "proj/.venv/..." is not. Nested roots are
                # each given their chance, so root "/a/.hidden/pkg" still accepts its files
                # even when root "/a" rejects them.
                rel_dirs = path[len(prefix) :].split(_SEP)[:-1]
                if not any(part.startswith(".") or part in _IGNORED_DIR_NAMES for part in rel_dirs):
                    return True
        return False if inside else None


@functools.lru_cache(maxsize=32)
def _compiled(roots: tuple[str, ...], cwd: str) -> SourceFilter:
    del cwd  # only part of the cache key
    return SourceFilter(roots)


def is_source_path(path: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]]) -> bool:
    """Return True if *path* is a Python source file (``.py``) hotmod should watch.

    *path* must lie inside one of *roots* (a directory root contains every file below it;
    a file root contains only itself) and must not be ignored. Ignored are: anything under
    ``__pycache__``; any path with a hidden component (leading ``.``) below its root, such as
    ``.git``, ``.venv`` or ``.mypy_cache``; compiled files (``.pyc``/``.pyo``); and editor
    scratch files (``*.swp``, ``*.swx``, ``*~``, ``.#*``, ``#*#``, vim's ``4913`` probe,
    ``*.tmp``, JetBrains ``*___jb_tmp___``/``*___jb_old___``).

    Paths and roots are compared in absolute, normalised form; roots are additionally
    compared in resolved (symlink-free) form, and *path* is resolved only when it matches
    no root as given. The compiled form of *roots* is cached; callers on a hot path can
    also hold a :class:`SourceFilter` directly.
    """
    key = tuple(os.fspath(r) for r in roots)
    # A relative root means something else after os.chdir(), so the cwd is part of its key.
    cwd = "" if all(os.path.isabs(r) for r in key) else os.getcwd()
    return _compiled(key, cwd)(path)
