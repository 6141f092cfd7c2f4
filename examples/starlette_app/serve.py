"""Serve ``starlette_demo`` with uvicorn, hot reloaded by hotmod instead of ``--reload``.

One process, no restarts: ``hotmod.asgi`` applies pending changes before each connection and
looks ``starlette_demo.app:app`` up again::

    $ cd examples/starlette_app && python serve.py --port 8000
    serving http://127.0.0.1:8000 (Ctrl-C stops)
    $ curl http://127.0.0.1:8000/
    Hello from Starlette!

Edit the text in ``starlette_demo/views.py``, save, and ``curl`` again. The same works with
``uvicorn`` on the command line: ``uvicorn --factory serve:make_app`` (no ``--reload``).
``--port 0`` picks a free port (the line printed first tells which).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket

import uvicorn

import hotmod


def make_app():
    """The hot-reloading application (a factory for ``uvicorn --factory serve:make_app``)."""
    return hotmod.asgi("starlette_demo.app:app")


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve starlette_demo with hotmod.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(), log_level="warning")
    print(f"serving http://{args.host}:{port} (Ctrl-C stops)", flush=True)
    # uvicorn handles Ctrl-C (a graceful shutdown), then raises it again: leave quietly.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
