"""Unit tests for hotmod._import_parser: every import form, resolved to absolute references."""

from __future__ import annotations

import ast
import sysconfig
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from hotmod._import_parser import ImportParseError, parse_import_scopes, parse_imports


def refs(source: str, module: str = "pkg.mod", *, is_package: bool = False) -> set[str]:
    return set(parse_imports(textwrap.dedent(source).encode(), module, is_package=is_package))


def scopes(source: str, *, fast: bool | None = None) -> tuple[set[str], set[str]]:
    """``(at_import, at_call)`` of ``source`` as module ``pkg.mod``; with ``fast``, also check
    whether the statement fast path applies, and that a full walk of the statements agrees."""
    from hotmod._import_parser import _import_statements

    data = textwrap.dedent(source).encode()
    at_import, at_call = parse_import_scopes(data, "pkg.mod", is_package=False)
    if fast is not None:
        assert (_import_statements(data) is not None) == fast
        if b"import_module" not in data:
            assert _full_parse_refs(data, "pkg") == (set(at_import), set(at_call))
    return set(at_import), set(at_call)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import a", {"a"}),
        ("import a.b", {"a.b", "a"}),
        ("import a.b.c", {"a.b.c", "a"}),
        ("import a.b as c", {"a.b"}),
        ("import a, b.c", {"a", "b.c", "b"}),
        ("from a import b", {"a.b"}),
        ("from a import b, c as d", {"a.b", "a.c"}),
        ("from a.b import c", {"a.b.c"}),
        ("from a import *", {"a"}),
        ("from a.b import *", {"a.b"}),
    ],
)
def test_absolute_import_forms(source: str, expected: set[str]) -> None:
    assert refs(source) == expected


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("from . import b", "pkg.a", False, {"pkg.b"}),
        ("from .b import f", "pkg.a", False, {"pkg.b.f"}),
        ("from . import *", "pkg.a", False, {"pkg"}),
        ("from .b import *", "pkg.a", False, {"pkg.b"}),
        ("from .. import x", "pkg.sub.a", False, {"pkg.x"}),
        ("from ..x import y", "pkg.sub.a", False, {"pkg.x.y"}),
        ("from ...x import y", "pkg.sub.deep.a", False, {"pkg.x.y"}),
        ("from ..sub2.m import y", "pkg.sub.deep.a", False, {"pkg.sub.sub2.m.y"}),
        # In a package's __init__ the package itself is the anchor of "."
        ("from . import b", "pkg", True, {"pkg.b"}),
        ("from .sub import b", "pkg", True, {"pkg.sub.b"}),
        ("from .. import b", "pkg.sub", True, {"pkg.b"}),
    ],
)
def test_relative_imports_resolve_against_the_package(
    source: str, module: str, is_package: bool, expected: set[str]
) -> None:
    assert refs(source, module, is_package=is_package) == expected


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from .. import x", "pkg.a"),  # above the top-level package
        pytest.param(
            "from ..x import y",  # Python: "attempted relative import beyond top-level package"
            "pkg.a",
        ),
        ("from ... import x", "pkg.sub.a"),
        ("from . import x", "toplevel"),  # no package at all
    ],
)
def test_relative_import_beyond_top_level_is_no_reference(source: str, module: str) -> None:
    assert refs(source, module) == set()


def test_imports_nested_in_every_statement_kind_are_found() -> None:
    source = """
        def f():
            import in_function
            def g():
                from in_inner import x
        async def h():
            import in_async
            async with ctx():
                import in_async_with
            async for _ in it():
                import in_async_for
        class C:
            import in_class
            def method(self):
                import in_method
        if cond:
            import in_if
        elif other:
            import in_elif
        else:
            import in_else
        try:
            import in_try
        except ImportError:
            import in_except
        else:
            import in_try_else
        finally:
            import in_finally
        with ctx():
            import in_with
        for _ in range(1):
            import in_for
        else:
            import in_for_else
        while cond:
            import in_while
        match value:
            case 1:
                import in_match
            case _:
                import in_match_default
    """
    assert refs(source) == {
        "in_function",
        "in_inner.x",
        "in_async",
        "in_async_with",
        "in_async_for",
        "in_class",
        "in_method",
        "in_if",
        "in_elif",
        "in_else",
        "in_try",
        "in_except",
        "in_try_else",
        "in_finally",
        "in_with",
        "in_for",
        "in_for_else",
        "in_while",
        "in_match",
        "in_match_default",
    }


