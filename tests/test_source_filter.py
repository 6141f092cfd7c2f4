"""Unit tests for hotmod._source_filter: pure path logic, no threads, no watchdog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotmod._source_filter import SourceFilter, is_source_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A directory root. It need not exist for pure path checks, but realpath is happier."""
    pkg = tmp_path / "proj" / "pkg"
    pkg.mkdir(parents=True)
    return pkg


@pytest.mark.parametrize(
    "rel",
    [
        "x.py",
        "__init__.py",
        "_private.py",
        "sub/x.py",
        "a/b/c/deep.py",
        "pycache/x.py",  # only the exact name __pycache__ is special
        "dotted.dir/x.py",  # a dot inside a name is not a hidden component
        "x.tmp.py",  # ".tmp" only counts as a suffix
        "x~y.py",
        "4913.py",  # only the bare vim probe name is special
    ],
)
def test_accepts_python_sources_below_root(root: Path, rel: str) -> None:
    assert is_source_path(root / rel, [root])


@pytest.mark.parametrize(
    ("rel", "rule"),
    [
        ("x.txt", "not .py"),
        ("Makefile", "not .py"),
        ("x.pyi", "not .py"),
        ("x.pyc", ".pyc"),
        ("x.pyo", ".pyo"),
        ("__pycache__/x.cpython-311.pyc", "__pycache__"),
        ("__pycache__/x.py", "__pycache__ even for .py"),
        ("sub/__pycache__/x.py", "nested __pycache__"),
        (".git/hooks/x.py", "hidden dir .git"),
        (".venv/lib/python3.11/site-packages/mod.py", "hidden dir .venv"),
        (".mypy_cache/3.11/x.py", "hidden dir .mypy_cache"),
        ("sub/.hidden/x.py", "nested hidden dir"),
        (".hidden.py", "hidden file"),
        (".x.py.swp", "vim swap"),
        ("x.py.swp", "swap suffix"),
        (".x.py.swx", "vim swap 2"),
        ("x.py~", "backup"),
        (".#x.py", "emacs lock"),
        ("#x.py#", "emacs autosave"),
        ("4913", "vim probe"),
        ("sub/4913", "vim probe in subdir"),
        ("x.py.tmp", "temp"),
        ("x.py___jb_tmp___", "jetbrains tmp"),
        ("x.py___jb_old___", "jetbrains old"),
    ],
)
def test_ignores(root: Path, rel: str, rule: str) -> None:
    assert not is_source_path(root / rel, [root]), rule


@pytest.mark.parametrize(
    "other",
    [
        "pkg2/x.py",  # sibling sharing the root's name as a prefix
        "pkgx.py",  # file sharing the root's name as a prefix
        "x.py",  # the root's parent
        "elsewhere/pkg/x.py",
    ],
)
def test_rejects_paths_outside_root(root: Path, other: str) -> None:
    assert not is_source_path(root.parent / other, [root])


def test_hidden_components_above_the_root_do_not_matter(tmp_path: Path) -> None:
    root = tmp_path / ".local" / "src" / "proj"
    assert is_source_path(root / "x.py", [root])
    assert not is_source_path(root / ".tox" / "x.py", [root])


def test_nested_root_inside_ignored_dir_still_accepts_its_own_files(tmp_path: Path) -> None:
    outer = tmp_path / "a"
    inner = outer / ".hidden" / "pkg"
    roots = [outer, inner]
    assert is_source_path(inner / "x.py", roots)
    assert not is_source_path(outer / ".hidden" / "other" / "x.py", roots)
    assert not is_source_path(inner / "__pycache__" / "x.py", roots)


