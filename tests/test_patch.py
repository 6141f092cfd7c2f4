"""What survives a reload runs the new code: old functions and classes upgraded in place.

The scenarios come from other reloaders' own test suites (IPython's autoreload and
deduperreload tests, jurigged's live-update tests: old instances, old references, class
identity) and from the reproductions of issue 11, written anew for hotmod. Each runs twice: with
the default options (patching on) and with ``Reloader(..., patch=False)``, where it asserts what
pure re-execution gives (the behaviour before patching existed).
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import Project

BOTH = pytest.mark.parametrize("patch", [True, False], ids=["patch", "no-patch"])


def _run(project: Project, code: str, patch: bool) -> dict[str, object]:
    return project.result(f"PATCH = {patch!r}\n" + textwrap.dedent(code))


# -- old instances and class identity ---------------------------------------------------------


@BOTH
def test_old_instance_runs_new_methods_and_keeps_class_identity(
    project: Project, patch: bool
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/shapes.py": """
                class Square:
                    sides = 4
                    def __init__(self, size):
                        self.size = size
                    def area(self):
                        return self.size * self.size
                    def describe(self):
                        return "square"
            """,
        }
    )
    out = _run(
        project,
        """
        import pickle
        import pkg.shapes
        from pkg.shapes import Square
        old = Square(3)
        method = old.area
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/shapes.py", "self.size * self.size", "self.size * self.size * 10")
        edit("pkg/shapes.py", 'return "square"', 'return "SQUARE"')
        edit("pkg/shapes.py", "sides = 4", "sides = 40\\n    corners = 4")
        result = r.reload("pkg.shapes")
        new = pkg.shapes.Square
        try:
            pickled = pickle.loads(pickle.dumps(old)).area()
        except pickle.PicklingError as exc:
            pickled = "PicklingError"
        emit(ok=result.ok, area=old.area(), bound=method(), describe=old.describe(),
             sides=old.sides, corners=getattr(old, "corners", None),
             same_class=new is Square, isinstance=isinstance(old, new),
             new_area=new(2).area(), pickled=pickled,
             patched=sorted(result.patched))
        """,
        patch,
    )
    if patch:
        assert out == {
            "ok": True,
            "area": 90,
            "bound": 90,
            "describe": "SQUARE",
            "sides": 40,
            "corners": 4,
            "same_class": True,
            "isinstance": True,
            "new_area": 40,
            "pickled": 90,
            "patched": [
                "pkg.shapes.Square",
                "pkg.shapes.Square.__init__",
                "pkg.shapes.Square.area",
                "pkg.shapes.Square.describe",
            ],
        }
    else:
        assert out == {
            "ok": True,
            "area": 9,
            "bound": 9,
            "describe": "square",
            "sides": 4,
            "corners": None,
            "same_class": False,
            "isinstance": False,
            "new_area": 40,
            "pickled": "PicklingError",
            "patched": [],
        }


@BOTH
def test_class_attributes_properties_static_and_class_methods(
    project: Project, patch: bool
) -> None:
    # IPython's class-attribute and smoke tests: every kind of class member changes
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                class Thing:
                    colour = "red"
                    removed = "still here"
                    @property
                    def weight(self):
                        return 1
                    @weight.setter
                    def weight(self, value):
                        self.stored = value
                    @staticmethod
                    def kind():
                        return "static1"
                    @classmethod
                    def make(cls):
                        return (cls.__name__, "made1")
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        old = pkg.m.Thing()
        make = pkg.m.Thing.make
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", '"red"', '"blue"')
        edit("pkg/m.py", '    removed = "still here"\\n', '    added = "new"\\n')
        edit("pkg/m.py", "return 1", "return 2")
        edit("pkg/m.py", "self.stored = value", "self.stored = value * 100")
        edit("pkg/m.py", "static1", "static2")
        edit("pkg/m.py", "made1", "made2")
        assert r.reload("pkg.m").ok
        old.weight = 3
        emit(colour=old.colour, added=getattr(old, "added", None),
             removed=hasattr(old, "removed"), weight=old.weight, stored=old.stored,
             kind=old.kind(), make=make(), new_make=pkg.m.Thing.make())
        """,
        patch,
    )
    if patch:
        assert out == {
            "colour": "blue",
            "added": "new",
            "removed": False,
            "weight": 2,
            "stored": 300,
            "kind": "static2",
            "make": ["Thing", "made2"],
            "new_make": ["Thing", "made2"],
        }
    else:
        assert out == {
            "colour": "red",
            "added": None,
            "removed": True,
            "weight": 1,
            "stored": 3,
            "kind": "static1",
            "make": ["Thing", "made1"],
            "new_make": ["Thing", "made2"],
        }


@BOTH
def test_super_and_subclasses_in_dependents_build_on_the_surviving_class(
    project: Project, patch: bool
) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": """
                class Animal:
                    def sound(self):
                        return "generic1"
            """,
            "pkg/dogs.py": """
                from pkg.base import Animal
                class Dog(Animal):
                    def sound(self):
                        return "woof+" + super().sound()
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.dogs, pkg.base
        Animal, Dog = pkg.base.Animal, pkg.dogs.Dog
        rex = Dog()
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/base.py", "generic1", "generic2")
        edit("pkg/dogs.py", '"woof+"', '"WOOF+"')
        first = r.reload("pkg.base")
        second = r.reload("pkg.dogs")
        emit(ok=first.ok and second.ok, sound=rex.sound(),
             new_sound=pkg.dogs.Dog().sound(),
             base_kept=pkg.dogs.Dog.__bases__[0] is Animal,
             issubclass=issubclass(pkg.dogs.Dog, Animal),
             isinstance=isinstance(rex, pkg.base.Animal) and isinstance(rex, pkg.dogs.Dog))
        """,
        patch,
    )
    if patch:
        assert out == {
            "ok": True,
            "sound": "WOOF+generic2",
            "new_sound": "WOOF+generic2",
            "base_kept": True,
            "issubclass": True,
            "isinstance": True,
        }
    else:
        assert out == {
            "ok": True,
            "sound": "woof+generic1",
            "new_sound": "WOOF+generic2",
            "base_kept": False,
            "issubclass": False,
            "isinstance": False,
        }


@BOTH
def test_dataclass_fields_and_generated_methods(project: Project, patch: bool) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                import dataclasses
                @dataclasses.dataclass
                class Point:
                    x: int
                    def norm(self):
                        return abs(self.x)
            """,
        }
    )
    out = _run(
        project,
        """
        import dataclasses, pkg.m
        old = pkg.m.Point(-3)
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "    x: int\\n", "    x: int\\n    y: int = 7\\n")
        edit("pkg/m.py", "abs(self.x)", "abs(self.x) + self.y")
        assert r.reload("pkg.m").ok
        emit(norm=old.norm(), fields=[f.name for f in dataclasses.fields(old)],
             repr=repr(old), new=repr(pkg.m.Point(1)), eq=old == pkg.m.Point(-3))
        """,
        patch,
    )
    if patch:
        assert out == {
            "norm": 10,
            "fields": ["x", "y"],
            "repr": "Point(x=-3, y=7)",
            "new": "Point(x=1, y=7)",
            "eq": True,
        }
    else:
        assert out == {
            "norm": 3,
            "fields": ["x"],
            "repr": "Point(x=-3)",
            "new": "Point(x=1, y=7)",
            "eq": False,
        }


