"""``python -m hotmod``: run a program with watching on, and inspect import graphs.

Sub-commands::

    hotmod run [-w PKG]... TARGET [ARGS...]   run a module, module:function or script
    hotmod graph PKG [--dot]                  the import graph of a package
    hotmod why FILE [-w PKG]...               what a change to FILE would reload, and why

This is the only hotmod module (with the IPython report) that prints.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import pkgutil
import runpy
import sys
import textwrap
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any, NoReturn

from hotmod._exceptions import HotmodError
from hotmod._import_graph import EdgeKind, ImportGraph
from hotmod._reloader import Reloader
from hotmod._result import ReloadResult
from hotmod._supervisor import ENV_FD, Reporter, supervise
from hotmod._system_paths import HOTMOD_DIR, system_dirs
from hotmod._version import __version__
from hotmod._worker import rebind
from hotmod.adapters import Adapter, register, unregister

__all__ = ["main"]

logger = logging.getLogger("hotmod")

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is reported on one line (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _UsageError(Exception):
    """A bad argument found after parsing (a file that does not exist, ...): exit code 2."""


class _Failure(Exception):
    """The command could not do its job (the package does not import, ...): exit code 1."""


# -- argument parsing -------------------------------------------------------------------------


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="hotmod",
        description="Dependency-aware hot reloading: run a program with watching on, or "
        "inspect the import graph hotmod reloads along.",
    )
    parser.add_argument("--version", action="version", version=f"hotmod {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser(
        "run",
        help="run a module, module:function or script with hot reloading on",
        description="Run TARGET with hot reloading on: a change to a watched module re-executes "
        "it and every watched module that imports it, in a background thread, without "
        "restarting. TARGET is a module (run like `python -m module`), module:function (the "
        "module is imported and the function called without arguments) or a script path. "
        "Names the running target holds (in __main__, or in the module that defines the "
        "function, e.g. a click command's callback) are re-bound to the new objects after each "
        "reload. "
        "Ctrl-C stops cleanly (exit code 130).",
        epilog="examples:  hotmod run myapp.worker   hotmod run -w myapp -w mylib "
        "myapp.cli:main   hotmod run scripts/serve.py --port 8000",
    )
    run.add_argument(
        "-w",
        "--watch",
        metavar="PKG",
        action="append",
        default=[],
        help="a package to watch (repeatable); default: the target's top-level package, or "
        "for a script outside any package the script's folder",
    )
    run.add_argument(
        "--polling",
        action="store_true",
        help="poll for changes instead of native file events (network drives, containers)",
    )
    _add_restart_options(run)
    _add_verbosity(run)
    run.add_argument("target", metavar="TARGET", help="module, module:function or script.py")
    remainder = run.add_argument(
        "args",
        metavar="ARGS",
        nargs=argparse.REMAINDER,
        default=[],
        help="arguments for the target (its sys.argv[1:])",
    )
    remainder.required = False  # Python < 3.12 lists it among "required" next to TARGET

    graph = commands.add_parser(
        "graph",
        help="show the import graph of a package",
        description="Import PKG and all its submodules and show which of its modules import "
        "which: an indented tree (each module above the modules it imports; a module shown "
        "before is marked '...') or, with --dot, Graphviz DOT (edges point from importer to "
        "imported).",
        epilog="example:  hotmod graph myapp --dot | dot -Tsvg > myapp.svg",
    )
    graph.add_argument("package", metavar="PKG", help="importable package name, e.g. myapp")
    graph.add_argument("--dot", action="store_true", help="print Graphviz DOT instead of a tree")
    _add_verbosity(graph)

    why = commands.add_parser(
        "why",
        help="explain what a change to a file would reload",
        description="Import the package FILE belongs to (and all its submodules), then list the "
        "modules a change to FILE would re-execute, in order, each with the import chain that "
        "makes it depend on FILE.",
        epilog="example:  hotmod why src/myapp/config.py",
    )
    why.add_argument("file", metavar="FILE", help="a .py file of an importable package")
    why.add_argument(
        "-w",
        "--watch",
        metavar="PKG",
        action="append",
        default=[],
        help="also consider modules of PKG that import FILE (repeatable); default: only "
        "FILE's top-level package",
    )
    _add_verbosity(why)
    return parser


def _add_restart_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--restart-on",
        metavar="GLOB",
        action="append",
        default=[],
        help="also restart when a loaded module's file matching GLOB changes (repeatable; "
        "fnmatch, '*' crosses folders), e.g. '*/site-packages/requests/*'",
    )
    run.add_argument(
        "--no-restart",
        action="store_true",
        help="never restart: changes that cannot be applied in process are left stale",
    )


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="log only errors")
    group.add_argument("-v", "--verbose", action="store_true", help="log debug details")


def _setup_logging(args: argparse.Namespace, default: int) -> None:
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else default
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hotmod: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hotmod`` command line.

    Args:
        argv: the arguments after the program name; default: ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success (``run``: the target's own exit code), 1 when the command
        failed, 2 for bad arguments, 130 after Ctrl-C.

    Example:
        >>> main(["graph", "myapp"])                          # doctest: +SKIP
        myapp
          myapp.web
            myapp.models
        0
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = {
        "run": _run,
        "graph": _graph,
        "why": _why,
    }[args.command]
    _setup_logging(args, logging.INFO if args.command == "run" else logging.WARNING)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does; the console script lacks it
    if args.command == "run" and _supervises(args):
        return supervise(
            list(sys.argv[1:] if argv is None else argv), args.target, quiet=args.quiet
        )
    try:
        return command(args)
    except _UsageError as exc:
        print(f"hotmod {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (_Failure, HotmodError) as exc:
        print(f"hotmod {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hotmod: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- run -------------------------------------------------------------------------------------


def _supervises(args: argparse.Namespace) -> bool:
    """Whether this ``hotmod run`` is the supervisor that restarts its child (a restart is
    on, and this process is not that child)."""
    return not args.no_restart and ENV_FD not in os.environ


def _run(args: argparse.Namespace) -> int:
    target: str = args.target
    namespaces: list[dict[str, Any]] = []  # where the running target reads its names
    target_function: tuple[str, str] | None = None
    package_main: str | None = None
    options: dict[str, Any] = {"polling": args.polling}
    packages: tuple[str, ...] = tuple(args.watch)
    run: Callable[[], object]
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise _UsageError(f"no such script: {target}")
        if not packages:
            # The script's folder (its sibling modules), and its package if it lies in one.
            package = _package_of_file(path)
            packages = (package.partition(".")[0],) if package is not None else ()
            options["paths"] = [path.parent]
        sys.path.insert(0, str(path.parent))
        sys.argv = [str(path), *args.args]

        def run() -> object:
            return runpy.run_path(str(path), run_name="__main__")

    else:
        module_name, _, function = target.partition(":")
        if not _is_dotted(module_name) or (function and not _is_dotted(function)):
            raise _UsageError(
                f"TARGET must be a module, module:function or a .py script, not {target!r}"
            )
        spec = _find_module_target(module_name)
        if not function and spec.submodule_search_locations is not None:
            package_main = module_name  # checked once the packages are known to be watchable
        packages = packages or (module_name.partition(".")[0],)
        sys.argv = [target, *args.args]

        def run() -> object:
            if function:
                return _resolve_function(module_name, function)()
            return runpy.run_module(module_name, run_name="__main__", alter_sys=True)

        if function:  # a missing function is a usage error, found before anything runs
            target_function = (module_name, function)
            namespaces = _running_namespaces(_resolve_function(module_name, function), module_name)

    rebinder = _Rebinder(namespaces, target_function)
    options["on_reload"] = rebinder
    try:
        reloader = Reloader(*packages, **options)
    except HotmodError as exc:
        raise _UsageError(f"{exc} (choose what to watch with -w PKG)") from exc
    if package_main is not None and importlib.util.find_spec(f"{package_main}.__main__") is None:
        raise _UsageError(
            f"{package_main} is a package without a __main__.py; run one of its modules or "
            f"functions instead, e.g. {package_main}.cli or {package_main}.cli:main"
        )
    keeper = _SnapshotKeeper(reloader, rebinder)
    before = _Before(rebinder)
    register(before)
    index = reloader._index
    reporter = Reporter.from_environ(
        lambda name, module: index.record_for(name, module) is not None, args.restart_on
    )
    reloader.start()
    keeper.start()
    if reporter is not None:
        reporter.start()
    try:
        run()
    except SystemExit as exc:
        return _exit_code(exc.code)
    finally:
        if reporter is not None:
            reporter.stop()
        keeper.stop()
        reloader.stop()
        unregister(before)
    return 0


class _Before(Adapter[None]):
    """Takes the rebinder's snapshot at the last moment before a reload evicts anything: the
    keeper's periodic snapshot can miss a module imported just before a change that is
    applied at once (a save known complete), and rebinding by identity then finds nothing."""

    name = "hotmod run's snapshot"

    def __init__(self, rebinder: _Rebinder) -> None:
        self._rebinder = rebinder

    def detach(self, modules: Mapping[str, ModuleType]) -> None:
        self._rebinder.snapshot = dict(sys.modules)


class _Rebinder:
    """``on_reload`` of ``run``: keeps the names of the running target current.

    The target's code keeps running in namespaces that are never re-executed: ``__main__``
    (a script or module target), or, for a ``module:function`` target, the module dict the
    function was defined in (found through what it wraps: a click command's ``callback``,
    ``__wrapped__``, ``__func__``) and the target's module as they were when it started.
    After each reload the names there that held objects of reloaded modules (``import
    helper``, ``from myapp.x import f, LIMIT``) are pointed at the new objects. After a reload
    that re-executed the target's module, ``module:function`` is resolved again, and the
    namespace of what it is now is kept current too.
    """

    def __init__(
        self, namespaces: list[dict[str, Any]], target: tuple[str, str] | None = None
    ) -> None:
        self._namespaces = namespaces
        self._target = target
        self.snapshot = dict(sys.modules)  # the modules as they were before the next reload

    def __call__(self, result: ReloadResult) -> None:
        if result.ok and result.reloaded:
            if self._target is not None and self._target[0] in result.reloaded:
                self._resolve_again(*self._target)
            namespaces = self._namespaces
            if not namespaces:
                main = sys.modules.get("__main__")
                namespaces = [] if main is None else [main.__dict__]
            for namespace in namespaces:
                rebind(namespace, result.reloaded, self.snapshot)
        self.snapshot = dict(sys.modules)

    def _resolve_again(self, module_name: str, function: str) -> None:
        """Follow ``module:function`` in the re-executed module (dict look-ups only): warn when
        it is gone, follow the namespace of what it is now when that is no live module's."""
        found: Any = sys.modules.get(module_name)
        for part in function.split("."):
            namespace = getattr(found, "__dict__", None)
            found = namespace.get(part) if isinstance(namespace, dict) else None
        if found is None:
            logger.warning(
                "%s:%s is no longer defined; the running call keeps its code", module_name, function
            )
            return
        # A live module's dict is kept current by its own re-execution; another one (a
        # function the new target wraps that lives in no module) is followed from now on.
        known = {id(namespace) for namespace in self._namespaces}
        known.update(
            id(vars(m)) for m in list(sys.modules.values()) if issubclass(type(m), ModuleType)
        )
        for namespace in _running_namespaces(found, None):
            if id(namespace) not in known:
                self._namespaces.append(namespace)


