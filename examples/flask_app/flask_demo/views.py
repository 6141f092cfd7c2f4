"""The views: edit a response while the server runs, save, and reload the page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("views", __name__)


@bp.get("/")
def index() -> str:
    return "Hello from Flask!"


@bp.get("/page")
def page() -> str:
    """An HTML page: open it in a browser, save an edit here, and it reloads by itself."""
    return (
        "<!doctype html><html><body><h1 id='title'>Flask page</h1>"
        "<button id='button' onclick=\"this.textContent='clicked'\">click me</button>"
        "</body></html>"
    )


@bp.get("/add/<int:a>/<int:b>")
def add(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b}
