"""Upgrade what survives a reload: old functions run the new code, old classes become the new.

After a module re-executes, the objects of its old version that others still hold — an
instance created earlier, a callback a framework stored, ``from m import f`` elsewhere, a bound
method — would run the old code. For each top-level function and class that the new version
defines again under the same qualified name, a ``Patcher``:

- **functions** (also methods, static and class methods, property functions, the functions
  of ``functools.lru_cache`` wrappers, whose old caches are emptied): the old function
  object forwards to the new one. Its ``__code__`` becomes a one-line trampoline with the new
  function's signature that calls the new function, which has the new module's globals and
  closure; it takes the new defaults, keyword defaults, annotations, ``__dict__`` and
  ``__doc__``. A function's ``__globals__`` cannot be reassigned, and running the new code with
  the old module's globals would read stale module values (and write ``global`` names where
  the new functions never look), so the new code always runs in the new function object.
  Every earlier forwarder is re-pointed at the newest version: a call costs one hop, however
  many reloads happened. A top-level function that nothing but its module holds (reference
  counts tell, on builds with the GIL) needs no forwarder: its name in the old module's
  globals is bound to the new function instead.
- **classes**: the old class object survives. It takes the new class's namespace (methods
  added, changed, removed; attributes; properties; dataclass fields and methods), its bases
  where they are compatible, and the new methods' ``__class__`` cells point at it (zero-argument
  ``super()``). The new module's names (and module-level instances, enum members) are bound
  to the surviving class, so ``isinstance``, ``issubclass`` and ``pickle`` hold for old
  instances and dependents subclass it. A class whose layout changed (``__slots__``, a builtin
  base, a metaclass) keeps the new class, with one INFO line; classes with any metaclass but
  ``type``, ``abc.ABCMeta`` and ``enum.EnumMeta`` are left to their frameworks' adapters.

Every change is recorded first, so ``undo()`` puts each object back exactly (code, defaults,
annotations, ``__dict__``, ``__doc__``, class namespaces, bases, cells, forwarders). The cost is
proportional to what the re-executed modules define: no heap scan.
"""

from __future__ import annotations

import abc
import enum
import functools
import itertools
import logging
import sys
import sysconfig
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from types import (
    CodeType,
    FunctionType,
    GetSetDescriptorType,
    MemberDescriptorType,
    ModuleType,
)
from typing import TYPE_CHECKING, Any, TypeVar

from hotmod._class_statements import hook_registries

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # annotations only: not imported at run time

