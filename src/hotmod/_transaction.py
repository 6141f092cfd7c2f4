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
   an import cycle is entered through the member the program entered it through at start-up,
   and its other members are imported by that member's code, as in a fresh import;
6. after each module re-executes, upgrades the functions and classes its old version defined
   and the new one defines again (``_patch``): references held anywhere run the new code;
7. on any exception restores every snapshot (and undoes every upgrade), removes the modules the
   failed attempt imported, and reports the error: the process keeps running exactly the code
   it had.
"""

from __future__ import annotations

import _imp
import copy
import gc
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, SourceFileLoader
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, Any

from hotmod._class_statements import SubclassRegistries, class_statements
from hotmod._code_cache import CodeCache, CodeLoader, StatKey, discard_bytecode
from hotmod._module_dict import live_modules, rebound_modules
from hotmod._module_index import origin_namespace
from hotmod._observed import note_import
from hotmod._patch import Patcher

if TYPE_CHECKING:
    from hotmod.adapters._base import AdapterRun

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
    # every module the reload imported (re-executed or new), in the order the imports completed
    completed: tuple[str, ...] = ()
    patched: tuple[str, ...] = ()  # old functions and classes upgraded in place


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
        else:
            note_import(fullname)  # an import at run time, as the observing finder notes
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


def _initial_search_locations(
    spec: ModuleSpec, parent_path: Callable[[], Sequence[str] | None]
) -> list[str] | None:
    """A package's ``__path__`` as a fresh import gives it, before its ``__init__`` runs; None
    for a module that is not a package.

    The spec's list is not that: it is the package's ``__path__`` itself, which an
    ``__init__`` doing ``__path__.append(extra)`` changed (executing it again would append
    again). A package found on the file system starts with the folder of its ``__init__.py``
    alone; when the list holds more, the finders are asked again, as a fresh import would (a
    finder may give several locations), and their answer is taken if it is for the same file.
    ``__path__ = extend_path(__path__, ...)`` rebinds the name to a new list and leaves the
    spec's list as the finder made it: it is kept either way. ``parent_path`` gives where the
    finders search (asked only then).
    """
    locations = spec.submodule_search_locations
    if locations is None:
        return None
    origin = spec.origin
    folder = os.path.dirname(origin) if isinstance(origin, str) else None
    if len(locations) > 1 and folder is not None:
        found = _find_spec_again(spec.name, parent_path())
        if found is not None and found.origin == origin:
            fresh = found.submodule_search_locations
            if fresh is not None:
                return list(fresh)
    if folder is not None and folder in locations:
        return [folder]
    return list(locations)


def _find_spec_again(name: str, parent_path: Sequence[str] | None) -> ModuleSpec | None:
    """What the meta path finders (not the transaction's own) find for ``name``; None when
    nothing is found or a finder fails."""
    for finder in list(sys.meta_path):
        find = getattr(finder, "find_spec", None)
        if find is None or isinstance(finder, _PlanFinder):
            continue
        try:
            spec = find(name, parent_path, None)
        except Exception:  # a finder's failure: fall back to the package's folder
            logger.debug("finding %s again failed", name, exc_info=True)
            return None
        if spec is not None:
            return spec if isinstance(spec, ModuleSpec) else None
    return None


class Transaction:
    """One reload of a planned set of modules.

    Args:
        plan: components (import cycles) in dependency order, from ``ImportGraph.reload_plan``.
        changed: source bytes of the changed modules, by module name; they are compiled from
            these bytes (the code is left in ``compiled``). Modules not listed are unchanged and
            run the code of the version they were loaded from.
        code_cache: where unchanged modules' code comes from.
        version_of: the stat signature of the file version a module was loaded from.
        verify_files: run code kept in memory for an unchanged module only after checking that
            its file is still the version it was loaded from (another tool may have changed the
            module in place from an edited file without executing it again: IPython's
            ``%autoreload``); otherwise the file as it is now runs.
        eager: re-import right away (True) or only evict (False).
        is_watched: whether a module is one of the watched ones (for cleaning up after a
            failed attempt: only watched first-time imports are removed again).
        adapters: the registries taking part (``hotmod.adapters``): detached before the
            eviction, committed after the re-imports, restored after a rollback.
        patch: upgrade the old versions' functions and classes in place after each module
            re-executes (``_patch``); False: pure re-execution.
    """

    def __init__(
        self,
        plan: Sequence[tuple[str, ...]],
        *,
        changed: Mapping[str, bytes],
        code_cache: CodeCache,
        version_of: Callable[[str], StatKey | None],
        verify_files: bool = False,
        eager: bool,
        is_watched: Callable[[str, object], bool],
        adapters: AdapterRun | None = None,
        patch: bool = True,
    ) -> None:
        self._plan = plan
        self._order = [name for component in plan for name in component]
        self._in_cycle = {name for component in plan if len(component) > 1 for name in component}
        self._changed = changed
        self._code_cache = code_cache
        self._version_of = version_of
        self._verify_files = verify_files
        self.compiled: dict[str, CodeType] = {}
        # unchanged modules whose file changed since they were loaded: they run the new file
        self.newer_files: dict[str, CodeType] = {}
        # modules the import system re-imported through the plan's finder (another module's
        # code imported them first): they run their code under a new spec, which the code
        # cache must learn, or it misses them at every later reload
        self.served: dict[str, CodeType] = {}
        self._eager = eager
        self._is_watched = is_watched
        self._adapters = adapters
        self._live = live_modules()
        self._visible = rebound_modules()
        self._old: dict[str, ModuleType] = {}
        # globals of the modules that put another object in their place (see _namespace)
        self._origins: dict[str, dict[str, Any]] = {}
        self._code: dict[str, CodeType] = {}
        self._parent_attrs: list[tuple[ModuleType, str, object]] = []
        self._patcher = Patcher() if patch else None
        # what the bases' __init_subclass__ hooks may fill, put back on rollback
        self._registries = SubclassRegistries()
        self._patched_modules: set[str] = set()

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
        # old and new versions of the modules are both alive it has the most to walk. It is
        # paused for the reload (what the reload created is looked at by the first collection
        # after it) and the old modules are collected by a later full collection, off the path
        # from save to new code. Paused, not frozen: gc.freeze() resets the collector's counts
        # of collections, so with a reload between every few requests (a dev server) no full
        # collection ever ran again and every old version stayed alive (~10 MB per 100 edits
        # of a FastAPI + SQLModel app under uvicorn). Not done when the application disabled
        # the collector itself.
        pause = gc.isenabled()
        if pause:
            gc.disable()
        locks: list[Any] = []
        try:
            try:
                locks = _lock_modules(self._order)
            except RuntimeError as exc:  # importlib's _DeadlockError: nothing was touched
                return Outcome(error=exc, rolled_back=True)
            outcome = self._run_locked()
            if self._patcher is not None:
                # The records that would undo the upgrades (tens of thousands of objects at
                # N = 1,000 for a config edit) are garbage once the reload applied: freed
                # here, while the collector is paused, they are not in the young generation
                # its first pass after the reload walks.
                self._patcher.release()
            self._registries.release()
            return outcome
        finally:
            _previous.clear()
            _unlock_modules(locks)
            if pause:
                gc.enable()

    def _run_locked(self) -> Outcome:
        live, visible = self._live, self._visible
        self._old = {name: live[name] for name in self._order if name in live}
        if visible is not None:  # imported since sys.modules was rebound: only there
            for name in self._order:
                if name not in self._old and name in visible:
                    self._old[name] = visible[name]
        order = [name for name in self._order if name in self._old]
        changed, codes, cached, old = self._changed, self._code, self._code_cache.cached, self._old
        try:
            for name in order:
                if name not in changed:
                    if not self._eager:
                        continue
                    # the common case: an unchanged dependent, run from the code kept in memory
                    code = None if self._verify_files else cached(name, old[name])
                    if code is not None:
                        codes[name] = code
                        continue
                # lazy mode compiles the changed files too: a syntax error evicts nothing
                self._prepare(name)
        except Exception as exc:  # user code failed to compile: nothing was touched yet
            return Outcome(error=exc, rolled_back=True)
        evict_order = tuple(reversed(order))
        adapters = self._adapters
        if adapters is not None:
            try:
                adapters.detach({name: self._old[name] for name in evict_order})
            except Exception as exc:  # an AdapterError; the adapters restored themselves
                return Outcome(error=exc, rolled_back=True)
        _previous.update(self._old)
        self._dispose(evict_order)
        finder = _PlanFinder(self._spec_for)
        try:
            self._evict(evict_order)
            if not self._eager:
                # (the changed files' stale .pyc went in _prepare: the next import compiles)
                if adapters is not None:
                    adapters.commit({})
                return Outcome(evicted=evict_order)
            _imp.acquire_lock()  # other threads' imports read sys.meta_path under it
            sys.meta_path.insert(0, finder)
            _imp.release_lock()
            rebound = self._visible is not None
            packages = {name for name in order if "__path__" in self._namespace(name)}
            adopt = None
            if self._patcher is not None:
                adopt = self._patcher.adopter(self._replaced_globals)
            statements = class_statements(self._registries.before, adopt)
            try:
                statements.__enter__()
                for name in order:
                    if rebound:
                        self._adopt_visible(name)
                    if name not in live:
                        self._import(name)
                        if rebound:
                            self._adopt_visible(name)
                    self._patch(name)  # when the import system, not _import, executed it
                    if name in packages and name in live:
                        self._rebind_kept_submodules(name, live[name])
            finally:
                statements.__exit__(None, None, None)
                _imp.acquire_lock()
                sys.meta_path.remove(finder)
                _imp.release_lock()
            if adapters is not None:
                adapters.commit({name: live[name] for name in order if name in live})
        except BaseException as exc:
            self._rollback(finder.requested)
            if adapters is not None:
                adapters.restore()
            if isinstance(exc, KeyboardInterrupt):
                raise
            return Outcome(evicted=evict_order, error=exc, rolled_back=True)
        for name in finder.requested:
            self._adopt_visible(name)
        imported = tuple(
            name for name in finder.requested if name in live and self._is_watched(name, live[name])
        )
        return Outcome(
            evicted=evict_order,
            reloaded=tuple(order),
            imported=imported,
            completed=self._completion_order({*order, *imported}),
            patched=() if self._patcher is None else tuple(self._patcher.patched),
        )

    def _completion_order(self, names: set[str]) -> tuple[str, ...]:
        """``names`` in the module dict's order: the order in which their imports completed
        (the import system, and ``_import``, move a module to the end when its code has run).
        They are the last entries, so the walk from the end stops early."""
        modules = self._visible if self._visible is not None else self._live
        found: list[str] = []
        try:
            # no copy of the whole dict: the walk stops after the last few entries
            for name in reversed(modules):
                if name in names:
                    found.append(name)
                    if len(found) == len(names):
                        break
        except RuntimeError:  # another thread imported meanwhile: walk a copy
            found = [name for name in reversed(list(modules)) if name in names]
        found.reverse()
        return tuple(found)

    # -- preparation -----------------------------------------------------------------------

    def _namespace(self, name: str) -> dict[str, Any]:
        """The globals of the module ``name`` replaces: the old module's ``__dict__``, or, for
        an object its module put in its place (``sys.modules[__name__] = obj``), the globals
        of the module that created it (its spec says what to re-execute)."""
        old = self._old[name]
        if type(old) is ModuleType or issubclass(type(old), ModuleType):
            return old.__dict__
        namespace = self._origins.get(name)
        if namespace is None:
            namespace = origin_namespace(name, old, self._modules_view())
            if namespace is None or not isinstance(namespace.get("__spec__"), ModuleSpec):
                raise ImportError(
                    f"cannot re-execute {name}: its module put a {type(old).__name__} object "
                    "in its place (sys.modules[__name__] = ...) and its file is not found; "
                    "define the object's class in the module, or restart",
                    name=name,
                )
            self._origins[name] = namespace
        return namespace

    def _modules_view(self) -> Mapping[str, ModuleType]:
        visible = self._visible
        return self._live if visible is None else {**visible, **self._live}

    def _get(self, name: str) -> ModuleType | None:
        """The module dict's entry: the live dict's, else the rebound ``sys.modules``'s."""
        module = self._live.get(name)
        if module is None and self._visible is not None:
            module = self._visible.get(name)
        return module

    def _prepare(self, name: str) -> None:
        """Compile or fetch the code ``name`` will run, when its loader allows serving it."""
        spec = self._namespace(name).get("__spec__")
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
                name,
                self._old[name],
                loader,
                lambda: self._version_of(name),
                verify=self._verify_files,
            )
            self._code[name] = code
            if newer is not None:
                self.newer_files[name] = code

    def _spec_for(self, name: str) -> ModuleSpec | None:
        code = self._code.get(name)
        if code is None:
            return None
        old_spec: ModuleSpec = self._namespace(name)["__spec__"]
        origin = old_spec.origin
        assert isinstance(origin, str)
        locations = _initial_search_locations(old_spec, lambda: self._parent_path(name))
        spec = ModuleSpec(
            name,
            CodeLoader(name, origin, code),
            origin=origin,
            is_package=locations is not None,
        )
        if locations is not None:
            spec.submodule_search_locations = locations
        spec.cached = old_spec.cached
        spec.has_location = True
        self.served[name] = code
        return spec

    def _parent_path(self, name: str) -> Sequence[str] | None:
        """The ``__path__`` the import system would search for ``name`` (None: top level)."""
        parent_name = name.rpartition(".")[0]
        if not parent_name:
            return None
        parent = self._live.get(parent_name)
        path = parent.__dict__.get("__path__") if parent is not None else None
        if path is None or isinstance(path, (str, bytes)):
            return []  # nowhere to search: nothing is found again
        return list(path)  # a namespace package's __path__ is not a list

    # -- the steps -------------------------------------------------------------------------

    def _dispose(self, evict_order: Sequence[str]) -> None:
        for name in evict_order:
            try:
                hook = self._namespace(name).get("__hotmod_dispose__")
            except ImportError:
                continue  # its error is reported when the reload comes to re-execute it
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
            parent = self._get(parent_name) if parent_name else None
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
        old = self._old[name]
        old_namespace = old.__dict__ if type(old) is ModuleType else self._namespace(name)
        spec: ModuleSpec = old_namespace["__spec__"]
        locations = _initial_search_locations(spec, lambda: self._parent_path(name))
        if locations is not None:
            # A package's __path__ is its spec's list, as in a fresh import (the old spec's
            # list is the old __path__, which the old __init__ may have extended)
            spec = copy.copy(spec)
            spec.submodule_search_locations = locations
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
        if locations is not None:
            namespace["__path__"] = locations
            # Before executing: another thread that does `import pkg.sub` gets the package
            # from the module dict without waiting for it, and must find `pkg.sub` on it.
            self._rebind_kept_submodules(name, module)
        # Marked initializing before it enters the module dict, as the import system does:
        # another thread's import finds it there and waits only while the mark is set.
        spec._initializing = True  # type: ignore[attr-defined]
        try:
            live[name] = module
            if self._visible is not None:
                self._visible[name] = module
            exec(code, namespace)
        except BaseException:
            self._remove(name, module)
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]
        # As the import system does: move the module to the end of the module dict, which
        # keeps that dict in the order imports completed. A module may have replaced itself
        # in the module dict while executing.
        for modules in (live, self._visible):
            if modules is not None and name in modules:
                modules[name] = modules.pop(name)
        module = live.get(name, module)
        if parent_name:
            try:
                setattr(live[parent_name], child, module)
            except AttributeError:
                logger.debug("cannot set %s on its parent %s", child, parent_name)
        self._patch(name)  # before the modules importing it execute: they see the survivors

    def _replaced_globals(self, namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """For the globals of a module this transaction re-executes (its new version, being
        executed): its name and its old version's globals, unless it opts out."""
        name = namespace.get("__name__")
        old = self._old.get(name) if isinstance(name, str) else None
        if (
            not isinstance(old, ModuleType)
            or old.__dict__ is namespace
            or namespace.get("__hotmod_patch__") is False
        ):
            return None
        return name, old.__dict__  # type: ignore[return-value]

    def _patch(self, name: str) -> None:
        """Upgrade the old version's functions and classes that ``name``'s new version (just
        executed) defines again; once per module, real modules only."""
        patcher = self._patcher
        if patcher is None or name in self._patched_modules:
            return
        old, new = self._old.get(name), self._get(name)
        if (
            old is None
            or new is None
            or new is old
            or not isinstance(old, ModuleType)
            or not isinstance(new, ModuleType)
        ):
            return
        self._patched_modules.add(name)
        patcher.patch_module(name, old.__dict__, new.__dict__)

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
        old_namespace = self._namespace(name)
        if "__path__" not in old_namespace:
            return
        new_namespace = new.__dict__
        for attr, value in list(old_namespace.items()):
            if attr in new_namespace or not isinstance(value, ModuleType):
                continue
            child = f"{name}.{attr}"
            if child not in self._old and self._get(child) is value:
                new_namespace[attr] = value

    def _rollback(self, requested: Sequence[str]) -> None:
        if self._patcher is not None:
            self._patcher.undo()  # first: the old objects are as they were before the reload
        self._registries.restore()  # and what their bases' hooks registered
        live = self._live
        for name in requested:
            module = live.get(name)
            if module is None and self._visible is not None:
                module = self._visible.get(name)
            if module is not None and self._is_watched(name, module):
                self._remove(name, module)
                parent_name, _, child = name.rpartition(".")
                parent = self._get(parent_name)
                if parent is not None and parent.__dict__.get(child) is module:
                    del parent.__dict__[child]
        for name, old in self._old.items():
            for modules in (live, self._visible):
                current = None if modules is None else modules.get(name)
                if current is not None and current is not old:
                    self._remove(name, current)
            self._put(name, old)
        for parent, child, value in reversed(self._parent_attrs):
            if value is _MISSING:
                parent.__dict__.pop(child, None)
            else:
                parent.__dict__[child] = value
