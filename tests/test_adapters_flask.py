"""The Flask adapter: routes registered by re-executed modules, in an app factory, in the
"larger applications" layout and with the app in a module a views edit does not re-execute;
served by werkzeug on 127.0.0.1 through ``hotmod.wsgi``, edited through the watcher."""

from __future__ import annotations

import pytest

from conftest import Project

# Server side, in the test's interpreter: werkzeug serving the hotmod.wsgi app, and polling.
SERVE = """
import threading, urllib.error, urllib.request
from werkzeug.serving import make_server

results = []

def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return [response.status, response.read().decode(), response.headers.get_all("X-Tag")]
    except urllib.error.HTTPError as error:
        return [error.code, ""]

def until(url, expected, what):  # each request is a safe point
    deadline = time.monotonic() + 20
    while (got := get(url))[:2] != expected:
        assert time.monotonic() < deadline, (what, got, [str(r) for r in results])
        time.sleep(0.01)

def until_failed(url, attempts, what):
    deadline = time.monotonic() + 20
    while get(url) and all(r.ok for r in results[attempts:]):
        assert time.monotonic() < deadline, (what, [str(r) for r in results])
        time.sleep(0.01)
"""


def _views(header: str, obj: str) -> str:
    return (
        f"{header}\n\n"
        f"@{obj}.route('/')\ndef index():\n    return 'index one'\n\n"
        f"@{obj}.route('/old')\ndef old():\n    return 'old'\n\n"
        f"@{obj}.after_request\ndef tag(response):\n    response.headers.add('X-Tag', 'one')\n"
        "    return response\n"
    )


