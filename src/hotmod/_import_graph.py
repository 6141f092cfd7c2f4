"""The import graph of the watched modules: who imports whom, and in which order to reload.

Pure data structure: it knows module names, the references each module's source makes (from
``_import_parser``) and the modules its globals were seen to hold (the binding scan). It never
touches ``sys.modules`` or the file system.

A reference resolves to the longest dotted prefix that is a module of the graph, so
``from pkg import name`` becomes an edge to ``pkg.name`` when that is a module, else to ``pkg``.
When a module joins the graph later, references that now resolve to it are re-resolved.

Each edge has one or more kinds (``EdgeKind``): an import that runs when the importer is
executed, an import inside one of its functions (it runs when the function is called), or a
module object the binding scan found in its globals. The kinds are not stored per edge: they
are worked out from the three tables the edges are resolved from, when asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, KeysView, Mapping

__all__ = ["EdgeKind", "ImportGraph"]


class EdgeKind(enum.IntFlag):
    """Why an import-graph edge ``importer -> imported`` exists; an edge may have several.

    Every kind is a dependency: a change to the imported module re-executes the importer.
    """

    IMPORT = 1
    """An import statement that runs when the importer is executed (module level, a class
    body, ``if``/``try``/``with``/loops)."""
    FUNCTION = 2
    """An import inside a function of the importer: it runs when the function is called."""
    BINDING = 4
    """The binding scan found the imported module, or a function or class defined there, in
    the importer's globals."""
    RUNTIME = 8
    """An import observed while the importer's top-level code ran (``import_module``,
    ``__import__``, a framework's ``include(...)``)."""

    @property
    def label(self) -> str:
        """The kinds in words, as ``hotmod why`` prints them, e.g. ``'module level'``."""
        return ", ".join(_LABELS[kind] for kind in EdgeKind if kind in self)


_LABELS = {
    EdgeKind.IMPORT: "module level",
    EdgeKind.FUNCTION: "inside a function",
    EdgeKind.BINDING: "binding scan",
    EdgeKind.RUNTIME: "imported at run time",
}