def test_type_checking_imports_are_not_references_but_their_else_branch_is() -> None:
    source = """
        import typing
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import only_for_types
            from pkg.models import Model
        else:
            import at_run_time
        if typing.TYPE_CHECKING:
            import also_only_for_types
    """
    assert refs(source) == {"typing", "typing.TYPE_CHECKING", "at_run_time"}


@pytest.mark.parametrize(
    "guard",
    [
        'if __name__ == "__main__":',
        "if __name__ == '__main__':",
        'if "__main__" == __name__:',
        'if __name__ == "__main__":  # run as a script',
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_main_guard_imports_are_not_references(guard: str, fast: bool) -> None:
    # `fast`: the statement fast path applies; else a TYPE_CHECKING import forces a full parse
    typing_import = "import typing" if fast else "from typing import TYPE_CHECKING"
    source = f"""
        import at_top
        {typing_import}
        {guard}
            import only_as_script
            from pkg import cli_helper
            def main():
                import also_only_as_script
        else:
            import when_imported
        def f():
            {guard}
                import never_either
            import when_called
    """
    expected = {"at_top", "typing" if fast else "typing.TYPE_CHECKING", "when_imported"}
    assert scopes(source, fast=fast) == (expected, {"when_called"})


def test_main_guard_variants() -> None:
    source = """
        if __name__ != "__main__":
            import when_imported
        else:
            import only_as_script
        if __name__ == "__main__" or other:
            import maybe_at_import
        if name == "__main__":
            import not_the_guard
        import importlib
        if __name__ == "__main__":
            importlib.import_module("dynamic_only_as_script")
        importlib.import_module("dynamic")
    """
    assert scopes(source, fast=False) == (
        {"when_imported", "maybe_at_import", "not_the_guard", "importlib", "dynamic"},
        set(),
    )
    statements = "import a\nif __name__ == '__main__':\n    import b\n"
    assert scopes(statements, fast=True) == ({"a"}, set())
    for other_header in (
        "if __name__ != '__main__':",
        "elif __name__ == '__main__':",
        "if __name__ == '__main__' and x:",
    ):
        source = f"if x:\n    pass\n{other_header}\n    import b\n"
        scopes(source, fast=False)  # the full parse decides


def test_type_checking_and_main_guard_together() -> None:
    source = """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import only_for_types
        else:
            import at_run_time
        if __name__ == "__main__":
            import only_as_script
    """
    assert scopes(source, fast=False) == ({"typing.TYPE_CHECKING", "at_run_time"}, set())


def test_imports_inside_functions_run_at_call_time() -> None:
    source = """
        import importlib
        import both
        @decorate(importlib.import_module("in_decorator"))
        def f(x=importlib.import_module("in_default")):
            import in_function
            import both
            importlib.import_module("dynamic_in_function")
            class Local:
                import in_local_class
            def inner():
                from pkg import in_inner
        async def g():
            import in_async
        class C:
            import in_class_body
            def method(self):
                import in_method
        key = lambda: importlib.import_module("in_lambda")
    """
    assert scopes(source, fast=False) == (
        {"importlib", "both", "in_decorator", "in_default", "in_class_body"},
        {
            "in_function",
            "dynamic_in_function",
            "in_local_class",
            "pkg.in_inner",
            "in_async",
            "in_method",
            "in_lambda",
        },
    )
    assert parse_imports(b"def f():\n    import a\nimport b", "m", is_package=False) == {"a", "b"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import a\ndef f():\n    import b\n", ({"a"}, {"b"})),
        ("class C:\n    def m(self):\n        import b\n    import a\n", ({"a"}, {"b"})),
        ("try:\n    import a\nexcept ImportError:\n    import b\n", ({"a", "b"}, set())),
        ("def f(x: int) -> int:  # note\n\n    # comment\n    import b\n", (set(), {"b"})),
        ("async def f():\n    with x:\n        import b\n", (set(), {"b"})),
        ("if x:\n    def f():\n        pass\n    import a\n", ({"a"}, set())),
    ],
)
def test_statement_fast_path_tells_function_imports_apart(
    source: str, expected: tuple[set[str], set[str]]
) -> None:
    assert scopes(source, fast=True) == expected


@pytest.mark.parametrize(
    "source",
    [
        "def f(\n    x,\n):\n    import b\n",  # a header over several lines
        "def f():\n\timport b\n",  # tabs
        "def f():\n    x = '''\ndef g():\n'''\n    import b\n",  # a header-like line in a string
        "match x:\n    case 1:\n        import b\n",
    ],
)
def test_statement_fast_path_leaves_unclear_blocks_to_the_full_parse(source: str) -> None:
    scopes(source, fast=False)


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ('import importlib\nimportlib.import_module("pkg.x")', "pkg.a", False, {"pkg.x"}),
        (
            'from importlib import import_module\nimport_module("pkg.x.y")',
            "pkg.a",
            False,
            {"importlib.import_module", "pkg.x.y"},
        ),
        ('__import__("pkg.x")', "pkg.a", False, {"pkg.x", "pkg"}),
        (
            'import importlib\nimportlib.import_module(".x", __package__)',
            "pkg.a",
            False,
            {"pkg.x"},
        ),
        (
            'import importlib\nimportlib.import_module(".x", package=__package__)',
            "pkg.a",
            False,
            {"pkg.x"},
        ),
        (
            'import importlib\nimportlib.import_module("..x", __package__)',
            "pkg.sub.a",
            False,
            {"pkg.x"},
        ),
        (
            'import importlib\nimportlib.import_module(".x", "other.pkg")',
            "pkg.a",
            False,
            {"other.pkg.x"},
        ),
        (
            'import importlib\nimportlib.import_module(".x", __package__)',
            "pkg",
            True,
            {"pkg.x"},
        ),
    ],
)
def test_string_literal_dynamic_imports_are_references(
    source: str, module: str, is_package: bool, expected: set[str]
) -> None:
    assert refs(source, module, is_package=is_package) - {"importlib"} == expected


