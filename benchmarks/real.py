"""Real code: the benchmark cells on copies of installed packages (pygments, rich) and on a
Django project (``django_app.make_project``), as the user's own code.

``prepare(root, name)`` copies a package out of site-packages into ``root/<name>/`` (source only:
no bytecode, no C extensions), or makes the Django project there, appends an edit marker
``_HOTMOD_EDIT = 100000`` to each file a cell edits, and writes ``real.spec.json``. The cells
(run by ``worker.py`` in fresh interpreters) import the package the way an app would (the
package plus a realistic set of its modules), then edit one file by rewriting the marker with a
new six-digit value (same size, mtime left alone):

- ``real_reload``: ``r.reload(path)`` against the floor (compile the changed file once, exec
  the closure's code objects, compiled beforehand, into fresh module dicts in dependency order);
- ``real_watch``: save -> first ``on_reload`` through ``Reloader(...).start()``, default settings;
- ``real_startup``: the app's import (warm ``.pyc``) against ``Reloader()`` and the first graph
  query, in a fresh process with hotmod's import cache warm from the earlier cells.

There is no generator's ground truth here: the closure is the target plus its dependents in
hotmod's import graph (tests/test_real_packages.py checks separately that such reloads leave no
stale object). A run counts as stale when the changed module does not show the new marker or a
closure module was not re-executed, extra when a module outside the closure was.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import importlib.util
import json
import os
import re
import shutil
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import repeat, settle, summarize

Config = dict[str, Any]
Result = dict[str, Any]

MARKER_RE = re.compile(r"^_HOTMOD_EDIT = (\d{6})$", re.MULTILINE)
MARKER_START = 100000
DUNDERS = ("__name__", "__file__", "__package__", "__spec__", "__loader__", "__cached__")

# What an app imports of each package, and the files edited: a leaf-ish one and one that
# (nearly) everything imports.
REAL: dict[str, dict[str, Any]] = {
    "pygments": {
        "packages": ["pygments"],
        "imports": [
            "pygments",
            "pygments.lexers",
            "pygments.formatters",
            "pygments.lexers.python",
            "pygments.lexers.javascript",
            "pygments.lexers.html",
            "pygments.lexers.c_cpp",
            "pygments.lexers.shell",
            "pygments.lexers.data",
            "pygments.lexers.markup",
            "pygments.lexers.sql",
            "pygments.formatters.html",
            "pygments.formatters.terminal256",
            "pygments.styles.default",
        ],
        "targets": ["pygments.lexers.python", "pygments.token"],
    },
    "rich": {
        "packages": ["rich"],
        "imports": [
            "rich",
            "rich.console",
            "rich.table",
            "rich.markdown",
            "rich.progress",
            "rich.syntax",
            "rich.traceback",
            "rich.pretty",
            "rich.panel",
            "rich.tree",
            "rich.logging",
            "rich.prompt",
        ],
        "targets": ["rich.markdown", "rich.color"],
    },
    "django": {
        "packages": ["mysite", "polls"],
        "imports": ["mysite.urls", "polls.admin", "polls.views", "polls.models"],
        "targets": ["polls.views", "polls.models"],
        "django_settings": "mysite.settings",
    },
}


def available(name: str) -> str | None:
    """Why the real workload ``name`` cannot run here (None when it can)."""
    dist = "django" if name == "django" else name
    if importlib.util.find_spec(dist) is None:
        return f"{dist} not installed (pip install -e '.[dev,bench]')"
    return None


def prepare(root: Path, name: str) -> Path:
    """Copy (or make) the real workload ``name`` under ``root``; return its spec file."""
    info = REAL[name]
    where = root / f"real_{name}"
    where.mkdir(parents=True)
    if name == "django":
        from django_app import make_project

        make_project(where)
    else:
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.submodule_search_locations
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(
            source, where / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd")
        )
    for target in info["targets"]:
        path = where / (target.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n_HOTMOD_EDIT = {MARKER_START}\n")
    spec_path = where / "real.spec.json"
    spec_path.write_text(json.dumps({"name": name, "root": str(where), **info}, indent=1))
    return spec_path


@dataclass
class RealWorkload:
    """A real package, imported, with the module that changes."""

    spec: dict[str, Any]
    target: str
    path: Path
    app_import_ns: int
    next_value: int = MARKER_START + 1
    modules: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, cfg: Config) -> RealWorkload:
        """Import the workload the way its app does; time that import."""
        spec = json.loads(Path(cfg["spec"]).read_text())
        root = spec["root"]
        sys.path.insert(0, root)
        os.chdir(root)
        started = time.perf_counter_ns()
        if spec.get("django_settings"):
            os.environ["DJANGO_SETTINGS_MODULE"] = spec["django_settings"]
            import django

            django.setup()
        for name in spec["imports"]:
            importlib.import_module(name)
        elapsed = time.perf_counter_ns() - started
        target = cfg["target"]
        path = Path(root, target.replace(".", "/") + ".py")
        work = cls(spec=spec, target=target, path=path, app_import_ns=elapsed)
        match = MARKER_RE.search(path.read_text())
        if match is None:
            raise RuntimeError(f"{path} has no _HOTMOD_EDIT marker: run prepare() first")
        work.next_value = int(match.group(1)) + 1
        here = os.path.join(root, "")
        work.modules = sorted(
            n
            for n, m in list(sys.modules.items())
            if str(getattr(m, "__file__", None) or "").startswith(here)
        )
        return work

    def edit(self) -> int:
        """Rewrite the marker of the changed file (same size); return the new value."""
        value = self.next_value
        self.next_value += 1
        text = self.path.read_text()
        new, count = MARKER_RE.subn(f"_HOTMOD_EDIT = {value}", text, count=1)
        if count != 1:
            raise RuntimeError(f"no _HOTMOD_EDIT line in {self.path}")
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(new)
        return value

    def shows(self, value: int) -> bool:
        """Whether the live changed module holds the new marker value."""
        module = sys.modules.get(self.target)
        return module is not None and vars(module).get("_HOTMOD_EDIT") == value


def make_reloader(work: RealWorkload, **kwargs: Any) -> Any:
    """``hotmod.Reloader`` over the workload's packages (already imported)."""
    import hotmod

    return hotmod.Reloader(*work.spec["packages"], **kwargs)