__all__ = ["Patcher", "prepare_templates"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_MISSING: Any = object()
_PLACEHOLDER = "__hotmod_forward_target__"
_PATCHABLE_METACLASSES = (type, abc.ABCMeta, enum.EnumMeta)
# Class attributes that belong to the class object, never to the namespace carried over.
_CLASS_OWN = frozenset({"__dict__", "__weakref__", "_abc_impl"})
_CO_VARARGS, _CO_VARKEYWORDS = 0x04, 0x08
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200
_HAS_ANNOTATE = hasattr(FunctionType, "__annotate__")  # PEP 649 (3.14)
_HAS_TYPE_PARAMS = hasattr(FunctionType, "__type_params__")  # 3.12
# What ``functools.lru_cache`` and ``functools.cache`` return (the C wrapper; without the C
# module they return a plain function, upgraded as one).
_CACHE_WRAPPER: type = type(functools.lru_cache(len))


class _Box:
    """What every older version of a function calls: ``fn``, the newest version."""

    __slots__ = ("fn", "generic", "latest", "namespace", "trampoline")

    def __init__(self, fn: FunctionType) -> None:
        self.fn = fn
        # the one ``__dict__`` every version shares, the newest's attributes in it (see
        # ``Patcher._share_namespace``)
        self.namespace: dict[str, Any] | None = None
        # the last trampoline made for this box, with what it was made from (the new code,
        # the old function's number of free variables, the template, the new code's name and
        # place): the next reload of an unchanged definition takes the same code object
        self.trampoline: tuple[CodeType, int, CodeType, tuple[object, ...], CodeType] | None = None
        # the version the last reload made forward here, with ``fn``'s signature: at the
        # next one it goes over to forwarding any arguments (see ``_generic_code``)
        self.latest: weakref.ref[FunctionType] | None = None
        self.generic: tuple[tuple[object, ...], CodeType] | None = None  # likewise


# newest function -> the box that every older version of it calls through: when the newest is
# upgraded in turn, the box gets its successor, so each upgrade costs the same however many
# versions came before, and a call is always one hop.
# Keyed by the id of the box's ``fn``, which the box holds: an entry cannot outlive its key.
_forwarders: dict[int, _Box] = {}
_forwarders_lock = threading.Lock()
_templates: dict[tuple[object, ...], CodeType] = {}


def _is(value: object, kind: type[_T]) -> TypeIs[_T]:
    """``isinstance`` by the value's type alone: ``isinstance`` also reads ``__class__``, which
    evaluates a lazy object (Django's ``settings``)."""
    return issubclass(type(value), kind)


def _kind(code: CodeType) -> str:
    flags = code.co_flags
    if flags & _CO_COROUTINE:
        return "async"
    if flags & _CO_GENERATOR:
        return "gen"
    return "agen" if flags & _CO_ASYNC_GENERATOR else ""


async def _any_async(*args: Any, **kwargs: Any) -> None: ...


def _any_gen(*args: Any, **kwargs: Any) -> Iterator[None]:
    yield


async def _any_agen(*args: Any, **kwargs: Any) -> Any:
    yield


# a signature of each kind that takes any arguments, for _generic_code
_generic_codes: dict[str, CodeType] = {
    "": (lambda *args, **kwargs: None).__code__,
    "async": _any_async.__code__,
    "gen": _any_gen.__code__,
    "agen": _any_agen.__code__,
}


def _parameters(code: CodeType) -> tuple[str, ...]:
    """The names of ``code``'s parameters, in order (``*args`` and ``**kwargs`` last)."""
    flags = code.co_flags
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(flags & _CO_VARARGS) + bool(flags & _CO_VARKEYWORDS)
    return code.co_varnames[:count]


def _trampoline_template(code: CodeType, nfree: int) -> CodeType:
    """A code object with the shape of ``code``'s signature and ``nfree`` free variables whose
    body calls the placeholder constant with the same arguments (cached per shape).

    Its parameters have placeholder names, so one template serves every function of the
    shape (``_named`` gives it the real names): a first reload compiles a template for the few
    shapes it meets, not one for each function's names. Real names the template's own could
    clash with (``_hotmod_*``) get a template of their own."""
    kind = _kind(code)
    nargs, posonly, kwonly = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    flags = code.co_flags
    has_varargs, has_varkw = bool(flags & _CO_VARARGS), bool(flags & _CO_VARKEYWORDS)
    real = _parameters(code)
    exact = any(name.startswith("_hotmod_") for name in real)
    key = (kind, posonly, nargs, kwonly, has_varargs, has_varkw, nfree, real if exact else None)
    cached = _templates.get(key)
    if cached is not None:
        return cached
    names = list(real) if exact else [
        *(f"_hotmod_a{i}" for i in range(nargs)),
        *(f"_hotmod_k{i}" for i in range(kwonly)),
        *(["_hotmod_args"] if has_varargs else []),
        *(["_hotmod_kw"] if has_varkw else []),
    ]  # fmt: skip
    varargs = names[nargs + kwonly] if has_varargs else None
    varkw = names[-1] if has_varkw else None
    params: list[str] = names[:nargs]
    call: list[str] = names[:nargs]
    if posonly:
        params.insert(posonly, "/")
    if varargs is not None:
        params.append("*" + varargs)
        call.append("*" + varargs)
    elif kwonly:
        params.append("*")
    for name in names[nargs : nargs + kwonly]:
        params.append(name)
        call.append(f"{name}={name}")
    if varkw is not None:
        params.append("**" + varkw)
        call.append("**" + varkw)
    taken = set(names)
    cells = []
    for i in range(nfree):
        cell = f"_hotmod_cell{i}"
        while cell in taken:
            cell += "_"
        cells.append(cell)
    forward = f"{_PLACEHOLDER!r}.fn({', '.join(call)})"  # the constant becomes a _Box
    item = "_hotmod_item"
    while item in taken:
        item += "_"
    body = {
        "async": f"await {forward}",
        "gen": f"(yield from {forward})",
        "agen": item,
        "": forward,
    }[kind]
    if cells:  # free variables the body never reads (their number must match the closure)
        body = f"{body} if True else ({', '.join(cells)},)"
    lines = ["def _hotmod_outer():"]
    if cells:
        lines.append(f"    {' = '.join(cells)} = None")
    prefix = "def" if kind in ("", "gen") else "async def"
    signature = f"    {prefix} _hotmod_forward({', '.join(params)}):"
    if kind == "agen":  # (values sent with asend() are not passed on)
        lines.append(f"{signature}\n        async for {item} in {forward}: yield {body}")
    else:
        lines.append(f"{signature} return {body}")
    lines.append("    return _hotmod_forward")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<hotmod forward>", "exec"), namespace)
    template: CodeType = namespace["_hotmod_outer"]().__code__
    assert len(template.co_freevars) == nfree
    _templates[key] = template
    return template


# The signature shapes most functions have (names do not count): their templates are made
# by ``prepare_templates`` off the reload path, so a first reload compiles none for them.
_COMMON_SHAPES: tuple[CodeType, ...] = (
    (lambda: None).__code__,
    (lambda a: None).__code__,
    (lambda a, b: None).__code__,
    (lambda a, b, c: None).__code__,
    (lambda a, b, c, d: None).__code__,
    (lambda a, *args, **kwargs: None).__code__,
    _generic_codes[""],
)


def prepare_templates() -> None:
    """Make the templates of the common signature shapes (some 80 us each, once a process)
    and calibrate the reference counts (``_unheld_count``, some 50 us): a Reloader's index
    thread calls this, so that the first reload does not."""
    for code in _COMMON_SHAPES:
        _trampoline_template(code, 0)
    _unheld_count()  # (not calibrated in a traced thread: the first reload then does it)


def _named(template: CodeType, parameters: tuple[str, ...], box: _Box) -> dict[str, Any]:
    """The changes that make ``template`` call ``box`` with ``parameters`` for its parameter
    names (keyword-only arguments are passed on by name: those names are constants)."""
    placeholders = template.co_varnames[: len(parameters)]
    rename: dict[object, object] = {_PLACEHOLDER: box}
    changes: dict[str, Any] = {}
    if placeholders != parameters:
        changes["co_varnames"] = parameters + template.co_varnames[len(parameters) :]
        keywords = slice(template.co_argcount, template.co_argcount + template.co_kwonlyargcount)
        rename.update(zip(placeholders[keywords], parameters[keywords], strict=True))
    consts = []
    for const in template.co_consts:
        if type(const) is str:
            consts.append(rename.get(const, const))
        elif type(const) is tuple and const and all(type(c) is str for c in const):
            consts.append(tuple(rename.get(c, c) for c in const))  # a call's keyword names
        else:
            consts.append(const)
    changes["co_consts"] = tuple(consts)
    return changes


def _trampoline(old: FunctionType, new: FunctionType, box: _Box) -> CodeType:
    """The code that makes ``old`` call ``box.fn`` (``new``): ``new``'s signature, ``old``'s
    number of free variables, and ``new``'s name, file and first line (tracebacks and
    ``inspect.getsource`` of the old object show the new source)."""
    code = new.__code__
    nfree = len(old.__code__.co_freevars)
    made = box.trampoline
    if made is not None and made[0] is code and made[1] == nfree:
        # the common case: a dependent re-executed from the code kept in memory defines its
        # functions from the same code objects as the reload before
        return made[4]
    template = _trampoline_template(code, nfree)
    qualname: str | None = getattr(code, "co_qualname", None)  # 3.11
    parameters = _parameters(code)
    key = (code.co_name, code.co_filename, code.co_firstlineno, qualname, parameters)
    if made is not None and made[2] is template and made[3] == key:
        box.trampoline = (code, nfree, template, key, made[4])
        return made[4]
    changes = _named(template, parameters, box)
    changes["co_name"] = code.co_name
    changes["co_filename"] = code.co_filename
    changes["co_firstlineno"] = code.co_firstlineno
    if qualname is not None:
        changes["co_qualname"] = qualname
    trampoline = template.replace(**changes)
    box.trampoline = (code, nfree, template, key, trampoline)
    return trampoline


def _function_state(func: FunctionType) -> tuple[Any, ...]:
    annotate = func.__annotate__ if _HAS_ANNOTATE else None  # type: ignore[attr-defined]
    annotations = func.__annotations__ if annotate is None else None
    type_params = func.__type_params__ if _HAS_TYPE_PARAMS else None  # type: ignore[attr-defined]
    return (
        func.__code__,
        func.__defaults__,
        func.__kwdefaults__,
        annotate,
        annotations,
        func.__dict__,
        func.__doc__,
        type_params,
    )


def _set_function_state(func: FunctionType, state: tuple[Any, ...]) -> None:
    code, defaults, kwdefaults, annotate, annotations, namespace, doc, type_params = state
    func.__code__ = code
    func.__defaults__ = defaults
    func.__kwdefaults__ = kwdefaults
    if annotate is not None:
        func.__annotate__ = annotate  # type: ignore[attr-defined]
    else:
        func.__annotations__ = annotations
    func.__dict__ = namespace
    func.__doc__ = doc
    if _HAS_TYPE_PARAMS:
        func.__type_params__ = type_params  # type: ignore[attr-defined]


def _take_function_state(old: FunctionType, new: FunctionType, code: CodeType) -> None:
    """Give ``old`` ``new``'s state with ``code`` (the trampoline) for its code; its
    ``__dict__`` is shared by then (``Patcher._share_namespace``)."""
    old.__code__ = code
    old.__defaults__ = new.__defaults__
    old.__kwdefaults__ = new.__kwdefaults__
    if _HAS_ANNOTATE and new.__annotate__ is not None:  # type: ignore[attr-defined]
        old.__annotate__ = new.__annotate__  # type: ignore[attr-defined]
    else:
        old.__annotations__ = new.__annotations__
    old.__dict__ = new.__dict__
    old.__doc__ = new.__doc__
    if _HAS_TYPE_PARAMS:
        old.__type_params__ = new.__type_params__  # type: ignore[attr-defined]


# How ``Patcher._share_namespace`` changed the shared ``__dict__`` (see there).
_Shared = tuple[dict[str, Any], dict[str, Any]] | dict[str, Any] | bool | None

# What undoes one ``Patcher._forward``: old, its state, new, new's own ``__dict__``, what
# ``_share_namespace`` returned, the box, the box ``old`` had (or None), the box's function and
# latest version before, and the older versions converted (with their code and defaults).
_Forwarded = tuple[
    FunctionType,
    tuple[Any, ...],
    FunctionType,
    dict[str, Any],
    "_Shared",
    _Box,
    "_Box | None",
    FunctionType,
    "weakref.ref[FunctionType] | None",
    tuple[tuple[FunctionType, CodeType, Any, Any], ...],
]


def _unforward(record: _Forwarded) -> None:
    """Undo ``Patcher._forward``: ``old``, the older versions and ``new`` as they were."""
    old, state, new, own, shared, box, found, previous, saved_latest, converted = record
    for f, code, defaults, kwdefaults in reversed(converted):
        f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
    _set_function_state(old, state)
    if isinstance(shared, dict):  # the shared dict, empty before (as ``own`` was)
        shared.clear()
        new.__dict__ = own
    elif shared is True:  # ``new``'s own dict had become the shared one
        box.namespace = None
    elif isinstance(shared, tuple):
        namespace, saved = shared
        namespace.clear()
        namespace.update(saved)
        new.__dict__ = own
        box.namespace = namespace
    with _forwarders_lock:
        box.fn = previous
        box.latest = saved_latest
        if _forwarders.get(id(new)) is box:
            del _forwarders[id(new)]
        if found is not None:
            _forwarders[id(old)] = box


def _generic_code(old: FunctionType, new: FunctionType, box: _Box) -> CodeType:
    """The code that makes ``old`` forward any arguments to whatever ``box.fn`` is, for good:
    a version older than the one a reload replaces (held since before an earlier reload)
    would otherwise keep the signature and defaults of the version after it, and reject or
    fill in arguments the newest one takes differently. Its frame in a traceback is ``<hotmod
    forward>``, named after the function (cached on the box)."""
    code = new.__code__
    qualname: str | None = getattr(code, "co_qualname", None)  # 3.11
    key = (_kind(code), len(old.__code__.co_freevars), code.co_name, qualname)
    made = box.generic
    if made is not None and made[0] == key:
        return made[1]
    any_arguments = _generic_codes[key[0]]
    template = _trampoline_template(any_arguments, key[1])
    changes = _named(template, _parameters(any_arguments), box)
    changes["co_name"] = code.co_name
    if qualname is not None:
        changes["co_qualname"] = qualname
    generic = template.replace(**changes)
    box.generic = (key, generic)
    return generic


def _functions_of(value: object) -> tuple[tuple[str, FunctionType], ...]:
    """The functions a class attribute holds: itself, a static or class method's, a property's
    getter, setter and deleter, a ``cached_property``'s, a ``singledispatchmethod``'s base
    function (an old bound method dispatches with the old registry), an ``lru_cache``'s."""
    kind = type(value)
    if kind is FunctionType:  # (a final type: no subclass)
        return (("", value),)  # type: ignore[return-value]
    if issubclass(kind, (staticmethod, classmethod)):
        func = value.__func__  # type: ignore[attr-defined]
        return (("", func),) if type(func) is FunctionType else ()
    if issubclass(kind, property):
        parts = (("fget", value.fget), ("fset", value.fset), ("fdel", value.fdel))  # type: ignore[attr-defined]
        return tuple((part, func) for part, func in parts if type(func) is FunctionType)
    if issubclass(kind, (functools.cached_property, functools.singledispatchmethod)):
        func = value.func  # type: ignore[attr-defined]
        return (("", func),) if type(func) is FunctionType else ()
    if kind is _CACHE_WRAPPER:
        func = _cached_function(value)
        return (("", func),) if func is not None else ()
    return ()


def _cached_function(wrapper: object) -> FunctionType | None:
    """The function an ``lru_cache`` (or ``cache``) wrapper calls, when it is a plain one."""
    func = getattr(wrapper, "__dict__", {}).get("__wrapped__")
    return func if type(func) is FunctionType else None


# Immutable values whose equal copies a class attribute need not be set to again (a setattr
# on a class costs its subclasses' method caches, and a dunder name its slot lookup).
_ATOMS = frozenset({str, int, float, bool, bytes, type(None)})
# old module values that no branch of ``Patcher.patch_module`` upgrades, whatever the new value
# (most of a module's names: its constants, tables, imported modules), passed over at once
_NOT_UPGRADED = _ATOMS | {ModuleType, dict, list, tuple, set, frozenset, object}
# class attributes that hold no function to forward (``_functions_of`` gives nothing)
_NO_FUNCTIONS = _ATOMS | {GetSetDescriptorType, MemberDescriptorType}


def _rewrapped(key: str, module: str, old: FunctionType, new: FunctionType) -> bool:
    """Whether ``old`` and ``new``, both bound to ``key`` by two versions of ``module``, are
    the same definition with a decorator of the module added, removed or changed (a wrapper
    without ``functools.wraps`` is named after the decorator's inner function): each is
    either the module's own ``def key`` or a closure made by the module's code."""
    return old.__module__ == module and all(
        func.__qualname__ == key or "<locals>" in func.__qualname__ for func in (old, new)
    )


def _slots(cls: type) -> tuple[str, ...] | None:
    slots = cls.__dict__.get("__slots__", _MISSING)
    if slots is _MISSING:
        return None
    return (slots,) if _is(slots, str) else tuple(slots)


def _enum_members(cls: type) -> dict[str, object] | None:
    members: object = cls.__dict__.get("_member_map_")
    if not _is(members, dict):
        return None
    return {name: getattr(member, "_value_", _MISSING) for name, member in members.items()}


def _refs(obj: object) -> int:
    """The references to ``obj``, counted one call below the method that decides."""
    return sys.getrefcount(obj)


def _calibrate() -> int:
    """What ``_refs`` gives, called as the ``Patcher`` methods that decide call it, for an
    object only their caller's variable holds: that variable and the references of the calls
    on the way (measured: how many a call adds differs between versions)."""

    def probe() -> None: ...

    return _deciding(probe)  # `probe`: the caller's variable


def _deciding(obj: object) -> int:
    """The call level of ``Patcher._drop_unheld``, for ``_calibrate``."""
    return _refs(obj)


# Reference counts say exactly who holds an object on builds with the GIL. A free-threaded build
# defers some counts, and other interpreters have none: there every old function is forwarded.
_COUNTS_EXACT = not sysconfig.get_config_var("Py_GIL_DISABLED") and hasattr(sys, "getrefcount")
_calibrated: list[int] = []


def _calibrate_classes(unheld: int) -> int:
    """What ``_weak_refs`` gives for a class of one base that nothing else refers to weakly
    (its base's list of subclasses holds its one weak reference, which is shared: a plain
    ``weakref.ref(cls)`` elsewhere adds to that count), or -1 when ``_own_references`` does
    not account for every reference of classes only their caller's variable holds (then no
    class is replaced by ``Patcher._drop_unheld_class``: on an interpreter whose classes hold
    themselves in ways this does not know, every class is upgraded, as before)."""

    class Probe:  # a __dict__ and a __weakref__ descriptor, a __class__ cell
        def method(self) -> object:
            return super()

    class Slotted:  # member descriptors
        __slots__ = ("a", "b")

    if _deciding(Probe) != unheld + _own_references(Probe):
        return -1
    if _deciding(Slotted) != unheld + _own_references(Slotted):
        return -1
    return _weak_refs(Probe)


def _weak_refs(cls: type) -> int:
    """The references to ``cls``'s one weak reference, or -1 when it has any other."""
    refs = weakref.getweakrefs(cls)
    return sys.getrefcount(refs[0]) if len(refs) == 1 else -1


def _slot_count(cls: type) -> int:
    """How many names ``cls``'s own ``__slots__`` declares (0 when that cannot be told)."""
    try:
        return len(cls.__dict__.get("__slots__", ()))
    except TypeError:  # an iterator: its names were taken when the class was built
        return 0


def _own_references(cls: type) -> int:
    """The references to ``cls`` that its own parts hold: its ``__mro__``, the descriptors of
    its ``__dict__``, ``__weakref__`` and slots, the ``__class__`` cell its methods share."""
    count = 1  # cls.__mro__
    cells: set[int] = set()
    for value in cls.__dict__.values():
        kind = type(value)
        if kind is GetSetDescriptorType or kind is MemberDescriptorType:
            count += value.__objclass__ is cls
            continue
        if kind in _ATOMS or (kind is FunctionType and value.__closure__ is None):
            continue  # (the common members, without the call below)
        for _, func in _functions_of(value):
            for cell in func.__closure__ or ():
                if id(cell) not in cells:
                    try:
                        if cell.cell_contents is cls:
                            cells.add(id(cell))
                    except ValueError:  # an empty cell
                        pass
    return count + len(cells)


def _unheld_count() -> int | None:
    """What ``_refs`` gives for an old function nothing else holds, or None when counts cannot
    tell now: a free-threaded build, or a trace or profile function set in this thread (a
    tracer may keep the locals of the frames it sees, which would make the calibration count
    references that the counts it is compared with do not have). Calibrated once, untraced."""
    if not _COUNTS_EXACT or sys.gettrace() is not None or sys.getprofile() is not None:
        return None
    if not _calibrated:
        unheld = _calibrate()
        _calibrated.extend((unheld, _calibrate_classes(unheld)))
    return _calibrated[0]


class Patcher:
    """Upgrades the survivors of the modules one transaction re-executes; ``undo()`` reverts
    everything it did, last change first."""

    def __init__(self) -> None:
        self.patched: list[str] = []
        # what undoes each change, in order: a call, or (namespace, name, value) for a name
        # bound again (the most common change: no partial and bound method for each one)
        self._undo: list[Callable[[], None] | tuple[dict[str, Any], str, object]] = []
        # id(new class) -> (new class, surviving class): the new module's references to the
        # new class are bound to the surviving one
        self._classes: dict[int, tuple[type, type]] = {}
        self._done: set[int] = set()  # ids of old objects already upgraded in this reload
        # id -> class: class statements' classes bound in old modules in place of the old
        # classes nothing held (``_drop_unheld_class``), until their module's final binding
        self._replaced: dict[int, type] = {}
        # a class upgraded after its class statement evaluated to the new class (a decorator
        # made it compatible, a nested class): module names may hold the new class or its
        # instances, which ``_rebind`` binds to the survivor. Only then: a class statement
        # that evaluated to the survivor left nothing to rebind.
        self._late = False
        # what the reference count of an old function nothing holds is (see _drop_unheld),
        # taken when the class statements block opens; -1 while counts cannot tell (outside
        # that block too: every old function is forwarded)
        self._unheld = -1

    # -- modules ---------------------------------------------------------------------------

    def adopter(
        self, old_globals: Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]] | None]
    ) -> Callable[[Any, type], type]:
        """What a class statement executed in the globals of a module being replaced
        (``old_globals`` gives its name and old globals, or None) evaluates to, for
        ``_class_statements.class_statements``: the old class, upgraded in place, or the new
        one. Reference counts are calibrated for this block of class statements."""
        self._count_references()

        def adopt(func: Any, cls: type) -> type:
            found = old_globals(getattr(func, "__globals__", {}))
            if found is None:
                return cls
            name, old_ns = found
            qualname = cls.__qualname__
            if cls.__module__ != name or "<locals>" in qualname:
                return cls
            first, *rest = qualname.split(".")
            old: Any = old_ns.get(first, _MISSING)
            for part in rest:
                old = old.__dict__.get(part, _MISSING) if _is(old, type) else _MISSING
            if (
                not _is(old, type)
                or old is cls
                or old.__qualname__ != qualname
                or old.__module__ != name
            ):
                return cls
            if not rest and self._drop_unheld_class(old_ns, first, old, cls):
                return cls
            return old if self._patch_class(old, cls, quiet=True) else cls

        return adopt

    def patch_module(self, name: str, old_ns: dict[str, Any], new_ns: dict[str, Any]) -> None:
        """Upgrade the functions and classes of the old version ``old_ns`` of module ``name``
        that the new version ``new_ns`` (its globals, just executed) defines again."""
        if old_ns is new_ns or new_ns.get("__hotmod_patch__") is False:
            return
        replaced = self._replaced
        for key, new in list(new_ns.items()):
            old = old_ns.get(key, _MISSING)
            if old is _MISSING or old is new or type(old) in _NOT_UPGRADED:
                continue
            if replaced and replaced.get(id(old)) is old:
                # the class statement's class stood in for a class nothing held: the old
                # module gets what the name is bound to now (a decorator's result)
                old_ns[key] = new
                continue
            if type(new) is FunctionType:
                if type(old) is not FunctionType:
                    if type(old) is _CACHE_WRAPPER:  # the edit removed an lru_cache
                        self._forward_cached(name, old, new)
                elif (
                    # the same qualified name: one module's function defined again, or a new
                    # closure a factory made for the same name (a decorator's wrapper)
                    old.__module__ == new.__module__
                    and (old.__qualname__ == new.__qualname__ or _rewrapped(key, name, old, new))
                    and not self._drop_unheld(old_ns, key, old, new)
                ):
                    self._forward(old, new, f"{name}.{new.__qualname__}")
            elif type(new) is _CACHE_WRAPPER:
                self._forward_cached(name, old, new)
            elif (
                _is(new, type)  # (not isinstance: it reads __class__, a lazy object's)
                and _is(old, type)
                and old.__module__ == name
                and new.__module__ == name
                and old.__qualname__ == new.__qualname__
                and not self._drop_unheld_class(old_ns, key, old, new)
                and self._patch_class(old, new)
            ):
                new_ns[key] = old
        if self._late:
            self._rebind(new_ns)

    def _rebind(self, new_ns: dict[str, Any]) -> None:
        """Bind the new module's other references to a new class (aliases, module-level
        instances, enum members) to the surviving class and its objects."""
        classes = self._classes
        for key, value in list(new_ns.items()):
            pair = classes.get(id(value))
            if pair is not None and pair[0] is value:
                new_ns[key] = pair[1]
                continue
            pair = classes.get(id(type(value)))
            if pair is None or pair[0] is not type(value):
                continue
            new_cls, old_cls = pair
            if _is(value, enum.Enum):
                survivor = old_cls.__dict__["_member_map_"].get(value._name_)
                if survivor is not None:
                    new_ns[key] = survivor
                continue
            try:
                value.__class__ = old_cls
            except TypeError:  # a layout the class check did not see: keep it as it is
                continue
            self._undo.append(functools.partial(setattr, value, "__class__", new_cls))

    # -- functions -------------------------------------------------------------------------

    def _forward(self, old: FunctionType, new: FunctionType, qualname: str, depth: int = 0) -> None:
        """Make ``old`` (and every function forwarding to it) call ``new``; pair what a
        decorator kept of the original (``__wrapped__``, a function in a closure cell)."""
        done = self._done
        if old is new or id(old) in done or depth > 8:
            return
        done.add(id(old))
        old_ns, own = old.__dict__, new.__dict__
        wrapped_old: object = old_ns.get("__wrapped__") if old_ns else None
        wrapped_new: object = own.get("__wrapped__") if own else None
        old_closure, new_closure = old.__closure__, new.__closure__
        self._move_box(old, new, forward=True)
        if depth == 0:
            self.patched.append(qualname)
        # What the old wrapper kept of the old original, paired with the new wrapper's
        if (
            _is(wrapped_old, FunctionType)
            and _is(wrapped_new, FunctionType)
            and wrapped_old.__qualname__ == wrapped_new.__qualname__
        ):
            self._forward(wrapped_old, wrapped_new, qualname, depth + 1)
        if not old_closure or not new_closure:
            return
        if old.__code__.co_freevars != new.__code__.co_freevars:
            return
        for old_cell, new_cell in zip(old_closure, new_closure, strict=False):
            try:
                inner_old, inner_new = old_cell.cell_contents, new_cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if (
                _is(inner_old, FunctionType)
                and _is(inner_new, FunctionType)
                and inner_old.__qualname__ == inner_new.__qualname__
                and inner_old.__module__ == inner_new.__module__
            ):
                self._forward(inner_old, inner_new, qualname, depth + 1)

    def _move_box(self, old: FunctionType, new: FunctionType, *, forward: bool) -> None:
        """Make the box that the older versions of ``old`` call through (a new one if it has
        none) call ``new``; with ``forward``, ``old`` becomes one of those versions (its code a
        trampoline to the box), else it is left as it is (``_drop_unheld``: nothing can call
        it). Recorded for ``undo``."""
        own = new.__dict__
        with _forwarders_lock:
            # the box the older versions of ``old`` call through, or a new one
            found = _forwarders.pop(id(old), None)  # (its ``fn`` is ``old``: see _forwarders)
            box = found if found is not None else _Box(new)
            previous = box.fn
            box.fn = new
            _forwarders[id(new)] = box
            saved_latest = box.latest
            last = None if saved_latest is None else saved_latest()
            box.latest = weakref.ref(old) if forward else None
        state = _function_state(old)
        shared = self._share_namespace(new, own, box)
        if forward:
            _take_function_state(old, new, _trampoline(old, new, box))
        # The version before goes over once (its signature, defaults: its other attributes
        # stay), so a reload costs the same however many versions are alive.
        converted: tuple[tuple[FunctionType, CodeType, Any, Any], ...] = ()
        if last is not None and last is not old:
            converted = ((last, last.__code__, last.__defaults__, last.__kwdefaults__),)
            last.__code__ = _generic_code(last, new, box)
            last.__defaults__ = last.__kwdefaults__ = None
        # the undo: two objects (a closure took some 15, its cells)
        record = (old, state, new, own, shared, box, found, previous, saved_latest, converted)
        self._undo.append(functools.partial(_unforward, record))

    def _count_references(self) -> None:
        """Whether reference counts may tell an old function nothing holds, now."""
        unheld = _unheld_count()
        self._unheld = -1 if unheld is None else unheld  # -1: forward every old function

    def _may_be_unheld(self, old: FunctionType) -> bool:
        """Whether ``old`` is a plain function (no closure, no attributes: a decorator's
        wrapper pairs what it wraps, see ``_forward``) not upgraded yet, with no weak reference,
        while counts can tell: then its reference count decides."""
        return (
            self._unheld >= 0
            and old.__closure__ is None
            and not old.__dict__
            and id(old) not in self._done
            and not weakref.getweakrefcount(old)
        )

    def _drop_unheld(
        self, old_ns: dict[str, Any], key: str, old: FunctionType, new: FunctionType
    ) -> bool:
        """Upgrade ``old`` by binding its name in the old module to ``new`` when nothing but
        that binding holds it (no other name, object, frame or weak reference): it can never
        be called again, so it needs no forwarder, and code that holds the old module gets the
        new function itself (see ``_may_be_unheld``). A function an earlier reload forwarded
        to is also held by the box its older versions call through: that box then calls
        ``new``, as after a forward. True when done; False leaves everything as it was.

        The name is bound first, then the references are counted: a thread that took ``old``
        from the old module before the binding holds it, and is counted."""
        if not self._may_be_unheld(old):
            return False
        boxed = id(old) in _forwarders  # older versions call it through their box (+1)
        old_ns[key] = new
        if _refs(old) > self._unheld + boxed:
            old_ns[key] = old  # held elsewhere: forwarded, the old module as it was
            return False
        self._done.add(id(old))
        self._undo.append((old_ns, key, old))  # (a binding: see undo)
        if boxed:
            self._move_box(old, new, forward=False)
        self.patched.append(f"{old.__module__}.{new.__qualname__}")
        return True

    def _drop_unheld_class(self, old_ns: dict[str, Any], key: str, old: type, new: type) -> bool:
        """``_drop_unheld`` for a module's class: when nothing but the old module's binding and
        the class's own parts (``_own_references``) holds ``old`` (no instance, subclass,
        alias, registry, frame, closure, or weak reference other than its bases' lists of
        subclasses), nothing can reach it once that name is bound to ``new``: it needs no
        upgrade, and ``new`` is the class. Its methods held elsewhere (``f = C.method``, a
        static method given as a callback) are forwarded as in an upgrade. A class with a
        nested class is upgraded (old instances of the nested one). True when done; False
        leaves everything as it was (the class is then upgraded in place, or left to the
        adapters)."""
        if (
            self._unheld < 0
            or type(old) not in _PATCHABLE_METACLASSES
            or type(new) is not type(old)
            or type(old) is enum.EnumMeta  # its members are instances
            or id(old) in self._done
            or _calibrated[1] < 0
            or _weak_refs(old) != _calibrated[1] - 1 + len(old.__bases__)
        ):
            return False
        own = old.__dict__
        if any(map(isinstance, own.values(), itertools.repeat(type))):
            return False  # a nested class
        old_ns[key] = new
        held = _refs(old) - self._unheld
        # (a class's own parts hold it at most 4 times, and once per slot: its __mro__, its
        # __dict__ and __weakref__ descriptors, the __class__ cell; more is held elsewhere,
        # said without looking at every method)
        if held > 4 + _slot_count(old) or held > _own_references(old):
            old_ns[key] = old  # held elsewhere: upgraded in place, the old module as it was
            return False
        self._done.add(id(old))
        self._replaced[id(new)] = new
        self._undo.append((old_ns, key, old))  # (a binding: see undo)
        qualname = f"{new.__module__}.{new.__qualname__}"
        self.patched.append(qualname)
        # its methods, as _patch_class does them (the same lines, not a shared helper:
        # _unheld_method counts references one call below the loop that holds `current`)
        for name, value in new.__dict__.items():
            current = own.get(name, _MISSING)
            if current is _MISSING or current is value or type(current) in _NO_FUNCTIONS:
                continue
            if self._unheld_method(current, value):
                self.patched.append(f"{qualname}.{name}")
            else:
                self._forward_members(current, value, f"{qualname}.{name}")
        return True

    def _unheld_method(self, old: object, new: object) -> bool:
        """Whether ``old``, a plain method the surviving class no longer has (it has ``new``
        now), is held by nothing but the copy of the class's namespace that would undo the
        upgrade (or by the namespace of a class nothing holds, ``_drop_unheld_class``): then
        no one can call it, and it needs no forwarder (see ``_drop_unheld``)."""
        if type(old) is not FunctionType or type(new) is not FunctionType:
            return False
        if not self._may_be_unheld(old):
            return False
        boxed = id(old) in _forwarders  # older versions call it through their box (+1)
        if _refs(old) > self._unheld + 1 + boxed:  # (+1: that copy)
            return False
        self._done.add(id(old))
        if boxed:
            self._move_box(old, new, forward=False)
        return True

    @staticmethod
    def _share_namespace(new: FunctionType, own: dict[str, Any], box: _Box) -> _Shared:
        """Give ``new`` the ``__dict__`` that every older version of it shares, filled with
        ``new``'s attributes ``own`` (attributes set on any version show on all); returns
        what ``_unforward`` needs to undo it: None (nothing changed), True (``own``
        became the shared dict), the shared dict (it and ``own`` were empty) or the shared
        dict and its former contents.

        One dict for all versions, not each version the dict of the one after it: a
        wrapper's dict holds ``__wrapped__`` (functools.wraps), the original function of
        that version, and through its globals that version's whole module, whose wrapper's
        dict held the next version's, and so on. A wrapper held by a long-lived object (the
        lifespan handler of the app a server started with) kept every old version of a
        models module alive, some 80 KB per edit.
        """
        shared = box.namespace
        if shared is own:
            return None
        if shared is None:
            box.namespace = own
            return True
        new.__dict__ = shared
        if not shared and not own:  # the common case: no attributes at all
            return shared
        saved = dict(shared)
        shared.clear()
        shared.update(own)
        return shared, saved

    # -- classes ---------------------------------------------------------------------------

    def _incompatible(self, old: type, new: type) -> str | None:
        """Why ``old`` cannot take ``new``'s namespace, or None when it can."""
        if type(new) is not type(old):
            return f"its metaclass changed ({type(old).__name__} -> {type(new).__name__})"
        if _slots(old) != _slots(new):
            return "its __slots__ changed"
        if (
            old.__basicsize__ != new.__basicsize__
            or old.__itemsize__ != new.__itemsize__
            or old.__dictoffset__ != new.__dictoffset__
            or old.__weakrefoffset__ != new.__weakrefoffset__
        ):
            return "its instance layout changed (a builtin base or __slots__)"
        if issubclass(type(old), enum.EnumMeta) and _enum_members(old) != _enum_members(new):
            return "its members changed"
        if issubclass(old, tuple) and getattr(old, "_fields", ()) != getattr(new, "_fields", ()):
            # a named tuple's accessors read fixed positions of tuples of a fixed length
            return "its fields changed (a named tuple)"
        return None

    def _patch_class(self, old: type, new: type, *, quiet: bool = False) -> bool:
        """Give ``old`` the namespace of ``new``; False (and ``new`` stays) when it cannot.
        ``quiet``: a class statement's class, before its decorators ran (they may still make
        it compatible: the module's final binding is checked again after the execution)."""
        if id(old) in self._done:
            pair = self._classes.get(id(new))
            return pair is not None and pair[1] is old
        if type(old) not in _PATCHABLE_METACLASSES:
            logger.debug("%s.%s: metaclass %s is left to adapters", old.__module__,
                         old.__qualname__, type(old).__name__)  # fmt: skip
            return False
        qualname = f"{new.__module__}.{new.__qualname__}"
        reason = self._incompatible(old, new)
        classes = self._classes
        bases = new.__bases__
        if classes:
            bases = tuple([classes.get(id(b), (b, b))[1] for b in bases])
        if reason is None and bases != old.__bases__:
            saved_bases = old.__bases__
            try:
                old.__bases__ = bases
            except TypeError as exc:
                reason = f"its bases changed incompatibly ({exc})"
            else:
                self._undo.append(functools.partial(setattr, old, "__bases__", saved_bases))
        if reason is not None:
            if quiet:
                return False
            logger.info(
                "%s: %s; the new class is used, old instances keep the old one", qualname, reason
            )
            return False
        self._done.add(id(old))
        saved = dict(old.__dict__)
        self._undo.append(functools.partial(_restore_namespace, old, saved))
        is_enum = issubclass(type(old), enum.EnumMeta)
        members = new.__dict__.get("_member_map_", {}) if is_enum else {}
        carried = self._carried
        new_namespace = new.__dict__
        for key, value in list(new_namespace.items()):
            if not carried(key, value, members, is_enum):
                continue
            # the new methods' zero-argument super() and __class__ name the surviving class
            for _, func in _functions_of(value):
                self._retarget_class_cell(func, new, old)
            current = saved.get(key, _MISSING)
            if current is value or (
                type(value) in _ATOMS and type(current) is type(value) and current == value
            ):
                continue
            if (
                _is(value, type)
                and _is(current, type)
                and value.__qualname__ == f"{new.__qualname__}.{key}"
                and self._patch_class(current, value)
            ):
                continue  # a nested class, upgraded in place
            setattr(old, key, value)
            if current is not _MISSING:
                if self._unheld_method(current, value):
                    self.patched.append(f"{qualname}.{key}")
                else:
                    self._forward_members(current, value, f"{qualname}.{key}")
        for key, value in saved.items():
            if key not in new_namespace and carried(key, value, members, is_enum):
                delattr(old, key)
        if _is(old, abc.ABCMeta):
            old._abc_caches_clear()  # type: ignore[attr-defined]
        if not quiet:
            self._late = True
        self._classes[id(new)] = (new, old)
        self.patched.append(qualname)
        if len(new.__mro__) > 2:  # a base other than object
            _register_survivor(old, new)
        return True

    @staticmethod
    def _carried(key: str, value: object, members: dict[str, object], is_enum: bool) -> bool:
        """Whether a class attribute is part of the namespace that is carried over."""
        if key in _CLASS_OWN or key in members:
            return False
        if type(value) is MemberDescriptorType:  # a slot: bound to its class's layout
            return False
        if is_enum and key[:1] == "_" == key[-1:] != key[1:2]:
            # an enum's own bookkeeping (_member_map_, ...), but not _missing_ and the like
            return _is(value, FunctionType) or _is(value, classmethod) or _is(value, staticmethod)
        return True

    def _forward_members(self, old: object, new: object, qualname: str) -> None:
        if type(old) is not type(new):
            return
        new_functions = dict(_functions_of(new))
        for part, func in _functions_of(old):
            counterpart = new_functions.get(part)
            if counterpart is not None:
                self._forward(func, counterpart, qualname)
        if type(old) is _CACHE_WRAPPER:
            old.cache_clear()  # type: ignore[attr-defined]  # results of the old code

    def _forward_cached(self, module: str, old: object, new: object) -> None:
        """A top-level function decorated with ``functools.lru_cache`` or ``cache`` in either
        version (the decorator may have been added or removed): the function the old version
        calls forwards to the one the new version calls, and the old wrapper's cache, results
        of the old code, is emptied (a rollback does not fill it again: it is only a cache).
        Without this a held old wrapper (``from m import f`` elsewhere) ran the old code."""
        old_func = old if type(old) is FunctionType else _cached_function(old)
        new_func = new if type(new) is FunctionType else _cached_function(new)
        if (
            old_func is None
            or new_func is None
            or old_func.__module__ != module
            or new_func.__module__ != module
            or old_func.__qualname__ != new_func.__qualname__
        ):
            return
        self._forward(old_func, new_func, f"{module}.{new_func.__qualname__}")
        if type(old) is _CACHE_WRAPPER:
            old.cache_clear()  # type: ignore[attr-defined]

    def _retarget_class_cell(self, func: FunctionType, new: type, old: type) -> None:
        closure = func.__closure__
        if closure is None:
            return
        code = func.__code__
        if "__class__" not in code.co_freevars:
            return
        cell = closure[code.co_freevars.index("__class__")]
        try:
            if cell.cell_contents is not new:
                return
        except ValueError:
            return
        cell.cell_contents = old
        self._undo.append(functools.partial(setattr, cell, "cell_contents", new))

    # -- rollback --------------------------------------------------------------------------

    def release(self) -> None:
        """Drop what ``undo`` would need: the upgrades stay (the transaction applied)."""
        self._undo = []
        self._classes.clear()
        self._done.clear()
        self._replaced.clear()
        self._late = False

    def undo(self) -> None:
        """Revert every change, last first (the transaction's rollback)."""
        undo, self._undo = self._undo, []
        for step in reversed(undo):
            if type(step) is tuple:
                namespace, key, value = step
                namespace[key] = value
            else:
                step()
        self.release()
        self.patched.clear()


