"""Unit tests for hotmod._import_graph: edges, queries and reload plans, without subprocesses."""

from __future__ import annotations

import pytest

from hotmod import EdgeKind, ImportGraph


def graph(edges: dict[str, set[str]], order: list[str] | None = None) -> ImportGraph:
    """A graph of ``order`` (the order the imports completed; default: the keys of ``edges``),
    where each module references the names in ``edges[module]``."""
    names = order if order is not None else list(edges)
    g = ImportGraph()
    g.add_modules({name: seq for seq, name in enumerate(names)})
    for name, refs in edges.items():
        g.set_references(name, frozenset(refs))
    return g


def plan(g: ImportGraph, *changed: str) -> list[tuple[str, ...]]:
    steps, skipped = g.reload_plan(changed)
    assert skipped == []
    return steps


def flat(steps: list[tuple[str, ...]]) -> list[str]:
    return [name for step in steps for name in step]


# -- edges -------------------------------------------------------------------------------------


def test_reference_resolves_to_longest_module_prefix() -> None:
    g = graph({"pkg": set(), "pkg.a": set(), "pkg.b": {"pkg.a.func", "pkg.NAME", "os.path"}})
    assert g.dependencies("pkg.b") == {"pkg.a", "pkg"}
    assert g.dependencies("pkg.a") == set()
    assert g.importers("pkg.a") == {"pkg.b"}


def test_from_package_import_name_is_edge_to_submodule_only_when_it_is_a_module() -> None:
    g = graph({"pkg": set(), "pkg.sub": set(), "pkg.x": {"pkg.sub"}, "pkg.y": {"pkg.helper"}})
    assert g.dependencies("pkg.x") == {"pkg.sub"}
    assert g.dependencies("pkg.y") == {"pkg"}


def test_references_outside_the_graph_are_not_edges() -> None:
    g = graph({"pkg.a": {"json", "os.path", "pkgextra.thing"}})
    assert g.dependencies("pkg.a") == set()


def test_self_reference_is_not_an_edge() -> None:
    g = graph({"pkg": {"pkg.CONSTANT"}})
    assert g.dependencies("pkg") == set()


def test_module_added_later_takes_over_references_to_it() -> None:
    g = graph({"pkg": set(), "pkg.user": {"pkg.late.func"}})
    assert g.dependencies("pkg.user") == {"pkg"}
    g.add_modules({"pkg.late": 5})
    assert g.dependencies("pkg.user") == {"pkg.late"}
    assert g.dependents("pkg.late") == {"pkg.user"}
    assert g.importers("pkg") == set()


def test_set_references_replaces_previous_edges() -> None:
    g = graph({"pkg.a": set(), "pkg.b": set(), "pkg.c": {"pkg.a"}})
    g.set_references("pkg.c", frozenset({"pkg.b"}))
    assert g.dependencies("pkg.c") == {"pkg.b"}
    assert g.importers("pkg.a") == set()
    assert g.importers("pkg.b") == {"pkg.c"}


def test_bindings_add_edges_and_are_replaced() -> None:
    g = graph({"pkg.a": set(), "pkg.b": set(), "pkg.c": set()})
    g.set_bindings("pkg.c", frozenset({"pkg.a", "not.in.graph"}))
    assert g.dependencies("pkg.c") == {"pkg.a"}
    g.set_bindings("pkg.c", frozenset({"pkg.b"}))
    assert g.dependencies("pkg.c") == {"pkg.b"}
    assert g.importers("pkg.a") == set()


def test_edge_kinds_say_why_each_edge_exists() -> None:
    g = graph({"pkg": set(), "pkg.a": set(), "pkg.b": set(), "pkg.user": {"pkg.a.f"}})
    g.set_references("pkg.user", {"pkg.a.f", "pkg.NAME"}, at_call={"pkg.b", "pkg.a.g"})
    g.set_bindings("pkg.user", {"pkg.a", "pkg.b"})
    assert g.dependencies("pkg.user") == {"pkg", "pkg.a", "pkg.b"}
    assert g.edge_kinds("pkg.user", "pkg") == EdgeKind.IMPORT
    assert g.edge_kinds("pkg.user", "pkg.a") == EdgeKind.IMPORT | EdgeKind.FUNCTION | (
        EdgeKind.BINDING
    )
    assert g.edge_kinds("pkg.user", "pkg.b") == EdgeKind.FUNCTION | EdgeKind.BINDING
    assert g.edge_kinds("pkg.a", "pkg.user") == EdgeKind(0)
    assert g.edge_kinds("pkg.nope", "pkg.a") == EdgeKind(0)
    assert g.edge_kinds("pkg.user", "pkg.b").label == "inside a function, binding scan"
    assert EdgeKind.IMPORT.label == "module level"
    assert EdgeKind.RUNTIME.label == "imported at run time"  # reserved for observed imports


