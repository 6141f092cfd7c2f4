"""Django under hotmod, end to end: a startproject/startapp project with an SQLite database,
served by ``manage.py runserver`` with ``hotmod.django`` installed (and by ``hotmod.wsgi``
under werkzeug), edited through the file system and checked through real HTTP requests.

The project and its server are in benchmarks/django_app.py (the 200-edit session uses them).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from conftest import Project

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


app = _load("django_app")


@pytest.fixture(scope="module")
def template_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """startproject + startapp + migrate, once: each test edits a copy."""
    return app.make_project(tmp_path_factory.mktemp("django") / "template")  # type: ignore[no-any-return]


@pytest.fixture
def site(template_project: Path, tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(template_project, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def server(site: Path) -> Iterator[object]:
    running = app.Server(site)
    try:
        yield running
    finally:
        running.stop()


def _state(server: object) -> dict[str, object]:
    reply = server.get("/state/")  # type: ignore[attr-defined]
    assert reply.status == 200, reply
    try:
        found: dict[str, object] = reply.json()
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON: {reply.body!r}\n{server.output}") from None  # type: ignore[attr-defined]
    return found


def _consistent(state: dict[str, object]) -> None:
    """apps.get_model, the app config, the admin registry and its URLs hold the live classes."""
    for key in ("get_model_is_live", "app_config_is_live", "admin_is_live", "admin_url_is_live"):
        assert state[key] is True, (key, state)
    assert state["admin_polls"] == ["Choice", "Question"], state


class Edits:
    """Saves through the file system and waits for the server to have applied them."""

    def __init__(self, server: object, root: Path) -> None:
        self.server = server
        self.root = root

    def good(self, rel: str, old: str, new: str, page: str, expected: str) -> None:
        before = _state(self.server)
        version = self.server.get("/state/").version  # type: ignore[attr-defined]
        app.save(self.root / rel, old, new)

        def applied() -> bool:
            reply = self.server.get(page)  # type: ignore[attr-defined]
            return bool(reply.version > version)

        self.server.wait_for(applied, f"the edit of {rel} to be applied")  # type: ignore[attr-defined]
        reply = self.server.get(page)  # type: ignore[attr-defined]
        assert reply.status == 200, reply
        assert expected in reply.body, (rel, reply)
        after = _state(self.server)
        _consistent(after)
        assert before["get_model_is_live"] is True

    def broken(self, rel: str, old: str, new: str, page: str, expected: str) -> None:
        """A broken edit: rolled back, the old code keeps serving, the registries agree."""
        failed = self.server.count("reload failed")  # type: ignore[attr-defined]
        before = _state(self.server)
        app.save(self.root / rel, old, new)

        def rolled_back() -> bool:
            self.server.get(page)  # type: ignore[attr-defined]
            return bool(self.server.count("reload failed") > failed)  # type: ignore[attr-defined]

        self.server.wait_for(rolled_back, f"the broken edit of {rel} to be rolled back")  # type: ignore[attr-defined]
        reply = self.server.get(page)  # type: ignore[attr-defined]
        assert reply.status == 200, reply
        assert expected in reply.body, (rel, reply)
        after = _state(self.server)
        _consistent(after)
        assert after["fields"] == before["fields"]
        assert after["admin_list_display"] == before["admin_list_display"]
        app.save(self.root / rel, new, old)  # back as it was: applies (or is a no-op save)


def _no_warnings(server: object) -> None:
    warnings = server.warnings()  # type: ignore[attr-defined]
    assert not warnings, "\n".join(warnings) + "\n" + server.output  # type: ignore[attr-defined]


BREAK = "\nraise RuntimeError('broken on purpose')\n"


@pytest.mark.timeout(240)
def test_runserver_applies_each_kind_of_edit_and_rolls_back_broken_ones(
    server: object, site: Path
) -> None:
    edits = Edits(server, site)
    assert "hotmod: watching polls, mysite" in server.output  # type: ignore[attr-defined]
    _consistent(_state(server))

    # views
    edits.broken(
        "polls/views.py",
        'GREETING = "views-v0"',
        'GREETING = "views-v9"' + BREAK,
        "/polls/",
        "views-v0",
    )
    edits.good("polls/views.py", '"views-v0"', '"views-v1"', "/polls/", "views-v1")

    # models: a new method; then a new field in _meta (the migration is the user's job)
    edits.broken("polls/models.py", '"label-v0"', '"label-v9"' + BREAK, "/polls/label/", "label-v0")
    edits.good("polls/models.py", '"label-v0"', '"label-v1"', "/polls/label/", "label-v1")
    edits.good(
        "polls/models.py",
        "    def label(self):",
        "    votes = models.IntegerField(default=0)\n\n    def label(self):",
        "/polls/label/",
        "label-v1",
    )
    assert "votes" in _state(server)["fields"]
    edits.good(
        "polls/models.py",
        "    votes = models.IntegerField(default=0)\n\n",
        "",
        "/polls/label/",
        "label-v1",
    )
    assert "votes" not in _state(server)["fields"]

    # admin: registrations follow the new classes
    edits.broken(
        "polls/admin.py",
        'list_display = ("question_text",)',
        'list_display = ("question_text", "id")' + BREAK,
        "/state/",
        '"admin_list_display": ["question_text"]',
    )
    edits.good(
        "polls/admin.py",
        'list_display = ("question_text",)',
        'list_display = ("question_text", "id")',
        "/state/",
        '"admin_list_display": ["question_text", "id"]',
    )

    # forms: a new label and a new field
    edits.broken("polls/forms.py", '"form-v0"', '"form-v9"' + BREAK, "/polls/form/", "form-v0")
    edits.good(
        "polls/forms.py",
        'fields = ["question_text"]\n        labels = {"question_text": "form-v0"}',
        'fields = ["question_text"]\n        labels = {"question_text": "form-v1"}',
        "/polls/form/",
        "question_text:form-v1",
    )
    edits.good(
        "polls/forms.py",
        "    class Meta:",
        "    extra = forms.CharField()\n\n    class Meta:",
        "/polls/form/",
        "question_text,extra:form-v1",
    )

    # template tags: the engine's library is the new one, compiled templates are dropped
    edits.broken(
        "polls/templatetags/poll_extras.py",
        '"-tag-v0"',
        '"-tag-v9"' + BREAK,
        "/polls/tag/",
        "HELLO-tag-v0",
    )
    edits.good(
        "polls/templatetags/poll_extras.py", '"-tag-v0"', '"-tag-v1"', "/polls/tag/", "HELLO-tag-v1"
    )

    # signals: the old receivers (with and without dispatch_uid) are disconnected
    edits.broken(
        "polls/signals.py",
        'TAG = "signal-v0"',
        'TAG = "signal-v9"' + BREAK,
        "/polls/create/",
        '["signal-v0", "signal-v0-uid"]',
    )
    edits.good(
        "polls/signals.py",
        'TAG = "signal-v0"',
        'TAG = "signal-v1"',
        "/polls/create/",
        '["signal-v1", "signal-v1-uid"]',
    )

    # urls: a new route, a renamed one (the old path is gone), reverse() sees them
    edits.broken(
        "polls/urls.py",
        'app_name = "polls"',
        'app_name = "polls"' + BREAK,
        "/state/",
        '"extra": "/polls/extra-v0/"',
    )
    edits.good(
        "polls/urls.py",
        '    path("extra-v0/", views.index, name="extra"),',
        '    path("new/", views.label, name="new"),\n'
        '    path("extra-v1/", views.index, name="extra"),',
        "/polls/new/",
        "label-v1",
    )
    state = _state(server)
    assert state["routes"] == {
        "index": "/polls/",
        "label": "/polls/label/",
        "extra": "/polls/extra-v1/",
        "new": "/polls/new/",
    }
    assert server.get("/polls/extra-v0/").status == 404  # type: ignore[attr-defined]
    assert server.get("/polls/extra-v1/").body == "views-v1"  # type: ignore[attr-defined]
    _no_warnings(server)
    # one process all along: Django's autoreloader never ran, nothing restarted
    assert "Watching for file changes" not in server.output  # type: ignore[attr-defined]
    assert server.count("Performing system checks") == 1  # type: ignore[attr-defined]


SERVE = """\
import logging
import hotmod

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
app = hotmod.wsgi("mysite.wsgi:application")

