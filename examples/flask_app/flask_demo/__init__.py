"""A Flask application built by a factory; ``serve.py`` serves it through ``hotmod.wsgi``."""

from __future__ import annotations

from flask import Flask

from flask_demo import views


def create_app() -> Flask:
    """Build the application. hotmod calls it again after each reload of this package."""
    app = Flask(__name__)
    app.register_blueprint(views.bp)
    return app