@BOTH
def test_enum_members_keep_identity_and_added_member_uses_new_class(
    project: Project, patch: bool
) -> None:
    # IPython's enum test: methods change, then a member is added
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/colours.py": """
                import enum
                class Colour(enum.Enum):
                    RED = 1
                    GREEN = 2
                    def label(self):
                        return "v1-" + self.name
                DEFAULT = Colour.RED
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.colours
        records = _Records(); logging.getLogger("hotmod").addHandler(records)
        red = pkg.colours.Colour.RED
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/colours.py", '"v1-"', '"v2-"')
        assert r.reload("pkg.colours").ok
        step1 = dict(same=pkg.colours.Colour.RED is red, default=pkg.colours.DEFAULT is red,
                     label=red.label(), by_value=pkg.colours.Colour(1) is red)
        edit("pkg/colours.py", "GREEN = 2", "GREEN = 2\\n    BLUE = 3")
        assert r.reload("pkg.colours").ok
        info = [rec.getMessage() for rec in records.records if "Colour" in rec.getMessage()]
        emit(step1=step1, blue=pkg.colours.Colour.BLUE.value,
             same_after_add=pkg.colours.Colour.RED is red, info=info)
        """,
        patch,
    )
    if patch:
        assert out["step1"] == {"same": True, "default": True, "label": "v2-RED", "by_value": True}
        assert out["same_after_add"] is False  # members changed: the new class is used
        assert out["info"] == [
            "pkg.colours.Colour: its members changed; the new class is used, old instances "
            "keep the old one"
        ]
    else:
        assert out["step1"] == {
            "same": False,
            "default": False,
            "label": "v1-RED",
            "by_value": False,
        }
        assert out["same_after_add"] is False
        assert out["info"] == []
    assert out["blue"] == 3


@BOTH
def test_changed_slots_use_the_new_class_with_one_info_line(project: Project, patch: bool) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                class Slotted:
                    __slots__ = ("a",)
                    def get(self):
                        return "v1"
                class Same:
                    __slots__ = ("a",)
                    def get(self):
                        return "same1"
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        records = _Records(); logging.getLogger("hotmod").addHandler(records)
        old, same = pkg.m.Slotted(), pkg.m.Same()
        same.a = 5
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", '__slots__ = ("a",)\\n    def get(self):\\n        return "v1"',
             '__slots__ = ("a", "b")\\n    def get(self):\\n        return "v2"')
        edit("pkg/m.py", "same1", "same2")
        assert r.reload("pkg.m").ok
        info = [rec.getMessage() for rec in records.records if rec.levelname == "INFO"
                and "Slotted" in rec.getMessage()]
        emit(old=old.get(), new=pkg.m.Slotted().get(), same=same.get(), a=same.a,
             identity=type(same) is pkg.m.Same, info=info)
        """,
        patch,
    )
    assert out["old"] == "v1"
    assert out["new"] == "v2"
    if patch:
        assert out["same"] == "same2"
        assert out["identity"] is True
        assert out["a"] == 5
        assert out["info"] == [
            "pkg.m.Slotted: its __slots__ changed; the new class is used, old instances keep "
            "the old one"
        ]
    else:
        assert out["same"] == "same1"
        assert out["identity"] is False
        assert out["info"] == []


@BOTH
def test_named_tuples_with_new_fields_use_the_new_class(project: Project, patch: bool) -> None:
    # A named tuple's accessors read fixed positions: given the namespace of a version with
    # other fields, an old instance (a tuple of the old length) raised IndexError on a new
    # field and in repr(), or read another field's value. Same fields: upgraded in place.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                import collections, typing
                class Point(typing.NamedTuple):
                    x: int
                    y: int
                Pair = collections.namedtuple("Pair", "a b")
                class Kept(typing.NamedTuple):
                    x: int
                    def describe(self):
                        return "v1"
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        records = _Records(); logging.getLogger("hotmod").addHandler(records)
        point, pair, kept = pkg.m.Point(1, 2), pkg.m.Pair(1, 2), pkg.m.Kept(1)
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "x: int\\n    y: int", "x: int\\n    w: int = 0\\n    y: int = 0")
        edit("pkg/m.py", '"a b"', '"a b c"')
        edit("pkg/m.py", '"v1"', '"v2"')
        assert r.reload("pkg.m").ok
        info = sorted(rec.getMessage() for rec in records.records if rec.levelname == "INFO"
                      and "fields" in rec.getMessage())
        emit(old=[repr(point), point.y, repr(pair)], new=[repr(pkg.m.Point(1, 5, 2))],
             kept=[kept.describe(), type(kept) is pkg.m.Kept], info=info)
        """,
        patch,
    )
    assert out["old"] == ["Point(x=1, y=2)", 2, "Pair(a=1, b=2)"]
    assert out["new"] == ["Point(x=1, w=5, y=2)"]
    if patch:
        assert out["kept"] == ["v2", True]
        assert out["info"] == [
            f"pkg.m.{name}: its fields changed (a named tuple); the new class is used, old "
            "instances keep the old one"
            for name in ("Pair", "Point")
        ]
    else:
        assert out["kept"] == ["v1", False]
        assert out["info"] == []


@BOTH
def test_framework_metaclass_classes_are_left_alone(project: Project, patch: bool) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                class Meta(type):
                    pass
                class Model(metaclass=Meta):
                    def get(self):
                        return "v1"
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        old = pkg.m.Model()
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", '"v1"', '"v2"')
        result = r.reload("pkg.m")
        emit(identity=type(old) is pkg.m.Model, new=pkg.m.Model().get(),
             patched=[n for n in result.patched if "Model" in n and "get" not in n])
        """,
        patch,
    )
    # the class object is not upgraded; its old methods still forward (they are functions)
    assert out == {"identity": False, "new": "v2", "patched": []}


# -- old references: stored callbacks ---------------------------------------------------------


