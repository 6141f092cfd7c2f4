"""Re-binding names after a reload (lazy objects, aliases, click targets) and error output
(the location a failure names, the logged traceback, IPython's report, CLI usage errors)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import test_examples
from conftest import Project
from test_cli import GRAPH_PKG, _serve_until, hotmod_cli
from test_examples import LiveProcess, edit, python
from test_ipython import SHELL

live = test_examples.live  # the fixture

# -- which frame a failure names, and the logged traceback ------------------------------------

GENERATED = {
    "pkg/__init__.py": "",
    # a library's way of making wrappers: code compiled from a string (sqlalchemy's warned())
    "pkg/lib.py": """\
        _ns = {}
        exec(compile("def wrapper():\\n    raise RuntimeError('deprecated call')\\n",
                     "<generated wrapper>", "exec"), _ns)
        wrapper = _ns["wrapper"]
        """,
    "pkg/a.py": "from pkg.lib import wrapper\nVALUE = 1\n",
    "pkg/b.py": "import pkg.a\n",
}


def test_failure_names_the_users_line_not_generated_code(project: Project) -> None:
    project.write(GENERATED)
    out = project.result(
        """
        import pkg.b
        reloader = hotmod.Reloader("pkg")
        edit("pkg/a.py", "VALUE = 1", "VALUE = wrapper()")
        result = reloader.reload("pkg.a")
        emit(text=str(result), rolled_back=result.rolled_back, value=sys.modules["pkg.a"].VALUE)
        """
    )
    assert out["rolled_back"] is True
    assert out["value"] == 1
    text = str(out["text"])
    assert "RuntimeError: deprecated call" in text
    # line 3: the RECORD line comes first
    assert text.endswith(
        f"({project.root / 'pkg' / 'a.py'}, line 3); rolled back, the previous "
        "code is still running"
    ), text
    assert "<generated wrapper>" not in text


def test_logged_traceback_starts_at_the_users_frames(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "def check():\n    return 1\nVALUE = check()\n",
            "pkg/a.py": "from pkg import base\nVALUE = base.VALUE\n",
        }
    )
    out = project.result(
        """
        import traceback
        import pkg.a
        records = _Records()
        logging.getLogger("hotmod").addHandler(records)
        reloader = hotmod.Reloader("pkg")
        edit("pkg/base.py", "return 1", "raise KeyError('missing setting')")
        result = reloader.reload("pkg.base")
        errors = [r for r in records.records if r.levelno == logging.ERROR]
        emit(logged=[logging.Formatter().format(r) for r in errors],
             untouched="".join(traceback.format_tb(result.error.__traceback__)),
             value=sys.modules["pkg.a"].VALUE)
        """
    )
    assert out["value"] == 1
    logged = out["logged"]
    assert isinstance(logged, list)
    assert len(logged) == 1, logged
    text = logged[0]
    trace = text[text.index("Traceback (most recent call last):") :]
    frames = [line for line in trace.splitlines() if line.startswith('  File "')]
    # the user's frames only, outermost first: base's module code, then the function it calls
    base = project.root / "pkg" / "base.py"
    assert frames == [
        f'  File "{base}", line 4, in <module>',
        f'  File "{base}", line 3, in check',
    ], trace
    assert "KeyError: 'missing setting'" in trace
    assert "_transaction.py" not in text
    assert "importlib._bootstrap" not in text
    # the exception object keeps its whole traceback (result.error is untouched)
    assert "hotmod/_transaction.py" in str(out["untouched"])


# -- rebind: lazy objects and aliases ----------------------------------------------------------

LAZY_PKG = {
    "pkg/__init__.py": "",
    "pkg/conf.py": """\
        class LazySettings:
            # Django's LazyObject in miniature: any attribute read (__class__ too) evaluates
            # it, which fails before configuration.
            evaluations = 0

            def __getattribute__(self, name):
                type.__setattr__(LazySettings, "evaluations", LazySettings.evaluations + 1)
                raise RuntimeError("settings are not configured")

        settings = LazySettings()
        """,
    "pkg/x.py": """\
        from pkg.conf import settings
        LIMIT = 10

        def f():
            return "old"
        """,
}


def test_rebind_never_evaluates_lazy_objects_and_rebinds_the_other_names(
    project: Project,
) -> None:
    project.write(LAZY_PKG)
    out = project.result(
        """
        import pkg.x
        from pkg.conf import LazySettings
        ns = {"__name__": "__main__", "lazy": pkg.x.settings, "f": pkg.x.f,
              "LIMIT": pkg.x.LIMIT, "px": pkg.x, "settings": pkg.x.settings,
              "other": LazySettings()}
        reloader = hotmod.Reloader("pkg")
        edit("pkg/x.py", 'return "old"', 'return "new"')
        edit("pkg/x.py", "LIMIT = 10", "LIMIT = 11")
        before = dict(sys.modules)
        result = reloader.reload("pkg.x")
        names = hotmod.rebind(ns, result.reloaded, before)
        emit(ok=result.ok, names=names, f=ns["f"](), limit=ns["LIMIT"],
             px=ns["px"] is sys.modules["pkg.x"], evaluations=LazySettings.evaluations)
        """
    )
    assert out["ok"] is True
    assert out["evaluations"] == 0
    assert out["names"] == ["f", "LIMIT", "px"]  # pkg.conf was not reloaded: settings is kept
    assert (out["f"], out["limit"], out["px"]) == ("new", 11, True)


def test_rebind_of_a_lazy_object_of_the_reloaded_module_never_evaluates_it(
    project: Project,
) -> None:
    project.write(LAZY_PKG)
    out = project.result(
        """
        import pkg.x
        from pkg.conf import LazySettings
        reloader = hotmod.Reloader("pkg")
        old = pkg.x.settings
        ns = {"settings": old, "alias": old, "f": pkg.x.f}
        edit("pkg/conf.py", "settings = LazySettings()", "settings = LazySettings()  # new")
        before = dict(sys.modules)
        result = reloader.reload("pkg.conf")
        names = hotmod.rebind(ns, result.reloaded, before)
        new, new_class = sys.modules["pkg.conf"].settings, sys.modules["pkg.conf"].LazySettings
        emit(ok=result.ok, names=names, fresh=new is not old,
             settings=ns["settings"] is new, alias=ns["alias"] is new,
             evaluations=LazySettings.evaluations + new_class.evaluations)
        """
    )
    assert out["ok"] is True
    assert out["fresh"] is True
    assert out["evaluations"] == 0
    assert out["names"] == ["settings", "alias", "f"]
    assert out["settings"] is True
    assert out["alias"] is True


ALIAS_PKG = {
    "pkg/__init__.py": "",
    "pkg/m.py": """\
        LIMIT = 10
        DEBUG = True
        CONFIG = {"v": "old"}

        def make(tag):
            def inner():
                return tag
            return inner

        handler = make("old")

        class _Greeter:
            def __call__(self):
                return "old"

        greet = _Greeter()

        def n():
            return "old"
        """,
}

NEW_M = """
def make_new():
    p = Path("pkg/m.py")
    text = p.read_text().replace('"old"', '"new"').replace("LIMIT = 10", "LIMIT = 11")
    text = text.replace("DEBUG = True", "DEBUG = False")
    tmp = p.with_name(".m.py.tmp")
    tmp.write_text(text)
    os.replace(tmp, p)
    _SAVED[:] = [os.path.realpath(p)]
