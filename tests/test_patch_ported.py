"""Scenarios of other reloaders' test suites about old instances, old references and class
identity, written anew for hotmod (issue 11's acceptance).

Sources: IPython's ``IPython/extensions/tests/test_autoreload.py`` and
``IPython/extensions/tests/test_deduperreload.py``, jurigged's ``tests/test_codetools.py``
(its ``snippets`` modules), and the issue reproductions IPython 12399 and 8807. Scenarios
already in ``tests/test_patch.py`` are not repeated here. Each test runs in a fresh interpreter
twice: with the default options (patching on), where the old objects run the new code, and
with ``Reloader(..., patch=False)``, where it asserts what pure re-execution gives: the old
object keeps the old behaviour and the module has the new one.

A module's later versions are written as ``v/*.txt`` files; ``use(target, version)`` copies
one over the module's source before ``reload``.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import Project

BOTH = pytest.mark.parametrize("patch", [True, False], ids=["patch", "no-patch"])

HELPERS = """\
def use(target, version):
    Path(target).write_text(Path(version).read_text())

def attempt(fn, *args):
    # what a call returns, or the name of the exception it raises
    try:
        return fn(*args)
    except Exception as exc:
        return type(exc).__name__
"""


def _run(project: Project, code: str, patch: bool) -> dict[str, object]:
    return project.result(f"PATCH = {patch!r}\n" + HELPERS + textwrap.dedent(code))


def _versions(project: Project, files: dict[str, str]) -> None:
    project.write({"pkg/__init__.py": ""})
    project.write({k: v for k, v in files.items() if k.endswith(".py")})
    project.write({k: v for k, v in files.items() if not k.endswith(".py")}, record=False)


# -- IPython test_autoreload.py ---------------------------------------------------------------


@BOTH
def test_held_class_builds_instances_with_the_new_init_and_methods(
    project: Project, patch: bool
) -> None:
    """IPython test_autoreload.py::test_reload_class_attributes: one method removed, another
    added, ``__init__`` changed; an instance made before and one made after the reload through
    the class object imported before it."""
    _versions(
        project,
        {
            "pkg/m.py": """
                class Counter:
                    def __init__(self, start=1):
                        self.start = start
                        self.step = 5
                    def doubled(self):
                        return self.start * 2
            """,
            "v/m2.txt": """
                class Counter:
                    def __init__(self, start=1):
                        self.start = start
                        self.step = 7
                    def raised(self, power):
                        return self.start ** power
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import Counter
        before = Counter(3)
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        after = Counter(3)
        emit(**{name: [attempt(lambda: obj.raised(2)), hasattr(obj, "doubled"), obj.step,
                       hasattr(obj, "missing")]
                for name, obj in (("before", before), ("after", after))})
        """,
        patch,
    )
    if patch:
        assert out == {
            "before": [9, False, 5, False],  # instance state is the old __init__'s
            "after": [9, False, 7, False],
        }
    else:
        assert out == {
            "before": ["AttributeError", True, 5, False],
            "after": ["AttributeError", True, 5, False],  # the old class, the old __init__
        }


@BOTH
def test_class_attribute_whose_comparison_is_not_a_bool(project: Project, patch: bool) -> None:
    """IPython test_autoreload.py::test_comparing_numpy_structures: a class attribute holding
    values whose ``==`` gives an array-like object that refuses ``bool()`` (numpy arrays) must
    not break the reload."""
    _versions(
        project,
        {
            "pkg/arrays.py": """
                class Vector:
                    def __init__(self, *items):
                        self.items = items
                    def __eq__(self, other):
                        return Vector(*(a == b for a, b in zip(self.items, other.items)))
                    def __bool__(self):
                        raise ValueError("the truth value of a Vector is ambiguous")
                    __hash__ = None
            """,
            "pkg/m.py": """
                from pkg.arrays import Vector
                class Table:
                    columns = (Vector(1, 2), Vector(2, 3))
            """,
            "v/m2.txt": """
                from pkg.arrays import Vector
                class Table:
                    columns = (Vector(3, 4), Vector(5, 6))
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        old = pkg.m.Table()
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        result = r.reload("pkg.m")
        emit(ok=result.ok, old=[c.items for c in old.columns],
             new=[c.items for c in pkg.m.Table.columns])
        """,
        patch,
    )
    assert out["ok"] is True
    assert out["new"] == [[3, 4], [5, 6]]
    assert out["old"] == ([[3, 4], [5, 6]] if patch else [[1, 2], [2, 3]])


@BOTH
def test_objects_a_reload_added_are_upgraded_by_the_next_one(project: Project, patch: bool) -> None:
    """IPython test_autoreload.py::test_autoload_newly_added_objects (and test_deduperreload.py::
    test_autoreload_new_class_added): a function, a class and an enum that only the second
    version defines, held and then changed by a third version."""
    _versions(
        project,
        {
            "pkg/m.py": """
                def first():
                    return "first1"
            """,
            "v/m2.txt": """
                import enum
                def first():
                    return "first1"
                def second():
                    return "second1"
                class Added:
                    pass
                class Letter(enum.Enum):
                    A = "a"
                count = 0
            """,
            "v/m3.txt": """
                import enum
                def first():
                    return "first2"
                def second():
                    return "second2"
                class Added:
                    def method(self):
                        return "method2"
                class Letter(enum.Enum):
                    A = "a"
                    def shout(self):
                        return self.value.upper()
                count = 1
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        first = pkg.m.first
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        second, added, a = pkg.m.second, pkg.m.Added(), pkg.m.Letter.A
        use("pkg/m.py", "v/m3.txt")
        assert r.reload("pkg.m").ok
        emit(first=first(), second=second(), method=attempt(lambda: added.method()),
             isinstance=isinstance(added, pkg.m.Added), member=pkg.m.Letter.A is a,
             shout=attempt(lambda: a.shout()), count=pkg.m.count)
        """,
        patch,
    )
    if patch:
        assert out == {
            "first": "first2",
            "second": "second2",
            "method": "method2",
            "isinstance": True,
            "member": True,
            "shout": "A",
            "count": 1,
        }
    else:
        assert out == {
            "first": "first1",
            "second": "second1",
            "method": "AttributeError",
            "isinstance": False,
            "member": False,
            "shout": "AttributeError",
            "count": 1,
        }


@BOTH
def test_a_broken_edit_then_a_good_one(project: Project, patch: bool) -> None:
    """IPython test_autoreload.py::test_smoketest_autoreload (and test_deduperreloader.py::
    test_deduperreloader_failure): a syntax error keeps every old object as it was; the next
    good version upgrades them (a function, a method, a property, a removed method, a second
    class) and drops a removed module value."""
    _versions(
        project,
        {
            "pkg/m.py": """
                level = 9
                dropped = 123
                def shift(y):
                    return y + 3
                class Box:
                    def __init__(self, x):
                        self.x = x
                    def add(self, y):
                        return self.x + y
                    @property
                    def answer(self):
                        return 42
                    def doomed(self):
                        return 99
                class Other:
                    def value(self):
                        return 1
            """,
            "v/broken.txt": "a syntax error\n",
            "v/m2.txt": """
                level = 10
                def shift(y):
                    return y + 4
                class Box:
                    def __init__(self, x):
                        self.x = x
                    def add(self, y):
                        return self.x + y + 1
                    @property
                    def answer(self):
                        return 43
                class Other:
                    def value(self):
                        return 2
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        mod = pkg.m
        shift, box, other = mod.shift, mod.Box(9), mod.Other()
        def state():
            return [sys.modules["pkg.m"].level, hasattr(sys.modules["pkg.m"], "dropped"),
                    shift(0), box.add(1), box.answer, hasattr(box, "doomed"), other.value()]
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/broken.txt")
        broken = r.reload("pkg.m")
        after_broken = state()
        use("pkg/m.py", "v/m2.txt")
        good = r.reload("pkg.m")
        emit(broken=[broken.ok, broken.rolled_back, type(broken.error).__name__],
             after_broken=after_broken, good=good.ok, after_good=state())
        """,
        patch,
    )
    assert out["broken"] == [False, True, "SyntaxError"]
    assert out["after_broken"] == [9, True, 3, 10, 42, True, 1]
    assert out["good"] is True
    if patch:
        assert out["after_good"] == [10, False, 4, 11, 43, False, 2]
    else:
        assert out["after_good"] == [10, False, 3, 10, 42, True, 1]


# -- IPython test_deduperreload.py ------------------------------------------------------------


@BOTH
def test_changed_signatures_reach_old_references(project: Project, patch: bool) -> None:
    """IPython test_deduperreload.py::test_patching_parameters, ::test_deduperreloader_imported_mod,
    ::test_autoreload_class_default_args and ::test_autoreload_class_change_default_args: a
    parameter removed, a function that now takes none and uses an imported name, a method
    and a static function that gain a default taken from a module global."""
    _versions(
        project,
        {
            "pkg/m.py": """
                from os import sep
                base = 42
                def total(n, s):
                    return n + s
                def probe(n):
                    return None
                class Holder:
                    def pick(self, y):
                        return y
                    @staticmethod
                    def fixed(y):
                        return y
            """,
            "v/m2.txt": """
                from os import sep
                base = 44
                def total(n):
                    return n
                def probe():
                    return len(sep)
                class Holder:
                    def pick(self, y=base):
                        return y
                    @staticmethod
                    def fixed(y=base):
                        return y
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        total, probe, holder, fixed = pkg.m.total, pkg.m.probe, pkg.m.Holder(), pkg.m.Holder.fixed
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        emit(total=attempt(total, 2), probe=attempt(probe), pick=attempt(holder.pick),
             pick_arg=holder.pick(2), fixed=attempt(fixed))
        """,
        patch,
    )
    if patch:
        assert out == {"total": 2, "probe": 1, "pick": 44, "pick_arg": 2, "fixed": 44}
    else:
        assert out == {
            "total": "TypeError",
            "probe": "TypeError",
            "pick": "TypeError",
            "pick_arg": 2,
            "fixed": "TypeError",
        }


@BOTH
def test_removed_override_falls_back_to_the_base_method(project: Project, patch: bool) -> None:
    """IPython test_deduperreload.py::test_remove_overridden_method."""
    _versions(
        project,
        {
            "pkg/m.py": """
                class Parent:
                    def value(self):
                        return "parent"
                class Kid(Parent):
                    def value(self):
                        return "kid"
            """,
            "v/m2.txt": """
                class Parent:
                    def value(self):
                        return "parent"
                class Kid(Parent):
                    pass
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import Kid
        kid = Kid()
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        emit(old=kid.value(), new=sys.modules["pkg.m"].Kid().value())
        """,
        patch,
    )
    assert out == {"old": "parent" if patch else "kid", "new": "parent"}


@BOTH
def test_empty_class_gains_members_that_name_it_through_its_global(
    project: Project, patch: bool
) -> None:
    """IPython test_deduperreload.py::test_autoreload_class_pass, ::test_autoreload_class_ellipsis,
    ::test_autoreload_class_use_class_member, ::test_autoreload_class_use_outside_func,
    ::test_autoreload_class_nested_default and ::test_autoreload_class_nested_using_members:
    a class body that was ``pass`` (or ``...``) gains an attribute, a function that reads the
    class through the module global and a nested class that reads the outer one."""
    _versions(
        project,
        {
            "pkg/m.py": """
                offset = 9
                class Plain:
                    pass
                class Dots:
                    ...
            """,
            "v/m2.txt": """
                offset = 9
                class Plain:
                    size = 9
                    def grow():
                        return 1 + Plain.size
                    class Inner:
                        def read():
                            return 10 + Plain.size
                class Dots:
                    def shifted():
                        return 1 + offset
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import Plain, Dots
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        emit(grow=attempt(lambda: Plain.grow()), inner=attempt(lambda: Plain.Inner.read()),
             shifted=attempt(lambda: Dots.shifted()), same=Plain is sys.modules["pkg.m"].Plain)
        """,
        patch,
    )
    if patch:
        assert out == {"grow": 10, "inner": 19, "shifted": 10, "same": True}
    else:
        assert out == {
            "grow": "AttributeError",
            "inner": "AttributeError",
            "shifted": "AttributeError",
            "same": False,
        }


@BOTH
def test_module_aliases_of_class_and_static_methods(project: Project, patch: bool) -> None:
    """IPython test_deduperreload.py::test_method_classmethod_one_change,
    ::test_method_staticmethod_one_change, ::test_method_decorators_again and
    ::test_method_decorators_no_changes1: ``func = Foo.func`` at module level (a bound class
    method, a static method's function), imported elsewhere; a helper they call changes."""
    _versions(
        project,
        {
            "pkg/m.py": """
                class Maker:
                    @classmethod
                    def extra(cls):
                        return 0
                    @classmethod
                    def build(cls):
                        return 42 + cls.extra()
                    @staticmethod
                    def helper():
                        return 0
                    @staticmethod
                    def compute():
                        return 42 + Maker.helper()
                    @classmethod
                    def steady(cls):
                        return "steady"
                build = Maker.build
                compute = Maker.compute
                steady = Maker.steady
            """,
            "v/m2.txt": """
                class Maker:
                    @classmethod
                    def extra(cls):
                        return 1
                    @classmethod
                    def build(cls):
                        return 42 + cls.extra()
                    @staticmethod
                    def helper():
                        return 1
                    @staticmethod
                    def compute():
                        return 42 + Maker.helper()
                    @classmethod
                    def steady(cls):
                        return "steady"
                build = Maker.build
                compute = Maker.compute
                steady = Maker.steady
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import build, compute, steady
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        m = sys.modules["pkg.m"]
        emit(build=build(), compute=compute(), steady=steady(), module=[m.build(), m.compute()])
        """,
        patch,
    )
    assert out["module"] == [43, 43]
    assert out["steady"] == "steady"
    if patch:
        assert [out["build"], out["compute"]] == [43, 43]
    else:
        assert [out["build"], out["compute"]] == [42, 42]


@BOTH
def test_method_decorator_removed_or_changed(project: Project, patch: bool) -> None:
    """IPython test_deduperreload.py::test_method_decorator and
    ::test_method_modified_decorator: a class method loses its (closure) decorator; another
    keeps it while the decorator's body changes; both are held as bound methods."""
    _versions(
        project,
        {
            "pkg/m.py": """
                def bump(f):
                    return lambda *args: f(*args) + 1
                def adjust(f):
                    return lambda *args: f(*args) + 1
                class Loses:
                    @classmethod
                    @bump
                    def value(cls):
                        return 42
                class Keeps:
                    @classmethod
                    @adjust
                    def value(cls):
                        return 42
                loses, keeps = Loses.value, Keeps.value
            """,
            "v/m2.txt": """
                def bump(f):
                    return lambda *args: f(*args) + 1
                def adjust(f):
                    return lambda *args: f(*args) + 0
                class Loses:
                    @classmethod
                    def value(cls):
                        return 42
                class Keeps:
                    @classmethod
                    @adjust
                    def value(cls):
                        return 42
                loses, keeps = Loses.value, Keeps.value
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import loses, keeps
        before = [loses(), keeps()]
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        m = sys.modules["pkg.m"]
        emit(before=before, after=[loses(), keeps()], module=[m.loses(), m.keeps()])
        """,
        patch,
    )
    assert out["before"] == [43, 43]
    assert out["module"] == [42, 42]
    assert out["after"] == ([42, 42] if patch else [43, 43])


@BOTH
def test_function_decorator_removed_then_a_decorator_factory_added(
    project: Project, patch: bool
) -> None:
    """IPython test_deduperreload.py::test_function_decorators: a function loses its closure
    decorator (the module's name now holds the plain function), then gains a decorator made by
    a factory; a reference taken before each reload."""
    _versions(
        project,
        {
            "pkg/m.py": """
                def bump(f):
                    return lambda *args: f(*args) + 1
                @bump
                def value():
                    return 42
            """,
            "v/m2.txt": """
                def bump(f):
                    return lambda *args: f(*args) + 1
                def value():
                    return 42
            """,
            "v/m3.txt": """
                def bump(by):
                    def deco(f):
                        return lambda *args: f(*args) + by
                    return deco
                @bump(2)
                def value():
                    return 43
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        first = pkg.m.value
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        second = sys.modules["pkg.m"].value
        step2 = [first(), second()]
        use("pkg/m.py", "v/m3.txt")
        assert r.reload("pkg.m").ok
        emit(step2=step2, step3=[first(), second(), sys.modules["pkg.m"].value()])
        """,
        patch,
    )
    if patch:
        assert out == {"step2": [42, 42], "step3": [45, 45, 45]}
    else:
        assert out == {"step2": [43, 42], "step3": [43, 42, 45]}


@BOTH
def test_wrapper_whose_free_variables_are_renamed(project: Project, patch: bool) -> None:
    """IPython test_deduperreload.py::test_decorators_with_freevars: the decorator's wrapper
    closes over differently named variables in the new version; the held (decorated) function
    runs the new wrapper with its new values."""
    _versions(
        project,
        {
            "pkg/m.py": """
                def tag(func):
                    left = "l1"
                    right = "r1"
                    def wrapper(*args, **kwargs):
                        return func(*args, **kwargs), left, right
                    return wrapper
                @tag
                def work():
                    return "v1"
            """,
            "v/m2.txt": """
                def tag(func):
                    west = "w2"
                    east = "e2"
                    def wrapper(*args, **kwargs):
                        return func(*args, **kwargs), west, east
                    return wrapper
                @tag
                def work():
                    return "v2"
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import work
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        emit(old=work(), new=sys.modules["pkg.m"].work())
        """,
        patch,
    )
    assert out["new"] == ["v2", "w2", "e2"]
    assert out["old"] == (["v2", "w2", "e2"] if patch else ["v1", "l1", "r1"])


# -- jurigged tests/test_codetools.py ---------------------------------------------------------


@BOTH
def test_stacked_closure_decorators_through_three_versions(project: Project, patch: bool) -> None:
    """jurigged tests/test_codetools.py::test_merge_decorators, ::test_merge_decorators_change and
    ::test_change_decorator (the ``chips`` snippets): a function under two closure decorators
    gains a parameter, then a third decorator, then the decorator's body changes; the reference
    taken at the start follows every version."""
    _versions(
        project,
        {
            "pkg/m.py": """
                def plus(fn):
                    def deco(*args):
                        return fn(*args) + 1
                    return deco
                @plus
                @plus
                def chew(x):
                    return x
            """,
            "v/two_args.txt": """
                def plus(fn):
                    def deco(*args):
                        return fn(*args) + 1
                    return deco
                @plus
                @plus
                def chew(x, y):
                    return x + y
            """,
            "v/three.txt": """
                def plus(fn):
                    def deco(*args):
                        return fn(*args) + 1
                    return deco
                @plus
                @plus
                @plus
                def chew(x):
                    return x + 10
            """,
            "v/body.txt": """
                def plus(fn):
                    def deco(*args):
                        return fn(*args) + 2
                    return deco
                @plus
                @plus
                def chew(x):
                    return x
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import chew
        r = hotmod.Reloader("pkg", patch=PATCH)
        seen = [chew(4)]
        use("pkg/m.py", "v/two_args.txt")
        assert r.reload("pkg.m").ok
        seen.append(attempt(chew, 4, 2))
        use("pkg/m.py", "v/three.txt")
        assert r.reload("pkg.m").ok
        seen.append(chew(4))
        use("pkg/m.py", "v/body.txt")
        assert r.reload("pkg.m").ok
        seen.append(chew(4))
        emit(seen=seen, module=sys.modules["pkg.m"].chew(4))
        """,
        patch,
    )
    assert out["module"] == 8
    assert out["seen"] == ([6, 8, 17, 8] if patch else [6, "TypeError", 6, 6])


@BOTH
def test_back_and_forth_between_two_versions(project: Project, patch: bool) -> None:
    """jurigged tests/test_codetools.py::test_merge and ::test_merge_back_and_forth (the
    ``ballon`` snippets): a function, an instance and a bound method held while the module
    switches between two versions three times; methods and functions appear and disappear."""
    _versions(
        project,
        {
            "pkg/m.py": """
                import math
                def inflate(x):
                    return x * 2
                class Disc:
                    def __init__(self, radius):
                        self.radius = radius
                    def ugly(self):
                        return "ugly"
                    def volume(self):
                        return -1
                def boring():
                    return None
            """,
            "v/m1.txt": """
                import math
                def inflate(x):
                    return x * 2
                class Disc:
                    def __init__(self, radius):
                        self.radius = radius
                    def ugly(self):
                        return "ugly"
                    def volume(self):
                        return -1
                def boring():
                    return None
            """,
            "v/m2.txt": """
                import math
                class Disc:
                    def __init__(self, radius):
                        self.radius = radius
                    def perimeter(self):
                        return round(2 * math.pi * self.radius, 3)
                    def volume(self):
                        return 0
                def inflate(x):
                    return x * 3
                def deflate(x):
                    return x / 3
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        inflate, disc = pkg.m.inflate, pkg.m.Disc(10)
        volume = disc.volume
        def state():
            m = sys.modules["pkg.m"]
            return [inflate(5), volume(), disc.volume(), hasattr(disc, "ugly"),
                    attempt(lambda: disc.perimeter()), hasattr(m, "boring"), hasattr(m, "deflate")]
        r = hotmod.Reloader("pkg", patch=PATCH)
        seen = []
        for version in ["v/m2.txt", "v/m1.txt"] * 3:
            use("pkg/m.py", version)
            assert r.reload("pkg.m").ok
            seen.append(state())
        emit(seen=seen)
        """,
        patch,
    )
    if patch:
        new = [15, 0, 0, False, 62.832, False, True]
        old = [10, -1, -1, True, "AttributeError", True, False]
    else:
        new = [10, -1, -1, True, "AttributeError", False, True]
        old = [10, -1, -1, True, "AttributeError", True, False]
    assert out["seen"] == [new, old] * 3


@BOTH
def test_super_forms_aliases_and_module_functions_as_methods(project: Project, patch: bool) -> None:
    """jurigged tests/test_codetools.py::test_change_supermethod, ::test_remove_super and
    ::test_add_class_statement (the ``glamour`` snippets): a subclass method's use of
    ``super()`` changes, then it stops calling it, then it calls the two-argument
    ``super(Cls, self)``, aliases a method in the class body and takes a module function as a
    method; one instance made at the start sees each version."""
    base = """
        class Garment:
            def __init__(self, level):
                self.level = level
            def style(self):
                return self.level
    """

    def scarf(body: str, prefix: str = "") -> str:
        return textwrap.dedent(prefix) + textwrap.dedent(base) + textwrap.dedent(body)

    _versions(
        project,
        {
            "pkg/m.py": scarf(
                """
                class Scarf(Garment):
                    def style(self):
                        return super().style() * 2
                """
            ),
            "v/triple.txt": scarf(
                """
                class Scarf(Garment):
                    def style(self):
                        return super().style() * 3
                """
            ),
            "v/fixed.txt": scarf(
                """
                class Scarf(Garment):
                    def style(self):
                        return 1234
                """
            ),
            "v/explicit.txt": scarf(
                """
                class Scarf(Garment):
                    def style(self):
                        return super(Scarf, self).style() * 10
                    also_style = style
                    hello = greet
                """,
                prefix="""
                def greet(self):
                    return "hello!"
                """,
            ),
        },
    )
    out = _run(
        project,
        """
        from pkg.m import Scarf
        scarf = Scarf(5)
        r = hotmod.Reloader("pkg", patch=PATCH)
        seen = [scarf.style()]
        for version in ["v/triple.txt", "v/fixed.txt", "v/explicit.txt"]:
            use("pkg/m.py", version)
            assert r.reload("pkg.m").ok
            seen.append(scarf.style())
        m = sys.modules["pkg.m"]
        emit(seen=seen, also=attempt(lambda: scarf.also_style()),
             hello=attempt(lambda: scarf.hello()), new=[m.Scarf(5).style(), m.Scarf(5).hello()])
        """,
        patch,
    )
    assert out["new"] == [50, "hello!"]
    if patch:
        assert out == {
            "seen": [10, 15, 1234, 50],
            "also": 50,
            "hello": "hello!",
            "new": [50, "hello!"],
        }
    else:
        assert out["seen"] == [10, 10, 10, 10]
        assert out["also"] == out["hello"] == "AttributeError"


@BOTH
def test_functions_kept_only_by_a_registry_keep_their_code(project: Project, patch: bool) -> None:
    """jurigged tests/test_codetools.py::test_functions_interface (the ``elephant`` snippets):
    three functions defined under one name, each kept only by a registry object that the
    module binds to that name. A function no module name holds is not paired with its new
    version (the documented limit): the old registry calls the old functions; the module's
    new registry calls the new ones. Its class is upgraded like any other."""
    _versions(
        project,
        {
            "pkg/m.py": """
                class Recorder:
                    def __init__(self):
                        self.functions = []
                    def register(self, fn):
                        self.functions.append(fn)
                        return self
                    def __call__(self, *args):
                        return [fn(*args) for fn in self.functions]
                tasks = Recorder()
                @tasks.register
                def do(x):
                    return f"paint {x}"
                @tasks.register
                def do(x):
                    return f"sing {x}"
            """,
            "v/m2.txt": """
                class Recorder:
                    def __init__(self):
                        self.functions = []
                    def register(self, fn):
                        self.functions.append(fn)
                        return self
                    def __call__(self, *args):
                        return [fn(*args) for fn in self.functions] + ["(v2)"]
                tasks = Recorder()
                @tasks.register
                def do(x):
                    return f"paint {x}"
                @tasks.register
                def do(x):
                    return f"sing {x * 2}"
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.m import do
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        emit(old=do(7), new=sys.modules["pkg.m"].do(7))
        """,
        patch,
    )
    assert out["new"] == ["paint 7", "sing 14", "(v2)"]
    assert out["old"] == (["paint 7", "sing 7", "(v2)"] if patch else ["paint 7", "sing 7"])


# -- issue reproductions ----------------------------------------------------------------------


@BOTH
def test_type_checks_between_held_and_new_classes(project: Project, patch: bool) -> None:
    """IPython issue 12399: ``B().test(A())`` compares ``type(x) == A`` (and ``isinstance``)
    where ``A`` and ``B`` came from ``from m import *`` before a reload of an unchanged file."""
    _versions(
        project,
        {
            "pkg/ab.py": """
                class A:
                    pass
                class B:
                    def test(self, x):
                        return [type(x) == A, isinstance(x, A)]
            """,
            "v/ab2.txt": """
                class A:
                    pass
                class B:
                    def test(self, x):
                        return [type(x) == A, isinstance(x, A)]
                # saved again
            """,
        },
    )
    out = _run(
        project,
        """
        from pkg.ab import *
        held_a = A()
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/ab.py", "v/ab2.txt")
        assert r.reload("pkg.ab").ok
        m = sys.modules["pkg.ab"]
        emit(held=B().test(A()), new_b=m.B().test(A()), new_a=B().test(m.A()),
             earlier=m.B().test(held_a))
        """,
        patch,
    )
    if patch:
        assert out == {
            "held": [True, True],
            "new_b": [True, True],
            "new_a": [True, True],
            "earlier": [True, True],
        }
    else:
        assert out == {
            "held": [True, True],
            "new_b": [False, False],
            "new_a": [False, False],
            "earlier": [False, False],
        }


@BOTH
def test_new_code_with_explicit_super_on_an_old_instance(project: Project, patch: bool) -> None:
    """IPython issue 8807: after a reload, ``super(Child, self)`` in the new code raises
    "obj must be an instance or subtype of type" for an instance made before it."""
    _versions(
        project,
        {
            "pkg/m.py": """
                class Base:
                    def hello(self):
                        return "base"
                class Child(Base):
                    def hello(self):
                        return "child+" + super(Child, self).hello()
                def describe(obj):
                    return Child.hello(obj)
            """,
            "v/m2.txt": """
                class Base:
                    def hello(self):
                        return "base2"
                class Child(Base):
                    def hello(self):
                        return "child2+" + super(Child, self).hello()
                def describe(obj):
                    return Child.hello(obj)
            """,
        },
    )
    out = _run(
        project,
        """
        import pkg.m
        old = pkg.m.Child()
        r = hotmod.Reloader("pkg", patch=PATCH)
        use("pkg/m.py", "v/m2.txt")
        assert r.reload("pkg.m").ok
        m = sys.modules["pkg.m"]
        try:
            described = m.describe(old)
        except TypeError as exc:
            described = str(exc)
        emit(old=old.hello(), described=described)
        """,
        patch,
    )
    if patch:
        assert out == {"old": "child2+base2", "described": "child2+base2"}
    else:
        assert out["old"] == "child+base"
        # super()'s TypeError; its wording changed in 3.13 ("obj must be an instance or subtype
        # of type" before, "obj (instance of Child) is not an instance or subtype of type
        # (Child)." since)
        assert "an instance or subtype of type" in str(out["described"])