def test_dynamic_imports_without_a_literal_or_anchor_are_ignored() -> None:
    source = """
        import importlib
        name = "pkg.x"
        importlib.import_module(name)
        importlib.import_module(".y")           # relative without a package: ImportError
        importlib.import_module(".z", some_variable)
        __import__(name)
        import_module()
    """
    assert refs(source) == {"importlib"}


def test_module_never_references_itself() -> None:
    assert refs("import pkg.mod\nfrom pkg import mod") == {"pkg"}
    assert refs("from . import mod", "pkg.mod") == set()


def test_source_without_imports_has_no_references() -> None:
    assert refs("x = 1\ndef f():\n    return x\n") == set()
    assert refs("") == set()


def test_deep_nesting_does_not_hit_the_recursion_limit() -> None:
    depth = 90  # the parser itself refuses much deeper blocks; the walk must not recurse
    lines = [" " * i + "if x:" for i in range(depth)] + [" " * depth + "import deep"]
    assert refs("\n".join(lines)) == {"deep"}


def test_pep263_encoding_is_honoured() -> None:
    source = "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\nimport pkg.x\n".encode("latin-1")
    assert parse_imports(source, "pkg.a", is_package=False) == frozenset({"pkg.x", "pkg"})


@pytest.mark.parametrize(
    "source",
    [
        b"import (\n",
        b"from . import\n",
        b"import a\x00b\n",
        b"x = f'import'\ndef f(:\n",
        b"if TYPE_CHECKING:\n  import a\ndef f(:\n",
    ],
)
def test_invalid_source_raises_import_parse_error(source: bytes) -> None:
    with pytest.raises(ImportParseError, match=r"pkg\.a"):
        parse_imports(source, "pkg.a", is_package=False)


