"""Every README snippet marked ``<!-- docs-test: NAME -->`` runs, and what it prints matches the
``# value`` comments on its print lines, so the documentation cannot rot."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import Project

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- docs-test: (\S+) -->\n```python\n(.*?)```", re.DOTALL)
MYAPP = {
    "myapp/__init__.py": "",
    "myapp/models.py": "GREETING = 'hello'\n",
    "myapp/views.py": (
        "from myapp.models import GREETING\n\ndef render(job):\n    return f'{GREETING} {job}'\n"
    ),
}


def snippets() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text())


def expected_values(code: str) -> list[object]:
    """The literal after ``#`` on each ``print(...)`` line, in order (None: not checked)."""
    values: list[object] = []
    for line in code.splitlines():
        if not line.lstrip().startswith("print("):
            continue
        comment = line.partition("  # ")[2].split(":")[0].split("   ")[0].strip()
        try:
            values.append(ast.literal_eval(comment))
        except (ValueError, SyntaxError):
            values.append(None)
    return values


def test_readme_has_snippets_for_each_usage_form() -> None:
    names = {name for name, _ in snippets()}
    assert {"quickstart", "watch", "watching", "reloading", "manual", "adapter"} <= names


@pytest.mark.parametrize(("name", "code"), snippets(), ids=[name for name, _ in snippets()])
def test_readme_snippet_runs(project: Project, name: str, code: str) -> None:
    project.write(MYAPP, record=False)
    proc = project.run("\nos.chdir(os.path.dirname(__file__))\n" + code)
    printed = [line for line in proc.stdout.splitlines() if line.strip()]
    for expected, line in zip(expected_values(code), printed, strict=False):
        if expected is not None:
            assert ast.literal_eval(line) == expected, (name, line)