@BOTH
def test_references_held_anywhere_run_the_new_function(project: Project, patch: bool) -> None:
    # issue 11: `from m import f` in __main__, a registry, a signal handler, a thread target,
    # a scheduler job, a partial, a bound method of an old instance
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/jobs.py": """
                RESULTS = []
                def work(tag="x"):
                    RESULTS.append(("v1", tag))
                    return ("v1", tag)
                class Service:
                    def handle(self):
                        return "v1"
            """,
        }
    )
    out = _run(
        project,
        """
        import functools, sched, signal, threading
        import pkg.jobs
        from pkg.jobs import work
        seen = []
        registry = {"work": work}
        signal.signal(signal.SIGUSR1, lambda *a: None)
        handler_calls = []
        def on_signal(signum, frame):
            handler_calls.append(stored_handler_target())
        stored_handler_target = work
        signal.signal(signal.SIGUSR1, on_signal)
        direct = work
        signal.signal(signal.SIGUSR2, lambda s, f: seen.append(direct("sig")))
        thread = threading.Thread(target=work, args=("thread",))
        scheduler = sched.scheduler()
        scheduler.enter(0, 1, work, ("sched",))
        partial = functools.partial(work, "partial")
        bound = pkg.jobs.Service().handle
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/jobs.py", 'RESULTS.append(("v1", tag))\\n    return ("v1", tag)',
             'RESULTS.append(("v2", tag))\\n    return ("v2", tag)')
        edit("pkg/jobs.py", 'return "v1"', 'return "v2"')
        assert r.reload("pkg.jobs").ok
        os.kill(os.getpid(), signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        thread.start(); thread.join(10)
        scheduler.run()
        emit(main=work("main")[0], registry=registry["work"]("reg")[0], signal=seen[0][0],
             thread=[v for v, t in sys.modules["pkg.jobs"].RESULTS + pkg.jobs.RESULTS
                     if t == "thread"][:1],
             sched=[v for v, t in pkg.jobs.RESULTS + pkg.jobs.RESULTS if t == "sched"][:1],
             partial=partial()[0], bound=bound())
        """,
        patch,
    )
    if patch:
        assert out == {
            "main": "v2",
            "registry": "v2",
            "signal": "v2",
            "thread": ["v2"],
            "sched": ["v2"],
            "partial": "v2",
            "bound": "v2",
        }
    else:
        # the old function appends to the old module's list
        assert out == {
            "main": "v1",
            "registry": "v1",
            "signal": "v1",
            "thread": [],
            "sched": [],
            "partial": "v1",
            "bound": "v1",
        }


@BOTH
def test_decorated_functions_and_kept_originals_run_new_code(project: Project, patch: bool) -> None:
    # jurigged's decorator scenarios: wraps keeps the original in __wrapped__; a decorator
    # without wraps keeps it in a closure; a registry keeps the undecorated function
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/deco.py": """
                import functools
                REGISTRY = []
                def logged(fn):
                    REGISTRY.append(fn)
                    @functools.wraps(fn)
                    def wrapper(*args, **kwargs):
                        return ("logged", fn(*args, **kwargs))
                    return wrapper
                def plain(fn):
                    def inner():
                        return ("plain", fn())
                    return inner
            """,
            "pkg/m.py": """
                from pkg.deco import logged, plain
                @logged
                def greet(name="world"):
                    return "hello1 " + name
                @plain
                def ping():
                    return "pong1"
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m, pkg.deco
        greet, ping = pkg.m.greet, pkg.m.ping
        original = greet.__wrapped__
        registered = pkg.deco.REGISTRY[0]
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", 'hello1 ', 'hello2 ')
        edit("pkg/m.py", 'name="world"', 'name="there"')
        edit("pkg/m.py", "pong1", "pong2")
        assert r.reload("pkg.m").ok
        emit(greet=greet(), original=original(), registered=registered("x"), ping=ping(),
             defaults=original.__defaults__)
        """,
        patch,
    )
    if patch:
        assert out == {
            "greet": ["logged", "hello2 there"],
            "original": "hello2 there",
            "registered": "hello2 x",
            "ping": ["plain", "pong2"],
            "defaults": ["there"],
        }
    else:
        assert out == {
            "greet": ["logged", "hello1 world"],
            "original": "hello1 world",
            "registered": "hello1 x",
            "ping": ["plain", "pong1"],
            "defaults": ["world"],
        }


@BOTH
def test_functions_cached_with_lru_cache_run_new_code(project: Project, patch: bool) -> None:
    # functools.lru_cache and cache return a wrapper object, not a function: a held old
    # wrapper (from m import f, a bound method) ran the old code, and answered from a cache of
    # the old code's results, while the reload said it patched the module. The decorator may
    # also have been added or removed by the edit; super() in a cached method names the
    # surviving class; a rollback puts the old code back.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                import functools
                @functools.lru_cache(maxsize=None)
                def price(x):
                    return x * 2
                @functools.cache
                def label(x):
                    return f"v1 {x}"
                def added(x):
                    return ("v1", x)
                @functools.cache
                def removed(x):
                    return ("v1", x)
                class Base:
                    def size(self):
                        return 1
                class Box(Base):
                    @functools.lru_cache(maxsize=None)
                    def size(self):
                        return super().size() + 10
            """,
            "pkg/user.py": "import pkg.m\nOK = True\n",
        }
    )
    out = _run(
        project,
        """
        from pkg.m import price, label, added, removed, Box
        import pkg.user
        box = Box()
        size = box.size
        before = [price(3), label(3), added(3), removed(3), size()]  # cached now
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "x * 2", "x * 5")
        edit("pkg/m.py", '"v1 {x}"', '"v2 {x}"')
        edit("pkg/m.py", 'def added(x):\\n    return ("v1", x)',
             '@functools.cache\\ndef added(x):\\n    return ("v2", x)')
        edit("pkg/m.py", '@functools.cache\\ndef removed(x):\\n    return ("v1", x)',
             'def removed(x):\\n    return ("v2", x)')
        edit("pkg/m.py", "return 1\\n", "return 2\\n")
        edit("pkg/m.py", "+ 10", "+ 20")
        result = r.reload("pkg.m")
        after = [price(3), price(4), label(3), added(3), removed(3), size(), Box().size()]
        edit("pkg/m.py", "x * 5", "x * 7")
        edit("pkg/user.py", "OK = True", "OK = 1 / 0")
        failed = r.reload("pkg.m", "pkg.user")
        emit(before=before, ok=result.ok, after=after, failed=failed.ok,
             rolled_back=[price(6), sys.modules["pkg.m"].price(6)])
        """,
        patch,
    )
    before = [6, "v1 3", ["v1", 3], ["v1", 3], 11]
    if patch:
        assert out == {
            "before": before,
            "ok": True,
            "after": [15, 20, "v2 3", ["v2", 3], ["v2", 3], 22, 22],
            "failed": False,
            "rolled_back": [30, 30],
        }
    else:
        assert out == {
            "before": before,
            "ok": True,
            "after": [6, 8, "v1 3", ["v1", 3], ["v1", 3], 11, 11],
            "failed": False,
            "rolled_back": [12, 30],
        }


