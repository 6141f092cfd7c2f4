"""The views: edit a response while the server runs, save, and reload the page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("views", __name__)


@bp.get("/")
def index() -> str:
    return "Hello from Flask!"


@bp.get("/add/<int:a>/<int:b>")
def add(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b}