def _running_namespaces(target: object, module_name: str | None) -> list[dict[str, Any]]:
    """The module dicts a callable target reads its global names from: the globals of the
    function it is or wraps (click's ``callback``, ``__wrapped__``, ``__func__``, a partial's
    ``func``; a class's module), then ``module_name``'s dict; never the standard library's,
    site-packages' or hotmod's."""
    found: list[dict[str, Any]] = []
    current: object = target
    seen: set[int] = set()
    while current is not None and id(current) not in seen and len(seen) < 50:
        seen.add(id(current))
        globals_: object = None
        if isinstance(current, FunctionType):
            globals_ = current.__globals__
        elif isinstance(current, type):
            module = sys.modules.get(current.__module__)
            globals_ = None if module is None else module.__dict__
        if isinstance(globals_, dict) and _is_user_namespace(globals_):
            found.append(globals_)
        nxt: object = None
        for attr in ("__wrapped__", "__func__", "callback", "func"):
            try:
                nxt = getattr(current, attr, None)
            except Exception:  # a property of the user's object: not a way to its code
                nxt = None
            if nxt is not None:
                break
        current = nxt
    module = sys.modules.get(module_name) if module_name is not None else None
    if module is not None and _is_user_namespace(module.__dict__):
        found.append(module.__dict__)
    unique = {id(namespace): namespace for namespace in found}
    return list(unique.values())


