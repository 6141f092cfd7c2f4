"""Deterministic generator of the synthetic packages the hotmod benchmarks reload.

Two layouts, both seeded (same ``n``, shape and seed give byte-identical files):

* **generic** (shapes ``leaf``, ``fan10``, ``config``), package ``hmb_n<N>`` of exactly ``N``
  modules (package ``__init__`` files included)::

      hmb_n100/__init__.py    no imports
      hmb_n100/config.py      imported by every other module (``from hmb_n100.config import VALUE``)
      hmb_n100/leaf.py        imports a few background modules; nothing imports it  -> shape leaf
      hmb_n100/hot/core.py    10 modules depend on it (diamonds), nothing else      -> shape fan10
      hmb_n100/hot/dNN.py     the 10 dependents (fewer when N is tiny)
      hmb_n100/sNN/mNNNN.py   background modules, each importing 0-3 earlier ones

  The three shapes share the same files and differ only in the module that changes
  (``leaf``, ``hot.core``, ``config``).

* **app** (shape ``app``), package ``hmb_app<N>`` (about ``N`` modules): a layered
  application -- ``models`` (dataclasses, enums), two tiers of ``services``, ``views``
  registered through a ``@route`` decorator into ``registry.ROUTES``, and ``main``. A
  first-tier service (a mid-layer module) changes.

Every non-``__init__`` module defines ``VALUE = 100000`` (six digits, so an edit that bumps it
keeps the file size: the case where CPython trusts a stale ``.pyc``) and, at import time,
``SEEN = max(VALUE, <SEEN of each module it imports>)`` through its own import statements.
Setting the changed module's ``VALUE`` above every current value must therefore show up in
``SEEN`` of the changed module and of exactly its transitive dependents -- any of them still
holding the old number is *stale*. Each module also holds ``_TOKEN = object()``, so a
benchmark can tell which modules were re-executed.

A ``<package>.spec.json`` written beside the package records the modules (in dependency
order), their imports, the target of every shape and the routes of the app's views.

Usage::

    python benchmarks/generate.py --shape fan10 --n 1000 --out /tmp/pkgs
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "APP_SIZE",
    "BASE_VALUE",
    "GENERIC_SHAPES",
    "SHAPES",
    "SIZES",
    "ModuleSpec",
    "PackageSpec",
    "generate",
    "load_spec",
    "package_name",
]

SHAPES = ("leaf", "fan10", "config", "app")
GENERIC_SHAPES = ("leaf", "fan10", "config")
SIZES = (10, 100, 1000, 3000)
APP_SIZE = 100
MIN_APP_SIZE = 20
BASE_VALUE = 100_000
SUBPACKAGE_SIZE = 50
HOT_TEMPLATE: tuple[tuple[int, ...], ...] = (
    (),  # 0: core
    (0,),
    (0,),
    (1, 2),  # diamond
    (3,),
    (3, 0),
    (4, 5),  # diamond
    (6,),
    (6, 1),
    (7, 8),  # diamond
    (9,),
)
VALUE_RE = re.compile(r"^VALUE = (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class ModuleSpec:
    """One generated module: its dotted name, file (relative to the root) and imports."""

    name: str
    path: str
    deps: tuple[str, ...]
    is_package: bool
    probe: bool  # defines VALUE / SEEN / _TOKEN


@dataclass
class PackageSpec:
    """What the benchmarks need to know about one generated package."""

    layout: str  # "generic" or "app"
    n: int
    seed: int
    package: str
    root: str  # the folder to put on sys.path
    modules: list[ModuleSpec]  # dependency order: every module after the ones it imports
    targets: dict[str, str]  # shape -> module that changes
    routes: dict[str, list[str]] = field(default_factory=dict)  # view module -> route paths

    def module(self, name: str) -> ModuleSpec:
        """The spec of module ``name``."""
        for mod in self.modules:
            if mod.name == name:
                return mod
        raise KeyError(name)

    def file_of(self, name: str) -> Path:
        """Absolute path of module ``name``'s file."""
        return Path(self.root) / self.module(name).path

    def names(self) -> list[str]:
        """Every module name, in dependency order."""
        return [mod.name for mod in self.modules]

    def probes(self) -> list[str]:
        """Modules that define ``VALUE``/``SEEN``, in dependency order."""
        return [mod.name for mod in self.modules if mod.probe]

    def dependents(self, name: str) -> set[str]:
        """Transitive dependents of ``name`` (modules importing it, directly or not)."""
        importers: dict[str, set[str]] = {}
        for mod in self.modules:
            for dep in mod.deps:
                importers.setdefault(dep, set()).add(mod.name)
        seen: set[str] = set()
        todo = [name]
        while todo:
            for user in importers.get(todo.pop(), ()):
                if user not in seen:
                    seen.add(user)
                    todo.append(user)
        seen.discard(name)
        return seen

    def closure(self, name: str) -> list[str]:
        """``name`` and its transitive dependents, in dependency order."""
        wanted = self.dependents(name) | {name}
        return [mod.name for mod in self.modules if mod.name in wanted]

    def save(self, path: Path) -> None:
        """Write this spec as JSON (root recorded as ".": :func:`load_spec` restores it)."""
        data = {**asdict(self), "root": "."}
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def load_spec(path: Path) -> PackageSpec:
    """Read a spec written by :meth:`PackageSpec.save` (its root: the spec file's folder)."""
    raw = json.loads(path.read_text())
    raw["root"] = str(path.resolve().parent)
    raw["modules"] = [ModuleSpec(**{**m, "deps": tuple(m["deps"])}) for m in raw["modules"]]
    return PackageSpec(**raw)


