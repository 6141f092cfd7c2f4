"""The endpoints: edit a response while the server runs, save, and request it again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello from Starlette!")


async def page(request: Request) -> HTMLResponse:
    """An HTML page: open it in a browser, save an edit here, and it reloads by itself."""
    return HTMLResponse(
        "<!doctype html><html><body><h1 id='title'>Starlette page</h1>"
        "<button id='button' onclick=\"this.textContent='clicked'\">click me</button>"
        "</body></html>"
    )


async def add(request: Request) -> JSONResponse:
    a, b = int(request.path_params["a"]), int(request.path_params["b"])
    return JSONResponse({"sum": a + b})