def save_import_cache(work: RealWorkload) -> None:
    """Let hotmod's import cache record the files as this cell leaves them (it is written when
    a Reloader is constructed, not at reloads), so that the next cell's start-up finds it warm.
    """
    make_reloader(work).stop()


def closure_of(reloader: Any, target: str) -> list[str]:
    """The target and its dependents in hotmod's graph, in dependency order (imports first)."""
    graph = reloader.graph
    members = {target, *graph.dependents(target)}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(graph.dependencies(name) & members):
            visit(dep)
        order.append(name)

    for name in sorted(members):
        visit(name)
    return order


class Floor:
    """Compile the changed file once and exec the closure's code objects (compiled beforehand)
    into fresh module dicts, in dependency order. Whatever the code registers globally is put
    back afterwards, outside the timing (``sys.modules`` entries, Django's model registry)."""

    def __init__(self, work: RealWorkload, closure: list[str]) -> None:
        self.work = work
        self.entries: list[tuple[str, types.CodeType, dict[str, Any]]] = []
        for name in closure:
            mod = sys.modules[name]
            path = Path(vars(mod)["__file__"])
            code = compile(path.read_bytes(), str(path), "exec")
            dunders = {key: vars(mod)[key] for key in DUNDERS if key in vars(mod)}
            dunders["__builtins__"] = builtins
            self.entries.append((name, code, dunders))

    @contextmanager
    def _restored(self) -> Iterator[None]:
        saved = dict(sys.modules)
        models = _django_models()
        admin = _django_admin_detach({name for name, _, _ in self.entries})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            for name in set(sys.modules) - set(saved):
                del sys.modules[name]
            sys.modules.update(saved)
            _django_restore(models, admin)

    def run(self) -> int:
        """One floor run; nanoseconds."""
        source = self.work.path.read_bytes()
        filename = str(self.work.path)
        target = self.work.target
        with self._restored():
            start = time.perf_counter_ns()
            changed = compile(source, filename, "exec")
            for name, code, dunders in self.entries:
                namespace = types.ModuleType(name).__dict__
                namespace.update(dunders)
                exec(changed if name == target else code, namespace)
            return time.perf_counter_ns() - start


def _django_models() -> dict[str, dict[str, Any]] | None:
    """A copy of Django's model registry, when Django is in use."""
    if "django.apps" not in sys.modules:
        return None
    from django.apps import apps

    return {label: dict(models) for label, models in apps.all_models.items()}


def _django_admin_detach(modules: set[str]) -> dict[Any, Any] | None:
    """Take the admin registrations of models defined in ``modules`` out of the admin site (so
    that the floor's exec of an ``admin.py`` can register them again); return the old registry.
    """
    if "django.contrib.admin" not in sys.modules:
        return None
    from django.contrib import admin

    saved = dict(admin.site._registry)
    for model in list(admin.site._registry):
        if model.__module__ in modules:
            del admin.site._registry[model]
    return saved


def _django_restore(saved: dict[str, dict[str, Any]] | None, admin: dict[Any, Any] | None) -> None:
    if admin is not None:
        from django.contrib import admin as django_admin

        django_admin.site._registry.clear()
        django_admin.site._registry.update(admin)
    if saved is None:
        return
    from django.apps import apps

    for label, models in saved.items():
        apps.all_models[label].clear()
        apps.all_models[label].update(models)
    apps.clear_cache()


def _info(work: RealWorkload, closure: list[str]) -> Result:
    return {
        "package": work.spec["name"],
        "modules": len(work.modules),
        "target": work.target,
        "closure": len(closure),
        "app_import_ms": work.app_import_ns * 1e-6,
    }


def _judge(work: RealWorkload, value: int, reloaded: Any, closure: list[str]) -> tuple[int, int]:
    """(stale, extra) of one applied edit."""
    done = set(reloaded)
    stale = len(set(closure) - done) + (0 if work.shows(value) else 1)
    return stale, len(done - set(closure))