@BOTH
def test_singledispatch_functions_and_methods_dispatch_to_new_code(
    project: Project, patch: bool
) -> None:
    # A held singledispatch function forwards to the new one (its registry); a bound method of
    # a singledispatchmethod, taken before the reload, dispatches with the old registry: its
    # base function (the fallback) was not upgraded and ran the old code.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                import functools
                @functools.singledispatch
                def fmt(x):
                    return "v1 any"
                @fmt.register(int)
                def _(x):
                    return "v1 int"
                class C:
                    @functools.singledispatchmethod
                    def show(self, x):
                        return "v1 any"
                    @show.register
                    def _(self, x: int):
                        return "v1 int"
            """,
        }
    )
    out = _run(
        project,
        """
        from pkg.m import fmt, C
        show = C().show
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", 'any"\\n', 'any2"\\n')
        edit("pkg/m.py", 'any"\\n', 'any2"\\n')
        edit("pkg/m.py", 'int"\\n', 'int2"\\n')
        edit("pkg/m.py", 'int"\\n', 'int2"\\n')
        result = r.reload("pkg.m")
        emit(ok=result.ok, calls=[fmt(1), fmt("a"), show(1), show("a")])
        """,
        patch,
    )
    if patch:
        assert out == {"ok": True, "calls": ["v1 int2", "v1 any2", "v1 int2", "v1 any2"]}
    else:
        assert out == {"ok": True, "calls": ["v1 int", "v1 any", "v1 int", "v1 any"]}


@BOTH
def test_a_class_an_init_subclass_hook_registered_is_the_surviving_class_there(
    project: Project, patch: bool
) -> None:
    # A base's __init_subclass__ registers each subclass; it runs inside the class statement,
    # before the surviving class is adopted, so the registry got the class that is then
    # dropped: REGISTRY["Hello"] was not the module's class, and old instances were not
    # instances of it. Registries by name, nested, in a class attribute list and in a set;
    # the list and the set keep one entry per class; a rollback leaves the survivor there, and
    # takes out what only the failed version registered (also without patching).
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": """
                REGISTRY = {}
                BY_KIND = {"greeters": {}}
                SEEN = set()
                class Plugin:
                    ALL = []
                    def __init_subclass__(cls, **kwargs):
                        super().__init_subclass__(**kwargs)
                        REGISTRY[cls.__name__] = cls
                        BY_KIND["greeters"][cls.__name__] = cls
                        Plugin.ALL.append(cls)
                        SEEN.add(cls)
            """,
            "pkg/plugins.py": """
                from pkg.base import Plugin
                class Hello(Plugin):
                    def run(self):
                        return "v1"
            """,
            "pkg/user.py": "import pkg.plugins\nOK = True\n",
        }
    )
    out = _run(
        project,
        """
        import gc
        import pkg.base as base, pkg.user
        old = pkg.plugins.Hello()
        r = hotmod.Reloader("pkg", patch=PATCH)

        def state():
            gc.collect()
            cls = sys.modules["pkg.plugins"].Hello
            return [base.REGISTRY["Hello"] is cls, base.BY_KIND["greeters"]["Hello"] is cls,
                    [c is cls for c in base.Plugin.ALL], [len(base.SEEN), cls in base.SEEN],
                    isinstance(old, base.REGISTRY["Hello"]), base.REGISTRY["Hello"]().run()]

        for version in ("v2", "v3"):
            edit("pkg/plugins.py", '"v', f'"{version}"  # "v')
            assert r.reload("pkg.plugins").ok
        applied = state()
        edit("pkg/plugins.py", '"v3"', '"v4"')
        edit("pkg/plugins.py", "class Hello", "class Extra(Plugin):\\n    pass\\nclass Hello")
        edit("pkg/user.py", "OK = True", "OK = 1 / 0")
        failed = r.reload("pkg.plugins", "pkg.user")
        extra = ["Extra" in base.REGISTRY, "Extra" in base.BY_KIND["greeters"],
                 [c.__name__ for c in base.Plugin.ALL].count("Extra"),
                 [c.__name__ for c in base.SEEN].count("Extra")]
        emit(applied=applied, failed=failed.ok, after_rollback=state(), extra=extra)
        """,
        patch,
    )
    # a rollback puts the registries back as they were: the failed version's classes (its
    # Hello, the Extra only it defined) are not left registered
    if patch:
        assert out == {
            "applied": [True, True, [True], [1, True], True, "v3"],
            "failed": False,
            "after_rollback": [True, True, [True], [1, True], True, "v3"],
            "extra": [False, False, 0, 0],
        }
    else:  # a new class each time: the registry by name agrees with the module, lists grow
        applied = [True, True, [False, False, True], [3, True], False, "v3"]
        assert out == {
            "applied": applied,
            "failed": False,
            "after_rollback": applied,
            "extra": [False, False, 0, 0],
        }


@BOTH
def test_old_function_sees_new_globals_signature_and_kind(project: Project, patch: bool) -> None:
    # deduperreload's scenarios: a changed global constant, changed defaults and annotations,
    # a closure over a changed value, async functions and generators
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                LIMIT = 10
                def capped(x: int, *, scale=1) -> int:
                    "Doc one."
                    return min(x, LIMIT) * scale
                def make_adder():
                    step = 1
                    def add(x):
                        return x + step
                    return add
                add = make_adder()
                async def fetch():
                    return "async1"
                def numbers():
                    yield 1
            """,
        }
    )
    out = _run(
        project,
        """
        import asyncio, inspect, pkg.m
        capped, add, fetch, numbers = pkg.m.capped, pkg.m.add, pkg.m.fetch, pkg.m.numbers
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "LIMIT = 10", "LIMIT = 20")
        edit("pkg/m.py", "scale=1) -> int:", "scale=2) -> float:")
        edit("pkg/m.py", "Doc one.", "Doc two.")
        edit("pkg/m.py", "step = 1", "step = 100")
        edit("pkg/m.py", "async1", "async2")
        edit("pkg/m.py", "yield 1", "yield 2")
        assert r.reload("pkg.m").ok
        emit(capped=capped(50), signature=str(inspect.signature(capped)), doc=capped.__doc__,
             add=add(1), fetch=asyncio.run(fetch()),
             is_coroutine=inspect.iscoroutinefunction(fetch), numbers=list(numbers()))
        """,
        patch,
    )
    if patch:
        assert out == {
            "capped": 40,
            "signature": "(x: int, *, scale=2) -> float",
            "doc": "Doc two.",
            "add": 101,
            "fetch": "async2",
            "is_coroutine": True,
            "numbers": [2],
        }
    else:
        assert out == {
            "capped": 10,
            "signature": "(x: int, *, scale=1) -> int",
            "doc": "Doc one.",
            "add": 2,
            "fetch": "async1",
            "is_coroutine": True,
            "numbers": [1],
        }


@BOTH
def test_removed_names_keep_their_last_definition(project: Project, patch: bool) -> None:
    # IPython: a function removed from the module; jurigged: a method deleted from a class
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                def gone():
                    return "last"
                class Box:
                    def keep(self):
                        return "keep1"
                    def dropped(self):
                        return "dropped1"
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        gone, box = pkg.m.gone, pkg.m.Box()
        dropped = box.dropped
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", 'def gone():\\n    return "last"\\n', "")
        edit("pkg/m.py", '    def dropped(self):\\n        return "dropped1"\\n', "")
        edit("pkg/m.py", "keep1", "keep2")
        assert r.reload("pkg.m").ok
        emit(gone=gone(), in_module=hasattr(pkg.m, "gone"), keep=box.keep(),
             has_dropped=hasattr(box, "dropped"), dropped=dropped())
        """,
        patch,
    )
    assert out["gone"] == "last"
    assert out["in_module"] is False
    assert out["dropped"] == "dropped1"
    if patch:
        assert out["keep"] == "keep2"
        assert out["has_dropped"] is False
    else:
        assert out["keep"] == "keep1"
        assert out["has_dropped"] is True


@BOTH
def test_nested_classes_and_abc(project: Project, patch: bool) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                import abc
                class Outer:
                    class Inner:
                        def value(self):
                            return "inner1"
                class Shape(abc.ABC):
                    @abc.abstractmethod
                    def area(self): ...
                class Unit(Shape):
                    def area(self):
                        return 1
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        inner, unit = pkg.m.Outer.Inner(), pkg.m.Unit()
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "inner1", "inner2")
        edit("pkg/m.py", "return 1", "return 2")
        assert r.reload("pkg.m").ok
        emit(inner=inner.value(), inner_identity=type(inner) is pkg.m.Outer.Inner,
             area=unit.area(), abc=isinstance(unit, pkg.m.Shape))
        """,
        patch,
    )
    if patch:
        assert out == {"inner": "inner2", "inner_identity": True, "area": 2, "abc": True}
    else:
        assert out == {"inner": "inner1", "inner_identity": False, "area": 1, "abc": False}


# -- opting out, result, tracebacks -----------------------------------------------------------


def test_module_opts_out_with_hotmod_patch_false(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "__hotmod_patch__ = False\ndef f():\n    return 1\n",
        }
    )
    out = project.result(
        """
        import pkg.m
        f = pkg.m.f
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "return 1", "return 2")
        result = r.reload("pkg.m")
        emit(old=f(), new=pkg.m.f(), patched=list(result.patched))
        """
    )
    assert out == {"old": 1, "new": 2, "patched": []}


