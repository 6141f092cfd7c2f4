"""The click and typer adapters: commands added to a group (an app) from command modules,
reloaded through the watcher in a fresh interpreter, against the real click and typer; and
``python -m hotmod run`` of a long-running click command."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import test_examples
from conftest import Project
from test_examples import DEADLINE, LiveProcess, edit, python

live = test_examples.live  # the fixture

CLICK_PKG = {
    "pkg/__init__.py": "",
    # the group, in a module that a change of a command module does not re-execute
    "pkg/cli.py": """\
        import sys
        import click

        @click.group()
        def cli():
            "The group."

        def run(args):
            try:
                return cli.main(args, prog_name="pkg", standalone_mode=False)
            except click.UsageError as exc:
                return "error: " + exc.format_message()

        @cli.command()
        def repl():
            "Runs each input line as a command of the group."
            for line in sys.stdin:
                print(run(line.split()), flush=True)
        """,
    "pkg/commands/__init__.py": "",
    "pkg/commands/hello.py": """\
        import click
        from pkg.cli import cli

        @cli.command()
        def hello():
            return 'hello one'

        def _bye():
            return 'bye one'

        cli.add_command(click.Command("bye", callback=_bye))
        """,
    "pkg/main.py": """\
        from pkg.cli import cli
        import pkg.commands.hello  # noqa: F401

        def main():
            cli()
        """,
}


def test_click_commands_of_a_reloaded_module_replace_the_old_ones(project: Project) -> None:
    project.write(CLICK_PKG)
    out = project.result(
        """
        import pkg.main
        from pkg.cli import cli, run
        results = []

        @hotmod.reloading("pkg", debounce=0.01, on_reload=results.append)
        def invoke(*args):
            return run(list(args))

        def until(check, what):  # each call of invoke() is a safe point
            deadline = time.monotonic() + 20
            while invoke("bye") is None or not check():
                assert time.monotonic() < deadline, (what, sorted(cli.commands), results)
                time.sleep(0.01)

        start = {"hello": invoke("hello"), "bye": invoke("bye"), "names": sorted(cli.commands)}
        save("pkg/commands/hello.py", "'hello one'", "'greet two'")
        edit("pkg/commands/hello.py", "def hello", "def greet")
        edit("pkg/commands/hello.py", "'bye one'", "'bye two'")
        until(lambda: invoke("greet") == "greet two", "the renaming edit")
        renamed = {"greet": invoke("greet"), "hello": invoke("hello"), "bye": invoke("bye"),
                   "names": sorted(cli.commands)}

        attempts = len(results)
        edit("pkg/commands/hello.py", "'greet two'", "'greet three'")
        broken_line = "callback=_bye))\\nraise RuntimeError('x')"
        edit("pkg/commands/hello.py", "callback=_bye))", broken_line)
        until(lambda: any(not r.ok for r in results[attempts:]), "the broken edit")
        broken = {"greet": invoke("greet"), "bye": invoke("bye"), "names": sorted(cli.commands),
                  "same": cli.commands["greet"] is sys.modules["pkg.commands.hello"].greet}

        edit("pkg/commands/hello.py", "\\nraise RuntimeError('x')", "")
        until(lambda: invoke("greet") == "greet three", "the fixed edit")
        emit(start=start, renamed=renamed, broken=broken, names=sorted(cli.commands),
             errors=[str(r.error) for r in results if not r.ok])
        """
    )
    names = ["bye", "hello", "repl"]
    assert out["start"] == {"hello": "hello one", "bye": "bye one", "names": names}
    assert out["renamed"] == {
        "greet": "greet two",
        "hello": "error: No such command 'hello'.",  # not the stale old command
        "bye": "bye two",  # cli.add_command(...) of a new Command object
        "names": ["bye", "greet", "repl"],
    }
    assert out["broken"] == {
        "greet": "greet two",
        "bye": "bye two",
        "names": ["bye", "greet", "repl"],
        "same": True,  # the group holds the command of the module running now
    }
    assert out["names"] == ["bye", "greet", "repl"]
    assert set(out["errors"]) == {"x"}  # type: ignore[arg-type]


TYPER_PKG = {
    "tpkg/__init__.py": "",
    "tpkg/app.py": """\
        import typer

        app = typer.Typer()

        @app.callback()
        def main():
            "The app."
        """,
    "tpkg/sub.py": """\
        import typer

        sub = typer.Typer()

        @sub.command()
        def ping():
            return "pong"
        """,
    "tpkg/commands.py": """\
        from tpkg.app import app
        from tpkg.sub import sub

        @app.command()
        def hello():
            return 'hello one'

        app.add_typer(sub, name="sub")
        """,
}


def test_typer_commands_of_a_reloaded_module_are_not_added_twice(project: Project) -> None:
    project.write(TYPER_PKG)
    out = project.result(
        """
        import tpkg.commands
        from tpkg.app import app
        results = []

        @hotmod.reloading("tpkg", debounce=0.01, on_reload=results.append)
        def invoke(*args):
            try:
                return app(list(args), prog_name="tpkg", standalone_mode=False)
            except Exception as exc:  # typer's UsageError (newer typer releases vendor click)
                return "error: " + exc.format_message()

        def registered():
            return {"commands": [c.callback.__name__ for c in app.registered_commands],
                    "groups": [g.name for g in app.registered_groups]}

        def until(check, what):  # each call of invoke() is a safe point
            deadline = time.monotonic() + 20
            while invoke("sub", "ping") is None or not check():
                assert time.monotonic() < deadline, (what, registered(), results)
                time.sleep(0.01)

        start = invoke("hello"), invoke("sub", "ping"), registered()
        save("tpkg/commands.py", "def hello():\\n    return 'hello one'",
             "def greet():\\n    return 'greet two'")
        until(lambda: invoke("greet") == "greet two", "the renaming edit")
        renamed = invoke("greet"), invoke("hello"), invoke("sub", "ping"), registered()

        attempts = len(results)
        edit("tpkg/commands.py", "'greet two'", "'greet three'")
        edit("tpkg/commands.py", 'name="sub")', 'name="sub")\\nraise RuntimeError("x")')
        until(lambda: any(not r.ok for r in results[attempts:]), "the broken edit")
        broken = invoke("greet"), registered()
        edit("tpkg/commands.py", '\\nraise RuntimeError("x")', "")
        until(lambda: invoke("greet") == "greet three", "the fixed edit")
        emit(start=start, renamed=renamed, broken=broken, fixed=registered(),
             errors=[str(r.error) for r in results if not r.ok])
        """
    )
    one = {"commands": ["greet"], "groups": ["sub"]}
    assert out["start"] == ["hello one", "pong", {"commands": ["hello"], "groups": ["sub"]}]
    assert out["renamed"] == ["greet two", "error: No such command 'hello'.", "pong", one]
    assert out["broken"] == ["greet two", one]
    assert out["fixed"] == one
    assert set(out["errors"]) == {"x"}  # type: ignore[arg-type]


def _answers(process: LiveProcess, command: str, expected: str) -> None:
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        process.send(command + "\n")
        seen.append(process.line())
        if seen[-1] == expected:
            return
        time.sleep(0.01)
    process.fail(f"{command!r} never answered {expected!r}: {seen[-5:]}")


def test_run_a_long_running_click_command_sees_edited_commands(
    project: Project, live: Callable[..., LiveProcess]
) -> None:
    project.write(CLICK_PKG, record=False)
    process = live(
        python("-m", "hotmod", "run", "pkg.main:main", "repl"),
        cwd=project.root,
        env=project.env(),
    )
    hello = Path(project.root, "pkg/commands/hello.py")
    _answers(process, "hello", "hello one")
    edit(hello, "'hello one'", "'greet two'")
    edit(hello, "def hello", "def greet")
    _answers(process, "greet", "greet two")
    _answers(process, "hello", "error: No such command 'hello'.")
    text = hello.read_text()
    edit(hello, "'greet two'", "'greet three'\nraise RuntimeError('broken')")
    process.expect_match("*RuntimeError: broken*", stream="stderr")
    _answers(process, "greet", "greet two")  # rolled back: the old command keeps running
    hello.write_text(text.replace("'greet two'", "'greet four'"))
    _answers(process, "greet", "greet four")
    _answers(process, "bye", "bye one")
    process.close_stdin()  # the command's loop ends (click itself turns Ctrl-C into exit 1)
    assert process.proc.wait(timeout=DEADLINE) == 0
