"""The import graph of the watched modules: who imports whom, and in which order to reload.

Pure data structure: it knows module names, the references each module's source makes (from
``_import_parser``) and the modules its globals were seen to hold (the binding scan). It never
touches ``sys.modules`` or the file system.

A reference resolves to the longest dotted prefix that is a module of the graph, so
``from pkg import name`` becomes an edge to ``pkg.name`` when that is a module, else to ``pkg``.
When a module joins the graph later, references that now resolve to it are re-resolved.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

__all__ = ["ImportGraph"]


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
        self._order: dict[str, int] = {}  # module -> first-import sequence number
        self._refs: dict[str, frozenset[str]] = {}  # parsed references, unresolved
        self._bound: dict[str, frozenset[str]] = {}  # modules seen in the module's globals
        self._deps: dict[str, set[str]] = {}
        self._rdeps: dict[str, set[str]] = {}
        self._ref_users: dict[str, set[str]] = {}  # reference -> modules making it

    # -- queries ---------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._order

    def __len__(self) -> int:
        return len(self._order)

    @property
    def modules(self) -> frozenset[str]:
        """Every module in the graph."""
        return frozenset(self._order)

    def dependencies(self, name: str) -> set[str]:
        """The watched modules ``name`` imports directly."""
        return set(self._deps.get(name, ()))

    def importers(self, name: str) -> set[str]:
        """The watched modules that import ``name`` directly."""
        return set(self._rdeps.get(name, ()))

    def dependents(self, name: str) -> set[str]:
        """Every watched module that imports ``name`` directly or transitively."""
        seen = self._closure((name,), lambda _: False)
        seen.discard(name)
        return seen

    # -- updates ---------------------------------------------------------------------------

    def add_modules(self, order: dict[str, int]) -> None:
        """Add modules (name -> import sequence number) and re-resolve references to them."""
        new = {name: seq for name, seq in order.items() if name not in self._order}
        if not new:
            return
        self._order.update(new)
        for name in new:
            self._deps.setdefault(name, set())
            self._rdeps.setdefault(name, set())
        stale = {
            user
            for ref, users in self._ref_users.items()
            if _has_prefix_in(ref, new)
            for user in users
        }
        for user in stale:
            self._resolve(user)

    def remove_module(self, name: str) -> None:
        """Forget a module (it is no longer loaded); references to it re-resolve."""
        if name not in self._order:
            return
        self.set_references(name, frozenset())
        self.set_bindings(name, frozenset())
        importers = self._rdeps.pop(name, set())
        del self._order[name]
        del self._deps[name]
        self._refs.pop(name, None)
        self._bound.pop(name, None)
        for importer in importers:
            self._resolve(importer)

    def set_references(self, name: str, refs: frozenset[str]) -> None:
        """Replace the parsed references of ``name``."""
        old = self._refs.get(name, frozenset())
        if old == refs:
            return
        for ref in old - refs:
            users = self._ref_users.get(ref)
            if users is not None:
                users.discard(name)
                if not users:
                    del self._ref_users[ref]
        for ref in refs - old:
            self._ref_users.setdefault(ref, set()).add(name)
        self._refs[name] = refs
        self._resolve(name)

    def set_bindings(self, name: str, bound: frozenset[str]) -> None:
        """Replace the modules the binding scan found in the globals of ``name``."""
        if self._bound.get(name, frozenset()) == bound:
            return
        self._bound[name] = bound
        self._resolve(name)

    def _resolve(self, name: str) -> None:
        if name not in self._order:
            return
        targets: set[str] = set()
        for ref in self._refs.get(name, ()):
            target = self._longest_module_prefix(ref)
            if target is not None:
                targets.add(target)
        targets.update(m for m in self._bound.get(name, ()) if m in self._order)
        targets.discard(name)
        old = self._deps[name]
        if targets == old:
            return
        for gone in old - targets:
            self._rdeps[gone].discard(name)
        for added in targets - old:
            self._rdeps[added].add(name)
        self._deps[name] = targets

    def _longest_module_prefix(self, ref: str) -> str | None:
        while ref:
            if ref in self._order:
                return ref
            ref = ref.rpartition(".")[0]
        return None

    # -- reload planning -------------------------------------------------------------------

    def _closure(self, start: Iterable[str], stop: Callable[[str], bool]) -> set[str]:
        """``start`` plus every module that depends on it, not expanding past ``stop`` nodes."""
        seen = {name for name in start if name in self._order}
        frontier = [name for name in seen if not stop(name)]
        while frontier:
            name = frontier.pop()
            for importer in self._rdeps[name]:
                if importer not in seen:
                    seen.add(importer)
                    if not stop(importer):
                        frontier.append(importer)
        return seen

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
            module outside any cycle is a one-tuple), each after every component it imports,
            ties broken by the order in which the modules were first imported, so the plan
            repeats the program's own order. ``skipped`` lists the ``stop`` modules reached.
        """
        reached = self._closure(changed, stop)
        skipped = sorted((name for name in reached if stop(name)), key=self._order.__getitem__)
        members = reached.difference(skipped)
        if not members:
            return [], skipped
        components = self._components(members)
        component_of = {name: index for index, comp in enumerate(components) for name in comp}
        waiting = [0] * len(components)  # unplaced components each one still imports
        needed_by: list[list[int]] = [[] for _ in components]
        for index, comp in enumerate(components):
            deps = {
                component_of[dep]
                for name in comp
                for dep in self._deps[name]
                if dep in component_of and component_of[dep] != index
            }
            waiting[index] = len(deps)
            for dep in deps:
                needed_by[dep].append(index)
        key = [min(self._order[name] for name in comp) for comp in components]
        ready = [(key[i], i) for i, count in enumerate(waiting) if count == 0]
        heapq.heapify(ready)
        plan: list[tuple[str, ...]] = []
        while ready:
            _, index = heapq.heappop(ready)
            plan.append(components[index])
            for user in needed_by[index]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (key[user], user))
        return plan, skipped

    def _components(self, members: set[str]) -> list[tuple[str, ...]]:
        """Strongly connected components of the subgraph on ``members`` (iterative Tarjan)."""
        index_of: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        result: list[tuple[str, ...]] = []
        order = self._order
        counter = 0
        for root in sorted(members, key=order.__getitem__):
            if root in index_of:
                continue
            work: list[tuple[str, list[str]]] = []
            index_of[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            work.append((root, [d for d in self._deps[root] if d in members]))
            while work:
                node, pending = work[-1]
                if pending:
                    nxt = pending.pop()
                    if nxt not in index_of:
                        index_of[nxt] = low[nxt] = counter
                        counter += 1
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, [d for d in self._deps[nxt] if d in members]))
                    elif nxt in on_stack:
                        low[node] = min(low[node], index_of[nxt])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index_of[node]:
                    comp: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        comp.append(member)
                        if member == node:
                            break
                    comp.sort(key=order.__getitem__)
                    result.append(tuple(comp))
        return result


def _has_prefix_in(ref: str, names: dict[str, int]) -> bool:
    while ref:
        if ref in names:
            return True
        ref = ref.rpartition(".")[0]
    return False