def test_file_root_matches_only_itself(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    assert is_source_path(script, [script])
    assert not is_source_path(tmp_path / "other.py", [script])
    assert not is_source_path(tmp_path / "main.py~", [script])
    assert not is_source_path(tmp_path / "main.py.tmp", [script])


def test_root_itself_is_not_a_source_file(root: Path) -> None:
    assert not is_source_path(root, [root])


def test_multiple_roots(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert is_source_path(a / "x.py", [a, b])
    assert is_source_path(b / "y.py", [a, b])
    assert not is_source_path(tmp_path / "c" / "z.py", [a, b])
    assert not is_source_path(a / "x.py", [])


def test_accepts_str_and_pathlike_and_trailing_separator(root: Path) -> None:
    assert is_source_path(str(root / "x.py"), [str(root)])
    assert is_source_path(str(root / "x.py"), [str(root) + os.sep])
    assert is_source_path(root / "x.py", [str(root)])


def test_paths_are_normalised(root: Path) -> None:
    assert is_source_path(f"{root}{os.sep}sub{os.sep}..{os.sep}x.py", [root])
    assert not is_source_path(f"{root}{os.sep}..{os.sep}pkg2{os.sep}x.py", [root])


def test_relative_path_and_relative_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root.parent)
    assert is_source_path(Path("pkg") / "x.py", [root])
    assert is_source_path(root / "x.py", [Path("pkg")])
    assert not is_source_path(Path("x.py"), [root])


def test_relative_root_follows_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    assert is_source_path(tmp_path / "one" / "x.py", ["."])
    monkeypatch.chdir(tmp_path / "two")
    assert not is_source_path(tmp_path / "one" / "x.py", ["."])
    assert is_source_path(tmp_path / "two" / "x.py", ["."])


def test_filesystem_root_as_root() -> None:
    top = Path(os.path.abspath(os.sep))
    assert is_source_path(top / "srv" / "app" / "x.py", [top])
    assert not is_source_path(top / "srv" / ".git" / "x.py", [top])


@pytest.fixture
def symlinked(tmp_path: Path) -> tuple[Path, Path]:
    real = tmp_path / "real"
    real.mkdir()
    (real / "x.py").write_text("")
    link = tmp_path / "link"
    try:
        link.symlink_to(real, target_is_directory=True)
    except OSError as exc:  # pragma: no cover - e.g. Windows without privilege
        pytest.skip(f"cannot create symlinks: {exc}")
    return real, link


def test_symlinked_root_accepts_both_spellings(symlinked: tuple[Path, Path]) -> None:
    real, link = symlinked
    assert is_source_path(link / "x.py", [link])
    assert is_source_path(real / "x.py", [link])
    assert not is_source_path(real.parent / "x.py", [link])


def test_path_through_symlink_matches_real_root(symlinked: tuple[Path, Path]) -> None:
    real, link = symlinked
    assert is_source_path(link / "x.py", [real])
    assert not is_source_path(link / "__pycache__" / "x.py", [real])


def test_symlinked_file_root(symlinked: tuple[Path, Path]) -> None:
    real, link = symlinked
    assert is_source_path(real / "x.py", [link / "x.py"])
    assert is_source_path(link / "x.py", [real / "x.py"])


def test_hot_path_never_resolves_symlinks(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = [root]
    assert is_source_path(root / "warm.py", roots)  # compiles and caches the roots

    def forbidden(path: object) -> str:
        raise AssertionError(f"realpath({path!r}) called on the hot path")

    monkeypatch.setattr(os.path, "realpath", forbidden)
    assert is_source_path(root / "sub" / "x.py", roots)
    assert not is_source_path(root / "__pycache__" / "x.cpython-311.pyc", roots)
    assert not is_source_path(root / ".git" / "x.py", roots)
    assert not is_source_path(root / "x.py.swp", roots)
    assert not is_source_path(root.parent / "notes.txt", roots)


def test_source_filter_matches_function(root: Path) -> None:
    source_filter = SourceFilter([root])
    for rel in ("x.py", "sub/y.py", "x.pyc", ".git/z.py", "__pycache__/a.py"):
        assert source_filter(root / rel) == is_source_path(root / rel, [root]), rel
    assert not source_filter(root.parent / "pkg2" / "x.py")