def package_name(shape: str, n: int) -> str:
    """The package generated for ``shape`` at size ``n``."""
    return f"hmb_app{n}" if shape == "app" else f"hmb_n{n}"


# -- rendering helpers ----------------------------------------------------------------------


@dataclass
class _Import:
    """An import statement and the expression that reads the imported module's ``SEEN``."""

    line: str
    seen_expr: str


def _relative(from_pkg: str, target: str) -> tuple[str, str]:
    """Relative forms of module ``target`` written inside package ``from_pkg``.

    Returns (module, parent): e.g. ``("..s00.m0003", "..s00")`` or ``("..config", "..")``.
    """
    src = from_pkg.split(".")
    dst = target.split(".")
    common = 0
    while common < min(len(src), len(dst) - 1) and src[common] == dst[common]:
        common += 1
    dots = "." * (len(src) - common + 1)
    rest = dst[common:]
    return dots + ".".join(rest), dots + ".".join(rest[:-1])


MODULE_FORMS = (0, 2, 5)  # the import forms that bind ``alias`` to the module object


def _import_of(
    rng: random.Random, importer_pkg: str, dep: str, alias: str, bind: bool = False
) -> _Import:
    """One import of ``dep`` in a randomly chosen form (absolute, relative, aliased, plain).

    With ``bind`` the form is one that binds ``alias`` to the module itself.
    """
    parent, _, leaf = dep.rpartition(".")
    rel, rel_parent = _relative(importer_pkg, dep)
    form = rng.choice(MODULE_FORMS) if bind else rng.randrange(6)
    if form == 0:
        return _Import(f"import {dep} as {alias}", f"{alias}.SEEN")
    if form == 1:
        return _Import(f"from {dep} import SEEN as {alias}_seen", f"{alias}_seen")
    if form == 2:
        return _Import(f"from {parent} import {leaf} as {alias}", f"{alias}.SEEN")
    if form == 3:
        return _Import(f"import {dep}", f"{dep}.SEEN")
    if form == 4:
        return _Import(f"from {rel} import SEEN as {alias}_seen", f"{alias}_seen")
    # from . import sibling / from ..pkg import module
    return _Import(f"from {rel_parent} import {leaf} as {alias}", f"{alias}.SEEN")


def _config_import(rng: random.Random, importer_pkg: str, config: str) -> _Import:
    """``from <pkg>.config import VALUE as CONFIG_VALUE``, now and then in relative form."""
    source = config if rng.random() < 0.8 else _relative(importer_pkg, config)[0]
    return _Import(f"from {source} import VALUE as CONFIG_VALUE", "CONFIG_VALUE")


def _ident(name: str) -> str:
    """A CamelCase identifier derived from a module name."""
    return "".join(part.capitalize() for part in name.split(".")[-2:]).replace("_", "")


def _work_block(rng: random.Random, name: str) -> str:
    """A little real import-time work: a small dict, functions, a class, a comprehension."""
    keys = rng.randint(6, 10)
    table = ", ".join(f'"k{i}": {rng.randint(1, 999)}' for i in range(keys))
    funcs = rng.randint(2, 4)
    cls = _ident(name)
    parts = [f"TABLE: dict[str, int] = {{{table}}}\n"]
    for i in range(funcs):
        a, b = rng.randint(2, 9), rng.randint(0, keys - 1)
        parts.append(
            f"\n\ndef f_{i}(x: int) -> int:\n"
            f'    """Scale ``x`` and add a table entry."""\n'
            f'    return x * {a} + TABLE["k{b}"]\n'
        )
    parts.append(
        "\n\ndef seen() -> int:\n"
        '    """The value this module saw through its imports when it was executed."""\n'
        "    return SEEN\n"
        f"\n\nclass {cls}:\n"
        f'    """A small class so that re-execution builds a type."""\n\n'
        f"    weight = {rng.randint(1, 9)}\n\n"
        "    def __init__(self, n: int) -> None:\n"
        "        self.n = n\n\n"
        "    def score(self) -> int:\n"
        '        """Weighted score."""\n'
        "        return self.n * self.weight + f_0(self.n)\n"
        f"\n\n_DERIVED = {{key: f_{funcs - 1}(val) for key, val in TABLE.items()}}\n"
    )
    return "".join(parts)