def cell_real_reload(cfg: Config) -> Result:
    """``r.reload(path)`` after an edit (``gc.collect()`` first), interleaved with the floor."""
    work = RealWorkload.load(cfg)
    reloader = make_reloader(work)
    closure = closure_of(reloader, work.target)
    floor = Floor(work, closure)
    samples: dict[str, list[int]] = {"reload": [], "floor": [], "reloaded_count": []}
    stale: list[int] = []
    extra: list[int] = []
    not_ok: list[str] = []

    def one(keep: bool) -> None:
        value = work.edit()
        gc.collect()
        start = time.perf_counter_ns()
        res = reloader.reload(work.path)
        elapsed = time.perf_counter_ns() - start
        gc.collect()
        floor_ns = floor.run()
        if keep:
            samples["reload"].append(elapsed)
            samples["floor"].append(floor_ns)
            samples["reloaded_count"].append(len(res.reloaded))
            s, e = _judge(work, value, res.reloaded, closure)
            stale.append(s)
            extra.append(e)
            if not res.ok:
                not_ok.append(repr(res.error))

    repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    reloader.stop()
    save_import_cache(work)
    out = {**_info(work, closure), "reload": summarize(samples["reload"])}
    out["floor"] = summarize(samples["floor"])
    out["reloaded_count"] = summarize(samples["reloaded_count"], 1)
    out["stale_max"], out["extra_max"] = max(stale), max(extra)
    if not_ok:
        out["not_ok"] = not_ok[:3]
    return out


def cell_real_watch(cfg: Config) -> Result:
    """Save -> first ``on_reload`` through the watcher, default settings."""
    work = RealWorkload.load(cfg)
    fired = threading.Event()
    stamps: list[int] = []
    results: list[Any] = []

    def on_reload(result: Any) -> None:
        stamps.append(time.perf_counter_ns())
        results.append(result)
        fired.set()

    reloader = make_reloader(work, on_reload=on_reload)
    closure = closure_of(reloader, work.target)
    reloader.start()
    settle(reloader)
    samples: dict[str, list[int]] = {"save_to_live": [], "reported": [], "callbacks": []}
    stale: list[int] = []
    extra: list[int] = []
    timeouts = 0

    def one(keep: bool) -> None:
        nonlocal timeouts
        fired.clear()
        stamps.clear()
        results.clear()
        value = work.edit()
        saved = time.perf_counter_ns()
        if not fired.wait(10.0):
            timeouts += 1
            return
        time.sleep(0.15)  # let any trailing event settle before the next edit
        if keep:
            samples["save_to_live"].append(stamps[0] - saved)
            samples["reported"].append(int(results[0].duration * 1e9))
            samples["callbacks"].append(len(stamps))
            s, e = _judge(work, value, results[0].reloaded, closure)
            stale.append(s)
            extra.append(e)

    try:
        repeat(one, cfg["warmup"], cfg["repeats"], cfg["budget_s"])
    finally:
        reloader.stop()
    save_import_cache(work)
    out = {**_info(work, closure), "timeouts": timeouts}
    if samples["save_to_live"]:
        out["save_to_live"] = summarize(samples["save_to_live"])
        out["reported"] = summarize(samples["reported"])
        out["callbacks"] = summarize(samples["callbacks"], 1)
    out["stale_max"], out["extra_max"] = max(stale, default=None), max(extra, default=None)
    return out


def cell_real_startup(cfg: Config) -> Result:
    """The app's import against ``Reloader()`` and the first graph query (import cache warm),
    then the first reload of the changed file against warm ones."""
    work = RealWorkload.load(cfg)
    started = time.perf_counter_ns()
    import hotmod  # noqa: F401  (timed apart: the synthetic build cell imports it untimed too)

    hotmod_import = time.perf_counter_ns() - started
    gc.collect()
    start = time.perf_counter_ns()
    reloader = make_reloader(work)
    constructed = time.perf_counter_ns()
    closure = closure_of(reloader, work.target)
    ready = time.perf_counter_ns()
    reloads: list[int] = []
    for _ in range(8):
        value = work.edit()
        t0 = time.perf_counter_ns()
        res = reloader.reload(work.path)
        reloads.append(time.perf_counter_ns() - t0)
        if not res.ok or not work.shows(value):
            raise RuntimeError(f"reload of {work.target} failed: {res}")
    reloader.stop()
    save_import_cache(work)
    warm = sorted(reloads[1:])[len(reloads[1:]) // 2]
    return {
        **_info(work, closure),
        "hotmod_import_ms": hotmod_import * 1e-6,
        "construct_ms": (constructed - start) * 1e-6,
        "ready_ms": (ready - start) * 1e-6,
        "first_reload_ms": reloads[0] * 1e-6,
        "warm_reload_ms": warm * 1e-6,
    }


CELLS: dict[str, Callable[[Config], Result]] = {
    "real_reload": cell_real_reload,
    "real_watch": cell_real_watch,
    "real_startup": cell_real_startup,
}