def _is_user_namespace(namespace: dict[str, Any]) -> bool:
    origin = namespace.get("__file__")
    if not isinstance(origin, str):
        return True
    return not os.path.realpath(origin).startswith((*system_dirs(), HOTMOD_DIR))


class _SnapshotKeeper(threading.Thread):
    """Refreshes the rebinder's snapshot of the module dict a few times a second and on every
    file event (before the debounce lets it be applied), so constants and aliases of modules
    the target imports while it runs can be re-bound at their first reload."""

    def __init__(self, reloader: Reloader, rebinder: _Rebinder, interval: float = 0.1) -> None:
        super().__init__(name="hotmod-index", daemon=True)
        self._reloader = reloader
        self._rebinder = rebinder
        self._interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        reloader = self._reloader
        while True:
            with reloader._scheduler.lock:  # notified by each file event (and by stop())
                if not self._stop_event.is_set():
                    reloader._scheduler.lock.wait(self._interval)
            if self._stop_event.is_set():
                return
            # Under the lock no reload is half done: the modules are the ones a pending
            # change will replace, so the snapshot is their "before".
            with reloader._lock:
                self._rebinder.snapshot = dict(sys.modules)

    def stop(self) -> None:
        self._stop_event.set()
        with self._reloader._scheduler.lock:
            self._reloader._scheduler.lock.notify_all()
        self.join()


