"""Evict modules from the live module dict and re-import them, all or nothing.

This is the only part of hotmod that writes to the module dict. One transaction:

1. prepares the code of every module to re-execute (compiling changed files: a syntax error
   stops the reload here, before anything was touched);
2. snapshots each module object and the parent-package attribute that points at it;
3. calls ``__hotmod_dispose__`` hooks, dependents first;
4. evicts the modules, dependents first, holding the import system's locks of those
   modules (as an import of them would: another thread importing one waits);
5. re-imports them, dependencies first (``eager``), through the import system with a finder
   that serves the prepared code, so nested imports of evicted modules get the new versions;
6. on any exception restores every snapshot, removes the modules the failed attempt imported,
   and reports the error: the process keeps running exactly the code it had.
"""

from __future__ import annotations

import _imp
import gc
import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, SourceFileLoader
from types import CodeType, ModuleType
from typing import Any

from hotmod._code_cache import CodeCache, CodeLoader, StatKey, discard_bytecode
from hotmod._module_dict import live_modules, rebound_modules

__all__ = ["Outcome", "Transaction", "previous"]

logger = logging.getLogger(__name__)

_MISSING = object()


# name -> module object being replaced, filled only while a transaction runs.
_previous: dict[str, ModuleType] = {}

# The import system's internals: its per-module locks (the ones `import` takes).
_bootstrap: Any = importlib.import_module("importlib._bootstrap")


def _lock_modules(names: Iterable[str]) -> list[Any]:
    """Take the import system's per-module locks of ``names`` (sorted: a fixed order).

    These, not the interpreter-wide import lock, are what a transaction holds: an import of
    one of these modules in another thread waits for the reload, while the reload's own nested
    imports take the locks of other modules the way any import does. Holding the interpreter-
    wide lock instead inverts the import system's lock order (module lock, then that lock): a
    thread that is importing a module the new code imports too would deadlock with the reload.

    Raises:
        RuntimeError: importlib detected a deadlock (``_DeadlockError``); nothing is held.
    """
    locks: list[Any] = []
    try:
        for name in sorted(set(names)):
            lock = _bootstrap._get_module_lock(name)
            lock.acquire()
            locks.append(lock)
    except BaseException:
        _unlock_modules(locks)
        raise
    return locks


def _unlock_modules(locks: list[Any]) -> None:
    for lock in reversed(locks):
        lock.release()


def previous(name: str) -> ModuleType | None:
    """While module ``name`` re-executes during a reload: the module object it replaces.

    Returns None outside a reload, or for a module that is not being replaced. Use it to carry
    state across reloads::

        import hotmod
        _old = hotmod.previous(__name__)
        cache = _old.cache if _old is not None else {}
    """
    return _previous.get(name)


@dataclass
class Outcome:
    """What a transaction did (the reloader turns it into a ``ReloadResult``)."""

    evicted: tuple[str, ...] = ()
    reloaded: tuple[str, ...] = ()
    error: BaseException | None = None
    rolled_back: bool = False
    imported: tuple[str, ...] = ()  # modules imported for the first time by the new code


def _compile(source: bytes, path: str) -> CodeType:
    """Compile a changed file; a failure is a ``SyntaxError`` naming the file and line.

    Python 3.10 and 3.11 raise ``ValueError`` without a location for a null byte in source.
    """
    try:
        return compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        if exc.filename is None or exc.lineno is None:
            exc.filename = path
            exc.lineno = _null_byte_line(source) or 1
        raise
    except ValueError as exc:
        line = _null_byte_line(source) or 1
        raise SyntaxError(str(exc), (path, line, 1, None)) from exc
    except (RecursionError, MemoryError) as exc:  # nesting too deep for the compiler
        raise SyntaxError(
            f"too deeply nested to compile ({type(exc).__name__}: {exc})", (path, 1, 1, None)
        ) from exc


def _null_byte_line(source: bytes) -> int | None:
    position = source.find(b"\0")
    return None if position < 0 else source.count(b"\n", 0, position) + 1


