"""The application object: re-created whenever ``views`` (which it imports) is reloaded."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from starlette_demo import views

app = Starlette(
    routes=[
        Route("/", views.homepage),
        Route("/page", views.page),
        Route("/add/{a:int}/{b:int}", views.add),
    ]
)
