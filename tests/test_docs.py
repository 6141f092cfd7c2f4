"""Every README snippet marked ``<!-- docs-test: NAME -->`` runs, and what it prints matches the
``# value`` comments on its print lines, so the documentation cannot rot."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import test_examples
from conftest import Project
from test_examples import LiveProcess, edit, get_until, python

live = test_examples.live  # the fixture

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


# -- the dev-server snippet, under a real server ------------------------------------------------

SERVER_BLOCK = re.compile(r"<!-- docs-server: (\S+) -->\n```python\n(.*?)```", re.DOTALL)
SERVED_APP = {
    "myapp/__init__.py": "",
    "myapp/text.py": "TEXT = 'one'\n",
    "myapp/api.py": """\
        from myapp.text import TEXT

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": TEXT.encode()})
        """,
    "myapp/web.py": """\
        from myapp.text import TEXT

        def create_app():
            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [TEXT.encode()]
            return app
        """,
}


def test_dev_server_snippet_logs_one_line_per_reload_under_uvicorn(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    pytest.importorskip("uvicorn", reason="the dev-server snippet's ASGI server (examples extra)")
    blocks = SERVER_BLOCK.findall(README.read_text())
    assert [name for name, _ in blocks] == ["dev_server.py"]
    code = blocks[0][1]
    assert "# api = hotmod.asgi(" in code  # the README's ASGI line, switched on for uvicorn
    project.write(SERVED_APP, record=False)
    (project.root / "dev_server.py").write_text(code.replace("# api = ", "api = ", 1))
    env = project.env()
    env["PYTHONUNBUFFERED"] = "1"
    server = live(
        python("-m", "uvicorn", "dev_server:api", "--port", "0", "--lifespan", "off"),
        cwd=project.root,
        env=env,
    )
    port = re.search(
        r"Uvicorn running on http://127\.0\.0\.1:(\d+)", server.expect_match("*Uvicorn running on*")
    )
    assert port is not None, server.text
    url = f"http://127.0.0.1:{port.group(1)}/"
    get_until(url, "one")
    for number, text in enumerate(("two", "three"), 1):
        edit(project.root / "myapp" / "text.py", repr(["one", "two"][number - 1]), repr(text))
        get_until(url, text)  # the new code serves
        # the server logged the reload before it answered, but our reader of its stderr may
        # not have read that line yet when the answer arrives: wait for it, then count
        server.expect_match("INFO hotmod: reloaded myapp.text, *")
        logged = [line for line in server.text["stderr"].splitlines() if "hotmod" in line]
        # one line when watching starts, then exactly one per reload
        assert logged[0].startswith("INFO hotmod: watching myapp (3 modules"), logged
        assert len(logged) == 1 + number, logged
        assert logged[-1].startswith("INFO hotmod: reloaded myapp.text, "), logged
        assert "myapp.api" in logged[-1]
    assert server.interrupt() == 0
