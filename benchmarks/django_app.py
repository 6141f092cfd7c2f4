"""A Django project made the way a new user makes one, served by ``manage.py runserver`` with
``hotmod.django`` installed: what tests/test_django.py and benchmarks/django_session.py drive.

``make_project(root)`` runs ``django-admin startproject mysite`` and ``manage.py startapp
polls`` (the default layout), writes views, urls (``include("polls.urls")``), models, admin,
forms, template tags and signals into the app, migrates an SQLite database, and adds
``mysite/state.py``: a view at ``/state/`` that reports what Django's registries hold (never
edited, so it is never reloaded). ``Server`` runs ``runserver`` (or any command) on a free
port of 127.0.0.1 and fetches pages with urllib.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lines of server output that mean a framework complained (the session fails on any).
WARNING = re.compile(r"Warning|already registered|Conflicting '")

FILES = {
    "polls/models.py": """\
from django.db import models


class Question(models.Model):
    question_text = models.CharField(max_length=200)

    def label(self):
        return "label-v0"


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    choice_text = models.CharField(max_length=200)
""",
    "polls/views.py": """\
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from .forms import QuestionForm
from .models import Question

GREETING = "views-v0"


def index(request):
    return HttpResponse(GREETING)


def label(request):
    return HttpResponse(Question(question_text="q").label())


def form(request):
    form = QuestionForm()
    return HttpResponse(",".join(form.fields) + ":" + str(form["question_text"].label))


def tag(request):
    return render(request, "polls/tag.html", {"word": "hello"})


def create(request):
    Question.objects.create(question_text="signal")
    from mysite import state

    return JsonResponse({"signals": state.SIGNALS[-2:]})
""",
    "polls/urls.py": """\
from django.urls import path

from . import views

app_name = "polls"
urlpatterns = [
    path("", views.index, name="index"),
    path("label/", views.label, name="label"),
    path("form/", views.form, name="form"),
    path("tag/", views.tag, name="tag"),
    path("create/", views.create, name="create"),
    path("extra-v0/", views.index, name="extra"),
]
""",
    "polls/forms.py": """\
from django import forms

from .models import Question


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["question_text"]
        labels = {"question_text": "form-v0"}
""",
    "polls/admin.py": """\
from django.contrib import admin

from .models import Choice, Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("question_text",)
    list_per_page = 100


admin.site.register(Choice)
""",
    "polls/signals.py": """\
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Question

TAG = "signal-v0"


@receiver(post_save, sender=Question)
def on_save(sender, instance, **kwargs):
    from mysite import state

    state.SIGNALS.append(TAG)


@receiver(post_save, sender=Question, dispatch_uid="polls-on-save-uid")
def on_save_uid(sender, instance, **kwargs):
    from mysite import state

    state.SIGNALS.append(TAG + "-uid")
""",
    "polls/apps.py": """\
from django.apps import AppConfig


class PollsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "polls"

    def ready(self):
        from . import signals  # noqa: F401
""",
    "polls/templatetags/__init__.py": "",
    "polls/templatetags/poll_extras.py": """\
from django import template

register = template.Library()


@register.filter
def shout(value):
    return value.upper() + "-tag-v0"
""",
    "polls/templates/polls/tag.html": "{% load poll_extras %}{{ word|shout }}",
    "mysite/state.py": '''\
"""What Django's registries hold, as JSON (this module is never edited)."""
import os
import sys

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import NoReverseMatch, resolve, reverse

SIGNALS = []


def _is_live(cls):
    return getattr(sys.modules.get(cls.__module__), cls.__name__, None) is cls