def test_result_lists_patched_names_and_the_info_line_counts_them(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "def f():\n    return 1\nclass C:\n    def g(self):\n        return 1\n",
        }
    )
    out = project.result(
        """
        import pkg.m
        records = _Records(); logging.getLogger("hotmod").addHandler(records)
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "return 1", "return 2")
        result = r.reload("pkg.m")
        line = [rec.getMessage() for rec in records.records if rec.levelname == "INFO"][-1]
        emit(patched=sorted(result.patched), line=line)
        """
    )
    assert out["patched"] == ["pkg.m.C", "pkg.m.C.g", "pkg.m.f"]
    assert isinstance(out["line"], str)
    assert out["line"].startswith("reloaded pkg.m in ")
    assert out["line"].endswith("; patched 3 in place")


def test_patch_argument_must_be_a_bool(project: Project) -> None:
    project.write({"pkg/__init__.py": ""})
    out = project.result(
        """
        try:
            hotmod.Reloader("pkg", patch="yes")
        except hotmod.ArgumentTypeError as exc:
            emit(error=str(exc))
        """
    )
    assert out == {"error": "patch must be True or False, not 'yes'"}


@BOTH
def test_tracebacks_of_old_references_point_at_the_new_file_and_line(
    project: Project, patch: bool
) -> None:
    # IPython issue 15359: after deduperreload patched a function, its traceback showed the old
    # line numbers. Here lines move and the old reference raises from the new code.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "def fail():\n    raise ValueError('one')\n",
        }
    )
    out = _run(
        project,
        """
        import inspect, traceback, pkg.m
        fail = pkg.m.fail
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "def fail():", "# moved\\n# down\\n\\ndef fail():")
        edit("pkg/m.py", "'one'", "'two'")
        assert r.reload("pkg.m").ok
        try:
            fail()
        except ValueError as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            emit(message=str(exc), line=last.lineno, text=last.line,
                 file=os.path.basename(last.filename), source=inspect.getsource(fail))
        """,
        patch,
    )
    if patch:
        assert out == {
            "message": "two",
            "line": 6,  # the files start with the RECORD line (conftest)
            "text": "raise ValueError('two')",
            "file": "m.py",
            "source": "def fail():\n    raise ValueError('two')\n",
        }
    else:
        # the old code runs; its line 2 now shows another line of the edited file
        assert out["message"] == "one"
        assert out["line"] == 3


def test_replaced_function_takes_the_newest_line_at_every_reload(
    project: Project,
) -> None:
    # The forwarding code of an unchanged definition is reused from the reload before; one
    # that moved gets its own again (the version each reload replaces shows the new line).
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "X = 1\ndef get():\n    return X\n",
        }
    )
    out = project.result(
        """
        import inspect, pkg.m
        r = hotmod.Reloader("pkg")
        seen = []
        for old, new in [("X = 1", "X = 2"), ("X = 2", "X = 3"),
                         ("X = 3", "X = 4\\n\\n# moved down"), ("X = 4", "X = 5")]:
            get = pkg.m.get
            edit("pkg/m.py", old, new)
            assert r.reload("pkg.m").ok
            seen.append([get(), get.__code__.co_firstlineno, inspect.getsource(get),
                         get.__code__ is not pkg.m.get.__code__])
        emit(seen=seen)
        """
    )
    source = "def get():\n    return X\n"
    # the files start with the RECORD line (conftest)
    assert out == {
        "seen": [
            [2, 3, source, True],
            [3, 3, source, True],
            [4, 5, source, True],
            [5, 5, source, True],
        ]
    }


def test_function_held_since_start_takes_every_later_versions_arguments_and_defaults(
    project: Project,
) -> None:
    # The original object forwards through the same box as every later version: at the
    # third version it must accept that version's parameters and use its defaults, not keep
    # the second's (it rejected a keyword the third added and passed the second's default),
    # and a failed reload puts the second version's state back. The version each reload
    # replaces takes the new signature and line; older ones forward any arguments.
    project.write({"pkg/__init__.py": "", "pkg/m.py": "def f():\n    return 0\n"})
    out = project.result(
        """
        import inspect, traceback, pkg.m
        original = pkg.m.f
        r = hotmod.Reloader("pkg")

        def state(func):
            return [str(inspect.signature(func)), func.__code__.co_filename == "<hotmod forward>"]

        edit("pkg/m.py", "return 0", "return 1")
        assert r.reload("pkg.m").ok
        second_version = pkg.m.f
        second = state(original)
        edit("pkg/m.py", "def f():\\n    return 1", "\\n\\ndef f(x=5):\\n    return (2, x)")
        assert r.reload("pkg.m").ok
        third = [*state(original), *state(second_version)]
        called = [original(x=3), original(), second_version()]
        edit("pkg/m.py", "return (2, x)", "return (3, x)\\nraise ValueError('broken')")
        failed = r.reload("pkg.m")
        after_rollback = [*state(original), original(x=3), original()]
        edit("pkg/m.py", "raise ValueError('broken')", "def g(x):\\n    raise KeyError(x)")
        edit("pkg/m.py", "def f(x=5):\\n    return (3, x)", "def f(x=7):\\n    return g(x)")
        assert r.reload("pkg.m").ok
        try:
            original()
        except KeyError as exc:
            frames = [(f.name, f.lineno, f.line) for f in traceback.extract_tb(exc.__traceback__)]
            key = exc.args[0]
        emit(second=second, third=third, called=called, failed=failed.rolled_back,
             after_rollback=after_rollback, key=key, frames=frames[2:])
        """
    )
    # the files start with the RECORD line (conftest)
    assert out == {
        "second": ["()", False],
        "third": ["(*args, **kwargs)", True, "(x=5)", False],
        "called": [[2, 3], [2, 5], [2, 5]],
        "failed": True,
        "after_rollback": ["(*args, **kwargs)", True, [2, 3], [2, 5]],
        "key": 7,
        "frames": [["f", 5, "return g(x)"], ["g", 7, "raise KeyError(x)"]],
    }


# -- transaction -------------------------------------------------------------------------------


