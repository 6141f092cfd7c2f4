"""``python -m hotmod``: run, graph, why; help and argument errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import test_examples
from conftest import Project
from test_examples import DEADLINE, LiveProcess, edit, python

live = test_examples.live  # the fixture

GRAPH_PKG = {
    "app/__init__.py": "",
    "app/config.py": "DEBUG = False\n",
    "app/models.py": "from app.config import DEBUG\n",
    "app/views.py": "from app import models\n",
    "app/server.py": "import app.views\nfrom app.cycle_a import A\n",
    "app/cycle_a.py": "from app import cycle_b\nA = 1\n",
    "app/cycle_b.py": "def f():\n    from app.cycle_a import A\n    return A\n",
    "app/plugin.py": "__hotmod_skip__ = True\nfrom app import models\n",
    "app/uses_plugin.py": "from app import plugin\n",
    "app/__main__.py": "raise SystemExit('the package __main__ must not be imported')\n",
}


def hotmod_cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotmod", *args],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- help and bad arguments ------------------------------------------------------------------


def test_help_for_every_command(project: Project) -> None:
    for args, usage in (
        ([], "usage: hotmod [-h] [--version] COMMAND"),
        (
            ["run"],
            "usage: hotmod run [-h] [-w PKG] [--polling] [--restart-on GLOB] [--no-restart]",
        ),
        (["graph"], "usage: hotmod graph [-h] [--dot] [-q | -v] PKG"),
        (["why"], "usage: hotmod why [-h] [-w PKG] [-q | -v] FILE"),
    ):
        proc = hotmod_cli(project, *args, "--help")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(usage), proc.stdout
        assert proc.stderr == ""
    assert "run" in hotmod_cli(project, "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "hotmod: error: the following arguments are required: COMMAND"),
        (["frob"], "hotmod: error: argument COMMAND: invalid choice: 'frob'"),
        (["run"], "hotmod run: error: the following arguments are required: TARGET"),
        (["run", "not a target"], "hotmod run: error: TARGET must be a module"),
        (["run", "no_such_pkg.main"], "hotmod run: error: no module named 'no_such_pkg'"),
        (["run", "missing.py"], "hotmod run: error: no such script: missing.py"),
        (["run", "json"], "hotmod run: error: 'json' lives in the standard library"),
        (["run", "app.config:nope"], "hotmod run: error: app.config has no attribute 'nope'"),
        (["run", "app.config:DEBUG"], "hotmod run: error: app.config:DEBUG is not callable"),
        (["graph"], "hotmod graph: error: the following arguments are required: PKG"),
        (["graph", "no-pkg"], "hotmod graph: error: PKG must be an importable name"),
        (["graph", "no_such_pkg"], "hotmod graph: error: no module named 'no_such_pkg'"),
        (["graph", "app", "--bogus"], "hotmod: error: unrecognized arguments: --bogus"),
        (["why", "app/missing.py"], "hotmod why: error: no such file: app/missing.py"),
        (["why", "notes.txt"], "hotmod why: error: notes.txt is not a Python source file"),
        (["why", "/tmp"], "hotmod why: error: no such file: /tmp"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(
    project: Project, args: list[str], message: str
) -> None:
    project.write({**GRAPH_PKG, "notes.txt": "hello\n"}, record=False)
    proc = hotmod_cli(project, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""


# -- graph and why ---------------------------------------------------------------------------


def test_graph_tree_and_dot(project: Project) -> None:
    project.write(GRAPH_PKG, record=False)
    tree = hotmod_cli(project, "graph", "app")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout == textwrap.dedent(
        """\
        app.server
          app
          app.cycle_a
            app.cycle_b
              app.cycle_a (cycle)
          app.views
            app.models
              app.config
        app.uses_plugin
          app.plugin
            app.models ...
        """
    )
    dot = hotmod_cli(project, "graph", "app", "--dot")
    assert dot.returncode == 0, dot.stderr
    lines = dot.stdout.splitlines()
    assert lines[:3] == ['digraph "app" {', "  rankdir=LR;", "  node [shape=box];"]
    assert lines[-1] == "}"
    edges = {line.strip() for line in lines if "->" in line}
    assert edges == {
        '"app.cycle_a" -> "app.cycle_b";',
        '"app.cycle_b" -> "app.cycle_a";',
        '"app.models" -> "app.config";',
        '"app.plugin" -> "app.models";',
        '"app.server" -> "app";',
        '"app.server" -> "app.cycle_a";',
        '"app.server" -> "app.views";',
        '"app.uses_plugin" -> "app.plugin";',
        '"app.views" -> "app.models";',
    }
    assert len([line for line in lines if line.endswith(";") and "->" not in line]) == 2 + 9


def test_graph_warns_about_submodules_that_fail_to_import(project: Project) -> None:
    project.write({**GRAPH_PKG, "app/broken.py": "import no_such_module\n"}, record=False)
    proc = hotmod_cli(project, "graph", "app")
    assert proc.returncode == 0
    assert "hotmod: cannot import app.broken (ModuleNotFoundError" in proc.stderr
    assert "app.broken" not in proc.stdout


def test_why_lists_the_reload_plan_with_import_chains(project: Project) -> None:
    project.write(GRAPH_PKG, record=False)
    proc = hotmod_cli(project, "why", "app/config.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "A change to app/config.py (app.config) reloads 4 module(s), in this order:",
        "   1. app.config  the changed module",
        "   2. app.models  imports app.config (module level)",
        "   3. app.views   imports app.models (module level), which imports app.config",
        "   4. app.server  imports app.views (module level), which imports app.models, which "
        "imports app.config",
        "Not reloaded: app.plugin (marked __hotmod_skip__), nor what depends on it only "
        "through it.",
    ]
    cycle = hotmod_cli(project, "why", str(project.root / "app" / "cycle_b.py"))
    assert cycle.returncode == 0, cycle.stderr
    lines = cycle.stdout.splitlines()  # members of a cycle: in the order they were imported
    assert lines[0].endswith("(app.cycle_b) reloads 3 module(s), in this order:")
    assert sorted(line[6:] for line in lines[1:3]) == [
        "app.cycle_a  imports app.cycle_b (module level), in import cycle 1",
        "app.cycle_b  the changed module, in import cycle 1",
    ]
    assert (
        lines[3]
        == "   3. app.server   imports app.cycle_a (module level), which imports app.cycle_b"
    )
    assert lines[4] in (
        f"Import cycle 1 (2 modules, re-executed as one): {members}"
        for members in ("app.cycle_a, app.cycle_b", "app.cycle_b, app.cycle_a")
    )
    assert len(lines) == 5
    functions = hotmod_cli(project, "why", "app/cycle_a.py").stdout.splitlines()
    assert "app.cycle_b  imports app.cycle_a (inside a function), in import cycle 1" in {
        line[6:] for line in functions
    }
    leaf = hotmod_cli(project, "why", "app/uses_plugin.py")
    assert leaf.stdout.endswith("the changed module\nNo other watched module imports it.\n")


def test_why_labels_each_edge_and_prints_a_long_cycle_once(project: Project) -> None:
    cycle = {f"lab/c{i:02}.py": f"import lab.c{(i + 1) % 12:02}\n" for i in range(12)}
    cycle["lab/c05.py"] += "from lab import base\n"
    project.write(
        {
            "lab/__init__.py": "",
            "lab/base.py": "X = 1\n",
            "lab/top.py": "from lab import base\n",
            "lab/lazy.py": "def f():\n    from lab import base\n    return base.X\n",
            "lab/holder.py": "import importlib\nmod = importlib.import_module('lab.' + 'base')\n",
            "lab/script.py": 'if __name__ == "__main__":\n    from lab import base\n',
            **cycle,
        },
        record=False,
    )
    proc = hotmod_cli(project, "why", "lab/base.py")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "A change to lab/base.py (lab.base) reloads 16 module(s), in this order:"
    by_module = {line.split()[1]: line.split(maxsplit=2)[2] for line in lines[1:17]}
    assert by_module["lab.top"] == "imports lab.base (module level)"
    assert by_module["lab.lazy"] == "imports lab.base (inside a function)"
    # a computed import_module: seen at run time, and the binding scan sees the module held
    assert by_module["lab.holder"] == "imports lab.base (binding scan, imported at run time)"
    assert "lab.script" not in proc.stdout  # its only import runs when it is a script
    assert by_module["lab.c05"] == "imports lab.base (module level), in import cycle 1"
    assert by_module["lab.c04"] == (
        "imports lab.c05 (module level), which imports lab.base, in import cycle 1"
    )
    members = sorted(name for name, reason in by_module.items() if "cycle 1" in reason)
    assert members == sorted(f"lab.c{i:02}" for i in range(12))
    footer = " ".join(line.strip() for line in lines[17:])
    assert footer.startswith("Import cycle 1 (12 modules, re-executed as one): ")
    assert sorted(footer.partition(": ")[2].split(", ")) == members
    # no line grows with the cycle: a long chain around it is shortened, the list is wrapped
    assert max(sum(m in line for m in members) for line in lines[1:17]) <= 4
    assert by_module["lab.c06"] == (
        "imports lab.c07 (module level), which imports lab.c08, ... 9 more, which imports "
        "lab.base, in import cycle 1"
    )
    assert max(map(len, lines)) <= 140


def test_why_for_a_file_outside_any_package(project: Project) -> None:
    project.write({"loose/script.py": "print('never imported')\n"}, record=False)
    proc = hotmod_cli(project, "why", "loose/script.py")
    assert proc.returncode == 2
    assert "is not part of a package importable from here" in proc.stderr


# -- run -------------------------------------------------------------------------------------

RUN_PKG = {
    "srv/__init__.py": "",
    "srv/text.py": "TEXT = 'one'\n",
    "srv/main.py": """\
        import sys
        from srv.text import TEXT      # re-bound in the running main()'s globals

        def main():
            for line in sys.stdin:
                print(TEXT, line.strip(), flush=True)
        """,
    "srv/cli.py": """\
        import sys
        if __name__ == "__main__":
            print("cli", __name__, sys.argv[1:], flush=True)
            raise SystemExit(int(sys.argv[-1]))
        """,
    "tool/serve.py": """\
        import sys
        import helper                  # re-bound in __main__
        print("args", sys.argv[1:], flush=True)
        for line in sys.stdin:
            print(helper.TEXT, flush=True)
        """,
    "tool/helper.py": "TEXT = 'helper-one'\n",
}


def _serve_until(process: LiveProcess, expected: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        process.send("x\n")
        seen.append(process.line())
        if seen[-1] == expected:
            return seen
        time.sleep(0.01)
    pytest.fail(f"never saw {expected!r}: {seen[-5:]}")


@pytest.mark.parametrize("target", ["srv.main:main", "tool/serve.py"])
def test_run_reloads_while_the_target_runs_and_ctrl_c_stops_it(
    project: Project, live: Callable[..., LiveProcess], target: str
) -> None:
    project.write(RUN_PKG, record=False)
    # In process, without the restart supervisor (tests/test_restart.py runs that one).
    process = live(
        python("-m", "hotmod", "run", "--no-restart", "-v", target, "--flag"),
        cwd=project.root,
        env=project.env(),
    )
    if target.endswith(".py"):
        assert process.line() == "args ['--flag']"
        path, old, new, expected = "tool/helper.py", "helper-one", "helper-two", "helper-two"
    else:
        path, old, new, expected = "srv/text.py", "'one'", "'two'", "two x"
    process.send("x\n")
    assert process.line() in ("one x", "helper-one")
    edit(Path(project.root, path), old, new)
    _serve_until(process, expected)
    process.expect_match("hotmod: reloaded *")
    assert process.interrupt() == 130
    assert "Traceback" not in process.text["stderr"], process.text["stderr"]
    assert process.text["stderr"].rstrip().endswith("hotmod: interrupted")


def test_run_module_passes_arguments_and_exit_code(project: Project) -> None:
    project.write(RUN_PKG, record=False)
    proc = hotmod_cli(project, "run", "-q", "srv.cli", "a", "3")
    assert proc.stdout == "cli __main__ ['a', '3']\n"
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "hotmod:" not in proc.stderr  # -q: only errors are logged