def test_function_level_references_are_edges_and_follow_the_graph() -> None:
    g = graph({"pkg": set(), "pkg.a": set(), "pkg.b": set()})
    g.set_references("pkg.b", (), at_call={"pkg.late.f"})
    assert g.dependencies("pkg.b") == {"pkg"}
    g.add_modules({"pkg.late": 9})
    assert g.dependencies("pkg.b") == {"pkg.late"}
    assert g.edge_kinds("pkg.b", "pkg.late") == EdgeKind.FUNCTION
    assert plan(g, "pkg.late") == [("pkg.late",), ("pkg.b",)]
    g.remove_module("pkg.late")
    assert g.dependencies("pkg.b") == {"pkg"}
    g.set_references("pkg.b", {"pkg.a"})  # replaces both kinds of references
    assert g.dependencies("pkg.b") == {"pkg.a"}
    assert g.edge_kinds("pkg.b", "pkg.a") == EdgeKind.IMPORT


def test_removing_an_imported_module_reresolves_its_importers() -> None:
    g = graph({"pkg": set(), "pkg.a": set(), "pkg.b": {"pkg.a.X"}, "pkg.c": {"pkg.b"}})
    g.remove_module("pkg.a")
    assert "pkg.a" not in g
    assert g.dependencies("pkg.b") == {"pkg"}
    assert g.dependents("pkg") == {"pkg.b", "pkg.c"}


def test_removing_an_importer_drops_its_edges() -> None:
    g = graph({"pkg.a": set(), "pkg.b": {"pkg.a"}})
    g.set_bindings("pkg.b", frozenset({"pkg.a"}))
    g.remove_module("pkg.b")
    assert g.modules == frozenset({"pkg.a"})
    assert g.importers("pkg.a") == set()
    assert g.dependents("pkg.a") == set()


def test_removed_module_added_again_gets_its_importers_back() -> None:
    g = graph({"pkg.a": set(), "pkg.b": {"pkg.a.X"}})
    g.remove_module("pkg.b")
    g.remove_module("pkg.a")
    g.add_modules({"pkg.a": 7, "pkg.b": 8})
    g.set_references("pkg.b", frozenset({"pkg.a.X"}))
    assert g.dependencies("pkg.b") == {"pkg.a"}
    assert plan(g, "pkg.a") == [("pkg.a",), ("pkg.b",)]


def test_remove_unknown_module_is_a_no_op() -> None:
    g = graph({"pkg.a": set()})
    g.remove_module("pkg.nope")
    assert g.modules == frozenset({"pkg.a"})


# -- queries -----------------------------------------------------------------------------------


def test_dependencies_are_direct_and_dependents_transitive() -> None:
    g = graph({"a": set(), "b": {"a"}, "c": {"b"}, "d": {"c"}, "x": set()})
    assert g.dependencies("d") == {"c"}
    assert g.dependents("a") == {"b", "c", "d"}
    assert g.dependents("d") == set()
    assert g.dependents("x") == set()
    assert g.dependents("unknown") == set()
    assert g.dependencies("unknown") == set()


def test_queries_return_copies() -> None:
    g = graph({"a": set(), "b": {"a"}})
    g.dependencies("b").add("zzz")
    g.importers("a").add("zzz")
    assert g.dependencies("b") == {"a"}
    assert g.importers("a") == {"b"}