if __name__ == "__main__":
    import sys
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), app, use_reloader=False, threaded=True)
"""


def _edits_through_an_adapter(server: object, site: Path) -> None:
    """Views, a broken then a fixed models edit, a template tag and a route, each served."""
    try:
        assert "watching mysite, polls" in server.output  # type: ignore[attr-defined]
        edits = Edits(server, site)
        edits.good("polls/views.py", '"views-v0"', '"views-v1"', "/polls/", "views-v1")
        edits.broken(
            "polls/models.py", '"label-v0"', '"label-v9"' + BREAK, "/polls/label/", "label-v0"
        )
        edits.good("polls/models.py", '"label-v0"', '"label-v1"', "/polls/label/", "label-v1")
        # the page rendered once first: Django imports the template libraries when it creates
        # its template engine, and a reload does not create it (see the test below)
        assert "HELLO-tag-v0" in server.get("/polls/tag/").body  # type: ignore[attr-defined]
        edits.good(
            "polls/templatetags/poll_extras.py",
            '"-tag-v0"',
            '"-tag-v1"',
            "/polls/tag/",
            "HELLO-tag-v1",
        )
        edits.good(
            "polls/urls.py",
            '    path("extra-v0/", views.index, name="extra"),',
            '    path("extra-v1/", views.index, name="extra"),',
            "/polls/extra-v1/",
            "views-v1",
        )
        assert server.get("/polls/extra-v0/").status == 404  # type: ignore[attr-defined]
        _no_warnings(server)
    finally:
        server.stop()  # type: ignore[attr-defined]


@pytest.mark.timeout(180)
@pytest.mark.timeout(240)
def test_runserver_restarts_for_settings_and_app_config_edits_only(site: Path) -> None:
    """Django reads its settings and runs AppConfig.ready() once: an edit of settings.py or
    apps.py restarts the server (a new process serves the new settings), other edits apply in
    process (the same process); a settings edit that does not compile is not a restart, the
    server keeps serving; with --noreload nothing restarts."""
    server = app.Server(site)
    try:
        first = _state(server)
        assert first["greeting"] == "hello"
        assert "settings, AppConfig and manage.py changes restart" in server.output
        Edits(server, site).good(
            "polls/views.py", '"views-v0"', '"views-v1"', "/polls/", "views-v1"
        )
        assert _state(server)["pid"] == first["pid"]  # applied in process

        app.save(site / "mysite/settings.py", 'GREETING = "hello"', 'GREETING = "bonjour"')
        server.wait_for(lambda: _reply_state(server).get("greeting") == "bonjour", "a restart", 60)
        restarted = _state(server)
        assert restarted["pid"] != first["pid"]
        message = (
            "hotmod: restarting runserver: mysite/settings.py changed (Django read its "
            "settings when the server started)"
        )
        assert server.count(message) == 1, server.output
        _consistent(restarted)
        assert server.get("/polls/").body == "views-v1"  # the edit before, from its file

        app.save(site / "mysite/settings.py", 'GREETING = "bonjour"', 'GREETING = "bonjour"(')
        server.wait_for(lambda: server.count("not restarting: mysite/settings.py has a") == 1,
                        "the broken settings to be reported")  # fmt: skip
        assert _state(server)["pid"] == restarted["pid"]
        app.save(site / "mysite/settings.py", 'GREETING = "bonjour"(', 'GREETING = "salut"')
        server.wait_for(lambda: _reply_state(server).get("greeting") == "salut", "a restart", 60)

        before = _state(server)["pid"]
        app.save(site / "polls/apps.py", "class PollsConfig", "# edited\nclass PollsConfig")
        server.wait_for(lambda: _reply_state(server).get("pid") not in (None, before),
                        "a restart for apps.py", 60)  # fmt: skip
        assert server.count("polls/apps.py changed (Django ran its AppConfig") == 1, server.output

        # a project module the settings import: its values are settings too
        (site / "mysite/greetings.py").write_text('WORD = "ciao"\n')
        app.save(site / "mysite/settings.py", 'GREETING = "salut"',
                 'from mysite.greetings import WORD\nGREETING = WORD')  # fmt: skip
        server.wait_for(lambda: _reply_state(server).get("greeting") == "ciao", "a restart", 60)
        app.save(site / "mysite/greetings.py", '"ciao"', '"hej"')
        server.wait_for(lambda: _reply_state(server).get("greeting") == "hej", "a restart", 60)
        assert server.count("mysite/greetings.py changed (Django read its settings") == 1

        before = _state(server)["pid"]
        app.save(site / "manage.py", "def main():", "# edited\ndef main():")
        server.wait_for(lambda: _reply_state(server).get("pid") not in (None, before),
                        "a restart for manage.py", 60)  # fmt: skip
        assert server.count("manage.py changed (the program's __main__ module") == 1
        _no_warnings(server)
    finally:
        server.stop()

    quiet = app.Server(site, ["manage.py", "runserver", "--noreload", "127.0.0.1:{port}"])
    try:
        pid = _state(quiet)["pid"]
        assert "changes restart" not in quiet.output
        app.save(site / "mysite/greetings.py", '"hej"', '"hola"')

        def warned() -> bool:
            quiet.get("/state/")  # changes are applied before each request
            return quiet.count("Django read its settings when the process started") == 1

        quiet.wait_for(warned, "the warning that settings need a restart")
        assert _state(quiet)["pid"] == pid
        assert _state(quiet)["greeting"] == "hej"  # what the process started with
        assert "restarting" not in quiet.output
    finally:
        quiet.stop()


def _reply_state(server: object) -> dict[str, object]:
    """The state, or {} while the server is restarting (no answer, an error, or an answer cut
    off by the restart: runserver sends no Content-Length, so a cut body reads as complete)."""
    reply = server.get("/state/")  # type: ignore[attr-defined]
    if reply.status != 200:
        return {}
    try:
        return reply.json()  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        return {}


def test_hotmod_wsgi_serves_a_django_project_under_werkzeug(site: Path) -> None:
    (site / "serve.py").write_text(SERVE)
    _edits_through_an_adapter(app.Server(site, ["serve.py", "{port}"]), site)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("server", ["runserver", "hotmod.wsgi", "hotmod.asgi"])
def test_an_edited_template_is_served_on_the_next_request(site: Path, server: str) -> None:
    """Django's cached template loader keeps every template it compiled; only Django's own
    autoreloader, off under hotmod, resets it. Under runserver with hotmod.django, under
    hotmod.wsgi (werkzeug) and hotmod.asgi (uvicorn), an edited template is what the next
    request renders, in the same process."""
    (site / "serve.py").write_text(SERVE)
    (site / "serve_asgi.py").write_text(SERVE_ASGI)
    commands = {
        "hotmod.wsgi": ["serve.py", "{port}"],
        "hotmod.asgi": [
            "-m",
            "uvicorn",
            "serve_asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ],
    }
    command = commands.get(server)
    running = app.Server(site, command) if command else app.Server(site)
    try:
        pid = _state(running)["pid"]
        assert running.get("/polls/tag/").body == "HELLO-tag-v0"
        template = site / "polls/templates/polls/tag.html"
        app.save(template, "{{ word|shout }}", "edited {{ word|shout }}")
        running.wait_for(
            lambda: running.get("/polls/tag/").body == "edited HELLO-tag-v0", "the template"
        )
        app.save(template, "edited", "again")
        running.wait_for(
            lambda: running.get("/polls/tag/").body == "again HELLO-tag-v0", "the second edit"
        )
        assert _state(running)["pid"] == pid  # applied in process, no restart
        _no_warnings(running)
    finally:
        running.stop()


SERVE_ASGI = """\
import logging
import hotmod

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
app = hotmod.asgi("mysite.asgi:application")
"""


@pytest.mark.timeout(180)
def test_hotmod_asgi_serves_a_django_project_under_uvicorn(site: Path) -> None:
    (site / "serve_asgi.py").write_text(SERVE_ASGI)
    command = ["-m", "uvicorn", "serve_asgi:app", "--host", "127.0.0.1", "--port", "{port}"]
    _edits_through_an_adapter(app.Server(site, command), site)


INCLUDE_BEFORE_HOTMOD = """\
import json, os, sys
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
from django.urls import get_resolver, resolve, reverse
get_resolver().url_patterns                     # mysite.urls and polls.urls loaded
import hotmod                                   # after: include("polls.urls") not observed
r = hotmod.Reloader("mysite", "polls")
edge = "mysite.urls" in r.graph.dependents("polls.urls")
path = Path("polls/urls.py")
path.write_text(path.read_text().replace(
    '    path("extra-v0/", views.index, name="extra"),',
    '    path("extra-v1/", views.label, name="extra"),'))