class _PlanFinder:
    """Meta path finder, first on ``sys.meta_path`` during a transaction.

    Serves specs for the modules being re-imported (so their prepared code runs, even when
    another module's new code imports them first), and records every other name looked up,
    which are the modules the new code imports for the first time.
    """

    def __init__(self, make_spec: Callable[[str], ModuleSpec | None]) -> None:
        self._make_spec = make_spec
        self._thread = threading.get_ident()
        self.requested: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if threading.get_ident() != self._thread:
            return None  # another thread's import: not the new code's
        spec = self._make_spec(fullname)
        if spec is None:
            self.requested.append(fullname)
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


class Transaction:
    """One reload of a planned set of modules.

    Args:
        plan: components (import cycles) in dependency order, from ``ImportGraph.reload_plan``.
        changed: source bytes of the changed modules, by module name; they are compiled from
            these bytes (the code is left in ``compiled``). Modules not listed are unchanged and
            run the code of the version they were loaded from.
        code_cache: where unchanged modules' code comes from.
        version_of: the stat signature of the file version a module was loaded from.
        eager: re-import right away (True) or only evict (False).
        is_watched: whether a module is one of the watched ones (for cleaning up after a
            failed attempt: only watched first-time imports are removed again).
    """

    def __init__(
        self,
        plan: Sequence[tuple[str, ...]],
        *,
        changed: Mapping[str, bytes],
        code_cache: CodeCache,
        version_of: Callable[[str], StatKey | None],
        eager: bool,
        is_watched: Callable[[str, object], bool],
    ) -> None:
        self._plan = plan
        self._order = [name for component in plan for name in component]
        self._in_cycle = {name for component in plan if len(component) > 1 for name in component}
        self._changed = changed
        self._code_cache = code_cache
        self._version_of = version_of
        self.compiled: dict[str, CodeType] = {}
        # unchanged modules whose file changed since they were loaded: they run the new file
        self.newer_files: dict[str, CodeType] = {}
        self._eager = eager
        self._is_watched = is_watched
        self._live = live_modules()
        self._visible = rebound_modules()
        self._old: dict[str, ModuleType] = {}
        self._code: dict[str, CodeType] = {}
        self._parent_attrs: list[tuple[ModuleType, str, object]] = []

    def run(self) -> Outcome:
        """Apply the plan; never raises for errors in user code (see ``Outcome.error``),
        except ``KeyboardInterrupt``, which is re-raised after the rollback."""
        if self._visible is not None:
            logger.warning(
                "sys.modules has been rebound to a dict other than the interpreter's module "
                "dict; hotmod evicts from both, but the import statement only consults the "
                "interpreter's own. Mutate sys.modules instead of rebinding it."
            )
        # The cyclic collector should not walk the whole heap in the middle of a reload: while
        # old and new versions of the modules are both alive it has the most to walk. Objects
        # that exist before the reload are frozen (moved out of the collector's generations)
        # and given back afterwards, so a collection during the reload only looks at what the
        # reload creates; the old modules are collected by a later collection, off the path
        # from save to new code. Not done when the application froze objects itself (a
        # pre-fork server): unfreezing would hand its objects back too.
        freeze = gc.isenabled() and gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        locks: list[Any] = []
        try:
            try:
                locks = _lock_modules(self._order)
            except RuntimeError as exc:  # importlib's _DeadlockError: nothing was touched
                return Outcome(error=exc, rolled_back=True)
            return self._run_locked()
        finally:
            _previous.clear()
            _unlock_modules(locks)
            if freeze:
                gc.unfreeze()

    def _run_locked(self) -> Outcome:
        live = self._live
        self._old = {name: live[name] for name in self._order if name in live}
        order = [name for name in self._order if name in self._old]
        changed, codes, cached, old = self._changed, self._code, self._code_cache.cached, self._old
        try:
            for name in order:
                if name not in changed:
                    if not self._eager:
                        continue
                    code = cached(name, old[name])  # the common case: an unchanged dependent
                    if code is not None:
                        codes[name] = code
                        continue
                # lazy mode compiles the changed files too: a syntax error evicts nothing
                self._prepare(name)
        except Exception as exc:  # user code failed to compile: nothing was touched yet
            return Outcome(error=exc, rolled_back=True)
        evict_order = tuple(reversed(order))
        _previous.update(self._old)
        self._dispose(evict_order)
        finder = _PlanFinder(self._spec_for)
        try:
            self._evict(evict_order)
            if not self._eager:
                # (the changed files' stale .pyc went in _prepare: the next import compiles)
                return Outcome(evicted=evict_order)
            _imp.acquire_lock()  # other threads' imports read sys.meta_path under it
            sys.meta_path.insert(0, finder)
            _imp.release_lock()
            rebound = self._visible is not None
            packages = {name for name in order if "__path__" in self._old[name].__dict__}
            try:
                for name in order:
                    if rebound:
                        self._adopt_visible(name)
                    if name not in live:
                        self._import(name)
                        if rebound:
                            self._adopt_visible(name)
                    if name in packages and name in live:
                        self._rebind_kept_submodules(name, live[name])
            finally:
                _imp.acquire_lock()
                sys.meta_path.remove(finder)
                _imp.release_lock()
        except BaseException as exc:
            self._rollback(finder.requested)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return Outcome(evicted=evict_order, error=exc, rolled_back=True)
        for name in finder.requested:
            self._adopt_visible(name)
        imported = tuple(
            name for name in finder.requested if name in live and self._is_watched(name, live[name])
        )
        return Outcome(evicted=evict_order, reloaded=tuple(order), imported=imported)

    # -- preparation -----------------------------------------------------------------------

    def _prepare(self, name: str) -> None:
        """Compile or fetch the code ``name`` will run, when its loader allows serving it."""
        spec = self._old[name].__dict__.get("__spec__")
        if not isinstance(spec, ModuleSpec) or not isinstance(spec.origin, str):
            return
        loader = spec.loader
        if type(loader) not in (SourceFileLoader, CodeLoader):
            # Another loader (an import hook that instruments code, a zip file, ...) must run
            # its own way: re-import through the normal import system instead.
            if name in self._changed:
                discard_bytecode(spec.origin)
            return
        assert isinstance(loader, SourceFileLoader)
        source = self._changed.get(name)
        if source is not None:
            code = _compile(source, spec.origin)
            self.compiled[name] = self._code[name] = code
            discard_bytecode(spec.origin)
        else:
            code, newer = self._code_cache.code_for(
                name, self._old[name], loader, lambda: self._version_of(name)
            )
            self._code[name] = code
            if newer is not None:
                self.newer_files[name] = code

    def _spec_for(self, name: str) -> ModuleSpec | None:
        code = self._code.get(name)
        if code is None:
            return None
        old_spec: ModuleSpec = self._old[name].__dict__["__spec__"]
        origin = old_spec.origin
        assert isinstance(origin, str)
        locations = old_spec.submodule_search_locations
        spec = ModuleSpec(
            name,
            CodeLoader(name, origin, code),
            origin=origin,
            is_package=locations is not None,
        )
        if locations is not None:
            spec.submodule_search_locations = list(locations)
        spec.cached = old_spec.cached
        spec.has_location = True
        return spec

    # -- the steps -------------------------------------------------------------------------

    def _dispose(self, evict_order: Sequence[str]) -> None:
        for name in evict_order:
            hook = self._old[name].__dict__.get("__hotmod_dispose__")
            if not callable(hook):
                continue
            try:
                hook()
            except KeyboardInterrupt:
                raise
            except BaseException:  # SystemExit too: a hook must not end the process
                logger.exception("__hotmod_dispose__ of %s raised; reloading it anyway", name)

    def _evict(self, evict_order: Sequence[str]) -> None:
        live, visible = self._live, self._visible
        for name in evict_order:
            old = self._old[name]
            parent_name, _, child = name.rpartition(".")
            parent = live.get(parent_name) if parent_name else None
            if parent is not None and parent_name not in self._old:
                namespace = parent.__dict__
                current = namespace.get(child, _MISSING)
                self._parent_attrs.append((parent, child, current))
                # A stale attribute on a kept parent would hand the old module to
                # `from pkg import child` (lazy mode: until the next import; cycles: while the
                # new version is half-imported). Elsewhere it stays until the new one replaces
                # it, so other threads never see it missing.
                if current is old and (not self._eager or name in self._in_cycle):
                    del namespace[child]
            if live.get(name) is old:
                del live[name]
            if visible is not None and visible.get(name) is old:
                del visible[name]

    def _import(self, name: str) -> None:
        live = self._live
        parent_name, _, child = name.rpartition(".")
        code = self._code.get(name)
        if code is None or (parent_name and parent_name not in live):
            # The import system imports the parent first; the finder serves prepared code.
            importlib.import_module(name)  # with sys.modules rebound, adopted by the caller
            return
        # What the import system would do, minus finding and loading: a fresh module with the
        # old module's spec (same origin, loader and location), executed from prepared code.
        old_namespace = self._old[name].__dict__
        spec: ModuleSpec = old_namespace["__spec__"]
        module = ModuleType(name)
        namespace = module.__dict__
        get = old_namespace.get
        namespace.update(
            __spec__=spec,
            __loader__=get("__loader__"),
            __package__=get("__package__"),
            __file__=get("__file__"),
            __cached__=get("__cached__"),
        )
        if spec.submodule_search_locations is not None:
            namespace["__path__"] = list(spec.submodule_search_locations)
            # Before executing: another thread that does `import pkg.sub` gets the package
            # from the module dict without waiting for it, and must find `pkg.sub` on it.
            self._rebind_kept_submodules(name, module)
        live[name] = module
        if self._visible is not None:
            self._visible[name] = module
        spec._initializing = True  # type: ignore[attr-defined] # other threads wait on it
        try:
            exec(code, namespace)
        except BaseException:
            self._remove(name, module)
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]
        # A module may have replaced itself in the module dict while executing.
        module = live.get(name, module)
        if parent_name:
            try:
                setattr(live[parent_name], child, module)
            except AttributeError:
                logger.debug("cannot set %s on its parent %s", child, parent_name)

    def _put(self, name: str, module: ModuleType) -> None:
        self._live[name] = module
        if self._visible is not None:
            self._visible[name] = module

    def _remove(self, name: str, module: object) -> None:
        for modules in (self._live, self._visible):
            if modules is not None and modules.get(name) is module:
                del modules[name]

    def _adopt_visible(self, name: str) -> None:
        """With ``sys.modules`` rebound, importlib stores the modules it imports only there:
        a module imported that way (nested, or by the fallback path) joins the live dict."""
        visible = self._visible
        if visible is not None and name not in self._live:
            module = visible.get(name)
            if module is not None and module is not self._old.get(name):
                self._live[name] = module

    def _rebind_kept_submodules(self, name: str, new: ModuleType) -> None:
        """Give a re-executed package the submodules the old package object had and that
        stay loaded (modules re-executed after it may reach them as ``pkg.sub``)."""
        old = self._old[name]
        if "__path__" not in old.__dict__:
            return
        new_namespace = new.__dict__
        for attr, value in list(old.__dict__.items()):
            if attr in new_namespace or not isinstance(value, ModuleType):
                continue
            child = f"{name}.{attr}"
            if child not in self._old and self._live.get(child) is value:
                new_namespace[attr] = value

    def _rollback(self, requested: Sequence[str]) -> None:
        live = self._live
        for name in requested:
            module = live.get(name)
            if module is None and self._visible is not None:
                module = self._visible.get(name)
            if module is not None and self._is_watched(name, module):
                self._remove(name, module)
                parent_name, _, child = name.rpartition(".")
                parent = live.get(parent_name)
                if parent is not None and parent.__dict__.get(child) is module:
                    del parent.__dict__[child]
        for name, old in self._old.items():
            current = live.get(name)
            if current is not None and current is not old:
                self._remove(name, current)
            self._put(name, old)
        for parent, child, value in reversed(self._parent_attrs):
            if value is _MISSING:
                parent.__dict__.pop(child, None)
            else:
                parent.__dict__[child] = value