def view(request):
    models = sys.modules["polls.models"]
    question = apps.get_model("polls", "Question")
    config = apps.get_app_config("polls")
    registry = admin.site._registry
    try:
        admin_view = resolve("/admin/polls/question/").func.model_admin
    except Exception as exc:
        admin_view = exc
    routes = {}
    for name in ("index", "label", "extra", "new"):
        try:
            routes[name] = reverse("polls:" + name)
        except NoReverseMatch:
            routes[name] = None
    return JsonResponse({
        "get_model_is_live": question is models.Question,
        "app_config_is_live": all(_is_live(m) for m in config.models.values()),
        "models": sorted(config.models),
        "fields": [f.name for f in question._meta.get_fields()],
        "admin_is_live": all(_is_live(m) and _is_live(type(a)) for m, a in registry.items()
                             if m._meta.app_label == "polls"),
        "admin_polls": sorted(m.__name__ for m in registry if m._meta.app_label == "polls"),
        "admin_list_display": list(getattr(registry.get(question), "list_display", ())),
        "admin_list_per_page": getattr(registry.get(question), "list_per_page", None),
        "admin_url_is_live": getattr(admin_view, "model", None) is question
                             and admin_view is registry.get(question),
        "routes": routes,
        "pid": os.getpid(),
        "greeting": getattr(settings, "GREETING", None),
    })
''',
    "mysite/urls.py": """\
from django.contrib import admin
from django.urls import include, path

from . import state

urlpatterns = [
    path("admin/", admin.site.urls),
    path("polls/", include("polls.urls")),
    path("state/", state.view),
]
""",
}

SETTINGS_TAIL = """
GREETING = "hello"
INSTALLED_APPS += ["polls", "hotmod.django"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"hotmod": {"handlers": ["console"], "level": "INFO"}},
}
"""


def env() -> dict[str, str]:
    """The environment of the project's processes: hotmod importable, bytecode written."""
    result = dict(os.environ)
    result.pop("PYTHONDONTWRITEBYTECODE", None)
    result.pop("HOTMOD_POLLING", None)
    result["PYTHONPATH"] = str(SRC)
    result["PYTHONWARNINGS"] = "default"
    result["PYTHONUNBUFFERED"] = "1"
    return result


def _run(args: Sequence[str], cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def make_project(root: Path) -> Path:
    """startproject + startapp in ``root``, the app's code, an SQLite database; returns root."""
    root.mkdir(parents=True, exist_ok=True)
    _run(["-m", "django", "startproject", "mysite", str(root)], root)
    _run(["manage.py", "startapp", "polls"], root)
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    settings = root / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    _run(["manage.py", "makemigrations", "polls"], root)
    _run(["manage.py", "migrate"], root)
    return root


def save(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) as editors save: a temporary file renamed over."""
    text = path.read_text()
    if old not in text:
        raise AssertionError(f"{old!r} not in {path}:\n{text}")
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text.replace(old, new, 1))
    os.replace(tmp, path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Response:
    def __init__(self, status: int, body: str, version: int) -> None:
        self.status, self.body, self.version = status, body, version

    def json(self) -> dict[str, object]:
        found: dict[str, object] = json.loads(self.body)
        return found

    def __repr__(self) -> str:
        return f"<{self.status} v{self.version} {self.body[:200]!r}>"


class Server:
    """A server process of the project on a free port; its output is collected."""

    def __init__(self, root: Path, command: Sequence[str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        args = command or ["manage.py", "runserver", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(
            [sys.executable, *[a.replace("{port}", str(self.port)) for a in args]],
            cwd=root,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for(lambda: self.get("/state/").status == 200, "the server to start", 60)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def get(self, path: str) -> Response:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                version = int(reply.headers.get("X-Hotmod-Version", "-1"))
                return Response(reply.status, reply.read().decode(), version)
        except urllib.error.HTTPError as error:
            version = int(error.headers.get("X-Hotmod-Version", "-1"))
            return Response(error.code, error.read().decode(errors="replace"), version)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return Response(0, repr(error), -1)

    def wait_for(self, condition: object, what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited waiting for {what}:\n{self.output}")
            if callable(condition) and condition():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output[-4000:]}")

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def warnings(self) -> list[str]:
        return [line for line in list(self.lines) if WARNING.search(line)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