def test_dependents_of_a_cycle_member_exclude_itself() -> None:
    g = graph({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    assert g.dependents("a") == {"b", "c"}


def test_len_contains_and_modules() -> None:
    g = graph({"a": set(), "b": {"a"}})
    assert len(g) == 2
    assert "a" in g
    assert "c" not in g
    assert g.modules == frozenset({"a", "b"})


# -- reload plans ------------------------------------------------------------------------------


def test_chain_plan_is_changed_module_then_each_dependent_once() -> None:
    g = graph({"a": set(), "b": {"a"}, "c": {"b"}})
    assert plan(g, "a") == [("a",), ("b",), ("c",)]
    assert plan(g, "b") == [("b",), ("c",)]
    assert plan(g, "c") == [("c",)]


def test_diamond_plan_reloads_the_join_once_after_both_sides() -> None:
    g = graph({"base": set(), "left": {"base"}, "right": {"base"}, "top": {"left", "right"}})
    assert plan(g, "base") == [("base",), ("left",), ("right",), ("top",)]
    assert plan(g, "right") == [("right",), ("top",)]


def test_ties_follow_first_import_order() -> None:
    edges = {"base": set(), "left": {"base"}, "right": {"base"}, "top": {"left", "right"}}
    g = graph(edges, order=["base", "right", "left", "top"])
    assert plan(g, "base") == [("base",), ("right",), ("left",), ("top",)]


def test_dependency_first_beats_import_order() -> None:
    # "late" was imported last but "early" imports it: it must come first.
    g = graph({"early": {"late"}, "late": {"base"}, "base": set()}, order=["early", "base", "late"])
    assert plan(g, "base") == [("base",), ("late",), ("early",)]


def test_modules_outside_the_change_are_not_planned() -> None:
    g = graph({"a": set(), "b": {"a"}, "sibling": set(), "user_of_sibling": {"sibling"}})
    assert plan(g, "a") == [("a",), ("b",)]


def test_several_changed_modules_each_planned_once() -> None:
    g = graph({"a": set(), "b": {"a"}, "c": {"a", "b"}})
    assert plan(g, "c", "a", "b", "a") == [("a",), ("b",), ("c",)]


def test_unknown_changed_modules_are_ignored() -> None:
    g = graph({"a": set()})
    assert plan(g, "nope") == []
    assert plan(g) == []


def test_cycle_is_one_component_in_import_order_before_its_dependents() -> None:
    # `import a` entered the cycle: b completed nested inside a, so a completed last and is
    # imported first again.
    g = graph(
        {"base": set(), "a": {"b", "base"}, "b": {"a"}, "user": {"b"}},
        order=["base", "b", "a", "user"],
    )
    assert plan(g, "base") == [("base",), ("a", "b"), ("user",)]
    assert plan(g, "b") == [("a", "b"), ("user",)]


def test_three_module_cycle_and_a_separate_two_cycle() -> None:
    g = graph(
        {"x": {"z"}, "y": {"x"}, "z": {"y"}, "p": {"q", "z"}, "q": {"p"}},
        order=["p", "q", "x", "y", "z"],
    )
    # members entry first: the one whose import completed last
    assert plan(g, "y") == [("z", "y", "x"), ("q", "p")]
    assert plan(g, "q") == [("q", "p")]


def test_plan_orders_every_module_after_its_dependencies() -> None:
    # A wider graph: check the invariant for every edge rather than one order.
    edges: dict[str, set[str]] = {f"m{i}": set() for i in range(30)}
    for i in range(30):
        edges[f"m{i}"] = {f"m{j}" for j in range(i) if (i * 7 + j) % 5 == 0}
    order = [f"m{i}" for i in reversed(range(30))]
    g = graph(edges, order=order)
    planned = flat(plan(g, "m0"))
    assert len(planned) == len(set(planned))
    assert set(planned) == {"m0"} | g.dependents("m0")
    position = {name: i for i, name in enumerate(planned)}
    for name in planned:
        for dep in g.dependencies(name):
            if dep in position:
                assert position[dep] < position[name], (dep, name)


def test_stop_modules_are_skipped_with_what_depends_only_through_them() -> None:
    g = graph(
        {
            "config": set(),
            "service": {"config"},
            "api": {"service"},
            "direct": {"config"},
            "both": {"service", "direct"},
        }
    )
    steps, skipped = g.reload_plan(["config"], stop=lambda name: name == "service")
    assert steps == [("config",), ("direct",), ("both",)]
    assert skipped == ["service"]


def test_changed_stop_module_plans_nothing() -> None:
    g = graph({"config": set(), "service": {"config"}})
    steps, skipped = g.reload_plan(["config"], stop=lambda name: name == "config")
    assert (steps, skipped) == ([], ["config"])


def test_deep_chain_does_not_recurse() -> None:
    n = 5000
    g = graph({f"m{i}": ({f"m{i - 1}"} if i else set()) for i in range(n)})
    planned = flat(plan(g, "m0"))
    assert planned == [f"m{i}" for i in range(n)]
    assert len(g.dependents("m0")) == n - 1


def test_long_cycle_is_one_component() -> None:
    n = 3000
    g = graph({f"m{i}": {f"m{(i + 1) % n}"} for i in range(n)})
    steps = plan(g, "m17")
    assert len(steps) == 1
    assert steps[0] == tuple(f"m{i}" for i in reversed(range(n)))


def test_renumbered_cycle_is_entered_the_new_way() -> None:
    g = graph({"a": {"b"}, "b": {"a", "c"}, "c": set(), "user": {"a"}})
    assert plan(g, "c") == [("c",), ("b", "a"), ("user",)]
    version = g.version
    g.renumber({"c": 2, "b": 1})  # c and b did not move: nothing changes
    assert g.version == version
    g.renumber({"b": 4, "a": 5, "nope": 6})  # a reload entered the cycle through a
    assert g.version > version
    assert plan(g, "c") == [("c",), ("a", "b"), ("user",)]
    assert "nope" not in g


@pytest.mark.parametrize("changed", ["a", "b"])
def test_plan_is_deterministic(changed: str) -> None:
    edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}, "d": {"c", "b"}}
    plans = {tuple(plan(graph(edges), changed)) for _ in range(20)}
    assert plans == {(("b", "a"), ("c",), ("d",))}


def test_edges_set_without_resolving_appear_at_resolve() -> None:
    # Start-up sets the references and bindings of every module first and resolves each once.
    g = ImportGraph()
    g.add_modules({"a": 0, "b": 1, "c": 2})
    g.set_references("b", {"a"}, resolve=False)
    g.set_bindings("c", {"b"}, resolve=False)
    assert g.dependents("a") == set()
    g.resolve(["b", "c"])
    assert g.dependents("a") == {"b", "c"}
    assert g.dependencies("c") == {"b"}
    assert "a" in g.module_names
    assert "z" not in g.module_names
