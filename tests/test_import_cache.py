"""Start-up: the import cache kept across processes.

Each test runs fresh interpreters against one project, with its own cache folder.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import PRELUDE, Project

pytestmark = pytest.mark.timeout(90)

PKG = {
    "pkg/__init__.py": "",
    "pkg/base.py": "VALUE = 1\n",
    "pkg/mid.py": "from pkg.base import VALUE\nMID = VALUE + 1\n",
    "pkg/top.py": "from pkg import mid\nTOP = mid.MID + 1\n",
    "pkg/alone.py": "ALONE = 1\n",
}

# Counts the files the Reloader reads and parses while building its index.
COUNTING = """
import hotmod._reloader as _r
calls = {"read": 0, "parse": 0}
_read, _parse = _r.read_source, _r.parse_import_scopes
def read_source(path):
    calls["read"] += 1
    return _read(path)
def parse_import_scopes(*args, **kwargs):
    calls["parse"] += 1
    return _parse(*args, **kwargs)
_r.read_source, _r.parse_import_scopes = read_source, parse_import_scopes
import pkg.top, pkg.alone
r = hotmod.Reloader("pkg")
emit(calls=calls, dependents=sorted(r.graph.dependents("pkg.base")))
"""


def start(project: Project, cache: Path | None, code: str = COUNTING) -> dict[str, object]:
    env = project.env()
    if cache is None:
        env["HOTMOD_CACHE_DIR"] = ""
    else:
        env["HOTMOD_CACHE_DIR"] = str(cache)
    script = project.root / "_start.py"
    script.write_text(PRELUDE + textwrap.dedent(code))
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = [
        json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")
    ]
    assert len(found) == 1, proc.stdout
    return found[0]


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("imports-*.marshal"))


def test_a_second_start_reads_and_parses_only_the_files_that_changed(
    project: Project, tmp_path: Path
) -> None:
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    first = start(project, cache)
    assert first["calls"] == {"read": 5, "parse": 5}
    assert first["dependents"] == ["pkg.mid", "pkg.top"]
    assert len(cache_files(cache)) == 1

    second = start(project, cache)
    assert second == {"calls": {"read": 0, "parse": 0}, "dependents": ["pkg.mid", "pkg.top"]}

    # an edit that adds an import: only that file is read and parsed, and the graph follows
    (project.root / "pkg/alone.py").write_text("from pkg.base import VALUE\nALONE = VALUE\n")
    third = start(project, cache)
    assert third == {
        "calls": {"read": 1, "parse": 1},
        "dependents": ["pkg.alone", "pkg.mid", "pkg.top"],
    }


def test_a_touched_file_is_read_again_never_trusted(project: Project, tmp_path: Path) -> None:
    """The entry is for one stat signature: same content with a new mtime is read again (and a
    same-size edit that kept the mtime changed the ctime, which no tool can set back)."""
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    start(project, cache)
    mid = project.root / "pkg/mid.py"
    stat = mid.stat()
    mid.write_text(mid.read_text().replace("MID = VALUE + 1", "MID = VALUE + 2"))  # same size
    os.utime(mid, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old mtime put back
    found = start(project, cache)
    assert found["calls"] == {"read": 1, "parse": 1}


def test_an_unreadable_cache_file_is_ignored_and_replaced(project: Project, tmp_path: Path) -> None:
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    start(project, cache)
    [file] = cache_files(cache)
    file.write_bytes(b"\x00not marshal data")
    found = start(project, cache)
    assert found == {"calls": {"read": 5, "parse": 5}, "dependents": ["pkg.mid", "pkg.top"]}
    assert isinstance(marshal.loads(file.read_bytes()), dict)


def test_the_cache_lives_in_the_users_cache_folder_and_can_be_turned_off(
    project: Project, tmp_path: Path
) -> None:
    project.write(PKG, record=False)
    off = start(project, None)
    assert off["calls"] == {"read": 5, "parse": 5}
    xdg = tmp_path / "xdg"
    # set before the Reloader reads them
    env_code = (
        "import os\nos.environ.pop('HOTMOD_CACHE_DIR')\n"
        f"os.environ['XDG_CACHE_HOME'] = {str(xdg)!r}\n"
    )
    start(project, tmp_path / "unused", env_code + COUNTING)
    assert len(cache_files(xdg / "hotmod")) == 1
    assert not (tmp_path / "unused").exists()
    assert not list((project.root / "pkg").rglob("imports-*"))  # never in the source tree


def test_processes_starting_at_once_share_one_cache_file(project: Project, tmp_path: Path) -> None:
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    code = COUNTING.replace(
        'r = hotmod.Reloader("pkg")', 'for _ in range(30):\n    r = hotmod.Reloader("pkg")'
    )
    env = {**project.env(), "HOTMOD_CACHE_DIR": str(cache)}
    script = project.root / "_many.py"
    script.write_text(PRELUDE + textwrap.dedent(code))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)], cwd=project.root, env=env, stdout=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert b'"dependents": ["pkg.mid", "pkg.top"]' in out
    [file] = cache_files(cache)
    entries = marshal.loads(file.read_bytes())
    assert sorted(Path(path).name for path in entries) == sorted(Path(p).name for p in PKG)
    assert not [p for p in cache.iterdir() if p.name.startswith(".imports-")]  # no leftovers


def test_a_file_parsed_again_after_an_edit_is_kept_at_exit(
    project: Project, tmp_path: Path
) -> None:
    """A process that reloaded an edited file writes its new parse when it exits: the next
    start reads and parses nothing."""
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    start(project, cache)
    edit_and_reload = COUNTING.replace(
        'emit(calls=calls, dependents=sorted(r.graph.dependents("pkg.base")))',
        'Path("pkg/alone.py").write_text("from pkg.base import VALUE\\nALONE = VALUE\\n")\n'
        'assert r.reload("pkg.alone").ok\n'
        'emit(calls=calls, dependents=sorted(r.graph.dependents("pkg.base")))',
    )
    edited = start(project, cache, edit_and_reload)
    assert edited["dependents"] == ["pkg.alone", "pkg.mid", "pkg.top"]
    after = start(project, cache)
    assert after == {
        "calls": {"read": 0, "parse": 0},
        "dependents": ["pkg.alone", "pkg.mid", "pkg.top"],
    }


def test_a_module_nothing_imports_is_parsed_only_when_the_graph_needs_it(
    project: Project, tmp_path: Path
) -> None:
    """Saving a module nothing imports again and again parses nothing on the way to the new
    code: what it imports cannot change which modules re-execute with it. The next reload of
    another module (or a look at the graph) parses it first, so an import the edits added is
    an edge by then, and the process writes that parse to the cache when it exits."""
    project.write(PKG, record=False)
    cache = tmp_path / "cache"
    start(project, cache)
    script = COUNTING.replace(
        'emit(calls=calls, dependents=sorted(r.graph.dependents("pkg.base")))',
        """