result = r.reload("polls.urls")
print(json.dumps(dict(
    ok=result.ok, reloaded=list(result.reloaded), edge=edge, reverse=reverse("polls:extra"),
    view=resolve("/polls/extra-v1/").func is sys.modules["polls.views"].label)))
"""


def _run_check(site: Path, script: str) -> dict[str, object]:
    """Run ``script`` as check.py in the project's folder; return the JSON of its last line."""
    (site / "check.py").write_text(script)
    proc = subprocess.run(
        [sys.executable, "check.py"],
        cwd=site,
        env=app.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


@pytest.mark.timeout(120)
def test_an_include_loaded_before_hotmod_still_serves_the_new_urlconf(site: Path) -> None:
    """Loaded before hotmod was imported, mysite.urls's include("polls.urls") was never
    observed: the graph does not know that mysite.urls depends on polls.urls, and the adapter
    replaces the stale resolver itself. (Without hotmod.django in INSTALLED_APPS: importing
    it imports hotmod, which then observes the include.)"""
    app.save(site / "mysite/settings.py", '"polls", "hotmod.django"', '"polls"')
    result = _run_check(site, INCLUDE_BEFORE_HOTMOD)
    assert result["ok"] is True, result
    assert result["edge"] is False, result  # the case the adapter covers
    assert "mysite.urls" not in result["reloaded"], result
    assert result["reverse"] == "/polls/extra-v1/"
    assert result["view"] is True


ENGINES_UNTOUCHED = """
import json, os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
import hotmod, polls.views
from django.template import engines
r = hotmod.Reloader("mysite", "polls")
from pathlib import Path
tag = Path("polls/templatetags/poll_extras.py")  # not imported: no engine read it yet
tag.write_text(tag.read_text().replace("-tag-v0", "-tag-v1"))
view = r.reload("polls.views")
created = sorted(engines._engines)
from django.template import Template, Context
out = Template("{% load poll_extras %}{{ 'hi'|shout }}").render(Context())
print(json.dumps({"ok": view.ok, "created": created, "out": out}))
"""


@pytest.mark.timeout(120)
def test_reloads_before_the_first_render_create_no_template_engine(site: Path) -> None:
    """A template engine reads every installed template library when it is created: one that
    does not exist yet has nothing to refresh, and a reload does not create it (that was most
    of the first reload's time). Created later, it uses the library running then."""
    result = _run_check(site, ENGINES_UNTOUCHED)
    assert result == {"ok": True, "created": [], "out": "HI-tag-v1"}


REGISTRY_CACHES = """
import json, os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
import hotmod, polls.views
from django.apps import apps
r = hotmod.Reloader("mysite", "polls")
def cached():
    apps.get_models()
    return apps.get_models.cache_info().currsize
before = cached()
view = r.reload("polls.views")
kept = apps.get_models.cache_info().currsize
models = r.reload("polls.models")
after_models = apps.get_models.cache_info().currsize
Question = apps.get_model("polls", "Question")
print(json.dumps({"ok": [view.ok, models.ok], "before": before, "kept": kept,
                  "after_models": after_models,
                  "current": Question is sys.modules["polls.models"].Question,
                  "listed": Question in apps.get_models()}))
"""


@pytest.mark.timeout(120)
def test_a_reload_without_models_leaves_the_app_registry_caches(site: Path) -> None:
    """The app registry's caches (``get_models()``, every model's ``_meta``) are cleared when
    models leave it, not by a reload of views, which no model comes from; a models reload
    clears them and the registry lists the new classes."""
    result = _run_check(site, REGISTRY_CACHES)
    assert result == {
        "ok": [True, True],
        "before": 1,
        "kept": 1,
        "after_models": 0,
        "current": True,
        "listed": True,
    }


SIGNALS_FOLLOWED = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django
django.setup()
import hotmod, polls.views
r = hotmod.Reloader("mysite", "polls")
oks = [r.reload("polls.views").ok]  # the adapter has looked at every module by now
SIGNAL = "from django.dispatch import Signal\\n{} = Signal()\\n"
Path("polls/custom_signals.py").write_text(SIGNAL.format("voted"))
Path("polls/hooks.py").write_text(
    "from polls.custom_signals import voted\\nTAG = 'v1'\\n"
    "def on_vote(sender, **kwargs):\\n    return TAG\\n"
    "voted.connect(on_vote, weak=False)\\n"
)
import polls.hooks  # imported after that look: its signal is new to the adapter
from polls.custom_signals import voted
answers = []
for tag in ("v2", "v3"):
    Path("polls/hooks.py").write_text(Path("polls/hooks.py").read_text().replace(
        answers and answers[-1][-1] or "v1", tag))
    oks.append(r.reload("polls.hooks").ok)
    answers.append([answer for _, answer in voted.send(sender=None)])
    oks.append(r.reload("polls.views").ok)  # a reload that adds no module
# A reload that imports a signal's module for the first time (the views' new import)
Path("polls/ping_signal.py").write_text(SIGNAL.format("pinged"))
Path("polls/ping_hooks.py").write_text(
    "from polls.ping_signal import pinged\\nTAG = 'p1'\\n"
    "def on_ping(sender, **kwargs):\\n    return TAG\\n"
    "pinged.connect(on_ping, weak=False)\\n"
)
views = Path("polls/views.py")
views.write_text(views.read_text() + "\\nimport polls.ping_hooks\\n")
oks.append(r.reload("polls.views").ok)
Path("polls/ping_hooks.py").write_text(Path("polls/ping_hooks.py").read_text().replace("p1", "p2"))
oks.append(r.reload("polls.ping_hooks").ok)
from polls.ping_signal import pinged
answers.append([answer for _, answer in pinged.send(sender=None)])
print(json.dumps({"ok": oks, "answers": answers}))
"""


@pytest.mark.timeout(120)
def test_receivers_of_a_signal_imported_after_the_first_reload_are_replaced(site: Path) -> None:
    """A receiver that a reloaded module connected is disconnected before it re-executes, also
    for a signal defined in a module imported after the adapter last looked at the module
    dict, by the application or by a reload (between reloads that added no module the
    adapter does not look at the dict again)."""
    result = _run_check(site, SIGNALS_FOLLOWED)
    assert result == {"ok": [True] * 7, "answers": [["v2"], ["v3"], ["p2"]]}


def test_framework_adapters_are_not_imported_without_their_framework(project: Project) -> None:
    project.write({"pkg/__init__.py": "", "pkg/a.py": "X = 1\n"})
    result = project.result(
        """
        import pkg.a
        r = hotmod.Reloader("pkg")
        edit("pkg/a.py", "X = 1", "X = 2")
        ok = r.reload("pkg.a").ok
        emit(ok=ok, x=sys.modules["pkg.a"].X, django="django" in sys.modules,
             adapter="hotmod.adapters.django" in sys.modules)
        """
    )
    assert result == {"ok": True, "x": 2, "django": False, "adapter": False}


@pytest.mark.timeout(240)
def test_a_scripted_django_session_has_no_errors_warnings_or_stale_responses(
    tmp_path: Path,
) -> None:
    out = tmp_path / "session.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "django_session.py"),
            "--edits",
            "21",
            "--json",
            str(out),
        ],
        env=app.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=230,
    )
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert (result["edits"], result["errors"], result["warnings"], result["stale"]) == (
        21,
        0,
        0,
        0,
    ), proc.stdout + proc.stderr
    assert result["reloads"] >= 21
    assert proc.returncode == 0


@pytest.mark.timeout(120)
def test_runserver_pages_get_the_live_reload_script_and_api_clients_do_not(server: object) -> None:
    """runserver serves the browser-reload script and its event stream like hotmod.wsgi does:
    an HTML page asked for by a browser gets the script tag; the same page fetched by a
    client that is not a browser page, and every non-HTML response, is unchanged."""
    base = f"http://127.0.0.1:{server.port}"  # type: ignore[attr-defined]

    def fetch(path: str, **headers: str) -> tuple[int, str, str]:
        request = urllib.request.Request(base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), reply.read().decode()

    status, kind, page = fetch("/polls/tag/", **{"Sec-Fetch-Dest": "document"})
    assert (status, kind.split(";")[0]) == (200, "text/html")
    assert "/__hotmod__/client.js" in page
    _, _, plain = fetch("/polls/tag/")
    assert "__hotmod__" not in plain
    assert plain == page.split("<script")[0] + page.split("</script>", 1)[1]
    status, kind, script = fetch("/__hotmod__/client.js")
    assert status == 200
    assert "javascript" in kind
    assert "EventSource" in script
    _, kind, state = fetch("/state/", **{"Sec-Fetch-Dest": "document"})
    assert "__hotmod__" not in state  # JSON is never touched


DJANGO_PAGE = """

def page(request):
    return HttpResponse(
        "<!doctype html><html><body><h1 id='title'>Django page</h1>"
        "<button id='button' onclick=\\"this.textContent='clicked'\\">click me</button>"
        "</body></html>"
    )
"""


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_open_runserver_page_follows_edits_and_shows_the_overlay(site: Path) -> None:
    """The browser part of runserver, in real Chromium: a saved view shows in the open page,
    a broken edit shows the overlay over the still-working old page, the fix removes it."""
    from chromium import Chromium

    views = site / "polls/views.py"
    views.write_text(views.read_text() + DJANGO_PAGE)
    urls = site / "polls/urls.py"
    urls.write_text(
        urls.read_text().replace(
            "urlpatterns = [\n", 'urlpatterns = [\n    path("page/", views.page, name="page"),\n'
        )
    )
    title = "document.getElementById('title') && document.getElementById('title').textContent"
    overlay = "document.getElementById('__hotmod_overlay__')"
    server = app.Server(site)
    browser = Chromium()  # fails (never skips) with the command that installs it
    try:
        page = browser.page()
        page.goto(f"http://127.0.0.1:{server.port}/polls/page/")
        assert page.wait(title) == "Django page"
        page.wait("window.__hotmod__ && window.__hotmod__.boot")
        views.write_text(views.read_text().replace("Django page", "Edited page"))
        page.wait(f"{title} === 'Edited page'")
        text = views.read_text()
        views.write_text(text.replace("Edited page", 'Broken page" +* ('))
        try:
            shown = page.wait(f"{overlay} && {overlay}.textContent")
        except AssertionError:
            raise AssertionError(f"no overlay; the server said:\n{server.output[-3000:]}") from None
        assert "SyntaxError" in shown, shown
        assert "views.py, line" in shown, shown
        assert page.eval(title) == "Edited page"
        page.eval("document.getElementById('button').click()")
        assert page.eval("document.getElementById('button').textContent") == "clicked"
        views.write_text(text.replace("Edited page", "Fixed page"))
        page.wait(f"{title} === 'Fixed page' && !{overlay}")
        _no_warnings(server)
        page.close()
    finally:
        browser.close()
        server.stop()
