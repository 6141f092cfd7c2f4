"""Unit tests for hotmod._module_index on hand-made module dicts (no import, no subprocess).

Module objects are built from specs of real files in a temporary folder but never executed and
never put in ``sys.modules``: the index is given its own dict.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sysconfig
from importlib.machinery import ModuleSpec, SourcelessFileLoader
from pathlib import Path
from types import ModuleType

import pytest

import hotmod
from hotmod._exceptions import ArgumentTypeError, NotWatchedError, PackageNotFoundError
from hotmod._module_index import ModuleIndex
from hotmod._system_paths import system_dirs


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def source_module(name: str, path: Path, *, package: bool = False) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None
    )
    assert spec is not None
    return importlib.util.module_from_spec(spec)


def namespace_module(name: str, *folders: Path) -> ModuleType:
    spec = ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(f) for f in folders]
    return importlib.util.module_from_spec(spec)


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, ModuleType]:
    """pkg/, pkg/a.py, pkg/sub/, pkg/sub/b.py, and an unrelated top-level module."""
    root = tmp_path / "project"
    modules = {
        "pkg": source_module("pkg", touch(root / "pkg/__init__.py"), package=True),
        "pkg.a": source_module("pkg.a", touch(root / "pkg/a.py")),
        "pkg.sub": source_module("pkg.sub", touch(root / "pkg/sub/__init__.py"), package=True),
        "pkg.sub.b": source_module("pkg.sub.b", touch(root / "pkg/sub/b.py")),
        "other": source_module("other", touch(root / "other.py")),
        "json": json,
    }
    touch(root / "pkg/never_imported.py")
    return modules


def names(index: ModuleIndex) -> list[str]:
    return [record.name for record in index]


def test_sync_records_watched_modules_in_dict_order(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    added, removed = index.sync(tree)
    assert [r.name for r in added] == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]
    assert removed == []
    assert names(index) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]
    seqs = [r.seq for r in index]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4
    record = index.get("pkg")
    assert record is not None
    assert record.is_package
    assert record.path == os.path.realpath(tree["pkg"].__file__ or "")
    assert index.get("pkg.a") is not None
    assert not index.get("pkg.a").is_package  # type: ignore[union-attr]
    assert "other" not in index
    assert "json" not in index
    assert len(index) == 4


def test_package_init_file_maps_to_the_package(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    root = Path(tree["pkg"].__file__ or "").parent
    assert index.modules_for_path(root / "__init__.py") == ("pkg",)
    assert index.modules_for_path(root / "sub" / "__init__.py") == ("pkg.sub",)
    assert index.modules_for_path(root / "sub" / "b.py") == ("pkg.sub.b",)
    assert index.modules_for_path(str(root / "a.py")) == ("pkg.a",)


def test_any_spelling_of_a_path_maps_to_the_module(
    tree: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    root = Path(tree["pkg"].__file__ or "").parent
    assert index.modules_for_path(root / "sub" / ".." / "a.py") == ("pkg.a",)
    assert index.modules_for_path(str(root) + "/./a.py") == ("pkg.a",)
    monkeypatch.chdir(root.parent)
    assert index.modules_for_path(Path("pkg/a.py")) == ("pkg.a",)
    assert index.modules_for_path("pkg/sub/b.py") == ("pkg.sub.b",)
    # asked again (the spellings of modules' paths are remembered): the same answers, and a
    # relative one still means what it means in the working folder of the moment
    assert index.modules_for_path(root / "sub" / ".." / "a.py") == ("pkg.a",)
    assert index.modules_for_path(str(root) + "/./a.py") == ("pkg.a",)
    monkeypatch.chdir(root / "sub")
    assert index.modules_for_path("b.py") == ("pkg.sub.b",)
    assert index.modules_for_path("pkg/a.py") == ()
    assert index.modules_for_path(Path("../a.py")) == ("pkg.a",)


def test_never_imported_file_maps_to_nothing_but_is_covered(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    never = Path(tree["pkg"].__file__ or "").parent / "never_imported.py"
    assert index.modules_for_path(never) == ()
    assert index.covers_path(never)
    assert not index.covers_path(Path(tree["other"].__file__ or ""))
    assert not index.covers_path(json.__file__ or "")


def linked_tree(tmp_path: Path) -> tuple[Path, Path]:
    """real_pkg/{__init__,mod,never_imported}.py and linked/pkg -> real_pkg."""
    real = tmp_path / "real_pkg"
    touch(real / "__init__.py")
    touch(real / "mod.py")
    touch(real / "never_imported.py")
    link = tmp_path / "linked" / "pkg"
    link.parent.mkdir()
    link.symlink_to(real, target_is_directory=True)
    return real, link


def test_symlinked_package_folder_maps_both_spellings(tmp_path: Path) -> None:
    real, link = linked_tree(tmp_path)
    modules = {
        "pkg": source_module("pkg", link / "__init__.py", package=True),
        "pkg.mod": source_module("pkg.mod", link / "mod.py"),
    }
    index = ModuleIndex(["pkg"], [], modules)
    index.sync(modules)
    assert index.modules_for_path(link / "mod.py") == ("pkg.mod",)
    assert index.modules_for_path(real / "mod.py") == ("pkg.mod",)
    assert index.get("pkg.mod").path == str((real / "mod.py").resolve())  # type: ignore[union-attr]


def test_symlinked_package_folder_covers_files_below_it(tmp_path: Path) -> None:
    real, link = linked_tree(tmp_path)
    modules = {"pkg": source_module("pkg", link / "__init__.py", package=True)}
    index = ModuleIndex(["pkg"], [], modules)
    assert index.covers_path(link / "never_imported.py")
    assert index.covers_path(real / "never_imported.py")


def test_symlinked_extra_path_watches_modules_below_it(tmp_path: Path) -> None:
    _, link = linked_tree(tmp_path)
    modules = {"pkg.mod": source_module("pkg.mod", link / "mod.py")}
    index = ModuleIndex([], [link], modules)
    index.sync(modules)
    assert names(index) == ["pkg.mod"]


def test_namespace_package_roots_are_all_its_folders(tmp_path: Path) -> None:
    first, second = tmp_path / "one/ns", tmp_path / "two/ns"
    modules = {
        "ns": namespace_module("ns", first, second),
        "ns.x": source_module("ns.x", touch(first / "x.py")),
        "ns.y": source_module("ns.y", touch(second / "y.py")),
    }
    index = ModuleIndex(["ns"], [], modules)
    added, _ = index.sync(modules)
    assert index.roots == (first, second)
    assert [r.name for r in added] == ["ns.x", "ns.y"]  # the namespace package has no source
    assert index.modules_for_path(second / "y.py") == ("ns.y",)
    assert index.covers_name("ns.z")


def test_src_layout_package_root_is_its_folder(tmp_path: Path) -> None:
    modules = {"app": source_module("app", touch(tmp_path / "src/app/__init__.py"), package=True)}
    index = ModuleIndex(["app"], [], modules)
    assert index.roots == (tmp_path / "src/app",)


def test_single_module_package_root_is_the_file(tmp_path: Path) -> None:
    modules = {"single": source_module("single", touch(tmp_path / "single.py"))}
    index = ModuleIndex(["single"], [], modules)
    index.sync(modules)
    assert index.roots == (tmp_path / "single.py",)
    assert names(index) == ["single"]
    assert not index.covers_name("single_other")
    assert index.covers_name("single.child")


def test_extra_paths_watch_modules_by_file_location(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    modules = {
        "tool": source_module("tool", touch(folder / "tool.py")),
        "deep.mod": source_module("deep.mod", touch(folder / "deep/mod.py")),
        "outside": source_module("outside", touch(tmp_path / "outside.py")),
    }
    index = ModuleIndex([], [folder], modules)
    index.sync(modules)
    assert names(index) == ["tool", "deep.mod"]
    assert index.roots == (folder,)
    assert index.paths == (folder,)


def test_main_hotmod_compiled_builtin_and_bytecode_modules_are_never_watched(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pkg"
    main = source_module("__main__", touch(root / "script.py"))
    ext = ModuleType("pkg.ext")
    ext.__spec__ = ModuleSpec("pkg.ext", None, origin=str(touch(root / "ext.cpython-311.so")))
    ext.__spec__.has_location = True
    pyc = touch(root / "compiled.pyc")
    compiled = importlib.util.module_from_spec(
        importlib.util.spec_from_file_location(
            "pkg.compiled", pyc, loader=SourcelessFileLoader("pkg.compiled", str(pyc))
        )  # type: ignore[arg-type]
    )
    builtin = ModuleType("pkg.builtin")  # no spec, no file
    in_stdlib = ModuleType("pkg.stdlib_copy")
    in_stdlib.__file__ = json.__file__
    modules = {
        "pkg": source_module("pkg", touch(root / "__init__.py"), package=True),
        "__main__": main,
        "pkg.ext": ext,
        "pkg.compiled": compiled,
        "pkg.builtin": builtin,
        "pkg.stdlib_copy": in_stdlib,
        "hotmod": hotmod,
        "hotmod._result": hotmod._result,
        "pkg.not_a_module": "a string in the module dict",  # type: ignore[dict-item]
    }
    index = ModuleIndex(["pkg"], [root, Path(hotmod.__file__ or "").parent], modules)  # type: ignore[arg-type]
    index.sync(modules)  # type: ignore[arg-type]
    assert names(index) == ["pkg"]


def test_sync_forgets_removed_modules_and_relearns_them(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    first_seq = index.get("pkg.a").seq  # type: ignore[union-attr]
    a = tree.pop("pkg.a")
    added, removed = index.sync(tree)
    assert (added, removed) == ([], ["pkg.a"])
    assert index.modules_for_path(a.__file__ or "") == ()
    tree["pkg.a"] = a
    added, removed = index.sync(tree)
    assert [r.name for r in added] == ["pkg.a"]
    assert removed == []
    assert added[0].seq > first_seq
    assert index.modules_for_path(a.__file__ or "") == ("pkg.a",)


def test_a_file_of_two_modules_maps_to_each_until_it_is_gone(
    tree: dict[str, ModuleType],
) -> None:
    # pkg/a.py imported a second time as the top-level `a` (its folder on sys.path too)
    a_file = Path(tree["pkg.a"].__file__ or "")
    real = os.path.realpath(a_file)
    tree["a"] = source_module("a", a_file)
    both = ModuleIndex(["pkg", "a"], [], tree)
    both.sync(tree)
    assert both.modules_for_path(a_file) == ("pkg.a", "a")
    only_pkg = ModuleIndex(["pkg"], [], tree)
    only_pkg.sync(tree)
    assert only_pkg.modules_for_path(a_file) == ("pkg.a",)
    assert only_pkg.unwatched_twins(real) == ("a",)
    tree.pop("pkg.a")
    both.sync(tree)
    assert both.modules_for_path(a_file) == ("a",)
    tree.pop("a")
    both.sync(tree)
    only_pkg.sync(tree)
    assert both.modules_for_path(a_file) == ()
    assert only_pkg.unwatched_twins(real) == ()


def test_sync_without_changes_adds_and_removes_nothing(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    assert index.sync(tree) == ([], [])
    assert index.sync(tree, force=True) == ([], [])


def test_sync_notices_a_module_swapped_in_at_equal_dict_size(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    size = len(tree)
    del tree["other"]  # something unrelated goes away...
    root = Path(tree["pkg"].__file__ or "").parent
    tree["pkg.late"] = source_module("pkg.late", touch(root / "late.py"))  # ...one arrives
    assert len(tree) == size
    added, removed = index.sync(tree)
    assert [r.name for r in added] == ["pkg.late"]
    assert removed == []


def test_module_replaced_by_another_file_at_same_name_is_relearned(tmp_path: Path) -> None:
    modules = {
        "pkg": source_module("pkg", touch(tmp_path / "pkg/__init__.py"), package=True),
        "pkg.a": source_module("pkg.a", touch(tmp_path / "pkg/a.py")),
    }
    index = ModuleIndex(["pkg"], [], modules)
    index.sync(modules)
    del modules["pkg.a"]
    index.sync(modules)
    modules["pkg.a"] = source_module("pkg.a", touch(tmp_path / "pkg/a_v2.py"))
    index.sync(modules)
    assert index.modules_for_path(tmp_path / "pkg/a_v2.py") == ("pkg.a",)
    assert index.modules_for_path(tmp_path / "pkg/a.py") == ()


def test_covers_name_is_exact_prefix(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    assert index.covers_name("pkg")
    assert index.covers_name("pkg.anything.deeper")
    assert not index.covers_name("pkgx")
    assert not index.covers_name("pkgx.a")
    assert not index.covers_name("json")


def test_system_dirs_cover_stdlib_and_site_packages() -> None:
    dirs = system_dirs()
    assert all(d.endswith(os.sep) for d in dirs)
    stdlib = os.path.join(os.path.realpath(sysconfig.get_paths()["stdlib"]), "")
    purelib = os.path.join(os.path.realpath(sysconfig.get_paths()["purelib"]), "")
    assert stdlib in dirs
    assert purelib in dirs


# -- refusals ----------------------------------------------------------------------------------


def test_unknown_package_raises_module_not_found_naming_it() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_pkg_for_hotmod") as info:
        ModuleIndex(["no_such_pkg_for_hotmod"], [], {})
    assert isinstance(info.value, PackageNotFoundError)
    assert info.value.name == "no_such_pkg_for_hotmod"


@pytest.mark.parametrize("package", ["json", "email.mime", "typing_extensions", "pytest"])
def test_stdlib_and_site_packages_are_refused(package: str) -> None:
    with pytest.raises(ValueError, match=package) as info:
        ModuleIndex([package], [], {})
    assert isinstance(info.value, NotWatchedError)
    assert info.value.target == package


@pytest.mark.parametrize("package", ["hotmod", "hotmod._reloader", "__main__"])
def test_hotmod_and_main_are_refused(package: str) -> None:
    with pytest.raises(NotWatchedError, match=package):
        ModuleIndex([package], [], {})


@pytest.mark.parametrize("package", ["sys", "_imp"])
def test_builtin_modules_are_refused(package: str) -> None:
    with pytest.raises(NotWatchedError, match=package):
        ModuleIndex([package], [], {})


@pytest.mark.parametrize("package", ["", "pkg..x", "1pkg", "pkg.", "my-pkg"])
def test_invalid_package_names_are_refused(package: str) -> None:
    with pytest.raises(NotWatchedError):
        ModuleIndex([package], [], {})


@pytest.mark.parametrize("package", [b"pkg", 3, None, Path("pkg")])
def test_non_str_package_is_a_type_error(package: object) -> None:
    with pytest.raises(TypeError) as info:
        ModuleIndex([package], [], {})  # type: ignore[list-item]
    assert isinstance(info.value, ArgumentTypeError)


def test_missing_path_and_stdlib_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotWatchedError, match="does not exist"):
        ModuleIndex([], [tmp_path / "missing"], {})
    with pytest.raises(NotWatchedError, match="standard library"):
        ModuleIndex([], [sysconfig.get_paths()["stdlib"]], {})
    with pytest.raises(ArgumentTypeError):
        ModuleIndex([], [42], {})  # type: ignore[list-item]


def test_resequence_gives_new_numbers_in_the_order_given(tree: dict[str, ModuleType]) -> None:
    index = ModuleIndex(["pkg"], [], tree)
    index.sync(tree)
    before = {r.name: r.seq for r in index}
    renumbered = index.resequence(["pkg.sub", "pkg.a", "other"])  # other is not watched
    assert list(renumbered) == ["pkg.sub", "pkg.a"]
    assert min(renumbered.values()) > max(before.values())
    assert renumbered["pkg.sub"] < renumbered["pkg.a"]
    assert {n: index.get(n).seq for n in renumbered} == renumbered  # type: ignore[union-attr]
    assert index.get("pkg").seq == before["pkg"]  # type: ignore[union-attr]