_same = _r.same_imports
def same_imports(*args):
    calls["parse"] += 1
    return _same(*args)
_r.same_imports = same_imports
r.graph  # built
calls.update(read=0, parse=0)
for value in (2, 3, 4):
    Path("pkg/alone.py").write_text(f"ALONE = {value}\\n")
    assert r.reload("pkg.alone").ok
Path("pkg/alone.py").write_text("import pkg.base\\nALONE = pkg.base.VALUE * 10\\n")
assert r.reload("pkg.alone").ok
saves = dict(calls)
Path("pkg/base.py").write_text("VALUE = 5\\n")
result = r.reload("pkg.base")
import pkg.alone
emit(saves=saves, reloaded=sorted(result.reloaded), alone=pkg.alone.ALONE,
     parsed=calls["parse"] > 0)
""",
    )
    assert start(project, cache, script) == {
        "saves": {"read": 4, "parse": 0},
        "reloaded": ["pkg.alone", "pkg.base", "pkg.mid", "pkg.top"],
        "alone": 50,
        "parsed": True,
    }
    # Edited and reloaded, the graph never looked at again: parsed when the process exits.
    script = COUNTING.replace(
        'emit(calls=calls, dependents=sorted(r.graph.dependents("pkg.base")))',
        'r.graph\nPath("pkg/alone.py").write_text("from pkg import mid\\nALONE = mid.MID\\n")\n'
        'assert r.reload("pkg.alone").ok\nemit()',
    )
    start(project, cache, script)
    assert start(project, cache) == {
        "calls": {"read": 0, "parse": 0},
        "dependents": ["pkg.alone", "pkg.mid", "pkg.top"],
    }
