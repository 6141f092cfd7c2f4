"""Find what a module imports, from its source text alone.

Pure: source in, import references out. A reference is an absolute dotted name that the module
may depend on at run time. For ``from pkg import name`` the reference is ``pkg.name``: the import
graph resolves each reference to the longest prefix that is a known module, so it becomes an edge
to the module ``pkg.name`` when there is one and to ``pkg`` otherwise.

Covered: ``import a.b`` (references ``a.b`` and the bound name ``a``), ``import a.b as c``,
``from a import b``, ``from . import b``, ``from ..x import y`` (resolved against the module's
package), ``from a import *``, at any depth of functions, classes, ``if``/``try``/``with``/loops
and ``match``; calls ``importlib.import_module("...")`` and ``__import__("...")`` with string
literals. Imports under ``if TYPE_CHECKING:`` are not run-time references and are left out.
"""

from __future__ import annotations

import ast
import re
import sys

__all__ = ["ImportParseError", "parse_imports"]


class ImportParseError(Exception):
    """The source could not be parsed (the caller keeps the module's previous references)."""


_COMPOUND_BODIES = ("body", "orelse", "finalbody")
_DYNAMIC_MARKERS = (b"import_module", b"__import__")


def parse_imports(source: bytes, module: str, *, is_package: bool) -> frozenset[str]:
    """Return the absolute names ``module`` imports, given its source.

    Args:
        source: the module's source as bytes (PEP 263 encodings are honoured).
        module: the module's dotted name, used to resolve relative imports.
        is_package: whether the module is a package (``__init__.py``).

    Returns:
        A frozenset of dotted names; never includes ``module`` itself.

    Raises:
        ImportParseError: the source cannot be parsed (syntax, encoding, null bytes). When
            every ``import`` of the file starts an import statement, only those statements
            are parsed, so an error elsewhere in the file may go unnoticed: hotmod parses
            sources that have just compiled.

    Example:
        >>> sorted(parse_imports(b"from . import b\\nimport os.path", "pkg.a", is_package=False))
        ['os', 'os.path', 'pkg.b']
    """
    if b"import" not in source:
        return frozenset()
    package = module if is_package else module.rpartition(".")[0]
    refs: set[str] = set()
    statements = _import_statements(source)
    if statements is not None:
        _collect_statements(statements, package, refs)
    else:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise ImportParseError(f"cannot parse {module}: {exc}") from exc
        _collect_statements(tree.body, package, refs)
        if any(marker in source for marker in _DYNAMIC_MARKERS):
            _collect_dynamic(tree, package, refs)
    refs.discard(module)
    # Interned: the same names recur in every module of a package; one copy each.
    return frozenset(map(sys.intern, refs))


# The fast path. Parsing a whole module builds an AST of every expression in it, which is
# most of the cost of building the graph. When every `import` keyword of a file starts an
# import statement at the beginning of a line (outside any triple-quoted string), only those
# statements are parsed, with `ast`, and give exactly the references the whole tree would.
# Anything else - TYPE_CHECKING blocks, dynamic imports, an `import` word anywhere else, an
# encoding declaration, a statement that does not parse on its own - takes the full parse.
_IMPORT_WORD = re.compile(rb"\bimport\b")
_STATEMENT_START = re.compile(rb"^[ \t]*(?:import|from)[ \t]", re.MULTILINE)
_TRIPLE_QUOTE = re.compile(rb"\"\"\"|\'\'\'")
_FULL_PARSE_MARKERS = (b"TYPE_CHECKING", b"import_module", b"__import__")