"""


def test_rebind_follows_aliases_but_never_shared_constants(project: Project) -> None:
    project.write(ALIAS_PKG)
    out = project.result(
        NEW_M
        + textwrap.dedent(
            """
        from pkg.m import n as foo, CONFIG as cfg, handler as h, greet as hello, LIMIT as lim
        from pkg.m import LIMIT
        mine, flag = 10, True     # the user's own values, equal to m's LIMIT and DEBUG
        reloader = hotmod.Reloader("pkg")
        make_new()
        before = dict(sys.modules)
        result = reloader.reload("pkg.m")
        names = hotmod.rebind(globals(), result.reloaded, before)
        emit(names=names, values=[foo(), cfg["v"], h(), hello(), LIMIT, lim, mine, flag])
        """
        )
    )
    assert out["values"] == ["new", "new", "new", "new", 11, 10, 10, True]
    assert out["names"] == ["foo", "cfg", "h", "hello", "LIMIT"]


def test_loop_rebinds_aliases_and_constants(project: Project) -> None:
    project.write(ALIAS_PKG)
    out = project.result(
        NEW_M
        + textwrap.dedent(
            """
        from pkg.m import CONFIG as cfg, handler as h, greet as hello, LIMIT

        def items():
            yield 1
            make_new()
            reloader = hotmod.watch("pkg", background=False)  # the loop's (shared) Reloader
            wait_seen(reloader)
            yield 2

        seen = [(item, cfg["v"], h(), hello(), LIMIT) for item in hotmod.loop(items(), "pkg")]
        emit(seen=seen)
        """
        )
    )
    assert out["seen"] == [[1, "old", "old", "old", 10], [2, "new", "new", "new", 11]]


def test_ipython_rebinds_aliases_and_reports_a_failure_once(project: Project) -> None:
    project.write(ALIAS_PKG)
    out = project.result(
        "import textwrap\n"
        + SHELL
        + NEW_M
        + textwrap.dedent(
            """
            logging.getLogger().handlers.clear()   # logging not configured, as in Jupyter
            cell("%load_ext hotmod")
            cell("%hotmod pkg")
            cell("from pkg.m import CONFIG as cfg, handler as h, greet as hello")
            make_new()
            wait_pending()
            after = cell("(cfg['v'], h(), hello())")
            save("pkg/m.py", "DEBUG = False", "DEBUG = {}['missing']")
            wait_pending()
            failed = cell("cfg['v']")
            emit(after=after[1], report=after[0], failed=failed[0], kept=failed[1])
            """
        )
    )
    assert out["after"] == ["new", "new", "new"]
    assert "; re-bound cfg, h, hello" in str(out["report"])
    failed = str(out["failed"])
    assert failed.count("reload failed after") == 1, failed  # not also by logging's last resort
    assert failed.startswith("hotmod: reload failed after"), failed
    assert f'File "{project.root / "pkg" / "m.py"}", line 3, in <module>' in failed, failed
    assert "KeyError: 'missing'" in failed
    assert "_transaction.py" not in failed, failed
    assert "importlib._bootstrap" not in failed, failed
    assert out["kept"] == "new"


# -- hotmod run: aliases and click commands ---------------------------------------------------

RUN_PKG = {
    "srv/__init__.py": "",
    "srv/values.py": "VALUE = 'one'\n",
    "tool/serve.py": """\
        import sys
        from helper import BOX as box     # an alias, re-bound in __main__

        for line in sys.stdin:
            print(box["v"], line.strip(), flush=True)
        """,
    "tool/helper.py": "BOX = {'v': 'one'}\n",
    "srv/cmd.py": """\
        import sys
        import click
        from srv.values import VALUE

        @click.command()
        @click.option("--tag", default="none")
        def main(tag):
            for line in sys.stdin:
                click.echo(f"{VALUE} {tag} {line.strip()}")
        """,
}


@pytest.mark.parametrize(
    "case",
    [
        (["tool/serve.py"], "tool/helper.py", "'one'", "'two'", "one x", "two x"),
        (["srv.cmd:main", "--tag", "t"], "srv/values.py", "'one'", "'two'", "one t x", "two t x"),
    ],
    ids=["alias", "click"],
)
def test_run_keeps_the_running_targets_names_current(
    project: Project,
    live: Callable[..., LiveProcess],
    case: tuple[list[str], str, str, str, str, str],
) -> None:
    args, path, old, new, first, expected = case
    project.write(RUN_PKG, record=False)
    process = live(python("-m", "hotmod", "run", *args), cwd=project.root, env=project.env())
    process.send("x\n")
    assert process.line() == first
    edit(Path(project.root, path), old, new)
    _serve_until(process, expected)
    # click turns Ctrl-C into "Aborted!" and exit code 1
    assert process.interrupt() == (1 if "srv.cmd:main" in args else 130)
    assert "Traceback" not in process.text["stderr"], process.text["stderr"]


# -- command-line usage errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "hotmod run: error: the following arguments are required: TARGET (see "),
        (["run", "app.nosuch:main"], "hotmod run: error: no module named 'app.nosuch'"),
        (["run", "nosuch.cli:main"], "hotmod run: error: no module named 'nosuch'"),
        (["run", "app.nosuch"], "hotmod run: error: no module named 'app.nosuch'"),
        (["run", "lib"], "hotmod run: error: lib is a package without a __main__.py; run one"),
        (["run", "-w", "json", "app.config"], "hotmod run: error: 'json' lives in the standard"),
        (["graph", "json"], "hotmod graph: error: 'json' lives in the standard library"),
        (["graph", "app.nosuch"], "hotmod graph: error: no module named 'app.nosuch'"),
        (["why", "-w", "json", "app/config.py"], "hotmod why: error: 'json' lives in the"),
        (["why", "-w", "nosuch", "app/config.py"], "hotmod why: error: no module named 'nosuch'"),
    ],
)
def test_every_bad_argument_gives_one_line_and_exit_code_2(
    project: Project, args: list[str], message: str
) -> None:
    project.write({**GRAPH_PKG, "lib/__init__.py": ""}, record=False)
    proc = hotmod_cli(project, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "ARGS" not in proc.stderr
    assert proc.stdout == ""


def test_a_programs_own_import_error_is_not_a_usage_error(project: Project) -> None:
    project.write({**GRAPH_PKG, "app/broken.py": "import no_such_dependency\n"}, record=False)
    for target in ("app.broken", "app.broken:main"):
        proc = hotmod_cli(project, "run", target)
        assert proc.returncode == 1, (target, proc.stderr)
        assert "Traceback (most recent call last):" in proc.stderr
        assert "ModuleNotFoundError: No module named 'no_such_dependency'" in proc.stderr
