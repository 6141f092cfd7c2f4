"""The endpoints: edit a response while the server runs, save, and request it again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello from Starlette!")


async def add(request: Request) -> JSONResponse:
    a, b = int(request.path_params["a"]), int(request.path_params["b"])
    return JSONResponse({"sum": a + b})