class ImportGraph:
    """Directed graph ``importer -> imported`` over the watched modules.

    Example:
        >>> g = ImportGraph()
        >>> g.add_modules({"pkg": 0, "pkg.a": 1, "pkg.b": 2})
        >>> g.set_references("pkg.b", frozenset({"pkg.a.func"}))
        >>> g.dependencies("pkg.b"), g.dependents("pkg.a")
        ({'pkg.a'}, {'pkg.b'})
    """

    def __init__(self) -> None:
        # Compact on purpose (tuples, sets only where there is something to hold): the graph
        # of a large application stays in memory for the life of the process.
        # module -> sequence number: the order in which the modules' imports completed (the
        # module dict's order, renewed when a reload imports a module again)
        self._order: dict[str, int] = {}
        self._refs: dict[str, tuple[str, ...]] = {}  # parsed references, unresolved, sorted
        self._call_refs: dict[str, tuple[str, ...]] = {}  # the same, only inside functions
        self._bound: dict[str, tuple[str, ...]] = {}  # modules seen in the globals, sorted
        # modules seen imported while the module's top-level code ran (exact names); kept
        # while either is out of the graph (not imported yet, or evicted in lazy mode)
        self._observed: dict[str, frozenset[str]] = {}
        # direct dependencies, latest-imported first (the planner pops the earliest first)
        self._deps: dict[str, tuple[str, ...]] = {}
        self._rdeps: dict[str, set[str]] = {}  # direct importers; absent when there are none
        self.version = 0  # bumped whenever an edge or module changes (plans can be reused)

    # -- queries ---------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._order

    def __len__(self) -> int:
        return len(self._order)

    @property
    def modules(self) -> frozenset[str]:
        """Every module in the graph."""
        return frozenset(self._order)

    @property
    def module_names(self) -> KeysView[str]:
        """The modules in the graph, as a live view (no copy: membership tests)."""
        return self._order.keys()

    def dependencies(self, name: str) -> set[str]:
        """The watched modules ``name`` imports directly."""
        return set(self._deps.get(name, ()))

    def importers(self, name: str) -> set[str]:
        """The watched modules that import ``name`` directly."""
        return set(self._rdeps.get(name, ()))

    def observed(self, name: str) -> set[str]:
        """The watched modules ``name`` was seen importing at run time and that its source
        does not import by name (``import_module(f"...{x}")``, ``include("app.urls")``)."""
        found = set(self._observed.get(name, ())).intersection(self._deps.get(name, ()))
        found.difference_update(self._bound.get(name, ()))
        found.difference_update(map(self._longest_module_prefix, self._refs.get(name, ())))
        return found

    def dependents(self, name: str) -> set[str]:
        """Every watched module that imports ``name`` directly or transitively."""
        seen, _ = self._closure((name,), lambda _: False)
        seen.discard(name)
        return seen

    def edge_kinds(self, importer: str, imported: str) -> EdgeKind:
        """Why ``importer`` depends on ``imported`` directly; ``EdgeKind(0)`` if it does not.

        Example:
            >>> g = ImportGraph()
            >>> g.add_modules({"pkg.a": 0, "pkg.b": 1})
            >>> g.set_references("pkg.b", (), at_call=("pkg.a.func",))
            >>> g.edge_kinds("pkg.b", "pkg.a").label
            'inside a function'
        """
        kinds = EdgeKind(0)
        if imported not in self._deps.get(importer, ()):
            return kinds
        for kind, table in ((EdgeKind.IMPORT, self._refs), (EdgeKind.FUNCTION, self._call_refs)):
            if any(self._longest_module_prefix(r) == imported for r in table.get(importer, ())):
                kinds |= kind
        if imported in self._bound.get(importer, ()):
            kinds |= EdgeKind.BINDING
        if imported in self._observed.get(importer, ()):
            kinds |= EdgeKind.RUNTIME
        return kinds

    # -- updates ---------------------------------------------------------------------------

    def add_modules(self, order: dict[str, int]) -> None:
        """Add modules (name -> import sequence number) and re-resolve references to them."""
        new = {name: seq for name, seq in order.items() if name not in self._order}
        if not new:
            return
        self._order.update(new)
        self.version += 1
        # Rare after start-up (a module imported lazily), so a scan of all references is fine.
        stale = {
            user
            for table in (self._refs, self._call_refs)
            for user, refs in table.items()
            if any(_has_prefix_in(r, new) for r in refs)
        }
        stale.update(
            user for user, seen in self._observed.items() if user in new or not seen.isdisjoint(new)
        )
        for user in stale:
            self._resolve(user)

    def renumber(self, order: Mapping[str, int]) -> None:
        """Give modules new sequence numbers: a reload imported them again, and their imports
        completed in this order (a cycle is entered the way its last re-import entered it).
        Names not in the graph are ignored."""
        moved = {name: seq for name, seq in order.items() if self._order.get(name, seq) != seq}
        if not moved:
            return
        self._order.update(moved)
        key = self._order.__getitem__
        for user in {importer for name in moved for importer in self._rdeps.get(name, ())}:
            self._deps[user] = tuple(sorted(self._deps[user], key=key, reverse=True))
        self.version += 1

    def remove_module(self, name: str) -> None:
        """Forget a module (it is no longer loaded); references to it re-resolve."""
        if name not in self._order:
            return
        self.version += 1
        for dep in self._deps.pop(name, ()):
            self._unlink(dep, name)
        importers = self._rdeps.pop(name, set())
        del self._order[name]
        self._refs.pop(name, None)
        self._call_refs.pop(name, None)
        self._bound.pop(name, None)
        for importer in importers:
            self._deps[importer] = tuple(d for d in self._deps[importer] if d != name)
            self._resolve(importer)

    def set_references(
        self, name: str, refs: Iterable[str], *, at_call: Iterable[str] = (), resolve: bool = True
    ) -> None:
        """Replace the parsed references of ``name``: ``refs`` run when it is executed,
        ``at_call`` only when one of its functions is called (both are edges). With
        ``resolve=False`` the edges follow at the caller's ``resolve()``."""
        changed = self._store(self._refs, name, refs)
        if (self._store(self._call_refs, name, at_call) or changed) and resolve:
            self._resolve(name)

    def set_bindings(self, name: str, bound: Iterable[str], *, resolve: bool = True) -> None:
        """Replace the modules the binding scan found in the globals of ``name`` (edges at
        once, or with ``resolve=False`` at the caller's ``resolve()``)."""
        if self._store(self._bound, name, bound) and resolve:
            self._resolve(name)

    def resolve(self, names: Iterable[str]) -> None:
        """Bring the edges of ``names`` in step with their references and bindings: after
        setting both for many modules with ``resolve=False`` (start-up), one pass each."""
        for name in names:
            self._resolve(name)

    def add_observed(self, importer: str, imported: str) -> None:
        """Note that ``imported`` was imported while the top-level code of ``importer`` ran:
        an edge like a parsed import, from when both are in the graph on.

        An import that the parsed references of ``importer`` explain is left out: that edge
        is the parser's, and goes when an edit removes the import statement. The others stay
        (an edit that stops a dynamic import costs an extra re-execution, never a missed one).
        """
        seen = self._observed.get(importer, frozenset())
        if imported in seen:
            return
        prefix = imported + "."
        if any(ref == imported or ref.startswith(prefix) for ref in self._refs.get(importer, ())):
            return
        self._observed[importer] = seen | {imported}
        self._resolve(importer)

    @staticmethod
    def _store(table: dict[str, tuple[str, ...]], name: str, values: Iterable[str]) -> bool:
        packed = tuple(sorted(values))
        if table.get(name, ()) == packed:
            return False
        if packed:
            table[name] = packed
        else:
            table.pop(name, None)
        return True

    def _resolve(self, name: str) -> None:
        if name not in self._order:
            return
        targets: set[str] = set()
        for ref in (*self._refs.get(name, ()), *self._call_refs.get(name, ())):
            target = self._longest_module_prefix(ref)
            if target is not None:
                targets.add(target)
        targets.update(m for m in self._bound.get(name, ()) if m in self._order)
        targets.update(m for m in self._observed.get(name, ()) if m in self._order)
        targets.discard(name)
        old = self._deps.get(name, ())
        if len(old) == len(targets) and targets.issuperset(old):
            return
        for gone in set(old) - targets:
            self._unlink(gone, name)
        for added in targets.difference(old):
            self._rdeps.setdefault(added, set()).add(name)
        if targets:
            self._deps[name] = tuple(sorted(targets, key=self._order.__getitem__, reverse=True))
        else:
            self._deps.pop(name, None)
        self.version += 1

    def _unlink(self, dep: str, importer: str) -> None:
        importers = self._rdeps.get(dep)
        if importers is not None:
            importers.discard(importer)
            if not importers:
                del self._rdeps[dep]

    def _longest_module_prefix(self, ref: str) -> str | None:
        while ref:
            if ref in self._order:
                return ref
            ref = ref.rpartition(".")[0]
        return None

    # -- reload planning -------------------------------------------------------------------

    def _closure(
        self, start: Iterable[str], stop: Callable[[str], bool]
    ) -> tuple[set[str], list[str]]:
        """``start`` plus every module that depends on it, not expanding past ``stop`` nodes.

        Returns the set reached (``stop`` nodes included) and the ``stop`` nodes reached.
        """
        seen = {name for name in start if name in self._order}
        stopped = [name for name in seen if stop(name)]
        frontier = [name for name in seen if name not in stopped]
        rdeps = self._rdeps
        while frontier:
            for importer in rdeps.get(frontier.pop(), ()):
                if importer not in seen:
                    seen.add(importer)
                    if stop(importer):
                        stopped.append(importer)
                    else:
                        frontier.append(importer)
        return seen, stopped

    def reload_plan(
        self, changed: Iterable[str], *, stop: Callable[[str], bool] = lambda _: False
    ) -> tuple[list[tuple[str, ...]], list[str]]:
        """The modules to re-execute for a change, as import cycles in dependency order.

        Args:
            changed: the modules whose source changed.
            stop: modules for which this returns True are left out of the plan, and so are
                the modules that depend on the change only through them (``__hotmod_skip__``
                modules are never re-executed, so nothing above them needs to be).

        Returns:
            ``(plan, skipped)``: the plan is a list of strongly connected components (tuples; a
            module outside any cycle is a one-tuple), each after every component it imports;
            among independent modules, the one imported first comes first, so the plan repeats
            the program's own order. The members of a cycle come in the order to import them
            again: the one whose import completed last first. That is the member the program
            entered the cycle through (the others completed nested inside its import), so
            importing it first, and the others through its code, repeats what worked at
            start-up. ``skipped`` lists the ``stop`` modules reached.
        """
        reached, skipped = self._closure(changed, stop)
        skipped.sort(key=self._order.__getitem__)
        reached.difference_update(skipped)
        return self._components(reached), skipped

    def _components(self, members: set[str]) -> list[tuple[str, ...]]:
        """Strongly connected components of the subgraph on ``members``, dependencies first.

        Iterative Tarjan: a component is emitted only after every component it reaches (its
        dependencies), so the output is already a valid reload order. Roots and edges are
        visited in import order, which makes the order deterministic and natural. Members of
        a component are sorted entry first (see ``reload_plan``).
        """
        order = self._order
        deps = self._deps
        index_of: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result: list[tuple[str, ...]] = []

        def successors(node: str) -> list[str]:
            return [dep for dep in deps.get(node, ()) if dep in members]

        counter = 0
        for root in sorted(members, key=order.__getitem__):
            if root in index_of:
                continue
            index_of[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            work: list[tuple[str, list[str]]] = [(root, successors(root))]
            while work:
                node, pending = work[-1]
                if pending:
                    nxt = pending.pop()
                    if nxt not in index_of:
                        index_of[nxt] = low[nxt] = counter
                        counter += 1
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, successors(nxt)))
                    elif nxt in on_stack and index_of[nxt] < low[node]:
                        low[node] = index_of[nxt]
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index_of[node]:
                    member = stack.pop()
                    on_stack.discard(member)
                    if member == node:
                        result.append((member,))
                        continue
                    component = [member]
                    while member != node:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                    component.sort(key=order.__getitem__, reverse=True)
                    result.append(tuple(component))
        return result


def _has_prefix_in(ref: str, names: dict[str, int]) -> bool:
    while ref:
        if ref in names:
            return True
        ref = ref.rpartition(".")[0]
    return False