def _import_statements(source: bytes) -> list[ast.stmt] | None:
    """The import statements of ``source`` parsed on their own, or None to parse it all."""
    if any(marker in source for marker in _FULL_PARSE_MARKERS):
        return None
    if b"coding" in b"\n".join(source.split(b"\n", 2)[:2]):
        return None
    strings = _triple_quoted_spans(source)
    pieces: list[bytes] = []
    covered = 0
    for match in _STATEMENT_START.finditer(source):
        start = match.start()
        if any(low <= start < high for low, high in strings):
            return None
        end = _statement_end(source, start)
        if end is None:
            return None
        piece = source[start:end].lstrip(b" \t")
        covered += len(_IMPORT_WORD.findall(piece))
        pieces.append(piece)
    if covered != len(_IMPORT_WORD.findall(source)):
        return None
    try:
        return ast.parse(b"\n".join(pieces)).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _statement_end(source: bytes, start: int) -> int | None:
    """End of the (possibly parenthesised or backslash-continued) statement at ``start``."""
    end = source.find(b"\n", start)
    end = len(source) if end < 0 else end
    depth = source.count(b"(", start, end) - source.count(b")", start, end)
    if depth > 0:
        close = source.find(b")", end)
        if close < 0:
            return None
        end = source.find(b"\n", close)
        end = len(source) if end < 0 else end
        if source.count(b"(", start, end) != source.count(b")", start, end):
            return None
    while source[start:end].rstrip(b" \t\r").endswith(b"\\"):
        nxt = source.find(b"\n", end + 1)
        end = len(source) if nxt < 0 else nxt
        if end >= len(source):
            break
    return end


def _triple_quoted_spans(source: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        opening = _TRIPLE_QUOTE.search(source, position)
        if opening is None:
            return spans
        closing = source.find(opening.group(), opening.end())
        if closing < 0:
            spans.append((opening.start(), len(source)))
            return spans
        spans.append((opening.start(), closing + 3))
        position = closing + 3


def _collect_statements(body: list[ast.stmt], package: str, refs: set[str]) -> None:
    # Iterative walk over statements only: import statements cannot hide inside expressions,
    # and deep nesting must not hit the recursion limit.
    stack: list[list[ast.stmt]] = [body]
    while stack:
        for node in stack.pop():
            if isinstance(node, ast.Import):
                for alias in node.names:
                    refs.add(alias.name)
                    if alias.asname is None:
                        refs.add(alias.name.partition(".")[0])
            elif isinstance(node, ast.ImportFrom):
                base = _absolute_base(node.module, node.level, package)
                if base is None:
                    continue
                for alias in node.names:
                    refs.add(base if alias.name == "*" else f"{base}.{alias.name}")
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                stack.append(node.orelse)
            else:
                for field in _COMPOUND_BODIES:
                    child = getattr(node, field, None)
                    if child:
                        stack.append(child)
                for handler in getattr(node, "handlers", ()):
                    stack.append(handler.body)
                for case in getattr(node, "cases", ()):
                    stack.append(case.body)


def _absolute_base(name: str | None, level: int, package: str) -> str | None:
    """The absolute module an ``ImportFrom`` names, or None when it reaches above the top."""
    if level == 0:
        return name or None
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return None  # beyond the top-level package: an ImportError at run time
    stem = parts[: len(parts) - (level - 1)]
    if name:
        stem.append(name)
    return ".".join(stem)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _collect_dynamic(tree: ast.Module, package: str, refs: set[str]) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called not in ("import_module", "__import__"):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        target = first.value
        if target.startswith("."):
            anchor = _relative_anchor(node, package)
            if anchor is None:
                continue
            level = len(target) - len(target.lstrip("."))
            base = _absolute_base(target[level:] or None, level, anchor)
            if base is None:
                continue
            target = base
        refs.add(target)
        if called == "__import__":
            refs.add(target.partition(".")[0])


def _relative_anchor(call: ast.Call, package: str) -> str | None:
    """The package a relative ``import_module(".x", package)`` is resolved against."""
    anchor: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "package":
            anchor = keyword.value
    if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
        return anchor.value
    if isinstance(anchor, ast.Name) and anchor.id in ("__package__", "__name__"):
        return package
    return None