def _find_module_target(module_name: str) -> ModuleSpec:
    """The spec of a module TARGET; one that does not exist is a usage error. Finding it
    imports its parent packages, as running it would: an error raised by their code is the
    program's own and propagates with its traceback."""
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _is_prefix(exc.name, module_name):
            raise
        raise _UsageError(f"no module named {exc.name!r} on sys.path") from None
    if spec is None:
        raise _UsageError(f"no module named {module_name!r} on sys.path")
    return spec


def _is_prefix(name: str, dotted: str) -> bool:
    return dotted == name or dotted.startswith(f"{name}.")


def _resolve_function(module_name: str, function: str) -> Callable[[], object]:
    """Import ``module_name`` and return its attribute ``function`` (dotted), which must be
    callable; a missing module or attribute is a usage error (the import of an existing
    module may raise anything)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _is_prefix(exc.name, module_name):
            raise  # a missing import inside the program
        raise _UsageError(f"no module named {exc.name!r} on sys.path") from None
    func: Any = module
    for part in function.split("."):
        try:
            func = getattr(func, part)
        except AttributeError:
            raise _UsageError(f"{module_name} has no attribute {function!r}") from None
    if not callable(func):
        raise _UsageError(f"{module_name}:{function} is not callable")
    return func  # type: ignore[no-any-return]


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _is_dotted(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


# -- graph -----------------------------------------------------------------------------------


def _import_all(package: str) -> ModuleType:
    """Import ``package`` and every submodule below it (warning about the ones that fail)."""
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name is not None and package.startswith(exc.name):
            raise _UsageError(f"no module named {package!r} on sys.path") from exc
        raise _Failure(f"importing {package} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise _Failure(f"importing {package} failed: {type(exc).__name__}: {exc}") from exc
    path = getattr(module, "__path__", None)
    if path is None:
        return module

    def failed(name: str) -> None:
        logger.warning("cannot import %s; left out of the graph", name)

    for info in pkgutil.walk_packages(path, prefix=f"{package}.", onerror=failed):
        if info.name.rpartition(".")[2] == "__main__" or info.name in sys.modules:
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            logger.warning(
                "cannot import %s (%s: %s); left out of the graph",
                info.name,
                type(exc).__name__,
                exc,
            )
    return module


def _watchable(*packages: str) -> Reloader:
    """A Reloader of ``packages``; one hotmod refuses (the standard library, ...) is a usage
    error."""
    try:
        return Reloader(*packages)
    except HotmodError as exc:
        raise _UsageError(str(exc)) from exc


def _graph(args: argparse.Namespace) -> int:
    package: str = args.package
    if not _is_dotted(package):
        raise _UsageError(f"PKG must be an importable name such as 'myapp', not {package!r}")
    _import_all(package)
    graph = _watchable(package).graph
    print(_dot(graph, package) if args.dot else _tree(graph), end="")
    return 0


def _tree(graph: ImportGraph) -> str:
    """Each module above the modules it imports, two spaces per level.

    Roots are the modules nothing imports; a module whose imports were shown before is marked
    ``...`` and a module that closes an import cycle ``(cycle)``.
    """
    modules = sorted(graph.modules)
    lines: list[str] = []
    expanded: set[str] = set()

    def show(name: str, depth: int, path: tuple[str, ...], how: str = "") -> None:
        pad = "  " * depth
        if name in path:
            lines.append(f"{pad}{name}{how} (cycle)")
            return
        deps = sorted(graph.dependencies(name))
        if name in expanded and deps:
            lines.append(f"{pad}{name}{how} ...")
            return
        lines.append(f"{pad}{name}{how}")
        expanded.add(name)
        observed = graph.observed(name)
        for dep in deps:
            show(dep, depth + 1, (*path, name), " (imported at run time)" * (dep in observed))

    for name in modules:
        if not graph.importers(name):
            show(name, 0, ())
    for name in modules:  # modules only reachable through cycles
        if name not in expanded:
            show(name, 0, ())
    return "".join(f"{line}\n" for line in lines)


def _dot(graph: ImportGraph, package: str) -> str:
    """Graphviz DOT: one node per module, an edge from each importer to what it imports."""
    lines = [f"digraph {_quote(package)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for name in sorted(graph.modules):
        lines.append(f"  {_quote(name)};")
    for name in sorted(graph.modules):
        observed = graph.observed(name)
        for dep in sorted(graph.dependencies(name)):
            style = ' [style=dashed, label="run time"]' if dep in observed else ""
            lines.append(f"  {_quote(name)} -> {_quote(dep)}{style};")
    lines.append("}")
    return "".join(f"{line}\n" for line in lines)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- why -------------------------------------------------------------------------------------


def _package_of_file(path: Path) -> str | None:
    """The module name ``path`` has on ``sys.path`` if it lies in a regular package, else None.

    Every folder between the ``sys.path`` entry and the file must hold an ``__init__.py``; of
    several entries the one giving the shortest name wins.
    """
    found: list[str] = []
    real = path.resolve()
    for entry in sys.path:
        base = Path(entry or os.getcwd()).resolve()
        try:
            rel = real.relative_to(base)
        except ValueError:
            continue
        parts = list(rel.with_suffix("").parts)
        if not parts or not all(part.isidentifier() for part in parts):
            continue
        folders = [base.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if not all((folder / "__init__.py").is_file() for folder in folders):
            continue
        if parts[-1] == "__init__":
            parts.pop()
        if len(parts) >= 2 or (len(parts) == 1 and real.name == "__init__.py"):
            found.append(".".join(parts))
    return min(found, key=lambda n: n.count("."), default=None)


def _module_name_for(path: Path) -> str:
    package_module = _package_of_file(path)
    if package_module is not None:
        return package_module
    for entry in sys.path:
        folder = Path(entry or os.getcwd()).resolve()
        if folder == path.resolve().parent and path.stem.isidentifier():
            return path.stem  # a top-level module
    raise _UsageError(
        f"{path} is not part of a package importable from here (sys.path); run hotmod from the "
        "folder that holds the package, or set PYTHONPATH"
    )


def _why(args: argparse.Namespace) -> int:
    given: str = args.file
    path = Path(given)
    if not path.is_file():
        raise _UsageError(f"no such file: {given}")
    if path.suffix != ".py":
        raise _UsageError(f"{given} is not a Python source file (.py)")
    name = _module_name_for(path)
    top = name.partition(".")[0]
    packages = list(dict.fromkeys([top, *args.watch]))
    for package in packages:
        _import_all(package)
    if name not in sys.modules:
        raise _Failure(f"{name} ({given}) could not be imported; nothing to explain")
    graph = _watchable(*packages).graph
    if name not in graph:
        raise _Failure(f"{name} is not a module hotmod reloads (not Python source of {top})")
    plan, skipped = graph.reload_plan([name], stop=_is_skipped)
    print(_explain(graph, name, given, plan, skipped), end="")
    return 0


def _is_skipped(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and module.__dict__.get("__hotmod_skip__") is True


def _chains(graph: ImportGraph, changed: str) -> dict[str, list[str]]:
    """For each dependent, a shortest chain ``[dependent, ..., changed]`` of direct imports."""
    chains = {changed: [changed]}
    queue = deque([changed])
    while queue:
        name = queue.popleft()
        for importer in sorted(graph.importers(name)):
            if importer not in chains:
                chains[importer] = [importer, *chains[name]]
                queue.append(importer)
    return chains


def _explain(
    graph: ImportGraph,
    name: str,
    given: str,
    plan: Iterable[tuple[str, ...]],
    skipped: Sequence[str],
) -> str:
    chains = _chains(graph, name)
    plan = list(plan)
    order = [member for component in plan for member in component]
    cycles = [component for component in plan if len(component) > 1]
    cycle_of = {member: number for number, cycle in enumerate(cycles, 1) for member in cycle}
    width = max(map(len, order), default=0)
    digits = max(2, len(str(len(order))))
    lines = [f"A change to {given} ({name}) reloads {len(order)} module(s), in this order:"]
    for number, member in enumerate(order, 1):
        if member == name:
            reason = "the changed module"
        else:
            chain = chains.get(member, [member, name])
            label = _edge_label(graph.edge_kinds(chain[0], chain[1]))
            parts = [f"imports {chain[1]}{label}", *(f"which imports {m}" for m in chain[2:])]
            if len(parts) > _CHAIN:  # around a long cycle; each module has its own line
                parts[2:-1] = [f"... {len(parts) - 3} more"]
            reason = ", ".join(parts)
        if member in cycle_of:
            reason += f", in import cycle {cycle_of[member]}"
        lines.append(f"  {number:>{digits}}. {member:<{width}}  {reason}")
    if len(order) == 1:
        lines.append("No other watched module imports it.")
    for number, cycle in enumerate(cycles, 1):
        # Once per cycle, however long: its members re-execute together, in this order.
        text = f"Import cycle {number} ({len(cycle)} modules, re-executed as one): "
        lines.extend(
            textwrap.wrap(
                text + ", ".join(cycle),
                width=_WRAP,
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    for module in skipped:
        lines.append(
            f"Not reloaded: {module} (marked __hotmod_skip__), nor what depends on it only "
            "through it."
        )
    return "".join(f"{line}\n" for line in lines)


_WRAP = 100
_CHAIN = 4  # the most imports a chain shows in full


def _edge_label(kinds: EdgeKind) -> str:
    """`` (module level)``: how a dependent imports the next module of its chain. The binding
    scan is named only when no module-level import explains the edge."""
    if EdgeKind.IMPORT in kinds:
        kinds &= ~EdgeKind.BINDING
    return f" ({kinds.label})" if kinds else ""