def test_failure_in_a_later_module_restores_every_patched_object(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": """
                class Base:
                    def who(self):
                        return "base1"
                class C(Base):
                    "Doc one."
                    x = 1
                    def get(self, n=1):
                        return ("v1", n, super().who())
                def f(a=1, *, b=2):
                    "f doc"
                    return ("f1", a, b)
                f.tag = "t1"
            """,
            "pkg/b.py": "from pkg import a\nVALUE = 1\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.b
        C, f, Base = pkg.a.C, pkg.a.f, pkg.a.Base
        obj = C()
        def state():
            fn = C.__dict__["get"]
            return (f.__code__, f.__defaults__, f.__kwdefaults__, f.__annotations__, f.__dict__,
                    f.__doc__, dict(C.__dict__), C.__bases__, C.__doc__, fn.__code__,
                    fn.__closure__[0].cell_contents)
        before = state()
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "v1", "v2")
        edit("pkg/a.py", "f1", "f2")
        edit("pkg/a.py", "x = 1", "x = 2\\n    y = 3")
        edit("pkg/a.py", "Doc one.", "Doc two.")
        edit("pkg/b.py", "VALUE = 1", "VALUE = 1 / 0")
        result = r.reload("pkg.a")
        after = state()
        same = [x is y or x == y for x, y in zip(before, after)]
        emit(ok=result.ok, rolled_back=result.rolled_back, same=same,
             dict_same=before[6] == after[6], call=list(obj.get()), f=list(f()),
             module_is_old=pkg.a.C is C, y=hasattr(C, "y"), patched=list(result.patched))
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "same": [True] * 11,
        "dict_same": True,
        "call": ["v1", 1, "base1"],
        "f": ["f1", 1, 2],
        "module_is_old": True,
        "y": False,
        "patched": [],
    }


def test_failure_in_a_later_module_puts_back_what_nothing_held(project: Project) -> None:
    """A function and a class that nothing but their module holds are not upgraded: the old
    module's names are bound to the new ones. When a later module fails, those names are bound
    back: the module running again is the old one, with its own functions and classes."""
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": """
                def f():
                    return "f1"
                class K:
                    def m(self):
                        return "k1"
            """,
            "pkg/b.py": "from pkg import a\nVALUE = 1\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.b
        ids = [id(pkg.a.f), id(pkg.a.K)]  # (the ids only: nothing here holds them)
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "f1", "f2")
        edit("pkg/a.py", "k1", "k2")
        edit("pkg/b.py", "VALUE = 1", "VALUE = 1 / 0")
        failed = r.reload("pkg.a")
        back = [id(pkg.a.f), id(pkg.a.K)] == ids
        calls = [pkg.a.f(), pkg.a.K().m()]
        edit("pkg/b.py", "VALUE = 1 / 0", "VALUE = 1")
        applied = r.reload("pkg.a")
        emit(failed=failed.ok, back=back, calls=calls, applied=applied.ok,
             now=[pkg.a.f(), pkg.a.K().m()], patched=sorted(applied.patched))
        """
    )
    assert out == {
        "failed": False,
        "back": True,
        "calls": ["f1", "k1"],
        "applied": True,
        "now": ["f2", "k2"],
        "patched": ["pkg.a.K", "pkg.a.K.m", "pkg.a.f"],
    }


def test_exception_while_patching_rolls_the_whole_reload_back(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def one():\n    return 1\ndef two():\n    return 2\n",
        }
    )
    out = project.result(
        """
        import pkg.a
        import hotmod._patch as patch_module
        one, two, module = pkg.a.one, pkg.a.two, pkg.a
        code_one = one.__code__
        real = patch_module._trampoline
        calls = []
        def failing(old, *rest):
            calls.append(old.__name__)
            if len(calls) == 2:
                raise RuntimeError("patching failed")
            return real(old, *rest)
        patch_module._trampoline = failing
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "return 1", "return 10")
        edit("pkg/a.py", "return 2", "return 20")
        result = r.reload("pkg.a")
        emit(ok=result.ok, rolled_back=result.rolled_back, error=str(result.error),
             one=one(), two=two(), code_restored=one.__code__ is code_one,
             module_is_old=sys.modules["pkg.a"] is module)
        """
    )
    assert out == {
        "ok": False,
        "rolled_back": True,
        "error": "patching failed",
        "one": 1,
        "two": 2,
        "code_restored": True,
        "module_is_old": True,
    }


def test_old_references_stay_one_hop_from_the_newest_code(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/m.py": "N = 0\ndef f():\n    return N\n"})
    out = project.result(
        """
        import traceback, pkg.m
        first = pkg.m.f
        r = hotmod.Reloader("pkg")
        for i in range(1, 51):
            edit("pkg/m.py", f"N = {i - 1}\\n", f"N = {i}\\n")
            assert r.reload("pkg.m").ok
        edit("pkg/m.py", "return N", "raise ValueError(N)")
        assert r.reload("pkg.m").ok
        try:
            first()
        except ValueError as exc:
            depth = len(traceback.extract_tb(exc.__traceback__))
        emit(value=pkg.m.N, depth=depth)
        """
    )
    # this frame, the old object's forwarding frame, the newest function's frame
    assert out == {"value": 50, "depth": 3}


def test_an_old_function_nothing_holds_is_rebound_not_forwarded(project: Project) -> None:
    # A function only its module held needs no forwarder: its name in the old module object
    # is bound to the new function (code holding that module gets the new function itself);
    # likewise a method only its class held. Held in any other way (a list, a weak reference,
    # a partial, a bound method) it is forwarded as before; a rollback puts everything back.
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "N = 0\ndef free():\n    return N\ndef listed():\n    return N\n"
            "def weak():\n    return N\ndef bound():\n    return N\n"
            "class K:\n    def plain(self):\n        return N\n    def kept(self):\n"
            "        return N\n",
            "pkg/user.py": "from pkg import m\nOK = True\n",
        }
    )
    out = project.results(
        """
        import functools, weakref
        from hotmod import _patch
        import pkg.m as m, pkg.user
        held = [m.listed]
        weak = weakref.ref(m.weak)
        bound = functools.partial(m.bound)
        instance = m.K()
        method = instance.kept  # a bound method holds the function
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "N = 0", "N = 1")
        result = r.reload("pkg.m")
        new = sys.modules["pkg.m"]
        emit(patched=sorted(result.patched), free_is_new=m.free is new.free,
             held_are_new=[m.listed is new.listed, m.weak is new.weak, m.bound is new.bound],
             calls=[m.free(), held[0](), weak()(), bound(), instance.plain(), method()],
             forwarded=sorted(b.fn.__qualname__ for b in _patch._forwarders.values()))
        free_now = new.free
        edit("pkg/m.py", "N = 1", "N = 2")
        edit("pkg/user.py", "OK = True", "OK = 1 / 0")
        result = r.reload("pkg.m", "pkg.user")
        emit(ok=result.ok, back=sys.modules["pkg.m"] is new, free=new.free is free_now,
             calls=[m.free(), new.free(), held[0](), weak()(), bound(), instance.plain(),
                    method()])
        """
    )
    assert out == [
        {
            "patched": [
                "pkg.m.K",
                "pkg.m.K.kept",
                "pkg.m.K.plain",
                "pkg.m.bound",
                "pkg.m.free",
                "pkg.m.listed",
                "pkg.m.weak",
            ],
            "free_is_new": True,
            "held_are_new": [False, False, False],
            "calls": [1, 1, 1, 1, 1, 1],
            "forwarded": ["K.kept", "bound", "listed", "weak"],
        },
        {"ok": False, "back": True, "free": True, "calls": [1, 1, 1, 1, 1, 1, 1]},
    ]


