"""The smallest end-to-end reload: a change reaches a dependent."""

from __future__ import annotations

from conftest import Project


def test_change_reaches_dependent_through_from_import(project: Project) -> None:
    project.write(
        {
            "pkg/__init__.py": "",
            "pkg/config.py": "VALUE = 1\n",
            "pkg/service.py": "from pkg.config import VALUE\ndef get():\n    return VALUE\n",
        }
    )
    out = project.result(
        """
        import pkg.service
        r = hotmod.Reloader("pkg")
        reset()
        edit("pkg/config.py", "VALUE = 1", "VALUE = 2")
        result = r.reload("pkg.config")
        emit(ok=result.ok, executed=executed(), value=sys.modules["pkg.service"].get(),
             evicted=list(result.evicted), reloaded=list(result.reloaded))
        """
    )
    assert out == {
        "ok": True,
        "executed": ["pkg.config", "pkg.service"],
        "value": 2,
        "evicted": ["pkg.service", "pkg.config"],
        "reloaded": ["pkg.config", "pkg.service"],
    }
