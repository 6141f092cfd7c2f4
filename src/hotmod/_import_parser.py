"""Find what a module imports, from its source text alone.

Pure: source in, import references out. A reference is an absolute dotted name that the module
may depend on at run time. For ``from pkg import name`` the reference is ``pkg.name``: the import
graph resolves each reference to the longest prefix that is a known module, so it becomes an edge
to the module ``pkg.name`` when there is one and to ``pkg`` otherwise.

Covered: ``import a.b`` (references ``a.b`` and the bound name ``a``), ``import a.b as c``,
``from a import b``, ``from . import b``, ``from ..x import y`` (resolved against the module's
package), ``from a import *``, at any depth of functions, classes, ``if``/``try``/``with``/loops
and ``match``; calls ``importlib.import_module("...")`` and ``__import__("...")`` with string
literals. Imports under ``if TYPE_CHECKING:`` and ``if __name__ == "__main__":`` (either
operand order; the ``else`` branch of ``!=``) never run when the module is imported, so they are
left out. ``parse_import_scopes`` also tells imports that run when the module is executed from
imports inside a function body, which run only when the function is called.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator

__all__ = ["ImportParseError", "parse_import_scopes", "parse_imports", "same_imports"]


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
    at_import, at_call = parse_import_scopes(source, module, is_package=is_package)
    return at_import | at_call if at_call else at_import


def parse_import_scopes(
    source: bytes, module: str, *, is_package: bool
) -> tuple[frozenset[str], frozenset[str]]:
    """``parse_imports``, split by when the imports run: ``(at_import, at_call)``.

    ``at_import`` holds what runs when the module is executed (module level, class bodies,
    ``if``/``try``/``with``/loops); ``at_call`` what only a function body imports, less
    anything already in ``at_import``. Arguments and errors as for ``parse_imports``.

    Example:
        >>> parse_import_scopes(b"import a\\ndef f():\\n    import b", "m", is_package=False)
        (frozenset({'a'}), frozenset({'b'}))
    """
    if b"import" not in source:
        return _NOTHING, _NOTHING
    package = module if is_package else module.rpartition(".")[0]
    refs: set[str] = set()
    at_call: set[str] = set()
    statements = _import_statements(source)
    if statements is not None:
        _collect_statements(statements[0], package, refs)
        _collect_statements(statements[1], package, at_call)
    else:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise ImportParseError(f"cannot parse {module}: {exc}") from exc
        _collect_statements(tree.body, package, refs, at_call)
        if any(marker in source for marker in _DYNAMIC_MARKERS):
            _collect_dynamic(tree, package, refs, at_call)
    refs.discard(module)
    at_call.difference_update(refs)
    at_call.discard(module)
    # Interned: the same names recur in every module of a package; one copy each.
    return (
        frozenset(map(sys.intern, refs)),
        frozenset(map(sys.intern, at_call)) if at_call else _NOTHING,
    )


_NOTHING: frozenset[str] = frozenset()


# What an edit must not touch for the imports to stay what they were: an ``import`` word (the
# statements, dynamic imports), a triple quote or a backslash (which lines are strings or
# continue others), the names the parser gives meaning to, an encoding declaration, and the
# first line of a block header (what runs when: a header's logical line starts with its
# keyword, and a line inside brackets cannot start a header).
_IMPORTS_TOUCHED = re.compile(
    rb"import|\"\"\"|'''|\\|TYPE_CHECKING|__main__|coding"
    rb"|^[ \t]*(?:async|def|class|if|elif|else|try|except|finally|while|for|with|match|case)\b",
    re.MULTILINE,
)


def same_imports(old: bytes, new: bytes) -> bool:
    """Whether ``new`` certainly has the imports ``old`` has (``parse_import_scopes`` gives
    the same result for both): the lines where they differ touch nothing that decides them.

    Cheap (a few comparisons of slices, one regular-expression search of the changed lines),
    so a reload need not parse again a file whose edit left its imports alone. False means
    "parse it", not that the imports differ. Both are sources that compiled.

    Example:
        >>> same_imports(b"import a\nX = 1\n", b"import a\nX = 2\n")
        True
        >>> same_imports(b"import a\nX = 1\n", b"import a\nimport b\nX = 1\n")
        False
    """
    if old == new:
        return True
    shortest = min(len(old), len(new))
    low, high = 0, shortest  # the longest common prefix, by bisection of slice comparisons
    while low < high:
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, shortest - prefix  # the longest common suffix not overlapping the prefix
    while low < high:
        middle = (low + high + 1) // 2
        if old[len(old) - middle :] == new[len(new) - middle :]:
            low = middle
        else:
            high = middle - 1
    suffix = low
    start = old.rfind(b"\n", 0, prefix) + 1  # whole lines: the same start in both
    for text in (old, new):
        end = text.find(b"\n", len(text) - suffix)
        if _IMPORTS_TOUCHED.search(text, start, len(text) if end < 0 else end) is not None:
            return False
    # The changed lines hold no ``import`` word, but they may continue a statement or call that
    # starts on an earlier line (``from pkg import (`` then a name per line; a backslash; an
    # ``import_module(`` whose argument is on the next line): a file with such a line before
    # the change is parsed again whatever the edit. (One after it is the same statement in
    # both: the common suffix must close the same brackets for both files to compile.)
    return not _continued_import(old, start)


# ``import`` where the keyword can stand (not inside a word, not right after a quote: the
# ``'import'`` of a lexer's token table is not a statement), and the dynamic imports.
_IMPORT_USE = re.compile(rb"(?<![\w'\"])import(?![\w'\"])|import_module|__import__")
_STATEMENT = re.compile(rb"[ \t]*(?:from|import)[ \t(.\\]")


def _import_uses(text: bytes, stop: int) -> Iterator[re.Match[bytes]]:
    """``_IMPORT_USE.finditer(text, 0, stop)``, faster: the pattern starts with a look-behind,
    which makes the regular expression engine try every position of a large file (some 2 ms
    for 50 KB), where ``bytes.find`` skips to each ``import``."""
    at = text.find(b"import", 0, stop)
    while at >= 0:
        found = None
        if text[at - 2 : at] == b"__":
            found = _IMPORT_USE.match(text, at - 2, stop)
        if found is None:
            found = _IMPORT_USE.match(text, at, stop)
        if found is not None:
            yield found
        at = text.find(b"import", at + 1 if found is None else found.end(), stop)


def _continued_import(text: bytes, stop: int) -> bool:
    """Whether an import before ``stop`` may continue past it: a line of ``text`` that uses
    ``import`` (see ``_IMPORT_USE``) outside a string or comment and opens more brackets than
    it closes or ends with a backslash, unless it starts an import statement that ends before
    ``stop``."""
    end = 0
    for found in _import_uses(text, stop):
        if found.start() < end:  # on a line already looked at
            continue
        start = text.rfind(b"\n", 0, found.start()) + 1
        line_end = text.find(b"\n", found.start())
        line_end = len(text) if line_end < 0 else line_end
        line = text[start:line_end].rstrip()
        if not line.endswith(b"\\") and _closes_brackets(line):
            end = line_end
            continue
        if _in_literal(text, start, line_end, found.start()):
            continue  # a lexer's pattern, r"(import)(\s+)": the line may hold a use as well
        end = line_end
        if found.group() != b"import" or not _STATEMENT.match(text, start):
            return True
        statement_end = _statement_stop(text, start)
        if statement_end is None or statement_end >= stop:
            return True
        end = statement_end
    return False


def _closes_brackets(line: bytes) -> bool:
    """Whether ``line`` closes every bracket it opens (counted, strings not told apart)."""
    return (
        # the common line opens none: three searches instead of six counts
        (b"(" not in line or line.count(b"(") <= line.count(b")"))
        and (b"[" not in line or line.count(b"[") <= line.count(b"]"))
        and (b"{" not in line or line.count(b"{") <= line.count(b"}"))
    )


# A one-line string literal (escapes skipped) with the letters before it, or a comment. The
# letters are a prefix, or a keyword written against the string (``else'x'``): not plain.
_LITERAL = re.compile(rb"""([A-Za-z]*)(['"])(?:\\.|(?!\2)[^\\\n])*\2|#[^\n]*""")
_PLAIN_PREFIXES = frozenset({b"", b"r", b"b", b"u", b"br", b"rb"})


def _in_literal(text: bytes, start: int, end: int, at: int) -> bool:
    """Whether position ``at`` of the line ``text[start:end]`` is certainly inside a string
    literal or a comment, read from the line alone. Only for a line that starts outside any
    string (``_starts_outside_string``) and holds no triple quote (it may be part of a longer
    string, or start one). An f-string (or 3.14's t-string) before ``at`` has code in its
    braces, and its quotes may nest (3.12): such a line is not read this way."""
    before = text[start:at]
    if not _has_quote(before) and b"#" not in before:
        return False  # (an import statement's line)
    line = text[start:end].rstrip(b"\r")
    if b"'''" in line or b'"""' in line or not _starts_outside_string(text, start):
        return False
    for literal in _LITERAL.finditer(text, start, start + len(line)):
        if literal.start() > at or _holds_code(literal):
            return False
        if literal.end() > at:
            return True
    return False


def _has_quote(code: bytes) -> bool:
    return b"'" in code or b'"' in code


def _holds_code(literal: re.Match[bytes]) -> bool:
    """Whether a ``_LITERAL`` match may hold code: a string that is not plain (an f-string,
    a t-string, or a keyword read as its prefix)."""
    return literal.group(2) is not None and literal.group(1).lower() not in _PLAIN_PREFIXES


def _starts_outside_string(text: bytes, start: int) -> bool:
    """Whether the line starting at ``start`` starts outside any string, as far as the lines
    before it tell: a line that a backslash continues does when the backslash ends code (the
    line before it opened no string it did not close, and starts outside one in turn), not a
    string continued on the next line. False when unsure."""
    while start > 0:
        line_start = text.rfind(b"\n", 0, start - 1) + 1
        line = text[line_start : start - 1].rstrip(b"\r")
        if not line.endswith(b"\\"):
            return True
        if b"'''" in line or b'"""' in line:
            return False
        # A quote outside the line's strings and comments opens a string left open: the
        # backslash continues it.
        position = 0
        for literal in _LITERAL.finditer(line):
            if _holds_code(literal) or _has_quote(line[position : literal.start()]):
                return False
            position = literal.end()
        if _has_quote(line[position:]):
            return False
        start = line_start
    return True


def _statement_stop(text: bytes, start: int) -> int | None:
    """Where the import statement whose first line starts at ``start`` ends: the end of the
    line that closes its brackets without a backslash. An import statement holds names,
    commas, brackets and comments, no strings, so counting brackets outside comments is exact.
    None: it does not end, or a line holds a string or another statement (``;``), whose
    brackets cannot be counted this way."""
    depth = 0
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        code = text[start:end].split(b"#", 1)[0].rstrip()
        if b"'" in code or b'"' in code or b";" in code:
            return None
        depth += code.count(b"(") - code.count(b")")
        if depth <= 0 and not code.endswith(b"\\"):
            return end
        start = end + 1
    return None


# The fast path. Parsing a whole module builds an AST of every expression in it, which is
# most of the cost of building the graph. When every `import` keyword of a file starts an
# import statement at the beginning of a line (outside any triple-quoted string), only those
# statements are parsed, with `ast`, and give exactly the references the whole tree would.
# An indented import belongs to the blocks whose header lines are the nearest less indented
# lines above it: under a `def` it runs at call time, under `if __name__ == "__main__":`
# never at import. Anything else - TYPE_CHECKING blocks, dynamic imports, an `import` word
# anywhere else, an encoding declaration, a statement that does not parse on its own, a block
# header that is not a plain one-line header (or any other mention of `__main__`), tabs in
# indentation - takes the full parse.
_IMPORT_WORD = re.compile(rb"\bimport\b")
_STATEMENT_START = re.compile(rb"^[ \t]*(?:import|from)[ \t]", re.MULTILINE)
_TRIPLE_QUOTE = re.compile(rb"\"\"\"|\'\'\'")
_FULL_PARSE_MARKERS = (b"TYPE_CHECKING", b"import_module", b"__import__")
_HEADER = re.compile(
    rb"(?:(async[ \t]+)?(def|for|with)|(class|if|elif|else|try|except|finally|while))\b[^#]*:"
    rb"[ \t]*(?:#[^\n]*)?\r?$"
)
_MAIN_GUARD = re.compile(
    rb"if[ \t]+(?:__name__[ \t]*==[ \t]*(?P<q1>['\"])__main__(?P=q1)"
    rb"|(?P<q2>['\"])__main__(?P=q2)[ \t]*==[ \t]*__name__)[ \t]*:[ \t]*(?:#[^\n]*)?\r?$"
)
_AT_IMPORT, _AT_CALL, _NEVER = 0, 1, 2


def _import_statements(source: bytes) -> tuple[list[ast.stmt], list[ast.stmt]] | None:
    """The import statements of ``source`` parsed on their own, those that run at import and
    those inside a function; or None to parse it all."""
    for marker in _FULL_PARSE_MARKERS:
        at = source.find(marker)
        while at >= 0:
            if not _literal_at(source, at):
                return None
            at = source.find(marker, at + len(marker))
    if b"coding" in b"\n".join(source.split(b"\n", 2)[:2]):
        return None
    strings = _triple_quoted_spans(source)
    pieces: tuple[list[bytes], list[bytes], list[bytes]] = ([], [], [])
    spans: list[tuple[int, int]] = []
    for match in _STATEMENT_START.finditer(source):
        start = match.start()
        if any(low <= start < high for low, high in strings):
            return None
        scope = _scope_of(source, start, strings) if source[start] in b" \t" else _AT_IMPORT
        if scope is None:
            return None
        end = _statement_end(source, start)
        if end is None:
            return None
        pieces[scope].append(source[start:end].lstrip(b" \t"))
        spans.append((start, end))
    # Every other ``import`` word must be in a string or comment (a lexer's token table)
    spans.append((len(source) + 1, len(source) + 1))
    span = iter(spans)
    low, high = next(span)
    for word in _IMPORT_WORD.finditer(source):
        while word.start() >= high:
            low, high = next(span)
        if word.start() < low and not _literal_at(source, word.start()):
            return None
    try:
        at_import = ast.parse(b"\n".join(pieces[_AT_IMPORT])).body
        at_call = ast.parse(b"\n".join(pieces[_AT_CALL])).body if pieces[_AT_CALL] else []
        if pieces[_NEVER]:
            ast.parse(b"\n".join(pieces[_NEVER]))  # what a full parse would have checked
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return at_import, at_call


def _literal_at(source: bytes, at: int) -> bool:
    """Whether position ``at`` is certainly inside a one-line string or a comment."""
    start = source.rfind(b"\n", 0, at) + 1
    end = source.find(b"\n", at)
    return _in_literal(source, start, len(source) if end < 0 else end, at)


def _scope_of(source: bytes, start: int, strings: list[tuple[int, int]]) -> int | None:
    """When the indented line at ``start`` runs (``_AT_IMPORT``, ``_AT_CALL``, ``_NEVER``),
    from the headers of the blocks around it; None when that cannot be told line by line."""
    line_end = source.find(b"\n", start)
    line = source[start : len(source) if line_end < 0 else line_end]
    level = len(line) - len(line.lstrip(b" \t"))
    if b"\t" in line[:level]:
        return None
    scope = _AT_IMPORT
    position = start
    while level > 0:
        if position == 0:
            return None  # indented first line: not a statement a full parse would accept
        line_start = source.rfind(b"\n", 0, position - 1) + 1
        line = source[line_start : position - 1]
        position = line_start
        stripped = line.lstrip(b" \t")
        if not stripped.strip() or stripped.startswith(b"#"):
            continue
        indent = len(line) - len(stripped)
        if indent >= level:
            continue
        if b"\t" in line[:indent] or any(low <= line_start < high for low, high in strings):
            return None
        header = _HEADER.match(stripped)
        if header is None:
            return None  # a continued line, a one-line block, a decorator...: parse it all
        if b"__main__" in stripped:
            if _MAIN_GUARD.match(stripped) is None:
                return None
            scope = _NEVER
        elif header.group(2) == b"def" and scope == _AT_IMPORT:
            scope = _AT_CALL
        level = indent
    return scope


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


def _collect_statements(
    body: list[ast.stmt], package: str, refs: set[str], at_call: set[str] | None = None
) -> None:
    """Add the references of ``body`` to ``refs``; those inside a function to ``at_call``
    (default: ``refs`` too)."""
    # Iterative walk over statements only: import statements cannot hide inside expressions,
    # and deep nesting must not hit the recursion limit.
    stack: list[tuple[list[ast.stmt], set[str]]] = [(body, refs)]
    in_function = refs if at_call is None else at_call
    while stack:
        statements, found = stack.pop()
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.add(alias.name)
                    if alias.asname is None:
                        found.add(alias.name.partition(".")[0])
            elif isinstance(node, ast.ImportFrom):
                base = _absolute_base(node.module, node.level, package)
                if base is None:
                    continue
                for alias in node.names:
                    found.add(base if alias.name == "*" else f"{base}.{alias.name}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                stack.append((node.body, in_function))
            elif isinstance(node, ast.If) and (runs := _branch_run_at_import(node)) is not None:
                stack.append((runs, found))
            else:
                for field in _COMPOUND_BODIES:
                    child = getattr(node, field, None)
                    if child:
                        stack.append((child, found))
                for handler in getattr(node, "handlers", ()):
                    stack.append((handler.body, found))
                for case in getattr(node, "cases", ()):
                    stack.append((case.body, found))


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


def _branch_run_at_import(node: ast.If) -> list[ast.stmt] | None:
    """For an ``if`` one of whose branches never runs when the module is imported, the other
    branch; None for any other ``if`` (both branches may run)."""
    test = node.test
    if _is_type_checking(test):
        return node.orelse
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        operands = (test.left, test.comparators[0])
        if any(_is_name(e, "__name__") for e in operands) and any(
            isinstance(e, ast.Constant) and e.value == "__main__" for e in operands
        ):
            if isinstance(test.ops[0], ast.Eq):
                return node.orelse
            if isinstance(test.ops[0], ast.NotEq):
                return node.body
    return None


def _is_name(expr: ast.expr, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _collect_dynamic(tree: ast.Module, package: str, refs: set[str], at_call: set[str]) -> None:
    # Two passes, as most files that mention import_module call it only now and then: a plain
    # walk finds the calls, then only for the calls found, the statements around them tell
    # when they run (a function's or lambda's body: at call time; decorators and defaults run
    # at definition; the branches that never run at import are left out).
    calls: list[ast.Call] = []
    lambdas: list[ast.Lambda] = []
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Call:
            calls.append(node)  # type: ignore[arg-type]
        elif kind is ast.Lambda:
            lambdas.append(node)  # type: ignore[arg-type]
    found: list[tuple[ast.Call, str, str]] = []
    for call in calls:
        func = call.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if not call.args or called not in ("import_module", "__import__"):
            continue
        first = call.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        target = first.value
        if target.startswith("."):
            anchor = _relative_anchor(call, package)
            if anchor is None:
                continue
            level = len(target) - len(target.lstrip("."))
            base = _absolute_base(target[level:] or None, level, anchor)
            if base is None:
                continue
            target = base
        found.append((call, target, called))
    if not found:
        return
    never, deferred = _spans(tree.body)
    deferred.extend(_span([lam.body]) for lam in lambdas)
    for call, target, called in found:
        where = (call.lineno, call.col_offset)
        if any(low <= where < high for low, high in never):
            continue
        into = at_call if any(low <= where < high for low, high in deferred) else refs
        into.add(target)
        if called == "__import__":
            into.add(target.partition(".")[0])


_Span = tuple[tuple[int, int], tuple[int, int]]


def _span(nodes: list[ast.stmt] | list[ast.expr]) -> _Span:
    first, last = nodes[0], nodes[-1]
    end = (last.end_lineno or last.lineno, last.end_col_offset or 0)
    return (first.lineno, first.col_offset), end


def _spans(body: list[ast.stmt]) -> tuple[list[_Span], list[_Span]]:
    """The source spans of the branches that never run at import and of function bodies."""
    never: list[_Span] = []
    deferred: list[_Span] = []
    stack = [body]
    while stack:
        for node in stack.pop():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                deferred.append(_span(node.body))
            elif isinstance(node, ast.If) and (runs := _branch_run_at_import(node)) is not None:
                skipped = node.body if runs is node.orelse else node.orelse
                if skipped:
                    never.append(_span(skipped))
            for field in _COMPOUND_BODIES:
                child = getattr(node, field, None)
                if child:
                    stack.append(child)
            for handler in getattr(node, "handlers", ()):
                stack.append(handler.body)
            for case in getattr(node, "cases", ()):
                stack.append(case.body)
    return never, deferred


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