def test_a_class_nothing_holds_is_replaced_and_a_held_one_upgraded(project: Project) -> None:
    # A class only its module held (no instance, subclass, alias, registry, closure, frame or
    # weak reference) needs no upgrade: the new class statement's class is the module's, and
    # the old module object's name is bound to it (to a decorator's result, if that is another
    # class). Its methods held elsewhere still run the new code. Held in any of those ways, or
    # with a nested class, the old class survives and runs the new code. A rollback puts the
    # classes of the version before back.
    names = ["Free", "Method", "Instance", "Alias", "Sub", "Weak", "Listed", "Key", "Cell"]
    names += ["Frame"]
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "import dataclasses\nN = 0\n"
            + "".join(f"class {n}:\n    def g(self):\n        return N\n" for n in names)
            + "class Outer:\n    class Inner:\n        def g(self):\n            return N\n"
            + "@dataclasses.dataclass(slots=True)\nclass Slotted:\n    x: int = 0\n"
            + "    def g(self):\n        return N\n",
        }
    )
    # the holders live in the script, which is not reloaded (a module importing pkg.m would
    # be re-executed with it, and so hold the new classes)
    out = project.results(
        """
        import types, weakref
        import pkg.m as m
        keep = types.SimpleNamespace()
        keep.method = m.Method.g
        keep.instance = m.Instance()
        keep.Alias = m.Alias
        class Sub(m.Sub):
            pass
        keep.Sub = Sub
        keep.weak = weakref.ref(m.Weak)
        keep.listed = [m.Listed]
        keep.keyed = {m.Key: 1}
        def _make(cls=None):
            cls = m.Cell
            return lambda: cls
        keep.cell = _make()
        def _frame():
            cls = m.Frame
            yield
            yield cls
        keep.frame = _frame()
        next(keep.frame)
        keep.inner = m.Outer.Inner()
        ids = {name: id(getattr(m, name)) for name in ("Free", "Method", "Outer", "Slotted")}
        held = {"Instance": type(keep.instance), "Alias": keep.Alias, "Sub": keep.Sub.__base__,
                "Weak": keep.weak(), "Listed": keep.listed[0], "Key": next(iter(keep.keyed)),
                "Cell": keep.cell(), "Frame": keep.frame.gi_frame.f_locals["cls"]}
        ids.update((name, id(cls)) for name, cls in held.items())
        del held
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "N = 0", "N = 1")
        result = r.reload("pkg.m")
        new = sys.modules["pkg.m"]
        emit(kept={name: id(getattr(new, name)) == i for name, i in ids.items()},
             old_module=[m.Free is new.Free, m.Slotted is new.Slotted],
             calls=[new.Free().g(), keep.method(None), keep.instance.g(), keep.Alias().g(),
                    keep.Sub().g(), keep.weak()().g(), keep.listed[0]().g(),
                    next(iter(keep.keyed))().g(), keep.cell()().g(), next(keep.frame)().g(),
                    keep.inner.g(), new.Slotted().g()],
             patched=[name in result.patched for name in ("pkg.m.Free", "pkg.m.Free.g")])
        before = id(new.Free)
        edit("pkg/m.py", "N = 1", "N = 2\\nclass Broken(Free):\\n    pass\\n1 / 0")
        result = r.reload("pkg.m")
        emit(ok=result.ok, back=sys.modules["pkg.m"] is new, free=id(new.Free) == before,
             calls=[new.Free().g(), keep.instance.g(), keep.Alias().g(), keep.method(None)])
        """
    )
    replaced = {"Free", "Method", "Slotted"}
    assert out == [
        {
            "kept": {name: name not in replaced for name in [*names, "Outer", "Slotted"]},
            "old_module": [True, True],
            "calls": [1] * 12,
            "patched": [True, True],
        },
        {"ok": False, "back": True, "free": True, "calls": [1, 1, 1, 1]},
    ]


def test_a_function_forwarded_to_once_is_rebound_once_nothing_holds_it(project: Project) -> None:
    # A reload forwards the old f (a list holds it) to the new one, which the box of f's older
    # versions then calls. At the next reload that new f is held only by its module and by
    # the box: it is rebound, not forwarded, and the box calls the newest f (any signature);
    # a rollback puts the box and the binding back. (It used to be forwarded at every reload
    # from then on.)
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": "N = 0\ndef f():\n    return N\n"
            "class K:\n    def g(self):\n        return N\n",
            "pkg/user.py": "from pkg import m\nOK = True\n",
        }
    )
    out = project.results(
        """
        import gc
        import pkg.m, pkg.user
        held, kept, instance = [pkg.m.f], [pkg.m.K.g], pkg.m.K()  # likewise a method
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "N = 0", "N = 1")
        assert r.reload("pkg.m").ok
        m1 = sys.modules["pkg.m"]
        gc.collect()  # the first version's module, a garbage cycle, holds nothing then
        edit("pkg/m.py", "N = 1\\ndef f():\\n    return N",
             "N = 2\\ndef f(x=0):\\n    return N + x")
        edit("pkg/user.py", "OK = True", "OK = 1 / 0")
        failed = r.reload("pkg.m", "pkg.user")
        emit(ok=failed.ok, back=sys.modules["pkg.m"] is m1,
             calls=[m1.f(), held[0](), kept[0](instance), instance.g()])
        del failed
        gc.collect()
        edit("pkg/user.py", "OK = 1 / 0", "OK = True")
        result = r.reload("pkg.m", "pkg.user")
        m2 = sys.modules["pkg.m"]
        emit(ok=result.ok, rebound=m1.f is m2.f,
             calls=[m1.f(), held[0](), held[0](5), kept[0](instance), instance.g()])
        """
    )
    assert out == [
        {"ok": False, "back": True, "calls": [1, 1, 1, 1]},
        {"ok": True, "rebound": True, "calls": [2, 2, 7, 2, 2]},
    ]


def test_under_a_tracer_every_old_function_is_forwarded(project: Project) -> None:
    # A trace function (a debugger) may keep the locals of the frames it sees: reference counts
    # cannot tell then, and the functions nothing holds are forwarded like the others.
    project.write({"pkg/__init__.py": "", "pkg/m.py": "N = 0\ndef free():\n    return N\n"})
    out = project.result(
        """
        import pkg.m as m
        r = hotmod.Reloader("pkg")
        edit("pkg/m.py", "N = 0", "N = 1")
        sys.settrace(lambda frame, event, arg: None)
        result = r.reload("pkg.m")
        sys.settrace(None)
        new = sys.modules["pkg.m"]
        emit(ok=result.ok, free_is_new=m.free is new.free, call=m.free())
        """
    )
    assert out == {"ok": True, "free_is_new": False, "call": 1}