def test_import_statements_are_read_even_when_other_code_does_not_parse() -> None:
    # Only import statements are parsed when they can be told apart from everything else:
    # hotmod parses sources that just compiled, so the rest is not checked again.
    assert parse_imports(b"import a\ndef f(:\n", "pkg.a", is_package=False) == {"a"}


def test_result_is_a_frozenset() -> None:
    assert isinstance(parse_imports(b"import a", "m", is_package=False), frozenset)


def _full_parse_refs(source: bytes, package: str) -> tuple[set[str], set[str]]:
    from hotmod._import_parser import _collect_statements

    found: set[str] = set()
    at_call: set[str] = set()
    _collect_statements(ast.parse(source).body, package, found, at_call)
    return found, at_call - found


def _fast_path_agreements(paths: Iterable[Path], package: str) -> int:
    """Assert that the fast path, on every file of ``paths`` where it applies, gives exactly
    what walking the whole tree gives (which imports run at import, only when a function is
    called, never); return on how many files it applied. Files that do not parse (test data
    with deliberate errors, Django's project templates) are left out."""
    from hotmod._import_parser import _collect_statements, _import_statements

    fast = 0
    for path in paths:
        source = path.read_bytes()
        try:
            expected = _full_parse_refs(source, package)
        except SyntaxError:
            continue
        statements = _import_statements(source)
        if statements is None:
            continue
        got: set[str] = set()
        got_at_call: set[str] = set()
        _collect_statements(statements[0], package, got)
        _collect_statements(statements[1], package, got_at_call)
        assert (got, got_at_call - got) == expected, path
        fast += 1
    return fast


def test_statement_fast_path_agrees_with_a_full_parse_on_the_standard_library() -> None:
    # The fast path parses only import statements: where it applies it must agree.
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    assert _fast_path_agreements(sorted(stdlib.glob("*.py")), "pkg") > 50


def test_statement_fast_path_agrees_with_a_full_parse_on_real_packages() -> None:
    # The same on pygments and Django (test dependencies), whose lexers and templates hold
    # "import" and "__import__" in strings: the fast path takes such files and agrees.
    import django
    import pygments

    from hotmod._import_parser import _import_statements

    paths = [
        path
        for package in (pygments, django)
        for path in sorted(Path(package.__file__ or "").parent.rglob("*.py"))
    ]
    assert _fast_path_agreements(paths, "pkg.sub") > 500
    lexer = Path(pygments.__file__ or "").parent / "lexers" / "python.py"
    assert _import_statements(lexer.read_bytes()) is not None  # '__import__', r'(import)'


@pytest.mark.parametrize(
    ("source", "fast", "imports"),
    [
        (
            b"import os\nWORDS = ('__import__', 'abs')\nRULE = (r'(import)(\\s+)', 1)\n",
            True,
            ["os"],
        ),
        (b"import os\n# import sys, TYPE_CHECKING\n", True, ["os"]),
        # a dynamic import, one in an f-string's braces, one after a keyword written against
        # a string, a TYPE_CHECKING block: the whole tree
        (b"import os\nm = __import__('sys')\n", False, ["os", "sys"]),
        (b"import os\nX = f'{__import__(\"sys\")}'\n", False, ["os", "sys"]),
        (b"import os\nX = 'a' if 1 else'(', __import__('sys')\n", False, ["os", "sys"]),
        (b"import os\nif TYPE_CHECKING:\n    import sys\n", False, ["os"]),
    ],
)
def test_statement_fast_path_skips_words_in_strings_and_comments_only(
    source: bytes, fast: bool, imports: list[str]
) -> None:
    from hotmod._import_parser import _import_statements

    compile(source, "m", "exec")
    assert (_import_statements(source) is not None) is fast
    assert parse_import_scopes(source, "pkg.m", is_package=False)[0] == set(imports)