def _register_survivor(old: type, new: type) -> None:
    """Put the surviving class where a base's ``__init_subclass__`` registered the class the
    class statement built (``REGISTRY[cls.__name__] = cls`` and the like), which is dropped:
    else the registry held a class that is not the module's, whose instances are not
    instances of it. Looked for in the dicts, lists and sets that are the values (and the
    values of dict values) of that ``__init_subclass__``'s module globals and of the base's
    namespace; a list or set already holding the survivor loses the new entry (one entry per
    class, however many reloads). Only for bases outside the standard library. A rollback
    puts these registries back as they were before the reload
    (``_class_statements.SubclassRegistries``)."""
    for base in new.__mro__[1:-1]:
        for value in hook_registries(base):
            _replace_in(value, new, old, depth=1)


def _replace_in(container: object, new: type, old: type, depth: int) -> None:
    kind = type(container)
    if issubclass(kind, dict):
        assert isinstance(container, dict)
        for key, value in list(container.items()):
            if value is new:
                container[key] = old
            elif depth and isinstance(value, (dict, list, set)):
                _replace_in(value, new, old, depth - 1)
        if new in container:
            container[old] = container.pop(new)
    elif issubclass(kind, list):
        assert isinstance(container, list)
        if any(item is new for item in container):
            if any(item is old for item in container):
                container[:] = [item for item in container if item is not new]
            else:
                container[:] = [old if item is new else item for item in container]
    elif issubclass(kind, set):
        assert isinstance(container, set)
        if new in container:
            container.discard(new)
            container.add(old)


def _restore_namespace(cls: type, saved: dict[str, Any]) -> None:
    """Put ``cls``'s namespace back to ``saved``: also what decorators or other code set on it
    after the patch."""
    for key in [k for k in cls.__dict__ if k not in saved]:
        if key not in _CLASS_OWN:
            delattr(cls, key)
    for key, value in saved.items():
        if key not in _CLASS_OWN and cls.__dict__.get(key, _MISSING) is not value:
            setattr(cls, key, value)