LAYOUTS = {
    # create_app() builds a new app from the blueprints of submodules; admin's routes are
    # added to its blueprint by another module, which a change of the routes re-executes alone
    "factory": (
        "app:create_app()",
        "app/users.py",
        {
            "app/__init__.py": """\
                from flask import Flask

                def create_app():
                    from app import users
                    from app.admin import bp as admin
                    from app.admin import views  # noqa: F401  (admin's routes)
                    application = Flask(__name__)
                    application.register_blueprint(users.bp)
                    application.register_blueprint(admin, url_prefix="/admin")
                    return application
                """,
            "app/users.py": _views(
                "from flask import Blueprint\nbp = Blueprint('users', __name__)", "bp"
            ),
            "app/admin/__init__.py": (
                "from flask import Blueprint\nbp = Blueprint('admin', __name__)\n"
            ),
            "app/admin/views.py": (
                "from app.admin import bp\n\n@bp.route('/')\ndef home():\n    return 'admin one'\n"
            ),
        },
    ),
    # Flask's "larger applications" pattern: an import cycle through the package __init__
    "larger": (
        "app:app",
        "app/views.py",
        {
            "app/__init__.py": """\
                from flask import Flask
                app = Flask(__name__)
                from app import views  # noqa: E402, F401
                """,
            "app/views.py": _views("from app import app", "app"),
        },
    ),
    # the app in a module of its own: a change of the views does not re-execute it
    "kept app": (
        "app:app",
        "app/views.py",
        {
            "app/__init__.py": "from app.core import app\nfrom app import views  # noqa: F401\n",
            "app/core.py": "from flask import Flask\napp = Flask(__name__)\n",
            "app/views.py": _views("from app.core import app", "app"),
        },
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_flask_routes_follow_edits_and_broken_edits(project: Project, layout: str) -> None:
    target, views, files = LAYOUTS[layout]
    project.write(files)
    out = project.result(
        SERVE
        + f"""
target, views = {target!r}, {views!r}
wsgi = hotmod.wsgi(target, debounce=0.01, on_reload=results.append)
base = serve(wsgi)
start = get(base + "/"), get(base + "/old")

# a new text, a route renamed (the old one must 404)
save(views, "'index one'", "'index two'")
edit(views, "route('/old')\\ndef old():\\n    return 'old'",
     "route('/new')\\ndef new():\\n    return 'new'")
until(base + "/", [200, "index two"], "the views edit")
edited = get(base + "/"), get(base + "/old"), get(base + "/new")

# broken after its routes were registered: the old routes keep serving
attempts = len(results)
edit(views, "'index two'", "'index three'")
edit(views, "    return response\\n", "    return response\\nraise RuntimeError('broken')\\n")
until_failed(base + "/", attempts, "the broken edit")
broken = get(base + "/"), get(base + "/new"), get(base + "/old")

edit(views, "raise RuntimeError('broken')\\n", "")
until(base + "/", [200, "index three"], "the fixed edit")
fixed = get(base + "/"), get(base + "/new"), get(base + "/old")
rules = sorted(str(rule) for rule in wsgi.app.url_map.iter_rules())
admin = None
if target.endswith("()"):  # the blueprint kept, its routes' module re-executed
    before = get(base + "/admin/")
    save("app/admin/views.py", "'admin one'", "'admin two'")
    until(base + "/admin/", [200, "admin two"], "the admin edit")
    admin = before, get(base + "/admin/"), sorted(str(r) for r in wsgi.app.url_map.iter_rules())
emit(start=start, edited=edited, broken=broken, fixed=fixed, rules=rules, admin=admin,
     errors=[str(r.error) for r in results if not r.ok])
"""
    )
    tag = ["one"]  # one after_request handler: never registered twice
    assert out["start"] == [[200, "index one", tag], [200, "old", tag]]
    assert out["edited"] == [[200, "index two", tag], [404, ""], [200, "new", tag]]
    assert out["broken"] == [[200, "index two", tag], [200, "new", tag], [404, ""]]
    assert out["fixed"] == [[200, "index three", tag], [200, "new", tag], [404, ""]]
    assert "/new" in out["rules"]  # type: ignore[operator]
    assert "/old" not in out["rules"]  # type: ignore[operator]
    assert len(out["rules"]) == len(set(out["rules"]))  # type: ignore[arg-type]
    assert set(out["errors"]) == {"broken"}  # type: ignore[arg-type]
    if layout == "factory":
        before, after, rules = out["admin"]  # type: ignore[misc]
        assert before[:2] == [200, "admin one"]
        assert after[:2] == [200, "admin two"]
        assert rules.count("/admin/") == 1


def test_edited_templates_are_shown_outside_debug_mode(project: Project) -> None:
    """Flask outside debug mode (the default) keeps every template Jinja loaded: served by
    hotmod.wsgi, an app renders the edited template (Jinja's auto_reload, as in debug mode),
    also an app a factory builds; an app whose config chose TEMPLATES_AUTO_RELOAD is left
    as it chose."""
    project.write(
        {
            "webapp/__init__.py": """\
                from flask import Flask, render_template

                def create_app(**config):
                    application = Flask(__name__)
                    application.config.update(config)

                    @application.route("/")
                    def index():
                        return render_template("page.html", word="hi")

                    return application

                app = create_app()
                cached = create_app(TEMPLATES_AUTO_RELOAD=False)
                """,
            "webapp/templates/page.html": "page one {{ word }}",
        }
    )
    out = project.result(
        SERVE
        + """
urls = {name: serve(hotmod.wsgi(target, "webapp")) + "/"
        for name, target in [("app", "webapp:app"), ("factory", "webapp:create_app()"),
                             ("cached", "webapp:cached")]}
before = {name: get(url)[:2] for name, url in urls.items()}
save("webapp/templates/page.html", "page one", "page two")
until(urls["app"], [200, "page two hi"], "the template edit")
until(urls["factory"], [200, "page two hi"], "the template edit, factory")
emit(before=before, cached=get(urls["cached"])[:2])
"""
    )
    assert out == {
        "before": {key: [200, "page one hi"] for key in ["app", "factory", "cached"]},
        "cached": [200, "page one hi"],
    }