def test_threads_calling_old_and_new_methods_during_200_reloads(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                VERSION = 0
                def helper():
                    return VERSION
                class Worker:
                    def __init__(self):
                        self.n = 0
                    def step(self):
                        self.n += 1
                        return helper()
            """,
        }
    )
    out = project.result(
        """
        import threading, pkg.m
        old = pkg.m.Worker()
        old_helper = pkg.m.helper
        errors, stop = [], threading.Event()
        def loop():
            while not stop.is_set():
                try:
                    old.step()
                    pkg.m.Worker().step()
                    old_helper()
                    isinstance(old, pkg.m.Worker) or errors.append("isinstance")
                except Exception as exc:
                    errors.append(repr(exc))
        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        r = hotmod.Reloader("pkg")
        failed = 0
        for i in range(1, 201):
            edit("pkg/m.py", f"VERSION = {i - 1}\\n", f"VERSION = {i}\\n")
            failed += not r.reload("pkg.m").ok
        stop.set()
        for t in threads:
            t.join(30)
        emit(errors=errors[:5], failed=failed, step=old.step(), helper=old_helper(),
             calls=old.n > 200)
        """,
        timeout=240,
    )
    assert out == {"errors": [], "failed": 0, "step": 200, "helper": 200, "calls": True}


@BOTH
def test_classes_the_module_hands_out_while_executing_are_the_surviving_class(
    project: Project, patch: bool
) -> None:
    # a decorator registry, an instance made at import time, a subclass in the same module
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/registry.py": "PLUGINS = {}\ndef plugin(cls):\n    PLUGINS[cls.__name__] = cls\n"
            "    return cls\n",
            "pkg/m.py": """
                from pkg.registry import plugin
                @plugin
                class Plugin:
                    def run(self):
                        return "run1"
                class Child(Plugin):
                    pass
                DEFAULT = Child()
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m, pkg.registry
        old = pkg.m.Plugin()
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "run1", "run2")
        assert r.reload("pkg.m").ok
        emit(registry=pkg.registry.PLUGINS["Plugin"] is pkg.m.Plugin is type(old),
             default=isinstance(pkg.m.DEFAULT, type(old)), run=old.run(),
             child_base=pkg.m.Child.__bases__[0] is type(old))
        """,
        patch,
    )
    if patch:
        assert out == {"registry": True, "default": True, "run": "run2", "child_base": True}
    else:
        assert out == {"registry": False, "default": False, "run": "run1", "child_base": False}


@BOTH
def test_a_class_a_decorator_built_again_binds_its_aliases_and_instances_to_the_survivor(
    project: Project, patch: bool
) -> None:
    # dataclass(slots=True) returns a new class: the class statement's own class (no slots)
    # cannot become the old one, the decorated one can, after the statement
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/m.py": """
                from dataclasses import dataclass
                @dataclass(slots=True)
                class Point:
                    x: int
                    def norm(self):
                        return self.x * 1
                ORIGIN = Point(2)
                ALIAS = Point
            """,
        }
    )
    out = _run(
        project,
        """
        import pkg.m
        Point, held = pkg.m.Point, pkg.m.Point(3)
        r = hotmod.Reloader("pkg", patch=PATCH)
        edit("pkg/m.py", "self.x * 1", "self.x * 10")
        assert r.reload("pkg.m").ok
        emit(same=pkg.m.Point is Point, alias=pkg.m.ALIAS is Point,
             origin=type(pkg.m.ORIGIN) is Point, origin_norm=pkg.m.ORIGIN.norm(),
             held=held.norm())
        """,
        patch,
    )
    if patch:
        assert out == {"same": True, "alias": True, "origin": True, "origin_norm": 20, "held": 30}
    else:
        assert out == {"same": False, "alias": False, "origin": False, "origin_norm": 20,
                       "held": 3}  # fmt: skip


def test_a_failed_reload_after_an_applied_one_puts_every_version_back(project: Project) -> None:
    # the second reload shares one __dict__ among the versions and converts the first version
    # to forward any arguments: its rollback undoes both
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": """
                def f(a=1):
                    return ("v1", a)
                f.tag = "t1"
                def g():
                    return "g1"
                class C:
                    def get(self):
                        return "c1"
            """,
            "pkg/b.py": "from pkg import a\nVALUE = 1\n",
        }
    )
    out = project.result(
        """
        import pkg.a, pkg.b
        f1, g1, C = pkg.a.f, pkg.a.g, pkg.a.C
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "v1", "v2")
        edit("pkg/a.py", '"t1"', '"t2"')
        edit("pkg/a.py", "c1", "c2")
        assert r.reload("pkg.a").ok
        f2 = pkg.a.f
        def state():
            return [f1(), f2(), dict(f1.__dict__), dict(f2.__dict__),
                    f1.__dict__ is f2.__dict__, f1.__defaults__, f2.__defaults__, C().get(),
                    dict(g1.__dict__), g1()]
        before = state()
        edit("pkg/a.py", "v2", "v3")
        edit("pkg/a.py", '"t2"', '"t3"')
        edit("pkg/a.py", "g1", "g3")
        # attributes set on the new versions before the failure go with them
        edit("pkg/b.py", "VALUE = 1", "a.g.mark = a.f.mark = 1\\nVALUE = 1 / 0")
        failed = r.reload("pkg.a", "pkg.b")
        after = state()
        edit("pkg/b.py", "a.g.mark = a.f.mark = 1\\nVALUE = 1 / 0", "VALUE = 1")
        fixed = r.reload("pkg.a", "pkg.b")
        emit(rolled_back=failed.rolled_back, same=before == after, after=after,
             fixed=fixed.ok, now=[f1(), f2(), pkg.a.f.tag, f1.tag, C().get()])
        """
    )
    assert out == {
        "rolled_back": True,
        "same": True,
        "after": [
            *(["v2", 1], ["v2", 1], {"tag": "t2"}, {"tag": "t2"}, True, [1], [1], "c2"),
            *({}, "g1"),
        ],
        "fixed": True,
        "now": [["v3", 1], ["v3", 1], "t3", "t3", "c2"],
    }


_SIGNATURES = """
def plain(a, b=2):
    return (V, a, b)
def posonly(a, /, b, *, c=3):
    return (V, a, b, c)
def only_posonly(a, b, /):
    return (V, a, b)
def star(*args, **kwargs):
    return (V, args, kwargs)
def mixed(a, *rest, k, **kw):
    return (V, a, rest, k, kw)
def none():
    return (V,)
def clash(_hotmod_a0, *, _hotmod_k0=1):
    return (V, _hotmod_a0, _hotmod_k0)
def outer():
    seen = V
    def inner(x, *, y=0):
        return (seen, x, y)
    return inner
closure = outer()
async def coro(a, *, k=1):
    return (V, a, k)
def gen(n, *, step=1):
    yield from ((V, i) for i in range(0, n, step))
async def agen(_hotmod_item, n=2):
    for i in range(n):
        yield (V, _hotmod_item, i)
"""

_CALLS = {
    "plain": [((1,), {}), ((1, 5), {}), ((), {"a": 1, "b": 7})],
    "posonly": [((1, 2), {}), ((1,), {"b": 2, "c": 9})],
    "only_posonly": [((1, 2), {})],
    "star": [((), {}), ((1, 2), {"x": 3})],
    "mixed": [((1, 2, 3), {"k": 4}), ((1,), {"k": 4, "z": 5})],
    "none": [((), {})],
    "clash": [((1,), {}), ((), {"_hotmod_a0": 2, "_hotmod_k0": 3})],
    "closure": [((1,), {}), ((1,), {"y": 2})],
    "coro": [((1,), {}), ((1,), {"k": 2})],
    "gen": [((5,), {}), ((5,), {"step": 2})],
    "agen": [(("x",), {}), ((), {"_hotmod_item": "y", "n": 3})],
}


def _call(func: object, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
    import asyncio
    import inspect

    out = func(*args, **kwargs)  # type: ignore[operator]
    if inspect.iscoroutine(out):
        return asyncio.run(out)
    if inspect.isasyncgen(out):

        async def drain() -> list[object]:
            return [item async for item in out]

        return asyncio.run(drain())
    if inspect.isgenerator(out):
        return list(out)
    return out


def test_old_functions_of_every_signature_shape_take_the_new_ones_arguments() -> None:
    # Signature templates are shared by shape (placeholder names, the real ones put in):
    # positional-only, keyword-only, *args/**kwargs, closures, coroutines, generators, and
    # names that look like the template's own. Two upgrades: the first version then forwards
    # any arguments (the generic code), the second takes the newest signature.
    import inspect

    from hotmod._patch import Patcher

    def version(value: str) -> dict[str, object]:
        namespace: dict[str, object] = {"__name__": "sigs", "V": value}
        exec(compile(_SIGNATURES, "sigs.py", "exec"), namespace)
        return namespace

    first, second, third = version("v1"), version("v2"), version("v3")
    Patcher().patch_module("sigs", first, second)
    for name, calls in _CALLS.items():
        old, new = first[name], second[name]
        assert inspect.signature(old) == inspect.signature(new), name  # type: ignore[arg-type]
        for args, kwargs in calls:
            assert _call(old, args, kwargs) == _call(new, args, kwargs), (name, args, kwargs)
            assert "v2" in repr(_call(old, args, kwargs)), name
    Patcher().patch_module("sigs", second, third)
    for name, calls in _CALLS.items():
        for args, kwargs in calls:
            expected = _call(third[name], args, kwargs)
            assert "v3" in repr(expected), name
            assert _call(first[name], args, kwargs) == expected, (name, args, kwargs)
            assert _call(second[name], args, kwargs) == expected, (name, args, kwargs)
