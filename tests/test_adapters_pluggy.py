"""The pluggy adapter: plugin modules that register themselves, reloaded through the watcher
in a fresh interpreter, against the real pluggy."""

from __future__ import annotations

from conftest import Project

HOOKS = """\
import pluggy
hookspec = pluggy.HookspecMarker("demo")
hookimpl = pluggy.HookimplMarker("demo")

class Spec:
    @hookspec
    def greet(self):
        "Each plugin's greeting."

pm = pluggy.PluginManager("demo")
pm.add_hookspecs(Spec)
"""


def _module_plugin(text: str) -> str:
    return (
        "import sys\n"
        "from pkg.hooks import hookimpl, pm\n\n"
        "@hookimpl\n"
        f"def greet():\n    return {text!r}\n\n"
        "pm.register(sys.modules[__name__])\n"
    )


PLUGGY_PKG = {
    "pkg/__init__.py": "",
    "pkg/hooks.py": HOOKS,
    "pkg/first.py": _module_plugin("first"),
    "pkg/alpha.py": _module_plugin("alpha one"),  # registers itself, under its module name
    "pkg/beta.py": (  # registers an object of its own class, under a name
        "from pkg.hooks import hookimpl, pm\n\n"
        "class Beta:\n"
        "    @hookimpl\n"
        "    def greet(self):\n"
        "        return 'beta one'\n\n"
        "pm.register(Beta(), name='beta')\n"
    ),
    "pkg/last.py": _module_plugin("last"),
}


def test_self_registering_plugins_reload_and_roll_back(project: Project) -> None:
    project.write(PLUGGY_PKG)
    out = project.result(
        """
        import pkg.first, pkg.alpha, pkg.beta, pkg.last
        from pkg.hooks import pm
        results = []

        @hotmod.reloading("pkg", debounce=0.01, on_reload=results.append)
        def greetings():
            return sorted(pm.hook.greet())

        def names():
            return [name for name, _ in pm.list_name_plugin()]

        def until(check, what):  # each call of greetings() is a safe point
            deadline = time.monotonic() + 20
            while greetings() is None or not check():
                assert time.monotonic() < deadline, (what, greetings(), results)
                time.sleep(0.01)

        start = greetings()
        save("pkg/alpha.py", "'alpha one'", "'alpha two'")
        until(lambda: "alpha two" in greetings(), "the alpha edit")
        after_edit = greetings()
        edited_names = names()

        attempts = len(results)
        save("pkg/beta.py", "'beta one'", "'beta two'")
        edit("pkg/beta.py", "name='beta')", "name='beta')\\nraise RuntimeError('broken')")
        until(lambda: any(not r.ok for r in results[attempts:]), "the broken beta edit")
        broken = [str(r.error) for r in results[attempts:] if not r.ok][-1]
        after_rollback = greetings()
        rolled_back_names = names()
        old_beta = pm.get_plugin("beta")
        beta_is_old = type(old_beta) is sys.modules["pkg.beta"].Beta

        edit("pkg/beta.py", "\\nraise RuntimeError('broken')", "")
        until(lambda: "beta two" in greetings(), "the fixed beta edit")
        emit(start=start, after_edit=after_edit, edited_names=edited_names, broken=broken,
             after_rollback=after_rollback, rolled_back_names=rolled_back_names,
             beta_is_old=beta_is_old, fixed=greetings(), fixed_names=names(),
             alpha_is_new=pm.get_plugin("pkg.alpha") is sys.modules["pkg.alpha"],
             beta_is_new=type(pm.get_plugin("beta")) is sys.modules["pkg.beta"].Beta,
             errors=[str(r.error) for r in results if not r.ok])
        """
    )
    assert out["start"] == ["alpha one", "beta one", "first", "last"]
    assert out["after_edit"] == ["alpha two", "beta one", "first", "last"]
    # the new module registered itself under the name the old one gave up
    assert out["edited_names"] == ["pkg.first", "beta", "pkg.last", "pkg.alpha"]
    assert out["broken"] == "broken"
    # rolled back: the old beta object is registered again, at its place in the order
    assert out["after_rollback"] == out["after_edit"]
    assert out["rolled_back_names"] == out["edited_names"]
    assert out["beta_is_old"] is True
    assert out["fixed"] == ["alpha two", "beta two", "first", "last"]
    assert sorted(out["fixed_names"]) == sorted(out["edited_names"])  # type: ignore[arg-type]
    assert out["alpha_is_new"] is True
    assert out["beta_is_new"] is True
    assert set(out["errors"]) == {"broken"}  # type: ignore[arg-type] # no "already registered"


def test_framework_adapters_import_no_framework(project: Project) -> None:
    """Every reload looks the built-in adapters up: neither a framework nor its adapter is
    imported because of hotmod (an app without Flask never imports it)."""
    project.write({"pkg/__init__.py": "", "pkg/a.py": "X = 1\n"})
    out = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        ok = r.reload("pkg.a").ok
        frameworks = ("flask", "werkzeug", "starlette", "fastapi", "click", "typer", "pluggy")
        emit(ok=ok, adapters=sorted(n for n in sys.modules if n.startswith("hotmod.adapters.")),
             frameworks=[name for name in frameworks if name in sys.modules])
        """
    )
    assert out["ok"] is True
    # a framework's adapter is not even imported while its framework is not (the stdlib's
    # are: logging and atexit in _side_effects, typing's caches in _caches)
    assert out["adapters"] == [
        "hotmod.adapters._base",
        "hotmod.adapters._caches",
        "hotmod.adapters._side_effects",
    ]
    assert out["frameworks"] == []