_SAME_IMPORTS_BASE = b"""\
from __future__ import annotations
import os

VALUE = 1
TABLE = {"a": 1}


def f(x):
    y = x + 1
    import json
    print(y)


class C:
    import re
    '''doc'''
    n = 2
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b"VALUE = 1\n", b"VALUE = 2\n", True),  # the common edit: a value
        (b"    y = x + 1\n", b"    y = x * 2 + f(1)[0]\n", True),  # a function body
        (b'TABLE = {"a": 1}\n', b'TABLE = {"a": 1, "b": lambda v: v}\n', True),
        (b"    n = 2\n", b"    n = 3\n    m = 4\n", True),  # lines added
        (b"VALUE = 1\n", b"", True),  # a line removed
        (b"VALUE = 1\n", b"VALUE = 1\nimport sys\n", False),  # an import added
        (b"import os\n", b"", False),  # an import removed
        (b"def f(x):\n", b"if True:\n", False),  # the header of a block with an import
        (b"class C:\n", b"def C():\n", False),
        (b"VALUE = 1\n", b"VALUE = '''1'''\n", False),  # a triple quote: strings move
        (b"VALUE = 1\n", b"VALUE = \\\n 1\n", False),  # a continued line
        (b"VALUE = 1\n", b"TYPE_CHECKING = False\n", False),
        (b"VALUE = 1\n", b"NAME = '__main__'\n", False),
        (b"VALUE = 1\n", b"m = importlib.import_module\n", False),
    ],
)
def test_same_imports_only_for_edits_that_cannot_change_the_imports(
    old: bytes, new: bytes, expected: bool
) -> None:
    from hotmod._import_parser import same_imports

    assert old in _SAME_IMPORTS_BASE
    edited = _SAME_IMPORTS_BASE.replace(old, new, 1)
    compile(edited, "edited", "exec")  # what the reloader parses has compiled
    assert same_imports(_SAME_IMPORTS_BASE, edited) is expected
    assert same_imports(edited, _SAME_IMPORTS_BASE) is expected
    if expected:
        assert parse_import_scopes(edited, "pkg.m", is_package=False) == parse_import_scopes(
            _SAME_IMPORTS_BASE, "pkg.m", is_package=False
        )


def test_same_imports_never_hides_a_change_of_the_imports_on_the_standard_library() -> None:
    # Random line edits of real files (lines moved, copied from elsewhere in the file, removed):
    # whenever the edited file compiles and same_imports says its imports are the same, a
    # parse must agree; and it must say so for a good share of the edits.
    import random

    from hotmod._import_parser import same_imports

    rng = random.Random(13)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = [p for p in sorted(stdlib.glob("*.py")) if 2_000 < p.stat().st_size < 40_000]
    said_same = checked = 0
    for path in rng.sample(paths, min(40, len(paths))):
        source = path.read_bytes()
        lines = source.splitlines(keepends=True)
        try:
            expected = parse_import_scopes(source, "pkg.m", is_package=False)
        except ImportParseError:
            continue
        for _ in range(12):
            edited_lines = list(lines)
            at = rng.randrange(len(lines))
            action = rng.randrange(3)
            if action == 0:
                del edited_lines[at]
            elif action == 1:
                edited_lines.insert(at, rng.choice(lines))
            else:
                edited_lines[at] = rng.choice(lines)
            edited = b"".join(edited_lines)
            try:
                compile(edited, str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            checked += 1
            if same_imports(source, edited):
                said_same += 1
                got = parse_import_scopes(edited, "pkg.m", is_package=False)
                assert got == expected, (path, at, action)
    assert checked > 100
    assert said_same > checked // 4


def test_import_uses_are_the_patterns_matches_on_the_standard_library() -> None:
    # the fast search (bytes.find, then the pattern at each "import") finds what the pattern's
    # own search finds, in every file and up to any stop
    from hotmod._import_parser import _IMPORT_USE, _import_uses

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = 0
    for path in sorted(stdlib.glob("*.py")):
        source = path.read_bytes()
        for stop in (len(source), len(source) // 3):
            expected = [m.span() for m in _IMPORT_USE.finditer(source, 0, stop)]
            assert [m.span() for m in _import_uses(source, stop)] == expected, (path, stop)
            found += len(expected)
    assert found > 1000


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # an import over several lines that ends before the edit: no parse needed
        (b"from os import (\n    path,  # (the one used\n    sep,\n)\n", True),
        (b"from os import path, \\\n    sep\n", True),
        (b"import os.path, \\\n    json\n", True),
        # the import of a lexer's token table is a string, not a statement
        (b"TOKENS = {\n    'import': [\n        'x',\n    ],\n}\n", True),
        # ... and so is a lexer's pattern on a line that opens a bracket (pygments), and a
        # comment
        (b"RULES = [\n    (r'(import)(\\s+)', 'ns',\n     'x'),\n]\n", True),
        (b"RULES = [(r'(from)(\\s+)', 'x'), (r\"(import)\", \"y\",\n    'z')]\n", True),
        (b"TABLE = [  # import these\n    1,\n]\n", True),
        # read as a string after a line that a backslash continues outside any string, not
        # after an f-string or on a line with a triple quote
        (b"RULES = [1, \\\n    r'(import)', (\n    'x')]\n", True),
        (b"RULES = [(f'{1}', r'(import)',\n    'x')]\n", False),
        (b'RULES = ["""a""", r\'(import)\', (\n    \'x\')]\n', False),
        # a keyword written against a string (else'('): the quote after it opens no string
        (b"import importlib\nm = [0 if 1 else'(', importlib.import_module('o'\n    's')]\n", False),
        # what cannot be told line by line is parsed again
        (b"if True: from os import (\n    path)\n", False),
        (b"import importlib\nm = importlib.import_module(\n    'os')\n", False),
        # a string or a second statement on the lines: its brackets cannot be counted
        (b"import importlib; m = importlib.import_module(\n    ')' 'os')\n", False),
    ],
)
def test_same_imports_past_an_import_over_several_lines(head: bytes, expected: bool) -> None:
    from hotmod._import_parser import same_imports

    old, new = head + b"VALUE = 1\n", head + b"VALUE = 2\n"
    compile(new, "edited", "exec")
    assert same_imports(old, new) is expected
    assert same_imports(new, old) is expected
    assert parse_import_scopes(old, "pkg.m", is_package=False) == parse_import_scopes(
        new, "pkg.m", is_package=False
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (  # a name added on its own line to a parenthesized import
            b"from pkg import (\n    a,\n)\nX = 1\n",
            b"from pkg import (\n    a,\n    b,\n)\nX = 1\n",
        ),
        (  # a name changed on the line a backslash continues
            b"import pkg.a, \\\n    pkg.b\nX = 1\n",
            b"import pkg.a, \\\n    pkg.c\nX = 1\n",
        ),
        (  # the argument of a dynamic import, on the line after the call opens
            b"import importlib\nm = importlib.import_module(\n    'pkg.a'\n)\n",
            b"import importlib\nm = importlib.import_module(\n    'pkg.b'\n)\n",
        ),
        (  # ... on a line that starts inside a string a backslash continued: read alone,
            # the call would seem to be inside a string
            b"import importlib\nx = 'a\\\n' + str(importlib.import_module('pkg.'\n 'a'))\n",
            b"import importlib\nx = 'a\\\n' + str(importlib.import_module('pkg.'\n 'b'))\n",
        ),
    ],
    ids=["parenthesized", "backslash", "dynamic-call", "string-continued"],
)
def test_same_imports_sees_an_edit_inside_an_import_that_spans_lines(
    old: bytes, new: bytes
) -> None:
    # The changed line holds no "import" word, yet it is part of an import: the imports
    # differ, so the file must be parsed again (a missed edge leaves a dependent stale).
    from hotmod._import_parser import same_imports

    assert parse_import_scopes(old, "pkg.m", is_package=False) != parse_import_scopes(
        new, "pkg.m", is_package=False
    )
    assert same_imports(old, new) is False
    assert same_imports(new, old) is False