def _probe_source(
    name: str,
    seed: int,
    imports: Iterable[_Import],
    body: str,
    header: str = "",
) -> str:
    """Source of a module exposing VALUE / SEEN / _TOKEN after its imports and header."""
    imports = list(imports)
    lines = [
        f'"""Synthetic module {name} (benchmarks/generate.py, seed {seed}; do not edit)."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    if header:
        lines += [header.rstrip("\n"), ""]
    lines += [imp.line for imp in imports]
    seen_args = ", ".join(["VALUE", *(imp.seen_expr for imp in imports)])
    lines += [
        "",
        f"VALUE = {BASE_VALUE}",
        f"SEEN = max({seen_args})" if imports else "SEEN = VALUE",
        "_TOKEN = object()",
        "",
        "",
    ]
    return "\n".join(lines) + body


def _init_source(name: str, seed: int) -> str:
    """Source of a package ``__init__``: a docstring and nothing that imports."""
    return (
        f'"""Synthetic package {name} (benchmarks/generate.py, seed {seed}; do not edit)."""\n'
        "\n__all__: list[str] = []\n"
    )


class _Builder:
    """Collects rendered modules in dependency order and writes them out."""

    def __init__(self, package: str, seed: int) -> None:
        self.package = package
        self.seed = seed
        self.rng = random.Random(f"{package}:{seed}")
        self.modules: list[ModuleSpec] = []
        self.sources: dict[str, str] = {}

    def add_package(self, name: str) -> None:
        """Add a package ``__init__`` without imports."""
        path = name.replace(".", "/") + "/__init__.py"
        self.modules.append(ModuleSpec(name, path, (), True, False))
        self.sources[path] = _init_source(name, self.seed)

    def add_probe(
        self,
        name: str,
        deps: list[str],
        header: str = "",
        body: str | None = None,
        bind: int = 0,
    ) -> None:
        """Add a probe module importing ``deps`` (module names) in mixed forms.

        The first ``bind`` dependencies are imported as module objects named ``_d0``, ``_d1``...
        """
        pkg = name.rpartition(".")[0]
        imports = [_config_import(self.rng, pkg, f"{self.package}.config")]
        imports += [
            _import_of(self.rng, pkg, dep, f"_d{i}", bind=i < bind) for i, dep in enumerate(deps)
        ]
        all_deps = [f"{self.package}.config", *deps]
        if name == f"{self.package}.config":
            imports, all_deps = [], []
        path = name.replace(".", "/") + ".py"
        text = _probe_source(name, self.seed, imports, body or _work_block(self.rng, name), header)
        self.modules.append(ModuleSpec(name, path, tuple(dict.fromkeys(all_deps)), False, True))
        self.sources[path] = text

    def write(self, out: Path) -> None:
        """Write every source below ``out`` (byte-identical for the same inputs)."""
        for rel, text in self.sources.items():
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(text.encode())


# -- the generic layout ---------------------------------------------------------------------


def _split(total: int, parts: int) -> list[int]:
    """``total`` items split into ``parts`` near-equal counts."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _build_generic(n: int, seed: int) -> tuple[_Builder, dict[str, str]]:
    """The generic package of exactly ``n`` modules; returns the builder and the targets."""
    if n < 7:
        raise ValueError("the generic layout needs n >= 7")
    pkg = package_name("leaf", n)
    b = _Builder(pkg, seed)
    hot = min(len(HOT_TEMPLATE) - 1, n - 5)
    background = n - 5 - hot
    subpackages = -(-background // SUBPACKAGE_SIZE) if background else 0
    b.add_package(pkg)
    b.add_probe(f"{pkg}.config", [], body=_config_body(b.rng))
    plain: list[str] = []
    for s, count in enumerate(_split(background - subpackages, subpackages) if subpackages else []):
        b.add_package(f"{pkg}.s{s:02d}")
        for _ in range(count):
            name = f"{pkg}.s{s:02d}.m{len(plain):04d}"
            window = plain[-30:]
            k = b.rng.choice((0, 1, 1, 2, 2, 3))
            b.add_probe(name, b.rng.sample(window, min(k, len(window))))
            plain.append(name)
    b.add_probe(f"{pkg}.leaf", b.rng.sample(plain, min(3, len(plain))))
    b.add_package(f"{pkg}.hot")
    hot_names = [f"{pkg}.hot.core"] + [f"{pkg}.hot.d{i:02d}" for i in range(1, hot + 1)]
    for i, name in enumerate(hot_names):
        deps = [hot_names[j] for j in HOT_TEMPLATE[i]]
        deps += b.rng.sample(plain, min(1, len(plain)))
        b.add_probe(name, deps)
    targets = {"leaf": f"{pkg}.leaf", "fan10": f"{pkg}.hot.core", "config": f"{pkg}.config"}
    return b, targets


def _config_body(rng: random.Random) -> str:
    """The config module's settings (besides VALUE)."""
    flags = ", ".join(f'"flag{i}": {rng.random() < 0.5}' for i in range(6))
    return (
        f'SETTINGS: dict[str, object] = {{{flags}, "timeout": {rng.randint(1, 60)}}}\n'
        "\n\ndef get(key: str, default: object = None) -> object:\n"
        '    """Read a setting."""\n'
        "    return SETTINGS.get(key, default)\n"
    )


# -- the app layout -------------------------------------------------------------------------


def _model_body(rng: random.Random, cls: str) -> str:
    """A model module: an enum and a dataclass derived from the base model."""
    members = "\n".join(
        f'    {m} = "{m.lower()}"' for m in ("DRAFT", "LIVE", "GONE")[: rng.randint(2, 3)]
    )
    return (
        f"class {cls}Kind(Enum):\n"
        f'    """Kinds of {cls}."""\n\n{members}\n'
        "\n\n@dataclass\n"
        f"class {cls}(Model):\n"
        f'    """A synthetic record."""\n\n'
        f'    label: str = "{cls.lower()}"\n'
        f"    kind: {cls}Kind = {cls}Kind.DRAFT\n"
        "    tags: list[str] = field(default_factory=list)\n"
        f"    qty: int = {rng.randint(0, 9)}\n\n"
        "    def total(self) -> int:\n"
        '        """Quantity plus the id."""\n'
        "        return self.qty + self.id\n"
        f"\n\nDEFAULTS = {{kind.value: {cls}(kind=kind) for kind in {cls}Kind}}\n"
    )


def _service_body(rng: random.Random, cls: str, model_alias: str, model_cls: str) -> str:
    """A service module: a class that manages one model, and a singleton."""
    return (
        f"class {cls}:\n"
        f'    """Service over {model_cls}."""\n\n'
        "    def __init__(self) -> None:\n"
        f"        self.items: dict[int, {model_alias}.{model_cls}] = {{}}\n\n"
        f"    def create(self, qty: int) -> {model_alias}.{model_cls}:\n"
        '        """Create and store a record."""\n'
        f"        item = {model_alias}.{model_cls}(id=len(self.items), qty=qty)\n"
        "        self.items[item.id] = item\n"
        "        return item\n\n"
        "    def count(self) -> int:\n"
        '        """How many records."""\n'
        "        return len(self.items) + SEEN\n"
        f"\n\nSERVICE = {cls}()\n"
        f"LIMITS = {{name: {rng.randint(2, 50)} * i for i, name in enumerate(('a', 'b', 'c'))}}\n"
    )


def _view_body(view: str, service_expr: str) -> str:
    """A view module: two routes registered with the ``@route`` decorator."""
    return (
        f'@route("/{view}/index")\n'
        "def index() -> dict[str, int]:\n"
        '    """Index page: what this view sees."""\n'
        f'    return {{"seen": SEEN, "count": {service_expr}.SERVICE.count()}}\n'
        f'\n\n@route("/{view}/detail")\n'
        "def detail(item_id: int = 0) -> dict[str, int]:\n"
        '    """Detail page."""\n'
        '    return {"seen": SEEN, "id": item_id}\n'
    )


REGISTRY_BODY = (
    "ROUTES: dict[str, Callable[..., dict[str, int]]] = {}\n"
    "\n\ndef route(path: str) -> Callable[[F], F]:\n"
    '    """Register a view function under ``path``."""\n\n'
    "    def deco(func: F) -> F:\n"
    "        ROUTES[path] = func\n"
    "        return func\n\n"
    "    return deco\n"
)


def _app_counts(n: int) -> tuple[int, int, int]:
    """Models, services and views for an app of about ``n`` modules."""
    rest = n - 8
    models = max(2, rest * 25 // 100)
    services = max(2, rest * 35 // 100)
    return models, services, rest - models - services


def _build_app(n: int, seed: int) -> tuple[_Builder, dict[str, str], dict[str, list[str]]]:
    """The layered app; returns the builder, the targets and the routes per view module."""
    if n < MIN_APP_SIZE:
        raise ValueError(f"the app layout needs n >= {MIN_APP_SIZE}")
    pkg = package_name("app", n)
    b = _Builder(pkg, seed)
    rng = b.rng
    n_models, n_services, n_views = _app_counts(n)
    b.add_package(pkg)
    b.add_probe(f"{pkg}.config", [], body=_config_body(rng))
    b.add_probe(
        f"{pkg}.registry",
        [],
        header="from collections.abc import Callable\nfrom typing import Any, TypeVar",
        body='F = TypeVar("F", bound=Callable[..., Any])\n' + REGISTRY_BODY,
    )
    b.add_package(f"{pkg}.models")
    base_body = (
        "class Status(Enum):\n"
        '    """Record status."""\n\n    ACTIVE = 1\n    ARCHIVED = 2\n'
        "\n\n@dataclass\nclass Model:\n"
        '    """Base record."""\n\n    id: int = 0\n    status: Status = Status.ACTIVE\n'
    )
    header = "from dataclasses import dataclass, field\nfrom enum import Enum"
    b.add_probe(f"{pkg}.models.base", [], header=header, body=base_body)
    models: list[tuple[str, str]] = []
    for i in range(n_models):
        name, cls = f"{pkg}.models.m{i:02d}", f"Record{i:02d}"
        deps = [f"{pkg}.models.base", *rng.sample([m for m, _ in models], min(1, len(models)))]
        body = "Model = _d0.Model\n\n\n" + _model_body(rng, cls)
        b.add_probe(name, deps, header=header, body=body, bind=1)
        models.append((name, cls))
    b.add_package(f"{pkg}.services")
    services: list[str] = []
    tier_a = n_services // 2
    for i in range(n_services):
        name = f"{pkg}.services.svc{i:02d}"
        model, model_cls = rng.choice(models)
        deps = [model]
        if i >= tier_a:
            deps += rng.sample(services[:tier_a], min(rng.randint(1, 2), tier_a))
        b.add_probe(
            name, deps, body=_service_body(rng, f"Service{i:02d}", "_d0", model_cls), bind=1
        )
        services.append(name)
    b.add_package(f"{pkg}.views")
    routes: dict[str, list[str]] = {}
    for i in range(n_views):
        view = f"v{i:02d}"
        name = f"{pkg}.views.{view}"
        deps = [f"{pkg}.registry", *rng.sample(services, min(rng.randint(1, 2), len(services)))]
        body = "route = _d0.route\n\n\n" + _view_body(view, "_d1")
        b.add_probe(name, deps, body=body, bind=2)
        routes[name] = [f"/{view}/index", f"/{view}/detail"]
    views = list(routes)
    main_body = (
        "def build_app() -> dict[str, object]:\n"
        '    """The application object: its routing table."""\n'
        "    return dict(_d0.ROUTES)\n"
        "\n\nAPP = build_app()\n"
    )
    b.add_probe(f"{pkg}.main", [f"{pkg}.registry", *views], body=main_body, bind=1)
    spec = PackageSpec("app", n, seed, pkg, "", b.modules, {})
    target = min(services[:tier_a], key=lambda s: (abs(len(spec.dependents(s)) - 12), s))
    return b, {"app": target}, routes


def generate(out: Path, shape: str, n: int, seed: int = 0) -> PackageSpec:
    """Write the package for ``shape`` at size ``n`` below ``out``; return (and save) its spec.

    The files depend only on (layout, n, seed); ``<package>.spec.json`` is written beside the
    package.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    out = Path(out).resolve()
    routes: dict[str, list[str]] = {}
    if shape == "app":
        builder, targets, routes = _build_app(n, seed)
    else:
        builder, targets = _build_generic(n, seed)
    builder.write(out)
    layout = "app" if shape == "app" else "generic"
    spec = PackageSpec(layout, n, seed, builder.package, str(out), builder.modules, targets, routes)
    spec.save(out / f"{builder.package}.spec.json")
    return spec


def main(argv: list[str] | None = None) -> int:
    """Command line: generate one package and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=SHAPES, default="fan10")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = generate(args.out, args.shape, args.n, args.seed)
    target = spec.targets[args.shape]
    print(
        f"{spec.package}: {len(spec.modules)} modules in {spec.root}; "
        f"{args.shape} target {target}, closure {len(spec.closure(target))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
